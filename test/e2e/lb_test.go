//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/plan"
)

// lbEntry finds the plan entry of a kind (the first whose name contains
// part, when given).
func lbEntry(tb testing.TB, res *lb.Result, kind lb.Kind, part string) string {
	tb.Helper()
	for _, e := range res.Plan {
		if e.Kind == string(kind) && strings.Contains(e.Name, part) {
			return e.Name
		}
	}
	tb.Fatalf("no %s %q in the plan", kind, part)
	return ""
}

func linkTail(link string) string { return link[strings.LastIndex(link, "/")+1:] }

func TestLBBuildsTheWholeLoadBalancerAndTearsItDown(t *testing.T) {
	sv := lbGateways(t, "e2e-lb", "shop")[0]
	rec := &ui.Recorder{}
	cl := lbClient(t, rec)
	spec := lbSpec("", sv)
	spec.Armor = lb.Armor{Specified: true, WAF: []string{"xss", "sqli"}, DenyCIDRs: []string{"198.51.100.0/24"}}
	res := lbApply(t, cl, spec)
	if res.IPAddress == "" || len(res.DNS) != 1 || res.DNS[0].Value != res.IPAddress {
		t.Fatalf("result: ip %q dns %v", res.IPAddress, res.DNS)
	}

	// Every piece and its wiring, as gcloud (an independent client) sees it.
	env := lbGcloudConfig(t)
	name := func(k lb.Kind, part string) string { return lbEntry(t, res, k, part) }
	var fr, fr80, proxy, httpProxy, um, redirect, bs, hc, sslp, armor, fw map[string]any
	lbGcloudJSON(t, env, &fr, "compute", "forwarding-rules", "describe", name(lb.KindForwardingRule, "443"), "--global")
	lbGcloudJSON(t, env, &proxy, "compute", "target-https-proxies", "describe", name(lb.KindHTTPSProxy, ""), "--global")
	lbGcloudJSON(t, env, &um, "compute", "url-maps", "describe", name(lb.KindURLMap, "-um"), "--global")
	lbGcloudJSON(t, env, &bs, "compute", "backend-services", "describe", name(lb.KindBackendService, ""), "--global")
	lbGcloudJSON(t, env, &hc, "compute", "health-checks", "describe", name(lb.KindHealthCheck, ""), "--global")
	lbGcloudJSON(t, env, &sslp, "compute", "ssl-policies", "describe", name(lb.KindSSLPolicy, ""), "--global")
	lbGcloudJSON(t, env, &armor, "compute", "security-policies", "describe", name(lb.KindSecurityPolicy, ""))
	lbGcloudJSON(t, env, &fw, "compute", "firewall-rules", "describe", name(lb.KindFirewall, ""))
	lbGcloudJSON(t, env, &redirect, "compute", "url-maps", "describe", name(lb.KindURLMap, "redirect"), "--global")
	lbGcloudJSON(t, env, &httpProxy, "compute", "target-http-proxies", "describe", name(lb.KindHTTPProxy, ""), "--global")
	lbGcloudJSON(t, env, &fr80, "compute", "forwarding-rules", "describe", name(lb.KindForwardingRule, "-80"), "--global")

	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	check := func(what string, ok bool, got any) {
		t.Helper()
		if !ok {
			t.Errorf("%s: got %v", what, got)
		}
	}
	check("443 rule → HTTPS proxy", linkTail(str(fr, "target")) == str(proxy, "name"), fr["target"])
	check("443 rule on the address, port 443, EXTERNAL_MANAGED", str(fr, "IPAddress") == res.IPAddress && str(fr, "portRange") == "443-443" &&
		str(fr, "loadBalancingScheme") == "EXTERNAL_MANAGED", fr)
	check("proxy → URL map", linkTail(str(proxy, "urlMap")) == str(um, "name"), proxy["urlMap"])
	check("proxy → SSL policy", linkTail(str(proxy, "sslPolicy")) == str(sslp, "name"), proxy["sslPolicy"])
	certs, _ := proxy["sslCertificates"].([]any)
	check("proxy → one certificate", len(certs) == 1, certs)
	hostRules, _ := um["hostRules"].([]any)
	check("URL map routes the host", len(hostRules) == 1 && fmt.Sprint(hostRules[0].(map[string]any)["hosts"]) == "["+sv.Hosts[0]+"]", hostRules)
	check("URL map → backend service", linkTail(str(um, "defaultService")) == str(bs, "name"), um["defaultService"])
	backends, _ := bs["backends"].([]any)
	var zones []string
	for _, b := range backends {
		b := b.(map[string]any)
		check("backend is the service's NEG at RATE", linkTail(str(b, "group")) == sv.NEG.Name && str(b, "balancingMode") == "RATE", b)
		parts := strings.Split(str(b, "group"), "/")
		zones = append(zones, parts[len(parts)-3])
	}
	slices.Sort(zones)
	check("a NEG backend in every zone", slices.Equal(zones, sv.NEG.Zones), zones)
	check("backend service HTTP2, EXTERNAL_MANAGED, logging on", str(bs, "protocol") == "HTTP2" && str(bs, "loadBalancingScheme") == "EXTERNAL_MANAGED" &&
		fmt.Sprint(bs["logConfig"].(map[string]any)["enable"]) == "true", bs)
	check("backend service → health check", linkTail(fmt.Sprint(bs["healthChecks"].([]any)[0])) == str(hc, "name"), bs["healthChecks"])
	check("Cloud Armor attached", linkTail(str(bs, "securityPolicy")) == str(armor, "name"), bs["securityPolicy"])
	hh, _ := hc["httpHealthCheck"].(map[string]any)
	check("health check HTTP 15021 /healthz/ready", str(hc, "type") == "HTTP" && fmt.Sprint(hh["port"]) == "15021" && str(hh, "requestPath") == "/healthz/ready", hc)
	check("SSL policy RESTRICTED, TLS 1.2", str(sslp, "profile") == "RESTRICTED" && str(sslp, "minTlsVersion") == "TLS_1_2", sslp)
	rules, _ := json.Marshal(armor["rules"])
	check("WAF rules", strings.Contains(string(rules), `evaluatePreconfiguredExpr('xss-v33-stable')`) &&
		strings.Contains(string(rules), `evaluatePreconfiguredExpr('sqli-v33-stable')`) && strings.Contains(string(rules), "198.51.100.0/24"), string(rules))
	allowed, _ := json.Marshal(fw["allowed"])
	check("firewall from Google's front ends only", fmt.Sprint(fw["sourceRanges"]) == "[35.191.0.0/16 130.211.0.0/22]" ||
		fmt.Sprint(fw["sourceRanges"]) == "[130.211.0.0/22 35.191.0.0/16]", fw["sourceRanges"])
	check("firewall to the gateway's target ports", strings.Contains(string(allowed), `"15021"`) && strings.Contains(string(allowed), `"8443"`), string(allowed))
	tags, _ := fw["targetTags"].([]any)
	check("firewall on the nodes' tag", len(tags) == 1 && strings.HasPrefix(fmt.Sprint(tags[0]), "gke-"+simCluster+"-"), tags)
	rd, _ := redirect["defaultUrlRedirect"].(map[string]any)
	check("redirect map", fmt.Sprint(rd["httpsRedirect"]) == "true" && str(rd, "redirectResponseCode") == "MOVED_PERMANENTLY_DEFAULT", rd)
	check("HTTP proxy → redirect map", linkTail(str(httpProxy, "urlMap")) == str(redirect, "name"), httpProxy["urlMap"])
	check("80 rule → HTTP proxy on the same address", linkTail(str(fr80, "target")) == str(httpProxy, "name") &&
		str(fr80, "IPAddress") == res.IPAddress && str(fr80, "portRange") == "80-80", fr80)

	// Backends are healthy, through getHealth.
	var health []struct {
		Status struct {
			HealthStatus []struct {
				HealthState string `json:"healthState"`
			} `json:"healthStatus"`
		} `json:"status"`
	}
	lbGcloudJSON(t, env, &health, "compute", "backend-services", "get-health", str(bs, "name"), "--global")
	healthy, total := 0, 0
	for _, g := range health {
		for _, h := range g.Status.HealthStatus {
			total++
			if h.HealthState == "HEALTHY" {
				healthy++
			}
		}
	}
	check("every endpoint HEALTHY", total == 3 && healthy == 3, fmt.Sprintf("%d/%d", healthy, total))

	// The certificate becomes ACTIVE once it serves behind the rule.
	certName := linkTail(fmt.Sprint(certs[0]))
	eventually(t, time.Minute, "certificate ACTIVE", func() (bool, string) {
		var cert struct {
			Managed struct {
				Status       string            `json:"status"`
				DomainStatus map[string]string `json:"domainStatus"`
			} `json:"managed"`
		}
		lbGcloudJSON(t, env, &cert, "compute", "ssl-certificates", "describe", certName, "--global")
		return cert.Managed.Status == "ACTIVE" && cert.Managed.DomainStatus[sv.Hosts[0]] == "ACTIVE", cert.Managed.Status
	})

	// A re-run changes nothing: no mutating call reaches the API.
	lbResetRequests(t)
	again := lbApply(t, cl, spec)
	log := lbRequests(t)
	if log.Mutations != 0 || again.Mutations != 0 {
		t.Errorf("re-run: %d mutations logged, %d counted", log.Mutations, again.Mutations)
	}
	if len(again.Certificates) != 1 || again.Certificates[0].Status != "ACTIVE" {
		t.Errorf("re-run reports certificates %+v", again.Certificates)
	}

	// Teardown leaves nothing meshctl made.
	lbTeardown(t, cl, spec)
	if left := lbOwned(t, ""); slices.ContainsFunc(left, func(s string) bool { return strings.Contains(s, "e2e-lb-shop") }) {
		t.Errorf("left after teardown: %v", left)
	}
}

func TestLBConvergesWhileTenPercentOfCallsFail(t *testing.T) {
	sv := lbGateways(t, "e2e-lb-faults", "api")[0]
	cl := lbClient(t, nil)
	spec := lbSpec("", sv)
	lbKnobs(t, map[string]any{"faults": map[string]any{"rate": 0.1, "seed": 42}})
	lbResetRequests(t)
	res := lbApply(t, cl, spec)
	log := lbRequests(t)
	injected := 0
	for _, r := range log.Requests {
		if r.Injected {
			injected++
		}
	}
	t.Logf("%d requests, %d failed by injection (429/503), %d retries", log.Total, injected, res.Retries)
	if injected == 0 || res.Retries == 0 {
		t.Errorf("no faults were injected or retried: injected %d, retries %d", injected, res.Retries)
	}
	lbSimAPI(t, "POST", "/meshsim/knobs", map[string]any{"faults": map[string]any{"rate": 0}}, nil)
	p, err := cl.Plan(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pending() != 0 {
		t.Errorf("not converged: %+v", p.Changes)
	}
	if owned := lbOwned(t, simCluster+"/e2e-lb-faults/api"); len(owned) != 13 {
		t.Errorf("%d objects, want 13 (no duplicates): %v", len(owned), owned)
	}
	lbTeardown(t, cl, spec)
	if owned := lbOwned(t, simCluster+"/e2e-lb-faults/api"); len(owned) != 0 {
		t.Errorf("left: %v", owned)
	}
}

// TestLBHelperProcess is not a test: TestLBKilledMidwayThenRerunConverges
// runs the test binary again with LB_E2E_HELPER set, to build a load
// balancer in a process it can kill -9.
func TestLBHelperProcess(t *testing.T) {
	raw := os.Getenv("LB_E2E_HELPER")
	if raw == "" {
		t.Skip("only run as a helper process")
	}
	var spec lb.Spec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	cl := lbClient(t, nil)
	lbApply(t, cl, spec)
}

func TestLBKilledMidwayThenRerunConverges(t *testing.T) {
	sv := lbGateways(t, "e2e-lb-kill", "web")[0]
	spec := lbSpec("", sv)
	key := simCluster + "/e2e-lb-kill/web"
	lbKnobs(t, map[string]any{"operationDuration": "1s", "operationDurations": nil})
	lbResetRequests(t)

	raw, _ := json.Marshal(spec)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLBHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "LB_E2E_HELPER="+string(raw), helperSimEnv+"="+strings.Join(simEnv, "\n"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it while operations are in flight: after the roots were sent,
	// before the chain is done.
	eventually(t, time.Minute, "the helper's first changes", func() (bool, string) {
		n := lbRequests(t).Mutations
		return n >= 8, fmt.Sprint(n, " mutations")
	})
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	killedAt := lbRequests(t).Mutations
	if len(lbOwned(t, key)) >= 13 {
		t.Fatalf("the helper finished before it was killed")
	}

	cl := lbClient(t, nil)
	res := lbApply(t, cl, spec)
	t.Logf("killed after %d mutations; the re-run made %d", killedAt, res.Mutations)
	p, err := cl.Plan(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pending() != 0 {
		t.Errorf("not converged: %+v", p.Changes)
	}
	if owned := lbOwned(t, key); len(owned) != 13 {
		t.Errorf("%d objects, want 13 (nothing duplicated): %v", len(owned), owned)
	}
	lbTeardown(t, cl, spec)
	if owned := lbOwned(t, key); len(owned) != 0 {
		t.Errorf("left: %v", owned)
	}
}

func TestLBTwoConcurrentRunsOntoOneSharedLB(t *testing.T) {
	svs := lbGateways(t, "e2e-lb-shared", "one", "two")
	a, b := lbSpec("e2e-edge", svs[0]), lbSpec("e2e-edge", svs[1])
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, spec := range []lb.Spec{a, b} {
		cl := lbClient(t, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := cl.Plan(context.Background(), spec)
			if err == nil {
				_, err = cl.Apply(context.Background(), p)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent run: %v", err)
		}
	}
	cl := lbClient(t, nil)
	for _, spec := range []lb.Spec{a, b} {
		p, err := cl.Plan(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if p.Pending() != 0 {
			t.Errorf("%s did not land: %+v", spec.Services[0].Key(), p.Changes)
		}
	}
	env := lbGcloudConfig(t)
	var um struct {
		HostRules []struct {
			Hosts []string `json:"hosts"`
		} `json:"hostRules"`
	}
	lbGcloudJSON(t, env, &um, "compute", "url-maps", "describe", "mclb-e2e-edge-um", "--global")
	var hosts []string
	for _, hr := range um.HostRules {
		hosts = append(hosts, hr.Hosts...)
	}
	slices.Sort(hosts)
	if want := []string{svs[0].Hosts[0], svs[1].Hosts[0]}; !sameStrings(hosts, want) {
		t.Errorf("URL map hosts %v, want %v", hosts, want)
	}
	var proxy struct {
		SslCertificates []string `json:"sslCertificates"`
	}
	lbGcloudJSON(t, env, &proxy, "compute", "target-https-proxies", "describe", "mclb-e2e-edge-https", "--global")
	// Each Service has a certificate of its own: together they cover
	// every host the URL map routes.
	var covered []string
	for _, link := range proxy.SslCertificates {
		var cert struct {
			Managed struct {
				Domains []string `json:"domains"`
			} `json:"managed"`
		}
		lbGcloudJSON(t, env, &cert, "compute", "ssl-certificates", "describe", linkTail(link), "--global")
		covered = append(covered, cert.Managed.Domains...)
	}
	if !sameStrings(covered, hosts) {
		t.Errorf("the proxy's certificates %v cover %v, want %v", proxy.SslCertificates, covered, hosts)
	}

	// Unexposing one leaves the other serving.
	lbTeardown(t, cl, a)
	p, err := cl.Plan(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pending() != 0 {
		t.Errorf("the remaining service is not intact: %+v", p.Changes)
	}
	res := lbApply(t, cl, b)
	if res.IPAddress == "" || len(res.Backends) == 0 || res.Backends[0].Healthy == 0 {
		t.Errorf("remaining service: %+v", res)
	}
	lbTeardown(t, cl, b)
	if owned := lbOwned(t, "e2e-edge"); len(owned) != 0 {
		t.Errorf("left: %v", owned)
	}
}

func sameStrings(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestLBThroughMeshctlExpose drives the load balancer the way users do:
// `meshctl expose svc` builds it after the gateway, `meshctl unexpose svc`
// removes it before the gateway goes.
func TestLBThroughMeshctlExpose(t *testing.T) {
	ensureRevision(t, "asm-test-1")
	const ns = "e2e-lb-cli"
	t.Cleanup(func() { lbRun(t, "", "kubectl", "delete", "namespace", ns, "--wait=false") })
	lbKubectl(t, webApp(ns, "asm-test-1", 1), "apply", "-f", "-")
	type output struct {
		LoadBalancer *struct {
			IPAddress string        `json:"ipAddress"`
			Plan      []plan.Change `json:"plan"`
			DNS       []lb.DNSRecord
			Mutations int `json:"mutations"`
			Backends  []lb.BackendHealth
		} `json:"loadBalancer"`
	}
	meshctl := func(args ...string) output {
		t.Helper()
		r := lbRun(t, "", meshctlBin, append(args, "-o", "json")...)
		if r.Code != 0 {
			t.Fatalf("meshctl %s: exit %d\n%s", strings.Join(args, " "), r.Code, r.Stderr)
		}
		var out output
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || out.LoadBalancer == nil {
			t.Fatalf("meshctl %s: %v\n%s", strings.Join(args, " "), err, r.Stdout)
		}
		return out
	}
	expose := []string{"expose", "svc", "web", "-n", ns, "--host", "web.e2e-lb-cli.example.com", "--waf", "xss"}
	first := meshctl(expose...)
	lb1 := first.LoadBalancer
	if lb1.IPAddress == "" || len(lb1.DNS) != 1 || lb1.Mutations < 13 {
		t.Errorf("expose: %+v", lb1)
	}
	for _, e := range lb1.Plan {
		if e.Action != plan.Create {
			t.Errorf("first expose: %s %s/%s", e.Action, e.Kind, e.Name)
		}
	}
	key := simCluster + "/" + ns + "/web"
	if n := len(lbOwned(t, key)); n != 13 {
		t.Errorf("%d load balancer objects, want 13", n)
	}
	lbResetRequests(t)
	again := meshctl(expose...)
	if again.LoadBalancer.Mutations != 0 || lbRequests(t).Mutations != 0 {
		t.Errorf("second expose changed the load balancer: %+v", again.LoadBalancer.Plan)
	}
	// The real gateway's pods pass the load balancer's health check.
	if len(again.LoadBalancer.Backends) == 0 {
		t.Errorf("no backend health reported")
	}
	for _, b := range again.LoadBalancer.Backends {
		if b.Healthy == 0 || b.Healthy != b.Endpoints {
			t.Errorf("backends in %s: %d/%d healthy", b.Zone, b.Healthy, b.Endpoints)
		}
	}

	// The text output tells what to do next.
	r := lbRun(t, "", meshctlBin, expose...)
	for _, want := range []string{"IP address: " + lb1.IPAddress, "Create these DNS records:", "web.e2e-lb-cli.example.com. A " + lb1.IPAddress, "Certificate "} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, r.Stdout)
		}
	}

	gone := meshctl("unexpose", "svc", "web", "-n", ns)
	for _, e := range gone.LoadBalancer.Plan {
		if e.Action != plan.Delete {
			t.Errorf("unexpose: %s %s/%s", e.Action, e.Kind, e.Name)
		}
	}
	if left := lbOwned(t, key); len(left) != 0 {
		t.Errorf("left after unexpose: %v", left)
	}
}
