//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	simProject  = "meshsim-project"
	simLocation = "us-central1"
	simCluster  = "meshsim"
)

func TestSimNodesAreGKELike(t *testing.T) {
	var nodes struct {
		Items []struct {
			Metadata struct {
				Name   string            `json:"name"`
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
			Status struct {
				Capacity map[string]string `json:"capacity"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(kubectl(t, "get", "nodes", "-o", "json")), &nodes); err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != 6 {
		t.Fatalf("%d nodes, want 6 (two pools over three zones)", len(nodes.Items))
	}
	zones := map[string]int{}
	for _, n := range nodes.Items {
		l := n.Metadata.Labels
		zones[l["topology.kubernetes.io/zone"]]++
		if l["node.kubernetes.io/instance-type"] != "e2-standard-4" || l["cloud.google.com/machine-family"] != "e2" ||
			l["cloud.google.com/gke-nodepool"] == "" {
			t.Errorf("node %s lacks GKE's labels: %v", n.Metadata.Name, l)
		}
		if n.Status.Capacity["cpu"] != "4" {
			t.Errorf("node %s has %s CPUs, want e2-standard-4's 4", n.Metadata.Name, n.Status.Capacity["cpu"])
		}
	}
	for _, z := range []string{"us-central1-a", "us-central1-b", "us-central1-c"} {
		if zones[z] != 2 {
			t.Errorf("zone %s has %d nodes, want 2 (zones: %v)", z, zones[z], zones)
		}
	}
	// The column users look at, as the issue shows it.
	if out := kubectl(t, "get", "nodes", "-L", "topology.kubernetes.io/zone"); !strings.Contains(out, "us-central1-b") {
		t.Errorf("kubectl get nodes -L zone:\n%s", out)
	}
}

var installOnce sync.Map // revision -> *sync.Once

// ensureRevision installs a mesh revision once through the asmcli stand-in.
func ensureRevision(t *testing.T, revision string) {
	t.Helper()
	once, _ := installOnce.LoadOrStore(revision, &sync.Once{})
	var failed string
	once.(*sync.Once).Do(func() {
		out := filepath.Join(t.TempDir(), "asm-out")
		r := runIn(t, "", "asmcli", "install", "--project_id", simProject, "--cluster_name", simCluster,
			"--cluster_location", simLocation, "--output_dir", out, "--revision_name", revision, "--enable_all", "--ca", "mesh_ca")
		if r.Code != 0 || !strings.Contains(r.Stderr, "Successfully installed ASM.") {
			failed = fmt.Sprintf("asmcli install: exit %d\n%s", r.Code, r.Stderr)
			installOnce.Delete(revision)
		}
	})
	if failed != "" {
		t.Fatal(failed)
	}
}

func TestAsmcliStandInInstallsARevisionThatInjects(t *testing.T) {
	out := filepath.Join(t.TempDir(), "asm-out")
	r := runIn(t, "", "asmcli", "install", "--project_id", simProject, "--cluster_name", simCluster,
		"--cluster_location", simLocation, "--output_dir", out, "--revision_name", "asm-test-1", "--enable_all")
	if r.Code != 0 {
		t.Fatalf("asmcli install: exit %d\n%s", r.Code, r.Stderr)
	}
	for _, want := range []string{
		"asmcli: kubectl label namespace <NAMESPACE> istio-injection- istio.io/rev=asm-test-1 --overwrite",
		"asmcli: Successfully installed ASM.",
	} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("asmcli output lacks %q", want)
		}
	}
	for _, f := range []string{"logs.txt", "asm/istio/istio-operator.yaml", "istioctl", "asm_kubeconfig", ".asm_version"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("output dir lacks %s: %v", f, err)
		}
	}
	logs, _ := os.ReadFile(filepath.Join(out, "logs.txt"))
	if !strings.Contains(string(logs), "Successfully installed ASM.") {
		t.Errorf("logs.txt does not hold the run's log")
	}
	if got := kubectl(t, "get", "deploy", "-n", "istio-system", "-l", "istio.io/rev=asm-test-1", "-o", "name"); !strings.Contains(got, "istiod-asm-test-1") {
		t.Errorf("no istiod Deployment for the revision: %q", got)
	}

	kubectlApply(t, `apiVersion: v1
kind: Namespace
metadata:
  name: e2e-sim-inject
  labels:
    istio.io/rev: asm-test-1
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: e2e-sim-inject
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx
        ports:
        - containerPort: 8080
`)
	// istio-proxy is a native sidecar (an init container that keeps
	// running) on Kubernetes versions that support them, as here.
	eventually(t, 90*time.Second, "every pod has istio-proxy", func() (bool, string) {
		out := runIn(t, "", "kubectl", "get", "pods", "-n", "e2e-sim-inject",
			"-o", `jsonpath={range .items[*]}{.metadata.name}:{.status.phase}:{range .spec.initContainers[*]}{.name},{end}{range .spec.containers[*]}{.name},{end}{"\n"}{end}`).Stdout
		lines := strings.Fields(out)
		if len(lines) != 3 {
			return false, out
		}
		for _, l := range lines {
			if !strings.Contains(l, ":Running:") || !strings.Contains(l, "istio-proxy") {
				return false, out
			}
		}
		return true, out
	})
	status := kubectl(t, "get", "pods", "-n", "e2e-sim-inject", "-o", `jsonpath={.items[0].metadata.annotations.sidecar\.istio\.io/status}`)
	if !strings.Contains(status, "istio-proxy") {
		t.Errorf("sidecar.istio.io/status = %q, want the injector's record", status)
	}

	// The same revision installed again is safe and reuses istiod.
	r = runIn(t, "", "asmcli", "install", "--project_id", simProject, "--cluster_name", simCluster,
		"--cluster_location", simLocation, "--output_dir", out, "--revision_name", "asm-test-1", "--enable_all")
	if r.Code != 0 {
		t.Fatalf("second asmcli install: exit %d\n%s", r.Code, r.Stderr)
	}
	installOnce.Store("asm-test-1", doneOnce())
}

func doneOnce() *sync.Once {
	o := &sync.Once{}
	o.Do(func() {})
	return o
}

func TestValidationWebhookRejectsBrokenConfig(t *testing.T) {
	ensureRevision(t, "asm-test-1")
	kubectl(t, "create", "namespace", "e2e-sim-validate")
	// A revision's validator checks objects labelled with its revision; the
	// unlabelled ones are the default revision's (or tag's) to check.
	broken := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: broken
  namespace: e2e-sim-validate
  labels:
    istio.io/rev: asm-test-1
spec:
  hosts: ["reviews"]
  http:
  - route:
    - destination: {host: reviews}
    rewrite: {uri: "/x", uriRegexRewrite: {match: "a", rewrite: "b"}}
`
	// istiod's validation webhook turns strict (failurePolicy Fail) once it
	// has checked itself; until then a broken object may slip through.
	eventually(t, 60*time.Second, "the validation webhook rejects a broken VirtualService", func() (bool, string) {
		r := runIn(t, broken, "kubectl", "apply", "-f", "-")
		if r.Code == 0 {
			runIn(t, "", "kubectl", "delete", "virtualservice", "broken", "-n", "e2e-sim-validate")
			return false, "accepted"
		}
		return strings.Contains(r.Stderr, `admission webhook "rev.validation.istio.io" denied the request`), r.Stderr
	})
}

func TestAsmcliStandInDiagnosesProblems(t *testing.T) {
	r := runIn(t, "", "asmcli", "validate", "--project_id", simProject, "--cluster_name", "no-such-cluster",
		"--cluster_location", simLocation, "--output_dir", t.TempDir())
	if r.Code != 2 || !strings.Contains(r.Stderr, "asmcli: [ERROR]: Unable to find cluster us-central1/no-such-cluster.") {
		t.Errorf("validate of a missing cluster: exit %d\n%s", r.Code, r.Stderr)
	}
	r = runIn(t, "", "asmcli", "install", "--project_id", simProject, "--cluster_name", simCluster,
		"--cluster_location", simLocation, "--kubeconfig", "x")
	if r.Code != 2 || !strings.Contains(r.Stderr, "Incompatible arguments") {
		t.Errorf("mixed cluster selection: exit %d\n%s", r.Code, r.Stderr)
	}
	r = runIn(t, "", "asmcli", "validate", "--project_id", simProject, "--cluster_name", simCluster,
		"--cluster_location", simLocation, "--output_dir", t.TempDir())
	if r.Code != 0 || !strings.Contains(r.Stderr, "Successfully validated all requirements to install ASM.") {
		t.Errorf("validate of the healthy cluster: exit %d\n%s", r.Code, r.Stderr)
	}
	if r := runIn(t, "", "asmcli", "--version"); strings.TrimSpace(r.Stdout) != "1.31.1-asm.19+config1" {
		t.Errorf("asmcli --version = %q", r.Stdout)
	}
}

// TestSimUpTwiceThenDownLeavesNothing uses a simulator of its own.
func TestSimUpTwiceThenDownLeavesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "own-sim")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	if out, err := meshsim(ctx, dir, "up", "--machine-type", "e2-small"); err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	t.Logf("meshsim up: %.1fs", time.Since(start).Seconds())
	if out, err := meshsim(ctx, dir, "up", "--machine-type", "e2-small"); err != nil {
		t.Fatalf("second up: %v\n%s", err, out)
	}
	statusOut, err := meshsim(ctx, dir, "status", "--json")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, statusOut)
	}
	var st struct {
		KubeAPIServer string         `json:"kubeAPIServer"`
		GCPEndpoint   string         `json:"gcpEndpoint"`
		ReadyNodes    int            `json:"readyNodes"`
		Processes     map[string]int `json:"processes"`
	}
	if err := json.Unmarshal([]byte(statusOut), &st); err != nil {
		t.Fatal(err)
	}
	if st.ReadyNodes != 6 {
		t.Errorf("%d ready nodes, want 6", st.ReadyNodes)
	}
	if out, err := meshsim(ctx, dir, "down"); err != nil {
		t.Fatalf("down: %v\n%s", err, out)
	}
	if left := processesMentioning(dir); len(left) > 0 {
		t.Errorf("processes left after down: %v", left)
	}
	for _, endpoint := range []string{st.KubeAPIServer, st.GCPEndpoint} {
		if port := portOf(endpoint); port != "" && listening(port) {
			out, _ := exec.Command("ss", "-ltnp").Output()
			t.Errorf("port %s (%s) still listening after down\n%s", port, endpoint, out)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("state directory %s left behind", dir)
	}
}

// processesMentioning lists live processes whose command line names s.
func processesMentioning(s string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), s) {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}

func portOf(endpoint string) string {
	i := strings.LastIndex(endpoint, ":")
	if i < 0 {
		return ""
	}
	return strings.TrimRight(endpoint[i+1:], "/")
}

// listening reports whether a TCP port on loopback is in LISTEN state.
func listening(port string) bool {
	p, err := strconv.Atoi(port)
	if err != nil {
		return false
	}
	hex := fmt.Sprintf(":%04X", p)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) > 3 && strings.HasSuffix(fields[1], hex) && fields[3] == "0A" {
				return true
			}
		}
	}
	return false
}
