//go:build e2e

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshctl/meshctl/pkg/trace"
)

// traceRun runs meshctl trace -o json and decodes the trace.
func traceRun(t *testing.T, env []string, args ...string) (*trace.Result, result) {
	t.Helper()
	r := runEnv(t, env, "", meshctlBin, append(append([]string{"trace"}, args...), "-o", "json")...)
	var res trace.Result
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatalf("meshctl trace %v: exit %d: %v\n%s\n%s", args, r.Code, err, r.Stdout, r.Stderr)
	}
	return &res, r
}

// traceAnswer is the answer in a line: state, hop kind and the codes of
// the hop's findings, for the test's messages.
func traceAnswer(res *trace.Result) string {
	if res.Answer == nil {
		return "no answer (" + string(res.State) + ")"
	}
	a := res.Answer
	return fmt.Sprintf("%s at %s %s: %v: %s", a.State, a.Kind, a.Name, answerCodes(res), a.Message)
}

// answerCodes are the codes of the answer hop's findings.
func answerCodes(res *trace.Result) []string {
	if res.Answer == nil || res.Answer.Hop < 0 || res.Answer.Path >= len(res.Paths) {
		return nil
	}
	p := res.Paths[res.Answer.Path]
	if res.Answer.Hop >= len(p.Hops) {
		return nil
	}
	var codes []string
	for _, f := range p.Hops[res.Answer.Hop].Findings {
		codes = append(codes, f.Code)
	}
	return codes
}

// traceAnswers waits until the trace of target names the hop of kind in
// state with the finding code, and exit code.
func traceAnswers(t *testing.T, env []string, target string, kind trace.HopKind, state trace.State, code string, exit int) *trace.Result {
	t.Helper()
	var res *trace.Result
	eventually(t, 2*time.Minute, fmt.Sprintf("trace %s answers %s at %s with %s", target, state, kind, code), func() (bool, string) {
		var r result
		res, r = traceRun(t, env, target)
		ok := r.Code == exit && res.Answer != nil && res.Answer.Kind == kind && res.Answer.State == state &&
			strings.Contains(strings.Join(answerCodes(res), " "), code)
		return ok, fmt.Sprintf("exit %d: %s", r.Code, traceAnswer(res))
	})
	t.Logf("%s: %s", target, traceAnswer(res))
	return res
}

// TestTraceEachBreakageNamesItsHop exposes a Service with meshctl, traces
// it healthy, then breaks one thing at a time (with kubectl, the Compute
// API or the simulator's knobs) and checks that the trace names the hop,
// then puts it back by re-exposing.
func TestTraceEachBreakageNamesItsHop(t *testing.T) {
	ensureRevision(t, "asm-test-1")
	const ns = "e2e-trace"
	const gatewayNS = ns + "-web-gateway" // expose's default: a namespace of the gateway's own
	const host = "web.e2e-trace.example.com"
	t.Cleanup(func() {
		lbRun(t, "", meshctlBin, "unexpose", "svc", "web", "-n", ns)
		lbRun(t, "", "kubectl", "delete", "namespace", ns, "--wait=false")
	})
	lbKubectl(t, webApp(ns, "asm-test-1", 1), "apply", "-f", "-")
	reexpose := func(t *testing.T) {
		t.Helper()
		r := lbRun(t, "", meshctlBin, "expose", "svc", "web", "-n", ns, "--host", host, "--waf", "xss", "-o", "json")
		if r.Code != 0 {
			t.Fatalf("meshctl expose: exit %d\n%s", r.Code, r.Stderr)
		}
	}
	reexpose(t)
	key := ns + "/web"
	healthy := func(t *testing.T) *trace.Result {
		t.Helper()
		var res *trace.Result
		eventually(t, 2*time.Minute, "the trace healthy", func() (bool, string) {
			var r result
			res, r = traceRun(t, simEnv, host+"/cart")
			return r.Code == 0 && res.Answer == nil && res.State != trace.Broken && res.State != trace.Converging, fmt.Sprintf("exit %d: %s", r.Code, traceAnswer(res))
		})
		return res
	}

	t.Run("healthy", func(t *testing.T) {
		res := healthy(t)
		if len(res.Paths) != 1 {
			t.Fatalf("%d paths, want 1: %+v", len(res.Paths), res.Paths)
		}
		p := res.Paths[0]
		if !strings.Contains(p.ForwardingRule, "e2e-trace-web") || !strings.Contains(p.BuiltBy, "meshctl expose") || !strings.Contains(p.BuiltBy, key) {
			t.Errorf("path from %q %q, want meshctl's rule", p.ForwardingRule, p.BuiltBy)
		}
		seen := map[trace.HopKind]trace.State{}
		for _, h := range p.Hops {
			seen[h.Kind] = h.State
		}
		for _, k := range []trace.HopKind{trace.HopForwardingRule, trace.HopTargetProxy, trace.HopURLMap, trace.HopBackendService, trace.HopNEG,
			trace.HopService, trace.HopGatewayPods, trace.HopIstioGateway, trace.HopVirtualService, trace.HopDestination} {
			if s, ok := seen[k]; !ok || s == trace.Broken || s == trace.Converging || s == trace.Unknown {
				t.Errorf("hop %s: %q (seen %v)", k, s, ok)
			}
		}
		// The text for people draws the same path.
		r := lbRun(t, "", meshctlBin, "trace", host+"/cart")
		if r.Code != 0 || !strings.Contains(r.Stdout, "forwarding rule") || !strings.Contains(r.Stdout, "VirtualService") {
			t.Errorf("text: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("firewall rule deleted: NEG unhealthy", func(t *testing.T) {
		fw := ownedBy(t, "firewalls", key)
		if code := validateCompute(t, http.MethodDelete, "/global/firewalls/"+fw, nil); code != http.StatusOK {
			t.Fatalf("delete firewall: HTTP %d", code)
		}
		traceAnswers(t, simEnv, host+"/cart", trace.HopNEG, trace.Broken, "MC0422", 3)
		reexpose(t)
		healthy(t)
	})
	t.Run("certificate provisioning: converging", func(t *testing.T) {
		// The simulator works the status out from when the certificate
		// began to serve: a longer delay puts it back to PROVISIONING.
		lbKnobs(t, map[string]any{"certProvisioningDelay": "1h"})
		res := traceAnswers(t, simEnv, host+"/cart", trace.HopTargetProxy, trace.Converging, "MC0404", 0)
		if res.State != trace.Converging {
			t.Errorf("trace state %s, want converging", res.State)
		}
	})
	t.Run("path with no route in the VirtualService", func(t *testing.T) {
		lbKubectl(t, `[{"op":"add","path":"/spec/http/0/match","value":[{"uri":{"prefix":"/api"}}]}]`,
			"-n", gatewayNS, "patch", "virtualservice", "web-gateway", "--type", "json", "--patch-file", "/dev/stdin")
		traceAnswers(t, simEnv, host+"/cart", trace.HopVirtualService, trace.Broken, "MC0438", 3)
		reexpose(t)
		healthy(t)
	})
	t.Run("Cloud Armor denies by default", func(t *testing.T) {
		bs := ownedBy(t, "backendServices", key)
		var got struct {
			SecurityPolicy string `json:"securityPolicy"`
		}
		lbComputeCall(t, http.MethodGet, "/global/backendServices/"+bs, &got)
		policy := linkTail(got.SecurityPolicy)
		if code := validateCompute(t, http.MethodPost, "/global/securityPolicies/"+policy+"/patchRule?priority=2147483647",
			map[string]any{"action": "deny(403)", "match": map[string]any{"versionedExpr": "SRC_IPS_V1", "config": map[string]any{"srcIpRanges": []string{"*"}}}}); code != http.StatusOK {
			t.Fatalf("patchRule: HTTP %d", code)
		}
		traceAnswers(t, simEnv, host+"/cart", trace.HopBackendService, trace.Broken, "MC0411", 3)
		if code := validateCompute(t, http.MethodPost, "/global/securityPolicies/"+policy+"/patchRule?priority=2147483647",
			map[string]any{"action": "allow", "match": map[string]any{"versionedExpr": "SRC_IPS_V1", "config": map[string]any{"srcIpRanges": []string{"*"}}}}); code != http.StatusOK {
			t.Fatalf("patchRule back: HTTP %d", code)
		}
		healthy(t)
	})
	t.Run("destination without ready pods", func(t *testing.T) {
		lbKubectl(t, "", "-n", ns, "scale", "deployment", "web", "--replicas", "0")
		traceAnswers(t, simEnv, host+"/cart", trace.HopDestination, trace.Broken, "MC0442", 3)
		lbKubectl(t, "", "-n", ns, "scale", "deployment", "web", "--replicas", "1")
		healthy(t)
	})
	t.Run("gateway TLS secret missing", func(t *testing.T) {
		lbKubectl(t, "", "-n", gatewayNS, "delete", "secret", "web-gateway-cert")
		traceAnswers(t, simEnv, host+"/cart", trace.HopIstioGateway, trace.Broken, "MC0435", 3)
		reexpose(t)
		healthy(t)
	})
	t.Run("a host no forwarding rule serves", func(t *testing.T) {
		res, r := traceRun(t, simEnv, "nothing.e2e-trace.example.com")
		if r.Code != 3 || res.Answer == nil || res.Answer.Kind != trace.HopForwardingRule || !strings.Contains(fmt.Sprint(res.Findings), "MC0400") {
			t.Errorf("exit %d: %s %v", r.Code, traceAnswer(res), res.Findings)
		}
	})
}

// traceSelfSignedSecret is a kubernetes.io/tls Secret with a self-signed
// certificate for host, valid for a day.
func traceSelfSignedSecret(t *testing.T, ns, name, host string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	crt := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	k := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: %s, namespace: %s}
type: kubernetes.io/tls
data: {tls.crt: %s, tls.key: %s}
`, name, ns, base64.StdEncoding.EncodeToString(crt), base64.StdEncoding.EncodeToString(k))
}

// TestTraceGKEGatewayPath traces a host served through a GKE Gateway
// (hand-written Gateway API objects, as the guide "From edge to mesh"
// writes them, with an HTTP listener) to the mesh ingress, its Istio
// Gateway and VirtualService, and the destination: every hop found, the
// load balancer named as GKE Gateway's, and the trace healthy.
func TestTraceGKEGatewayPath(t *testing.T) {
	ensureRevision(t, "asm-test-1")
	const ns = "e2e-trace-gw"
	const host = "gw.e2e-trace.example.com"
	t.Cleanup(func() { lbRun(t, "", "kubectl", "delete", "namespace", ns, "--wait=false") })
	lbKubectl(t, webApp(ns, "asm-test-1", 1), "apply", "-f", "-")
	// The guide's mesh ingress, in this test's namespace (its Namespace
	// document is webApp's).
	ingress := strings.ReplaceAll(gwMeshIngress("asm-test-1"), "namespace: "+gwNS, "namespace: "+ns)
	ingress = ingress[strings.Index(ingress, "---\n")+4:]
	lbKubectl(t, ingress, "apply", "-f", "-")
	lbKubectl(t, traceSelfSignedSecret(t, ns, "ingress-cert", host), "apply", "-f", "-")
	lbKubectl(t, fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: asm-ingressgateway, namespace: %[1]s}
spec:
  selector: {asm: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: ingress-cert}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: %[1]s}
spec:
  hosts: [%[2]s]
  gateways: [asm-ingressgateway]
  http:
  - route: [{destination: {host: web, port: {number: 80}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: external-http, namespace: %[1]s}
spec:
  gatewayClassName: gke-l7-global-external-managed
  listeners: [{name: http, protocol: HTTP, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: %[1]s}
spec:
  parentRefs: [{name: external-http}]
  hostnames: [%[2]s]
  rules: [{backendRefs: [{name: asm-ingressgateway, port: 443}]}]
---
`, ns, host)+strings.ReplaceAll(gwHealthCheckPolicy("ingress", "{portSpecification: USE_FIXED_PORT, port: 15021, requestPath: /healthz/ready}"), "namespace: "+gwNS, "namespace: "+ns),
		"apply", "-f", "-")

	var res *trace.Result
	eventually(t, 3*time.Minute, "the trace through GKE Gateway healthy", func() (bool, string) {
		var r result
		res, r = traceRun(t, simEnv, "http://"+host+"/")
		return r.Code == 0 && res.Answer == nil && len(res.Paths) == 1, fmt.Sprintf("exit %d: %s", r.Code, traceAnswer(res))
	})
	p := res.Paths[0]
	if !strings.HasPrefix(p.ForwardingRule, "gkegw1-") || !strings.Contains(p.BuiltBy, "GKE Gateway "+ns+"/external-http") {
		t.Errorf("path from %q %q, want GKE Gateway's rule", p.ForwardingRule, p.BuiltBy)
	}
	var kinds []string
	for _, h := range p.Hops {
		kinds = append(kinds, string(h.Kind)+" "+h.Name)
	}
	got := strings.Join(kinds, " | ")
	for _, want := range []string{"Service " + ns + "/asm-ingressgateway", "Istio Gateway " + ns + "/asm-ingressgateway", "VirtualService " + ns + "/web", "destination " + ns + "/web"} {
		if !strings.Contains(got, want) {
			t.Errorf("no hop %q in %s", want, got)
		}
	}
	t.Logf("GKE Gateway path: %s", got)

	// Break the mesh side: the route's destination has no ready pods.
	lbKubectl(t, "", "-n", ns, "scale", "deployment", "web", "--replicas", "0")
	traceAnswers(t, simEnv, "http://"+host+"/", trace.HopDestination, trace.Broken, "MC0442", 3)
}
