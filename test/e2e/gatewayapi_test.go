//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// gatewayAPIResult is the part of `meshctl expose --via gateway-api -o
// json` the tests read.
type gatewayAPIResult struct {
	GatewayAPI struct {
		Gateway    string `json:"gateway"`
		Route      string `json:"route"`
		Changes    []struct{ Action, Kind, Namespace, Name string }
		Conditions []struct {
			Object, Type, Status, Reason, Message string
		} `json:"conditions"`
		IPAddress string `json:"ipAddress"`
		DNS       []struct {
			Name, Type, Value string
		} `json:"dns"`
		Chain []struct {
			Kind, Name, Detail string
		} `json:"chain"`
		Backends []struct {
			Zone               string
			Healthy, Endpoints int
		} `json:"backends"`
	} `json:"gatewayAPI"`
}

func exposeViaGatewayAPI(t *testing.T, args ...string) (gatewayAPIResult, time.Duration) {
	t.Helper()
	start := time.Now()
	args = append([]string{"expose", "svc"}, append(args, "--via", "gateway-api", "-o", "json")...)
	r := runIn(t, "", meshctlBin, args...)
	took := time.Since(start)
	if r.Code != 0 {
		t.Fatalf("meshctl %s: exit %d\n%s", strings.Join(args, " "), r.Code, r.Stderr)
	}
	var res gatewayAPIResult
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatalf("meshctl %s: %v\n%s", strings.Join(args, " "), err, r.Stdout)
	}
	return res, took
}

// TestExposeViaGatewayAPIEndToEnd exposes a Service through a GKE Gateway
// made by the simulator's controller stand-in, follows the load balancer
// it made with gcloud, re-runs, breaks the route and unexposes.
func TestExposeViaGatewayAPIEndToEnd(t *testing.T) {
	ensureRevision(t, "asm-test-1")
	const ns, host = "e2e-gwapi", "www.gwapi.e2e.example.com"
	t.Cleanup(func() { runIn(t, "", "kubectl", "delete", "namespace", ns, "--wait=false") })
	kubectlApply(t, webApp(ns, "asm-test-1", 1))
	env := lbGcloudConfig(t)

	// The dry run's manifests, every one accepted by the real API server's
	// validation (the CRDs' schemas and CEL rules: the HealthCheckPolicy's
	// fixed-port form among them).
	dry := runIn(t, "", meshctlBin, "expose", "svc", "web", "-n", ns, "--host", host, "--via", "gateway-api", "--dry-run", "--manifests", "-o", "yaml")
	if dry.Code != 0 {
		t.Fatalf("dry run: exit %d\n%s", dry.Code, dry.Stderr)
	}
	for _, k := range []string{"kind: Gateway\n", "kind: HTTPRoute\n", "kind: HealthCheckPolicy\n", "kind: GCPBackendPolicy\n", "kind: GCPGatewayPolicy\n", "USE_FIXED_PORT"} {
		if !strings.Contains(dry.Stdout, k) {
			t.Errorf("dry run lacks %q", k)
		}
	}
	// They start with the gateway's own namespace, which a server-side dry
	// run does not make: apply it for real (as GitOps would first), the rest
	// dry. It carries meshctl's labels, so expose below takes it as its own.
	docs := strings.SplitN(dry.Stdout, "\n---\n", 2)
	if len(docs) != 2 || !strings.Contains(docs[0], "kind: Namespace") || !strings.Contains(docs[0], "name: "+ns+"-web-gateway") {
		t.Fatalf("the manifests do not start with namespace %s-web-gateway:\n%s", ns, dry.Stdout)
	}
	if r := runIn(t, docs[0], "kubectl", "apply", "-f", "-"); r.Code != 0 {
		t.Fatalf("kubectl apply of the namespace: exit %d\n%s", r.Code, r.Stderr)
	}
	if r := runIn(t, docs[1], "kubectl", "apply", "--dry-run=server", "-f", "-"); r.Code != 0 {
		t.Fatalf("the API server refuses the dry run's manifests: %s", r.Stderr)
	}

	res, took := exposeViaGatewayAPI(t, "web", "-n", ns, "--host", host)
	t.Logf("expose --via gateway-api: Programmed and healthy in %.1fs", took.Seconds())
	g := res.GatewayAPI
	for _, c := range g.Conditions {
		if c.Status != "True" {
			t.Errorf("condition %s %s=%s (%s)", c.Object, c.Type, c.Status, c.Message)
		}
	}
	if g.IPAddress == "" || len(g.DNS) != 1 || strings.TrimSuffix(g.DNS[0].Name, ".") != host || g.DNS[0].Value != g.IPAddress {
		t.Errorf("ip %q, dns %v", g.IPAddress, g.DNS)
	}
	healthy := 0
	for _, b := range g.Backends {
		healthy += b.Healthy
	}
	if healthy == 0 {
		t.Errorf("backends: %v", g.Backends)
	}
	gwName := strings.SplitN(g.Gateway, "/", 2)[1]
	gwNamespace := strings.SplitN(g.Gateway, "/", 2)[0]
	gatewayAPIChain(t, env, gwNamespace, gwName, g.IPAddress)

	// A re-run changes nothing: no object is written, no Compute call mutates.
	lbResetRequests(t)
	again, _ := exposeViaGatewayAPI(t, "web", "-n", ns, "--host", host)
	for _, c := range again.GatewayAPI.Changes {
		if c.Action != "keep" {
			t.Errorf("re-run: %s %s %s/%s", c.Action, c.Kind, c.Namespace, c.Name)
		}
	}
	if log := lbRequests(t); log.Mutations != 0 {
		t.Errorf("re-run made %d mutating Compute calls: %v", log.Mutations, log.Requests)
	}

	// A route whose backend is gone: the controller's ResolvedRefs error,
	// through meshctl validate.
	gatewayAPIMissingBackend(t, ns, gwNamespace, g.Route)

	// unexpose leaves nothing the controller made and nothing of meshctl's.
	if r := runIn(t, "", meshctlBin, "unexpose", "svc", "web", "-n", ns); r.Code != 0 {
		t.Fatalf("unexpose: exit %d\n%s", r.Code, r.Stderr)
	}
	if left := gwOwned(t); len(left) != 0 {
		t.Errorf("controller-made resources left: %v", left)
	}
	if left := kubectl(t, "get", "gateways.gateway.networking.k8s.io,httproutes,healthcheckpolicies,gcpbackendpolicies,gcpgatewaypolicies", "-A",
		"-l", "app.kubernetes.io/managed-by=meshctl", "-o", "name"); strings.TrimSpace(left) != "" {
		t.Errorf("Gateway API objects left: %s", left)
	}
}

// gatewayAPIChain follows with gcloud (an independent client) the load
// balancer the controller made: forwarding rule → proxy (certificate map,
// SSL policy) → URL map → backend service (Cloud Armor, health check on
// 15021) → zonal NEGs.
func gatewayAPIChain(t *testing.T, env []string, ns, gateway, ip string) {
	t.Helper()
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	jp := func(path string) string {
		return runIn(t, "", "kubectl", "get", "gateways.gateway.networking.k8s.io", gateway, "-n", ns, "-o", "jsonpath="+path).Stdout
	}
	var fr, proxy, um, bs, hc, sslp map[string]any
	for _, link := range strings.Split(jp(`{.metadata.annotations.networking\.gke\.io/forwarding-rules}`), ", ") {
		lbGcloudJSON(t, env, &fr, "compute", "forwarding-rules", "describe", linkTail(link), "--global")
		if str(fr, "portRange") == "443-443" {
			break
		}
	}
	if str(fr, "portRange") != "443-443" || str(fr, "IPAddress") != ip || str(fr, "loadBalancingScheme") != "EXTERNAL_MANAGED" {
		t.Fatalf("forwarding rule: %v", fr)
	}
	lbGcloudJSON(t, env, &proxy, "compute", "target-https-proxies", "describe", linkTail(str(fr, "target")), "--global")
	if !strings.HasPrefix(str(proxy, "certificateMap"), "//certificatemanager.googleapis.com/projects/"+simProject+"/locations/global/certificateMaps/") {
		t.Errorf("proxy certificate map %q", proxy["certificateMap"])
	}
	lbGcloudJSON(t, env, &sslp, "compute", "ssl-policies", "describe", linkTail(str(proxy, "sslPolicy")), "--global")
	if str(sslp, "profile") != "RESTRICTED" || str(sslp, "minTlsVersion") != "TLS_1_2" {
		t.Errorf("SSL policy: %v", sslp)
	}
	lbGcloudJSON(t, env, &um, "compute", "url-maps", "describe", linkTail(str(proxy, "urlMap")), "--global")
	// The backend service the URL map routes the host to (not the
	// Gateway's default, GKE's serve404).
	backend := ""
	if routed := urlMapRouteBackends(um); len(routed) == 1 {
		backend = routed[0]
	}
	if backend == "" {
		t.Fatalf("URL map routes to %v, want one backend service", urlMapRouteBackends(um))
	}
	lbGcloudJSON(t, env, &bs, "compute", "backend-services", "describe", backend, "--global")
	if str(bs, "protocol") != "HTTP2" || str(bs, "securityPolicy") == "" {
		t.Errorf("backend service %s: protocol %v, security policy %q", backend, bs["protocol"], bs["securityPolicy"])
	}
	hcs, _ := bs["healthChecks"].([]any)
	if len(hcs) != 1 {
		t.Fatalf("backend service health checks: %v", hcs)
	}
	lbGcloudJSON(t, env, &hc, "compute", "health-checks", "describe", linkTail(fmt.Sprint(hcs[0])), "--global")
	if h, _ := hc["httpHealthCheck"].(map[string]any); h["port"] != 15021.0 || h["requestPath"] != "/healthz/ready" {
		t.Errorf("health check: %v", hc["httpHealthCheck"])
	}
	groups, _ := bs["backends"].([]any)
	if len(groups) == 0 {
		t.Errorf("backend service %s has no backends", backend)
	}
	for _, gr := range groups {
		if link := fmt.Sprint(gr.(map[string]any)["group"]); !strings.Contains(link, "/zones/") || !strings.Contains(link, "/networkEndpointGroups/") {
			t.Errorf("backend %s is not a zonal NEG", link)
		}
	}
	if s := gwHealth(t, env, backend); !allIn(s, "HEALTHY", len(s)) || len(s) == 0 {
		t.Errorf("health through gcloud: %v", s)
	}
}

// gatewayAPIMissingBackend deletes the mesh gateway's Service the route
// sends to; meshctl validate reports the controller's GWCER102, and a
// re-run of expose puts it back.
func gatewayAPIMissingBackend(t *testing.T, ns, gwNamespace, route string) {
	t.Helper()
	routeName := route[strings.LastIndex(route, "/")+1:]
	backend := runIn(t, "", "kubectl", "get", "httproute", routeName, "-n", gwNamespace, "-o", "jsonpath={.spec.rules[0].backendRefs[0].name}").Stdout
	kubectl(t, "delete", "service", backend, "-n", gwNamespace)
	eventually(t, time.Minute, "ResolvedRefs=False on the route", func() (bool, string) {
		out := runIn(t, "", "kubectl", "get", "httproute", routeName, "-n", gwNamespace, "-o",
			`jsonpath={range .status.parents[0].conditions[?(@.type=="ResolvedRefs")]}{.status}{end}`).Stdout
		return out == "False", out
	})
	r := runIn(t, "", meshctlBin, "validate", "-n", ns, "--skip-asmcli")
	if !strings.Contains(r.Stdout+r.Stderr, "MC0261") || !strings.Contains(r.Stdout+r.Stderr, "GWCER102") {
		t.Errorf("validate: exit %d, want MC0261 with GWCER102\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// urlMapRouteBackends lists the backend services a URL map's route rules
// send to (weighted), by name.
func urlMapRouteBackends(um map[string]any) []string {
	b, _ := json.Marshal(um["pathMatchers"])
	var matchers []struct {
		RouteRules []struct {
			RouteAction struct {
				WeightedBackendServices []struct {
					BackendService string `json:"backendService"`
				} `json:"weightedBackendServices"`
			} `json:"routeAction"`
		} `json:"routeRules"`
	}
	_ = json.Unmarshal(b, &matchers)
	var out []string
	for _, m := range matchers {
		for _, r := range m.RouteRules {
			for _, w := range r.RouteAction.WeightedBackendServices {
				out = append(out, linkTail(w.BackendService))
			}
		}
	}
	return out
}
