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
	"peerauthentications.security.istio.io"

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

func TestExposeGatewayEndToEnd(t *testing.T) {
	ensureRevision(t, "asm-test-1")
	const ns = "e2e-expose-shop"
	t.Cleanup(func() { runIn(t, "", "kubectl", "delete", "namespace", ns, "--wait=false") })
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

	// The manifests for GitOps are what the API server accepts.
	r = runIn(t, "", meshctlBin, "expose", "svc", "web", "-n", ns, "--host", "www.example.com", "--dry-run", "--manifests", "-o", "yaml")
	if r.Code != 0 || strings.Contains(r.Stdout, "PRIVATE KEY") {
		t.Fatalf("dry run -o yaml: exit %d\n%s", r.Code, r.Stderr)
	}
	if ar := runIn(t, r.Stdout, "kubectl", "apply", "--dry-run=server", "-f", "-"); ar.Code != 0 {
		t.Errorf("kubectl apply --dry-run=server of the manifests: exit %d\n%s%s", ar.Code, ar.Stdout, ar.Stderr)
	}

	start := time.Now()
	res := exposeJSON(t, "expose", "svc", "web", "-n", ns, "--host", "www.example.com", "--host", "*.shop.example.com", "--strict-mtls")
	t.Logf("expose: %.1fs", time.Since(start).Seconds())
	if res.Gateway.Name != "web-gateway" || res.Gateway.Namespace != ns {
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
	if err := json.Unmarshal([]byte(kubectl(t, "get", "pods", "-n", ns, "-l", "meshctl.io/gateway=web-gateway", "-o", "json")), &pods); err != nil {
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

	// istioctl analyze finds no error in the namespace.
	r = runIn(t, "", "istioctl", "analyze", "-n", ns)
	if r.Code != 0 || strings.Contains(r.Stdout+r.Stderr, "Error [") {
		t.Errorf("istioctl analyze -n %s: exit %d\n%s%s", ns, r.Code, r.Stdout, r.Stderr)
	}
	t.Logf("istioctl analyze -n %s:\n%s%s", ns, r.Stdout, r.Stderr)

	// The Service carries GKE's NEG status, and the NEGs exist in Compute.
	negStatus := kubectl(t, "get", "service", "web-gateway", "-n", ns, "-o", `jsonpath={.metadata.annotations.cloud\.google\.com/neg-status}`)
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
	sa := "system:serviceaccount:" + ns + ":web-gateway"
	sar := fmt.Sprintf(`{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":%q,"resourceAttributes":{"namespace":%q,"verb":"list","resource":"secrets"}}}`, sa, ns)
	if out := runIn(t, sar, "kubectl", "create", "-f", "-", "-o", "jsonpath={.status.allowed}"); strings.TrimSpace(out.Stdout) != "true" {
		t.Errorf("istiod's check (list secrets as %s): %q %s", sa, out.Stdout, out.Stderr)
	}
	if out := runIn(t, "", "kubectl", "auth", "can-i", "get", "secret/some-other", "-n", ns, "--as", sa); strings.TrimSpace(out.Stdout) != "no" {
		t.Errorf("the gateway may get other Secrets: %q", out.Stdout)
	}
	if out := runIn(t, "", "kubectl", "auth", "can-i", "get", "secret/web-gateway-cert", "-n", ns, "--as", sa); strings.TrimSpace(out.Stdout) != "yes" {
		t.Errorf("the gateway may not get its own Secret: %q", out.Stdout)
	}

	// The same input again changes nothing: every resourceVersion stays.
	webSel := "app.kubernetes.io/managed-by=meshctl,meshctl.io/service-name=web,meshctl.io/service-namespace=" + ns
	before := exposeVersions(t, webSel)
	if len(before) != 12 {
		t.Errorf("%d objects labelled for web, want 12: %v", len(before), before)
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
	if apiRes.Gateway.Name != "api-gateway" || apiRes.NEG.Name == res.NEG.Name {
		t.Errorf("api's gateway %+v, NEG %s", apiRes.Gateway, apiRes.NEG.Name)
	}
	apiSel := "app.kubernetes.io/managed-by=meshctl,meshctl.io/service-name=api,meshctl.io/service-namespace=" + ns
	apiBefore := exposeVersions(t, apiSel)

	// unexpose leaves nothing of web's, and api's gateway as it was.
	r = runIn(t, "", meshctlBin, "unexpose", "svc", "web", "-n", ns)
	if r.Code != 0 {
		t.Fatalf("unexpose: exit %d\n%s", r.Code, r.Stderr)
	}
	if left := exposeVersions(t, "meshctl.io/service-name=web,meshctl.io/service-namespace="+ns); len(left) != 0 {
		t.Errorf("left after unexpose: %v", left)
	}
	if after := exposeVersions(t, apiSel); !slices.Equal(apiBefore, after) {
		t.Errorf("unexposing web changed api's objects:\n%v\n%v", apiBefore, after)
	}
	if st := kubectl(t, "get", "deployment", "api-gateway", "-n", ns, "-o", "jsonpath={.status.availableReplicas}"); st != "3" {
		t.Errorf("api's gateway has %q available replicas", st)
	}
	eventually(t, 30*time.Second, "web's NEGs are gone from Compute, api's stay", func() (bool, string) {
		web := computeCall(t, "GET", "/zones/us-central1-a/networkEndpointGroups/"+res.NEG.Name, nil)
		api := computeCall(t, "GET", "/zones/us-central1-a/networkEndpointGroups/"+apiRes.NEG.Name, nil)
		return web == http.StatusNotFound && api == http.StatusOK, fmt.Sprintf("web %d, api %d", web, api)
	})

	if r := runIn(t, "", meshctlBin, "unexpose", "svc", "api", "-n", ns); r.Code != 0 {
		t.Errorf("unexpose api: exit %d\n%s", r.Code, r.Stderr)
	}
	if left := exposeVersions(t, "app.kubernetes.io/managed-by=meshctl,meshctl.io/service-namespace="+ns); len(left) != 0 {
		t.Errorf("left after unexposing both: %v", left)
	}
}
