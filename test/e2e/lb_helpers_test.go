//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/gcp"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// The load balancer tests drive pkg/lb directly against the shared
// simulator, with NEGs made by the simulator's NEG controller for annotated
// Services, and check the result with gcloud and the simulator's own view.

// lbSimVar returns a variable `meshsim env` exports.
func lbSimVar(tb testing.TB, key string) string {
	tb.Helper()
	for _, kv := range simEnv {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	tb.Fatalf("meshsim env exports no %s", key)
	return ""
}

// lbRun runs a command with the simulator's environment.
func lbRun(tb testing.TB, stdin, name string, args ...string) result {
	tb.Helper()
	return runEnv(tb, simEnv, stdin, name, args...)
}

func lbKubectl(tb testing.TB, stdin string, args ...string) string {
	tb.Helper()
	r := lbRun(tb, stdin, "kubectl", args...)
	if r.Code != 0 {
		tb.Fatalf("kubectl %s: exit %d\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// lbSimAPI calls the simulator's own endpoints (/meshsim/...).
func lbSimAPI(tb testing.TB, method, path string, body, out any) {
	tb.Helper()
	simAPIAt(tb, lbSimVar(tb, "MESHCTL_COMPUTE_ENDPOINT"), method, path, body, out)
}

// simAPIAt calls the meshsim API of the simulator serving base (its
// MESHCTL_COMPUTE_ENDPOINT).
func simAPIAt(tb testing.TB, base, method, path string, body, out any) {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		tb.Fatalf("%s %s: HTTP %d\n%s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			tb.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// lbKnobs merges patch into the simulator's knobs until the test ends,
// then puts the previous knobs back.
func lbKnobs(tb testing.TB, patch map[string]any) {
	tb.Helper()
	var before json.RawMessage
	lbSimAPI(tb, http.MethodGet, "/meshsim/knobs", nil, &before)
	lbSimAPI(tb, http.MethodPost, "/meshsim/knobs", patch, nil)
	tb.Cleanup(func() {
		var restore map[string]any
		_ = json.Unmarshal(before, &restore)
		// Maps merge on POST: clear them first so the old ones come back whole.
		lbSimAPI(tb, http.MethodPost, "/meshsim/knobs", map[string]any{"operationDurations": nil, "quotas": nil, "faults": map[string]any{"rate": 0}}, nil)
		lbSimAPI(tb, http.MethodPost, "/meshsim/knobs", restore, nil)
	})
}

type lbRequest struct {
	Method     string `json:"method"`
	HTTPMethod string `json:"httpMethod"`
	Path       string `json:"path"`
	Status     int    `json:"status"`
	Mutation   bool   `json:"mutation"`
	Injected   bool   `json:"injected"`
}

type lbRequestLog struct {
	Total     int         `json:"total"`
	Mutations int         `json:"mutations"`
	Requests  []lbRequest `json:"requests"`
}

func lbResetRequests(tb testing.TB) { lbSimAPI(tb, http.MethodDelete, "/meshsim/requests", nil, nil) }

// lbRequests returns the Compute requests logged since the last reset.
// Tests in this binary run one at a time and the NEG controller works
// through in-process hooks, so what is logged is the test's own traffic.
func lbRequests(tb testing.TB) lbRequestLog {
	tb.Helper()
	var all lbRequestLog
	lbSimAPI(tb, http.MethodGet, "/meshsim/requests", nil, &all)
	var out lbRequestLog
	for _, r := range all.Requests {
		if !strings.HasPrefix(r.Method, "compute.") {
			continue
		}
		out.Total++
		if r.Mutation {
			out.Mutations++
		}
		out.Requests = append(out.Requests, r)
	}
	return out
}

// lbSimResources lists the simulated project's Compute objects.
func lbSimResources(tb testing.TB) []map[string]any {
	tb.Helper()
	var st struct {
		Resources []map[string]any `json:"resources"`
	}
	lbSimAPI(tb, http.MethodGet, "/meshsim/state", nil, &st)
	return st.Resources
}

// lbOwned lists the objects meshctl marked as made for load balancer key.
func lbOwned(tb testing.TB, key string) []string {
	tb.Helper()
	var out []string
	for _, r := range lbSimResources(tb) {
		var o mesh.ResourceOwner
		if d, _ := r["description"].(string); json.Unmarshal([]byte(d), &o) == nil && o.ManagedBy == "meshctl" && (key == "" || o.LB == key) {
			out = append(out, fmt.Sprint(r["selfLink"]))
		}
	}
	slices.Sort(out)
	return out
}

// lbClient is pkg/lb on the official clients against the simulator.
func lbClient(tb testing.TB, rep ui.Reporter) *lb.Client {
	tb.Helper()
	ctx := context.Background()
	endpoint := lbSimVar(tb, "MESHCTL_COMPUTE_ENDPOINT")
	cfg := gcp.Config{ComputeEndpoint: endpoint, ContainerEndpoint: lbSimVar(tb, "MESHCTL_CONTAINER_ENDPOINT"), UserAgent: "meshctl-e2e"}
	c, err := lb.NewGCE(ctx, cfg, simProject)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	gke, err := gcp.NewClusterManager(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = gke.Close() })
	if rep == nil {
		rep = ui.Discard
	}
	return lb.New(c, gke, rep)
}

func lbSpec(lbName string, services ...lb.Service) lb.Spec {
	return lb.Spec{Project: simProject, Location: simLocation, Cluster: simCluster, LB: lbName, Services: services}
}

func lbApply(tb testing.TB, cl *lb.Client, spec lb.Spec) *lb.Result {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, err := cl.Plan(ctx, spec)
	if err != nil {
		tb.Fatalf("plan: %v (hint: %s)", err, failure.HintOf(err))
	}
	res, err := cl.Apply(ctx, p)
	if err != nil {
		tb.Fatalf("apply: %v (hint: %s)", err, failure.HintOf(err))
	}
	return res
}

func lbTeardown(tb testing.TB, cl *lb.Client, spec lb.Spec) *lb.Result {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, err := cl.PlanTeardown(ctx, spec)
	if err != nil {
		tb.Fatalf("plan teardown: %v", err)
	}
	res, err := cl.Apply(ctx, p)
	if err != nil {
		tb.Fatalf("teardown: %v", err)
	}
	return res
}

// lbGateways deploys a stand-in for meshctl expose's gateway in ns: pods
// serving 8443 (HTTPS) and 15021 (Istio's status port) spread over the
// zones, and one NEG-annotated Service per name selecting them. It waits for
// the NEG controller's neg-status and returns the services as pkg/lb takes
// them, with host <name>.e2e.example.com.
func lbGateways(tb testing.TB, ns string, names ...string) []lb.Service {
	tb.Helper()
	var m strings.Builder
	fmt.Fprintf(&m, `apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: gateway, namespace: %[1]s}
spec:
  replicas: 3
  selector: {matchLabels: {app: gateway}}
  template:
    metadata: {labels: {app: gateway}}
    spec:
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: gateway}}}
      containers:
      - name: istio-proxy
        image: auto
        ports: [{containerPort: 8443, name: https}, {containerPort: 15021, name: status-port}]
`, ns)
	for _, name := range names {
		fmt.Fprintf(&m, `---
apiVersion: v1
kind: Service
metadata:
  name: %s
  namespace: %s
  annotations:
    cloud.google.com/neg: '{"exposed_ports":{"443":{}}}'
spec:
  selector: {app: gateway}
  ports: [{name: https, port: 443, targetPort: 8443}, {name: status-port, port: 15021}]
`, name, ns)
	}
	lbKubectl(tb, m.String(), "apply", "-f", "-")
	var out []lb.Service
	for _, name := range names {
		var st struct {
			NEGs  map[string]string `json:"network_endpoint_groups"`
			Zones []string          `json:"zones"`
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			raw := lbRun(tb, "", "kubectl", "get", "svc", name, "-n", ns, "-o", `jsonpath={.metadata.annotations.cloud\.google\.com/neg-status}`).Stdout
			if json.Unmarshal([]byte(raw), &st) == nil && st.NEGs["443"] != "" && len(st.Zones) > 0 {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("no neg-status on %s/%s after 2m (last %q)", ns, name, raw)
			}
			time.Sleep(250 * time.Millisecond)
		}
		out = append(out, lb.Service{Namespace: ns, Name: name, Hosts: []string{name + "." + ns + ".e2e.example.com"},
			NEG: lb.NEG{Name: st.NEGs["443"], Zones: st.Zones}})
	}
	// The NEGs hold the ready pods once the pods run.
	waitNEGEndpoints(tb, out[0], 3)
	return out
}

// waitNEGEndpoints waits until the service's NEGs hold n endpoints in all.
func waitNEGEndpoints(tb testing.TB, sv lb.Service, n int) {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		total := 0
		for _, zone := range sv.NEG.Zones {
			var list struct {
				Items []any `json:"items"`
			}
			lbComputeCall(tb, http.MethodPost, fmt.Sprintf("/zones/%s/networkEndpointGroups/%s/listNetworkEndpoints", zone, sv.NEG.Name), &list)
			total += len(list.Items)
		}
		if total >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("NEG %s holds %d endpoints after 2m, want %d", sv.NEG.Name, total, n)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func lbComputeCall(tb testing.TB, method, path string, out any) int {
	tb.Helper()
	req, _ := http.NewRequest(method, lbSimVar(tb, "MESHCTL_COMPUTE_ENDPOINT")+"/compute/v1/projects/"+simProject+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, out); err != nil {
			tb.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// lbGcloudConfig makes a throw-away gcloud configuration pointed at the
// simulator and returns the environment that selects it.
func lbGcloudConfig(tb testing.TB) []string {
	tb.Helper()
	endpoint := lbSimVar(tb, "MESHCTL_COMPUTE_ENDPOINT")
	env := []string{"CLOUDSDK_CONFIG=" + tb.TempDir(), "CLOUDSDK_CORE_DISABLE_PROMPTS=1",
		"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true", "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true"}
	for _, kv := range [][2]string{
		{"api_endpoint_overrides/compute", endpoint + "/compute/v1/"},
		{"api_endpoint_overrides/container", endpoint + "/"},
		{"api_endpoint_overrides/certificatemanager", endpoint + "/certificatemanager/"},
		{"auth/disable_credentials", "true"},
		{"core/project", simProject},
	} {
		cmd := exec.Command("gcloud", "config", "set", kv[0], kv[1])
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("gcloud config set %s: %v\n%s", kv[0], err, out)
		}
	}
	return env
}

// lbGcloudJSON runs a gcloud describe-like command and decodes its JSON.
func lbGcloudJSON(tb testing.TB, env []string, out any, args ...string) {
	tb.Helper()
	cmd := exec.Command("gcloud", append(args, "--format=json")...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("gcloud %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	b := stdout.Bytes()
	// Some describe commands (security-policies) print a one-item list.
	var list []json.RawMessage
	if _, isMap := out.(*map[string]any); isMap && json.Unmarshal(b, &list) == nil && len(list) == 1 {
		b = list[0]
	}
	if err := json.Unmarshal(b, out); err != nil {
		tb.Fatalf("gcloud %s: %v\n%s", strings.Join(args, " "), err, stdout.String())
	}
}

// webApp is a namespace injected by revision holding the Service web (port
// 80 named http, to 8080) and its Deployment.
func webApp(ns, revision string, replicas int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[1]s, labels: {istio.io/rev: %[3]s}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %[1]s}
spec:
  replicas: %[2]d
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: %[1]s}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
`, ns, replicas, revision)
}
