//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// exposeKinds are the kinds meshctl expose makes, as kubectl names them.
const exposeKinds = "serviceaccounts,roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io,secrets," +
	"deployments.apps,replicasets.apps,pods,services,poddisruptionbudgets.policy,horizontalpodautoscalers.autoscaling," +
	"gateways.networking.istio.io,virtualservices.networking.istio.io,destinationrules.networking.istio.io," +
	"peerauthentications.security.istio.io,networkpolicies.networking.k8s.io,namespaces"

// exposeResult is the part of `meshctl expose -o json` the test reads.
type exposeResult struct {
	Gateway struct {
		Namespace, Name string
	} `json:"gateway"`
	NEG struct {
		Name  string   `json:"name"`
		Zones []string `json:"zones"`
	} `json:"neg"`
	Changes []struct {
		Action, Kind, Namespace, Name string
	} `json:"changes"`
}

func exposeJSON(t *testing.T, args ...string) exposeResult {
	t.Helper()
	r := runIn(t, "", meshctlBin, append(args, "-o", "json")...)
	if r.Code != 0 {
		t.Fatalf("meshctl %s: exit %d\n%s", strings.Join(args, " "), r.Code, r.Stderr)
	}
	var res exposeResult
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatalf("meshctl %s -o json: %v\n%s", strings.Join(args, " "), err, r.Stdout)
	}
	return res
}

// exposeVersions returns "Kind/namespace/name=resourceVersion" of every object
// matching a label selector, sorted.
func exposeVersions(t *testing.T, selector string) []string {
	t.Helper()
	out := kubectl(t, "get", exposeKinds, "-A", "-l", selector, "-o",
		`jsonpath={range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}={.metadata.resourceVersion}{"\n"}{end}`)
	lines := strings.Fields(out)
	sort.Strings(lines)
	return lines
}

// meshctlWrites returns "Kind/namespace/name=uid@time" of every object
// matching a label selector, time being that of meshctl's last write to it
// (its managedFields entry), sorted: unlike resourceVersions, it does not
// move when a controller writes the object's status (the autoscaler's).
func meshctlWrites(t *testing.T, selector string) []string {
	t.Helper()
	out := kubectl(t, "get", exposeKinds, "-A", "-l", selector, "-o",
		`jsonpath={range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}={.metadata.uid}@{.metadata.managedFields[?(@.manager=="meshctl")].time}{"\n"}{end}`)
	lines := strings.Fields(out)
	sort.Strings(lines)
	return lines
}

func TestExposeGatewayEndToEnd(t *testing.T) {
	ensureRevision(t, "asm-test-1")
	const ns = "e2e-expose-shop"
	// Each gateway runs in a namespace of its own, which meshctl makes.
	const gwNS, apiNS = ns + "-web-gateway", ns + "-api-gateway"
	t.Cleanup(func() {
		runIn(t, "", "kubectl", "delete", "namespace", ns, gwNS, apiNS, "--ignore-not-found", "--wait=false")
	})
	kubectlApply(t, webApp(ns, "asm-test-1", 2)+fmt.Sprintf(`---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: nginx, ports: [{containerPort: 8080}, {containerPort: 9090}]}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: %[1]s}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}, {name: grpc, port: 9090, targetPort: 9090}]
`, ns))
	eventually(t, 90*time.Second, "the Services' pods are injected", func() (bool, string) {
		out := runIn(t, "", "kubectl", "get", "pods", "-n", ns, "-o",
			`jsonpath={range .items[*]}{.metadata.name}:{range .spec.initContainers[*]}{.name},{end}{"\n"}{end}`).Stdout
		lines := strings.Fields(out)
		if len(lines) != 3 {
			return false, out
		}
		for _, l := range lines {
			if !strings.Contains(l, "istio-proxy") {
				return false, out
			}
		}
		return true, out
	})

	// Bad input is refused with what exists, and nothing is made.
	r := runIn(t, "", meshctlBin, "expose", "svc", "webb", "-n", ns, "--host", "www.example.com")
	if r.Code != 1 || !strings.Contains(r.Stderr, "service "+ns+"/webb not found; Services in "+ns+": api, web") {
		t.Errorf("missing Service: exit %d\n%s", r.Code, r.Stderr)
	}
	r = runIn(t, "", meshctlBin, "expose", "svc", "api", "-n", ns, "--host", "api.example.com")
	if r.Code != 2 || !strings.Contains(r.Stderr, "several ports (http 80/TCP, grpc 9090/TCP): choose one with --port") {
		t.Errorf("several ports: exit %d\n%s", r.Code, r.Stderr)
	}
	if left := exposeVersions(t, "app.kubernetes.io/managed-by=meshctl,meshctl.io/service-namespace="+ns); len(left) != 0 {
		t.Fatalf("bad input made %v", left)
	}

	// The manifests for GitOps are what the API server accepts. They start
	// with the gateway's namespace, which a server-side dry run does not
	// make: apply it for real (as GitOps would first), the rest dry. The
	// namespace carries meshctl's labels, so expose below takes it as the
	// gateway's own.
	r = runIn(t, "", meshctlBin, "expose", "svc", "web", "-n", ns, "--host", "www.example.com", "--dry-run", "--manifests", "-o", "yaml")
	if r.Code != 0 || strings.Contains(r.Stdout, "PRIVATE KEY") {
		t.Fatalf("dry run -o yaml: exit %d\n%s", r.Code, r.Stderr)
	}
	docs := strings.SplitN(r.Stdout, "\n---\n", 2)
	if len(docs) != 2 || !strings.Contains(docs[0], "kind: Namespace") || !strings.Contains(docs[0], "name: "+gwNS) {
		t.Fatalf("the manifests do not start with namespace %s:\n%s", gwNS, r.Stdout)
	}
	if ar := runIn(t, docs[0], "kubectl", "apply", "-f", "-"); ar.Code != 0 {
		t.Fatalf("kubectl apply of the namespace: exit %d\n%s%s", ar.Code, ar.Stdout, ar.Stderr)
	}
	if ar := runIn(t, docs[1], "kubectl", "apply", "--dry-run=server", "-f", "-"); ar.Code != 0 {
		t.Errorf("kubectl apply --dry-run=server of the manifests: exit %d\n%s%s", ar.Code, ar.Stdout, ar.Stderr)
	}

	start := time.Now()
	res := exposeJSON(t, "expose", "svc", "web", "-n", ns, "--host", "www.example.com", "--host", "*.shop.example.com", "--strict-mtls")
	t.Logf("expose: %.1fs", time.Since(start).Seconds())
	if res.Gateway.Name != "web-gateway" || res.Gateway.Namespace != gwNS {
		t.Errorf("gateway %+v", res.Gateway)
	}
	wantZones := []string{"us-central1-a", "us-central1-b", "us-central1-c"}
	if res.NEG.Name == "" || !slices.Equal(res.NEG.Zones, wantZones) {
		t.Errorf("NEG %+v, want zones %v", res.NEG, wantZones)
	}

	// Each gateway pod carries a real proxy, injected from the gateway
	// template: the injector recorded itself, the image is no longer
	// "auto", and istio-proxy is a regular container with no init
	// containers (the sidecar template makes it a native sidecar, an init
	// container, on this Kubernetes version).
	var pods struct {
		Items []struct {
			Metadata struct {
				Name        string            `json:"name"`
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
			Spec struct {
				Containers []struct{ Name, Image string } `json:"containers"`
			} `json:"spec"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(kubectl(t, "get", "pods", "-n", gwNS, "-l", "meshctl.io/gateway=web-gateway", "-o", "json")), &pods); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 3 {
		t.Errorf("%d gateway pods, want 3 (the autoscaler's minimum)", len(pods.Items))
	}
	for _, p := range pods.Items {
		status := p.Metadata.Annotations["sidecar.istio.io/status"]
		if len(p.Spec.Containers) != 1 || p.Spec.Containers[0].Name != "istio-proxy" || p.Spec.Containers[0].Image == "auto" ||
			!strings.Contains(status, `"initContainers":null,"containers":["istio-proxy"]`) || !strings.Contains(status, `"revision":"asm-test-1"`) {
			t.Errorf("pod %s: containers %+v, sidecar.istio.io/status %s", p.Metadata.Name, p.Spec.Containers, status)
		}
	}

	// istioctl analyze finds no error in the gateway's namespace (its
	// Gateway, VirtualService and DestinationRule) nor in the Service's;
	// and no warning that the gateway is not injected: neither of its
	// namespace (IST0102: meshctl labels it for the gateway's revision)
	// nor of its `image: auto` Deployment (IST0146). analyze reads
	// istio.io/rev on an object as the revision it belongs to and sees
	// only that revision's webhooks: by default the default revision's
	// (there is none here; the revision's own webhook is labelled
	// asm-test-1), so the Deployment, labelled for asm-test-1, is left to
	// `--revision asm-test-1`, which checks it against the webhook that
	// injects it.
	for _, n := range []string{gwNS, ns} {
		for _, rev := range [][]string{nil, {"--revision", "asm-test-1"}} {
			args := append([]string{"analyze", "-n", n}, rev...)
			r = runIn(t, "", "istioctl", args...)
			out := r.Stdout + r.Stderr
			if r.Code != 0 || strings.Contains(out, "Error [") {
				t.Errorf("istioctl %s: exit %d\n%s", strings.Join(args, " "), r.Code, out)
			}
			if n == gwNS && (strings.Contains(out, "IST0102") || strings.Contains(out, "IST0146")) {
				t.Errorf("istioctl %s warns about the gateway's namespace or its injection:\n%s", strings.Join(args, " "), out)
			}
			t.Logf("istioctl %s:\n%s", strings.Join(args, " "), out)
		}
	}

	// The Service carries GKE's NEG status, and the NEGs exist in Compute.
	negStatus := kubectl(t, "get", "service", "web-gateway", "-n", gwNS, "-o", `jsonpath={.metadata.annotations.cloud\.google\.com/neg-status}`)
	for _, z := range wantZones {
		if !strings.Contains(negStatus, z) || !strings.Contains(negStatus, res.NEG.Name) {
			t.Errorf("neg-status %s lacks %s or %s", negStatus, z, res.NEG.Name)
		}
		if code := computeCall(t, "GET", fmt.Sprintf("/zones/%s/networkEndpointGroups/%s", z, res.NEG.Name), nil); code != http.StatusOK {
			t.Errorf("NEG %s in %s: HTTP %d", res.NEG.Name, z, code)
		}
	}

	// istiod hands the gateway its certificate only if the gateway's
	// service account may list Secrets in its namespace (a
	// SubjectAccessReview without a name); reading any other Secret by
	// name stays forbidden.
	sa := "system:serviceaccount:" + gwNS + ":web-gateway"
	sar := fmt.Sprintf(`{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":%q,"resourceAttributes":{"namespace":%q,"verb":"list","resource":"secrets"}}}`, sa, gwNS)
	if out := runIn(t, sar, "kubectl", "create", "-f", "-", "-o", "jsonpath={.status.allowed}"); strings.TrimSpace(out.Stdout) != "true" {
		t.Errorf("istiod's check (list secrets as %s): %q %s", sa, out.Stdout, out.Stderr)
	}
	if out := runIn(t, "", "kubectl", "auth", "can-i", "get", "secret/some-other", "-n", gwNS, "--as", sa); strings.TrimSpace(out.Stdout) != "no" {
		t.Errorf("the gateway may get other Secrets: %q", out.Stdout)
	}
	if out := runIn(t, "", "kubectl", "auth", "can-i", "get", "secret/web-gateway-cert", "-n", gwNS, "--as", sa); strings.TrimSpace(out.Stdout) != "yes" {
		t.Errorf("the gateway may not get its own Secret: %q", out.Stdout)
	}
	gatewayIsolated(t, gwNS, "web-gateway")

	// The same input again changes nothing: every resourceVersion stays.
	webSel := "app.kubernetes.io/managed-by=meshctl,meshctl.io/service-name=web,meshctl.io/service-namespace=" + ns
	before := exposeVersions(t, webSel)
	if len(before) != 14 {
		t.Errorf("%d objects labelled for web, want 14: %v", len(before), before)
	}
	again := exposeJSON(t, "expose", "svc", "web", "-n", ns, "--host", "www.example.com", "--host", "*.shop.example.com", "--strict-mtls")
	for _, ch := range again.Changes {
		if ch.Action != "keep" {
			t.Errorf("second run: %s %s %s/%s", ch.Action, ch.Kind, ch.Namespace, ch.Name)
		}
	}
	if after := exposeVersions(t, webSel); !slices.Equal(before, after) {
		t.Errorf("a second run changed resourceVersions:\n%v\n%v", before, after)
	}

	// A second Service exposed in the same namespace gets its own gateway.
	apiRes := exposeJSON(t, "expose", "svc", "api", "-n", ns, "--port", "http", "--host", "api.example.com")
	if apiRes.Gateway.Name != "api-gateway" || apiRes.Gateway.Namespace != apiNS || apiRes.NEG.Name == res.NEG.Name {
		t.Errorf("api's gateway %+v, NEG %s", apiRes.Gateway, apiRes.NEG.Name)
	}
	apiSel := "app.kubernetes.io/managed-by=meshctl,meshctl.io/service-name=api,meshctl.io/service-namespace=" + ns
	apiBefore := meshctlWrites(t, apiSel)

	// unexpose leaves nothing of web's, and api's gateway as it was.
	r = runIn(t, "", meshctlBin, "unexpose", "svc", "web", "-n", ns)
	if r.Code != 0 {
		t.Fatalf("unexpose: exit %d\n%s", r.Code, r.Stderr)
	}
	if left := exposeVersions(t, "meshctl.io/service-name=web,meshctl.io/service-namespace="+ns); len(left) != 0 {
		t.Errorf("left after unexpose: %v", left)
	}
	if after := meshctlWrites(t, apiSel); !slices.Equal(apiBefore, after) {
		t.Errorf("unexposing web changed api's objects:\n%v\n%v", apiBefore, after)
	}
	if st := kubectl(t, "get", "deployment", "api-gateway", "-n", apiNS, "-o", "jsonpath={.status.availableReplicas}"); st != "3" {
		t.Errorf("api's gateway has %q available replicas", st)
	}
	eventually(t, 30*time.Second, "web's NEGs are gone from Compute, api's stay", func() (bool, string) {
		web := computeCall(t, "GET", "/zones/us-central1-a/networkEndpointGroups/"+res.NEG.Name, nil)
		api := computeCall(t, "GET", "/zones/us-central1-a/networkEndpointGroups/"+apiRes.NEG.Name, nil)
		return web == http.StatusNotFound && api == http.StatusOK, fmt.Sprintf("web %d, api %d", web, api)
	})

	if r := runIn(t, "", "kubectl", "get", "namespace", gwNS); r.Code == 0 || !strings.Contains(r.Stderr, "NotFound") {
		t.Errorf("web's own namespace %s is still there: %s%s", gwNS, r.Stdout, r.Stderr)
	}

	// Something of the user's in api's namespace keeps it, and the result
	// says so; everything of meshctl's goes.
	kubectl(t, "create", "configmap", "team-notes", "-n", apiNS)
	r = runIn(t, "", meshctlBin, "unexpose", "svc", "api", "-n", ns, "-o", "json")
	var gone struct {
		Notes []string `json:"notes"`
	}
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &gone) != nil {
		t.Fatalf("unexpose api: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if note := strings.Join(gone.Notes, "\n"); !strings.Contains(note, "namespace "+apiNS+", which meshctl made for the gateway, stays: it holds ConfigMap team-notes") {
		t.Errorf("unexpose api notes: %q", note)
	}
	if left := exposeVersions(t, "app.kubernetes.io/managed-by=meshctl,meshctl.io/service-namespace="+ns); len(left) != 1 || !strings.HasPrefix(left[0], "Namespace//"+apiNS+"=") {
		t.Errorf("left after unexposing both: %v, want only the kept namespace %s", left, apiNS)
	}
}

// gatewayIsolated reads from the API server what keeps the gateway to
// itself: its namespace holds no Secret but its own certificate, so the
// Role's bare `list secrets` (istiod's SDS check) reaches nothing else; the
// Role grants nothing more; and the NetworkPolicy admits only Google's
// front ends and health checks to the serving and status ports, and
// in-cluster scrapers to the metrics ports.
func gatewayIsolated(t *testing.T, ns, gw string) {
	t.Helper()
	if got := strings.Fields(kubectl(t, "get", "secrets", "-n", ns, "-o", `jsonpath={range .items[*]}{.metadata.name}{"\n"}{end}`)); !slices.Equal(got, []string{gw + "-cert"}) {
		t.Errorf("Secrets in the gateway's namespace %s: %v, want only its certificate", ns, got)
	}
	var role struct {
		Rules []struct {
			APIGroups     []string `json:"apiGroups"`
			Resources     []string `json:"resources"`
			ResourceNames []string `json:"resourceNames"`
			Verbs         []string `json:"verbs"`
		} `json:"rules"`
	}
	if err := json.Unmarshal([]byte(kubectl(t, "get", "role", gw, "-n", ns, "-o", "json")), &role); err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, r := range role.Rules {
		rules = append(rules, fmt.Sprintf("%v %v %v %v", r.APIGroups, r.Resources, r.ResourceNames, r.Verbs))
	}
	wantRules := []string{"[] [secrets] [" + gw + "-cert] [get watch list]", "[] [secrets] [] [list]"}
	if !slices.Equal(rules, wantRules) {
		t.Errorf("Role %s/%s rules %q, want %q", ns, gw, rules, wantRules)
	}

	var np struct {
		Spec struct {
			PodSelector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"podSelector"`
			PolicyTypes []string `json:"policyTypes"`
			Ingress     []struct {
				From []struct {
					IPBlock *struct {
						CIDR string `json:"cidr"`
					} `json:"ipBlock"`
					NamespaceSelector *map[string]any `json:"namespaceSelector"`
				} `json:"from"`
				Ports []struct {
					Protocol string `json:"protocol"`
					Port     int    `json:"port"`
				} `json:"ports"`
			} `json:"ingress"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(kubectl(t, "get", "networkpolicy", gw, "-n", ns, "-o", "json")), &np); err != nil {
		t.Fatal(err)
	}
	var ingress []string
	for _, in := range np.Spec.Ingress {
		var from, ports []string
		for _, f := range in.From {
			switch {
			case f.IPBlock != nil:
				from = append(from, f.IPBlock.CIDR)
			case f.NamespaceSelector != nil && len(*f.NamespaceSelector) == 0:
				from = append(from, "every namespace")
			default:
				from = append(from, fmt.Sprintf("%+v", f))
			}
		}
		for _, p := range in.Ports {
			ports = append(ports, fmt.Sprintf("%s/%d", p.Protocol, p.Port))
		}
		sort.Strings(from)
		ingress = append(ingress, strings.Join(from, ",")+" -> "+strings.Join(ports, ","))
	}
	wantIngress := []string{"130.211.0.0/22,35.191.0.0/16 -> TCP/8443,TCP/15021", "every namespace -> TCP/15090,TCP/15020"}
	if np.Spec.PodSelector.MatchLabels["meshctl.io/gateway"] != gw || !slices.Equal(np.Spec.PolicyTypes, []string{"Ingress"}) || !slices.Equal(ingress, wantIngress) {
		t.Errorf("NetworkPolicy %s/%s: selector %v, types %v, ingress %q, want %q", ns, gw, np.Spec.PodSelector.MatchLabels, np.Spec.PolicyTypes, ingress, wantIngress)
	}
}
