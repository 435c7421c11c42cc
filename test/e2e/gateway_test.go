//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The GKE Gateway controller stand-in, driven the way the guide ("From edge
// to mesh: deploy service mesh applications through GKE Gateway") does it:
// hand-written manifests applied with kubectl, the load balancer checked
// with gcloud.

const gwNS = "e2e-gateway"

// gwHealthCheckPolicy is a HealthCheckPolicy on the mesh ingress Service
// with the given httpHealthCheck block.
func gwHealthCheckPolicy(name, httpHealthCheck string) string {
	return fmt.Sprintf(`apiVersion: networking.gke.io/v1
kind: HealthCheckPolicy
metadata: {name: %s, namespace: %s}
spec:
  default:
    checkIntervalSec: 20
    timeoutSec: 5
    logConfig: {enabled: true}
    config:
      type: HTTP
      httpHealthCheck: %s
  targetRef: {group: "", kind: Service, name: asm-ingressgateway}
`, name, gwNS, httpHealthCheck)
}

// gwMeshIngress is the guide's mesh ingress: an injected gateway
// Deployment (Istio's gateway template) and its ClusterIP Service with
// appProtocol HTTP2 on 443 and the status port.
func gwMeshIngress(revision string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[1]s, labels: {istio.io/rev: %[2]s}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: asm-ingressgateway, namespace: %[1]s}
spec:
  replicas: 3
  selector: {matchLabels: {asm: ingressgateway}}
  template:
    metadata:
      labels: {asm: ingressgateway}
      annotations: {inject.istio.io/templates: gateway}
    spec:
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {asm: ingressgateway}}}
      containers:
      - name: istio-proxy
        image: auto
        ports: [{name: https, containerPort: 8443}, {name: status-port, containerPort: 15021}]
---
apiVersion: v1
kind: Service
metadata: {name: asm-ingressgateway, namespace: %[1]s}
spec:
  type: ClusterIP
  selector: {asm: ingressgateway}
  ports:
  - {name: status-port, port: 15021, targetPort: 15021}
  - {name: http, port: 80, targetPort: 8080}
  - {name: https, port: 443, targetPort: 8443, appProtocol: HTTP2}
`, gwNS, revision)
}

// gwEdge is the guide's cloud ingress: the Gateway with a certificate map
// and a reserved address, its two routes and its policies.
func gwEdge() string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: external-http
  namespace: %[1]s
  annotations: {networking.gke.io/certmap: e2e-gw-cert-map}
spec:
  gatewayClassName: gke-l7-global-external-managed
  listeners:
  - {name: http, protocol: HTTP, port: 80}
  - {name: https, protocol: HTTPS, port: 443}
  addresses:
  - {type: NamedAddress, value: e2e-gw-ip}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: default-httproute, namespace: %[1]s}
spec:
  parentRefs: [{name: external-http, sectionName: https}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: asm-ingressgateway, port: 443}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: http-to-https-redirect-httproute, namespace: %[1]s}
spec:
  parentRefs: [{name: external-http, sectionName: http}]
  rules:
  - filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]
---
apiVersion: networking.gke.io/v1
kind: GCPBackendPolicy
metadata: {name: cloud-armor-backendpolicy, namespace: %[1]s}
spec:
  default:
    securityPolicy: e2e-gw-armor
    logging: {enabled: true, sampleRate: 500000}
  targetRef: {group: "", kind: Service, name: asm-ingressgateway}
---
apiVersion: networking.gke.io/v1
kind: GCPGatewayPolicy
metadata: {name: gateway-ssl, namespace: %[1]s}
spec:
  default: {sslPolicy: e2e-gw-ssl}
  targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: external-http}
---
`, gwNS) + gwHealthCheckPolicy("ingress-gateway-healthcheck", "{portSpecification: USE_FIXED_PORT, port: 15021, requestPath: /healthz/ready}")
}

// gwGcloud runs gcloud with a configuration pointed at the simulator.
func gwGcloud(t *testing.T, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command("gcloud", args...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcloud %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func gwJSONPath(t *testing.T, kind, name, path string) string {
	t.Helper()
	return runIn(t, "", "kubectl", "get", kind, name, "-n", gwNS, "-o", "jsonpath="+path).Stdout
}

// gwOwned lists the simulated project's resources the controller made.
func gwOwned(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range lbSimResources(t) {
		if name, _ := r["name"].(string); strings.HasPrefix(name, "gkegw1-") {
			out = append(out, fmt.Sprint(r["kind"], " ", name))
		}
	}
	return out
}

// gwHealth is the health of every endpoint of a backend service, through gcloud.
func gwHealth(t *testing.T, env []string, backend string) []string {
	t.Helper()
	var health []struct {
		Status struct {
			HealthStatus []struct {
				HealthState string `json:"healthState"`
				Port        int    `json:"port"`
			} `json:"healthStatus"`
		} `json:"status"`
	}
	lbGcloudJSON(t, env, &health, "compute", "backend-services", "get-health", backend, "--global")
	var states []string
	for _, g := range health {
		for _, s := range g.Status.HealthStatus {
			states = append(states, fmt.Sprintf("%s:%d", s.HealthState, s.Port))
		}
	}
	return states
}

// allIn reports whether there are n endpoints, all in state.
func allIn(states []string, state string, n int) bool {
	if len(states) != n {
		return false
	}
	for _, s := range states {
		if !strings.HasPrefix(s, state+":") {
			return false
		}
	}
	return true
}

func TestGatewayControllerHealthCheckPolicyForms(t *testing.T) {
	kubectl(t, "create", "namespace", gwNS+"-crd")
	t.Cleanup(func() { runIn(t, "", "kubectl", "delete", "namespace", gwNS+"-crd", "--wait=false") })
	apply := func(httpHealthCheck string) result {
		m := strings.ReplaceAll(gwHealthCheckPolicy("hc", httpHealthCheck), "namespace: "+gwNS, "namespace: "+gwNS+"-crd")
		return runIn(t, m, "kubectl", "apply", "--dry-run=server", "-f", "-")
	}
	// The form meshctl renders, accepted by HEAD's CEL and by v1.3.0.
	if r := apply("{portSpecification: USE_FIXED_PORT, port: 15021, requestPath: /healthz/ready}"); r.Code != 0 {
		t.Errorf("the fixed-port form was refused: %s", r.Stderr)
	}
	// The guide's form: this simulator serves v1.3.0's CRD, which has no
	// CEL rule and accepts it (HEAD's CEL would refuse it: "no such key:
	// portSpecification"; see sim/gkegateway/install.go).
	if r := apply("{port: 15021, portName: status-port, requestPath: /healthz/ready}"); r.Code != 0 {
		t.Errorf("the guide's form was refused by v1.3.0's CRD: %s", r.Stderr)
	}
	// The CRD's own schema is enforced by the API server.
	r := apply("{portSpecification: USE_SOME_PORT, port: 15021}")
	if r.Code == 0 || !strings.Contains(r.Stderr, "portSpecification") || !strings.Contains(r.Stderr, "Unsupported value") {
		t.Errorf("an unknown portSpecification: exit %d\n%s", r.Code, r.Stderr)
	}
}

func TestGatewayControllerProgramsTheGuidesGateway(t *testing.T) {
	env := gwSetup(t)
	start := time.Now()
	kubectlApply(t, gwEdge())
	var accepted time.Duration
	eventually(t, 2*time.Minute, "the Gateway Programmed", func() (bool, string) {
		conds := gwJSONPath(t, "gateway", "external-http", `{range .status.conditions[*]}{.type}={.status} {end}`)
		if accepted == 0 && strings.Contains(conds, "Accepted=True") {
			accepted = time.Since(start)
		}
		return strings.Contains(conds, "Programmed=True"), conds
	})
	t.Logf("Accepted after %.1fs, Programmed after %.1fs (the simulator's default delays)", accepted.Seconds(), time.Since(start).Seconds())
	if got := gwJSONPath(t, "gateway", "external-http", `{range .status.conditions[*]}{.type} {end}`); got != "Scheduled Accepted Programmed Ready networking.gke.io/GatewayHealthy " {
		t.Errorf("conditions in the order %q, want GKE's", got)
	}
	var ip map[string]any
	lbGcloudJSON(t, env, &ip, "compute", "addresses", "describe", "e2e-gw-ip", "--global")
	if got := gwJSONPath(t, "gateway", "external-http", `{.status.addresses[0].value}`); got != ip["address"] {
		t.Errorf("status address %q, want the reserved %v", got, ip["address"])
	}

	backend := gwCheckChain(t, env, fmt.Sprint(ip["address"]))
	gwCheckFirewallMakesHealthy(t, env, backend)

	// A route to a Service that does not exist.
	kubectlApply(t, fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: missing, namespace: %s}
spec:
  parentRefs: [{name: external-http, sectionName: https}]
  hostnames: [missing.e2e.example.com]
  rules: [{backendRefs: [{name: nothere, port: 443}]}]
`, gwNS))
	eventually(t, time.Minute, "ResolvedRefs=False on the route", func() (bool, string) {
		out := gwJSONPath(t, "httproute", "missing", `{range .status.parents[0].conditions[?(@.type=="ResolvedRefs")]}{.status}|{.reason}|{.message}{end}`)
		return strings.HasPrefix(out, "False|BackendNotFound|") && strings.Contains(out, "Error GWCER102: services "+gwNS+"/nothere not found"), out
	})

	// Deleting the Gateway leaves nothing the controller made, and the
	// user's address and policies where they were.
	kubectl(t, "delete", "gateway", "external-http", "-n", gwNS, "--timeout=2m")
	if left := gwOwned(t); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	lbGcloudJSON(t, env, &ip, "compute", "addresses", "describe", "e2e-gw-ip", "--global")
	eventually(t, time.Minute, "the NEGs released", func() (bool, string) {
		var negs []struct {
			Name string `json:"name"`
		}
		lbGcloudJSON(t, env, &negs, "compute", "network-endpoint-groups", "list")
		for _, n := range negs {
			if strings.Contains(n.Name, "-"+gwNS+"-asm-ingressgateway-") {
				return false, n.Name
			}
		}
		return true, ""
	})
}

// gwSetup makes what the guide makes before the Gateway: the reserved
// address, Cloud Armor and SSL policies (with gcloud) and the mesh ingress
// (injected, ready); it returns the gcloud environment.
func gwSetup(t *testing.T) []string {
	t.Helper()
	ensureRevision(t, "asm-test-1")
	env := lbGcloudConfig(t)
	gwGcloud(t, env, "compute", "addresses", "create", "e2e-gw-ip", "--global")
	gwGcloud(t, env, "compute", "security-policies", "create", "e2e-gw-armor")
	gwGcloud(t, env, "compute", "ssl-policies", "create", "e2e-gw-ssl", "--profile", "RESTRICTED", "--min-tls-version", "1.2", "--global")
	// The guide's Certificate Manager objects: the controller refuses a
	// Gateway whose certificate map does not exist (GWCER105).
	gwGcloud(t, env, "certificate-manager", "certificates", "create", "e2e-gw-cert", "--domains", "frontend.e2e-gw.example.com")
	gwGcloud(t, env, "certificate-manager", "maps", "create", "e2e-gw-cert-map")
	gwGcloud(t, env, "certificate-manager", "maps", "entries", "create", "e2e-gw-cert-map-entry", "--map", "e2e-gw-cert-map",
		"--certificates", "e2e-gw-cert", "--hostname", "frontend.e2e-gw.example.com")
	t.Cleanup(func() {
		runIn(t, "", "kubectl", "delete", "namespace", gwNS, "--wait=false")
		for _, del := range [][]string{{"ssl-policies", "e2e-gw-ssl", "--global"}, {"security-policies", "e2e-gw-armor"}, {"addresses", "e2e-gw-ip", "--global"}} {
			cmd := exec.Command("gcloud", append([]string{"compute", del[0], "delete", del[1], "--quiet"}, del[2:]...)...)
			cmd.Env = append(os.Environ(), env...)
			_ = cmd.Run()
		}
	})
	kubectlApply(t, gwMeshIngress("asm-test-1"))
	eventually(t, 2*time.Minute, "three injected, ready gateway pods", func() (bool, string) {
		out := runIn(t, "", "kubectl", "get", "pods", "-n", gwNS, "-l", "asm=ingressgateway", "-o",
			`jsonpath={range .items[*]}{.status.containerStatuses[0].ready}{"/"}{.spec.containers[0].image}{" "}{end}`).Stdout
		return strings.Count(out, "true/") == 3 && !strings.Contains(out, "/auto"), out
	})
	return env
}

// gwCheckChain follows the load balancer with gcloud from the forwarding
// rule the Gateway's annotation names and returns the backend service.
func gwCheckChain(t *testing.T, env []string, ip string) string {
	t.Helper()
	// The chain, followed with gcloud from the forwarding rule the
	// Gateway's annotation names: rule → proxy → URL map → backend service
	// → health check on 15021 → zonal NEGs.
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	var fr, proxy, um, bs, hc map[string]any
	for _, link := range strings.Split(gwJSONPath(t, "gateway", "external-http", `{.metadata.annotations.networking\.gke\.io/forwarding-rules}`), ", ") {
		lbGcloudJSON(t, env, &fr, "compute", "forwarding-rules", "describe", linkTail(link), "--global")
		if str(fr, "portRange") == "443-443" {
			break
		}
	}
	if str(fr, "portRange") != "443-443" || str(fr, "IPAddress") != ip || str(fr, "loadBalancingScheme") != "EXTERNAL_MANAGED" {
		t.Fatalf("forwarding rule: %v", fr)
	}
	lbGcloudJSON(t, env, &proxy, "compute", "target-https-proxies", "describe", linkTail(str(fr, "target")), "--global")
	if str(proxy, "certificateMap") != "//certificatemanager.googleapis.com/projects/"+simProject+"/locations/global/certificateMaps/e2e-gw-cert-map" ||
		linkTail(str(proxy, "sslPolicy")) != "e2e-gw-ssl" {
		t.Errorf("proxy: certificateMap %q sslPolicy %q", proxy["certificateMap"], proxy["sslPolicy"])
	}
	lbGcloudJSON(t, env, &um, "compute", "url-maps", "describe", linkTail(str(proxy, "urlMap")), "--global")
	backends := urlMapRouteBackends(um)
	if len(backends) != 1 {
		t.Fatalf("URL map routes to %v, want one backend service", backends)
	}
	backend := backends[0]
	lbGcloudJSON(t, env, &bs, "compute", "backend-services", "describe", backend, "--global")
	if str(bs, "protocol") != "HTTP2" || str(bs, "loadBalancingScheme") != "EXTERNAL_MANAGED" || linkTail(str(bs, "securityPolicy")) != "e2e-gw-armor" {
		t.Errorf("backend service %s: %s %s armor %q", backend, bs["protocol"], bs["loadBalancingScheme"], bs["securityPolicy"])
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
	var negs []struct {
		Name string `json:"name"`
		Zone string `json:"zone"`
	}
	lbGcloudJSON(t, env, &negs, "compute", "network-endpoint-groups", "list")
	zones := map[string]bool{}
	for _, g := range groups {
		link := fmt.Sprint(g.(map[string]any)["group"])
		for _, n := range negs {
			if n.Name == linkTail(link) && strings.HasSuffix(link, linkTail(n.Zone)+"/networkEndpointGroups/"+n.Name) {
				zones[linkTail(n.Zone)] = true
			}
		}
	}
	if len(groups) != 3 || len(zones) != 3 {
		t.Errorf("backends %v, NEGs found by gcloud in %v", groups, zones)
	}
	return backend
}

// gwCheckFirewallMakesHealthy shows the backends healthy in every zone
// thanks to the controller's firewall rule.
func gwCheckFirewallMakesHealthy(t *testing.T, env []string, backend string) {
	t.Helper()
	// Healthy in every zone, thanks to the controller's firewall rule: with
	// the controller paused, take the rule away and the health checkers
	// are shut out; once it runs again, its resync puts the rule back.
	eventually(t, time.Minute, "every gateway pod HEALTHY", func() (bool, string) {
		s := gwHealth(t, env, backend)
		return allIn(s, "HEALTHY", 3), fmt.Sprint(s)
	})
	fw := linkTail(gwJSONPath(t, "gateway", "external-http", `{.metadata.annotations.networking\.gke\.io/firewalls}`))
	lbKnobsGateway(t, map[string]any{"paused": true})
	gwGcloud(t, env, "compute", "firewall-rules", "delete", fw, "--quiet")
	if s := gwHealth(t, env, backend); !allIn(s, "UNHEALTHY", 3) {
		t.Errorf("health without the controller's firewall rule: %v, want UNHEALTHY", s)
	}
	lbSimAPI(t, http.MethodPost, "/meshsim/gateway/knobs", map[string]any{"paused": false, "resync": "1s"}, nil)
	eventually(t, time.Minute, "the firewall rule back, the pods HEALTHY again", func() (bool, string) {
		s := gwHealth(t, env, backend)
		return allIn(s, "HEALTHY", 3), fmt.Sprint(s)
	})
}

// lbKnobsGateway merges patch into the Gateway controller's knobs until
// the test ends.
func lbKnobsGateway(tb testing.TB, patch map[string]any) {
	tb.Helper()
	var before json.RawMessage
	lbSimAPI(tb, http.MethodGet, "/meshsim/gateway/knobs", nil, &before)
	lbSimAPI(tb, http.MethodPost, "/meshsim/gateway/knobs", patch, nil)
	tb.Cleanup(func() {
		var restore map[string]any
		_ = json.Unmarshal(before, &restore)
		lbSimAPI(tb, http.MethodPost, "/meshsim/gateway/knobs", restore, nil)
	})
}
