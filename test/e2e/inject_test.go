//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshctl/meshctl/pkg/inject"
	"github.com/meshctl/meshctl/sim/scenario"
	"github.com/meshctl/meshctl/sim/state"
)

// injectRev is the revision the inject tests put workloads on; the
// migration test adds its own second one.
const (
	injectRev  = "asm-test-1"
	injectRev2 = "asm-inject-2"
)

// podState is what kubectl says about one pod's sidecar.
type podState struct {
	Name, Owner string
	Proxy       bool // istio-proxy in initContainers or containers
	Native      bool // ... as a native sidecar
	Revision    string
	UID         string
}

// pods reads a namespace's running pods with kubectl, independently of
// meshctl's own checks.
func pods(t *testing.T, ns string) []podState {
	t.Helper()
	var list struct {
		Items []struct {
			Metadata struct {
				Name            string            `json:"name"`
				UID             string            `json:"uid"`
				Annotations     map[string]string `json:"annotations"`
				DeletionTS      *string           `json:"deletionTimestamp"`
				OwnerReferences []struct {
					Kind string `json:"kind"`
					Name string `json:"name"`
				} `json:"ownerReferences"`
			} `json:"metadata"`
			Spec struct {
				InitContainers []struct {
					Name          string `json:"name"`
					RestartPolicy string `json:"restartPolicy"`
				} `json:"initContainers"`
				Containers []struct {
					Name string `json:"name"`
				} `json:"containers"`
			} `json:"spec"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(kubectl(t, "get", "pods", "-n", ns, "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	var out []podState
	for _, p := range list.Items {
		if p.Metadata.DeletionTS != nil {
			continue
		}
		s := podState{Name: p.Metadata.Name, UID: p.Metadata.UID}
		if len(p.Metadata.OwnerReferences) > 0 {
			s.Owner = p.Metadata.OwnerReferences[0].Kind + "/" + p.Metadata.OwnerReferences[0].Name
		}
		for _, c := range p.Spec.InitContainers {
			if c.Name == "istio-proxy" {
				s.Proxy, s.Native = true, c.RestartPolicy == "Always"
			}
		}
		for _, c := range p.Spec.Containers {
			if c.Name == "istio-proxy" {
				s.Proxy = true
			}
		}
		var status struct {
			Revision string `json:"revision"`
		}
		_ = json.Unmarshal([]byte(p.Metadata.Annotations["sidecar.istio.io/status"]), &status)
		s.Revision = status.Revision
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b podState) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func nsLabels(t *testing.T, ns string) map[string]string {
	t.Helper()
	var n struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal([]byte(kubectl(t, "get", "namespace", ns, "-o", "json")), &n); err != nil {
		t.Fatal(err)
	}
	return n.Metadata.Labels
}

// injectJSON runs meshctl inject -o json and decodes its result.
func injectJSON(t *testing.T, wantCode int, args ...string) *inject.Result {
	t.Helper()
	r := runIn(t, "", meshctlBin, append([]string{"inject", "-o", "json"}, args...)...)
	if r.Code != wantCode {
		t.Fatalf("meshctl inject %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, wantCode, r.Stdout, r.Stderr)
	}
	var res inject.Result
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatalf("meshctl inject -o json: %v\n%s", err, r.Stdout)
	}
	return &res
}

// workloadApp is a Deployment, StatefulSet or DaemonSet manifest.
func workloadApp(kind, ns, name string, replicas int, podAnnotations string) string {
	spec := fmt.Sprintf("  replicas: %d\n", replicas)
	switch kind {
	case "StatefulSet":
		spec += "  serviceName: " + name + "\n"
	case "DaemonSet":
		spec = ""
	}
	ann := ""
	if podAnnotations != "" {
		ann = "\n      annotations: {" + podAnnotations + "}"
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: %s
metadata:
  name: %s
  namespace: %s
spec:
%s  selector:
    matchLabels: {app: %s}
  template:
    metadata:
      labels: {app: %s}%s
    spec:
      containers:
      - name: app
        image: nginx
---
`, kind, name, ns, spec, name, name, ann)
}

func createNamespace(t *testing.T, name, labels string) {
	t.Helper()
	kubectlApply(t, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels: {%s}\n", name, labels))
	t.Cleanup(func() { runIn(t, "", "kubectl", "delete", "namespace", name, "--wait=false") })
}

// waitRunning waits until ns has n running pods (not terminating).
func waitRunning(t *testing.T, ns string, n int) {
	t.Helper()
	eventually(t, 90*time.Second, fmt.Sprintf("%d pods running in %s", n, ns), func() (bool, string) {
		out := runIn(t, "", "kubectl", "get", "pods", "-n", ns, "--no-headers").Stdout
		running := strings.Count(out, " Running ")
		return running == n && strings.Count(out, "\n") == n, out
	})
}

func TestInjectEndToEnd(t *testing.T) {
	ensureRevision(t, injectRev)
	const a, b = "e2e-inject-a", "e2e-inject-b"
	createNamespace(t, a, "e2e-inject: basic, istio-injection: enabled") // the legacy label too
	createNamespace(t, b, "e2e-inject: basic")
	kubectlApply(t, workloadApp("Deployment", a, "web", 2, "")+
		workloadApp("StatefulSet", a, "db", 2, "")+
		workloadApp("Deployment", a, "legacy", 1, `sidecar.istio.io/inject: "false"`)+
		workloadApp("DaemonSet", b, "agent", 0, "")+
		workloadApp("Deployment", b, "api", 1, ""))
	// The DaemonSet runs on each of the six nodes.
	waitRunning(t, a, 5)
	waitRunning(t, b, 7)
	before := pods(t, a)
	for _, p := range before {
		if p.Proxy {
			t.Fatalf("pod %s has istio-proxy before inject (nothing should inject it yet)", p.Name)
		}
	}

	// The plan changes nothing.
	plan := injectJSON(t, 0, "--selector", "e2e-inject=basic", "--revision", injectRev, "--dry-run")
	if plan.Summary.Restarted != 4 || plan.Summary.Relabelled != 2 || plan.Summary.Skipped != 1 {
		t.Errorf("plan summary %+v, want 4 restarts, 2 relabels, 1 skipped", plan.Summary)
	}
	if got := nsLabels(t, a); got["istio.io/rev"] != "" {
		t.Errorf("--dry-run labelled %s: %v", a, got)
	}

	res := injectJSON(t, 0, "--selector", "e2e-inject=basic", "--revision", injectRev)
	if res.Failed() || res.Summary.Restarted != 4 || res.Summary.Skipped != 1 {
		t.Errorf("summary %+v", res.Summary)
	}
	for _, ns := range []string{a, b} {
		l := nsLabels(t, ns)
		if l["istio.io/rev"] != injectRev {
			t.Errorf("%s: istio.io/rev=%q, want %s", ns, l["istio.io/rev"], injectRev)
		}
		if _, both := l["istio-injection"]; both {
			t.Errorf("%s keeps istio-injection next to istio.io/rev (IST0123): %v", ns, l)
		}
	}
	// Checked with kubectl, not with meshctl: real sidecars from the real
	// webhook, as native sidecars, of the revision; the opted-out pod alone.
	for _, ns := range []string{a, b} {
		for _, p := range pods(t, ns) {
			if strings.HasPrefix(p.Name, "legacy-") {
				if p.Proxy {
					t.Errorf("opted-out pod %s got istio-proxy", p.Name)
				}
				continue
			}
			if !p.Proxy || !p.Native || p.Revision != injectRev {
				t.Errorf("pod %s: proxy %v native %v revision %q, want a native istio-proxy of %s", p.Name, p.Proxy, p.Native, p.Revision, injectRev)
			}
		}
	}
	injected := pods(t, a)

	// Again: nothing changes, no pod is replaced.
	again := injectJSON(t, 0, "--selector", "e2e-inject=basic", "--revision", injectRev)
	if again.Summary.Restarted != 0 || again.Summary.Relabelled != 0 || again.Summary.Unchanged != 4 || again.Failed() {
		t.Errorf("second run summary %+v, want nothing restarted or relabelled", again.Summary)
	}
	if after := pods(t, a); !slices.Equal(uids(after), uids(injected)) {
		t.Errorf("second run replaced pods: %v -> %v", uids(injected), uids(after))
	}

	// Text output names what happened to each workload.
	r := runIn(t, "", meshctlBin, "inject", "-n", a, "--revision", injectRev)
	for _, want := range []string{"statefulset/db", "kept", "deployment/legacy", "opted out", "every pod checked"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, r.Stdout)
		}
	}

	// --disable takes the sidecars away again.
	off := injectJSON(t, 0, "-n", a, "-n", b, "--disable")
	if off.Summary.Restarted != 4 || off.Failed() {
		t.Errorf("--disable summary %+v", off.Summary)
	}
	for _, ns := range []string{a, b} {
		l := nsLabels(t, ns)
		if l["istio-injection"] != "disabled" || l["istio.io/rev"] != "" {
			t.Errorf("%s labels after --disable: %v", ns, l)
		}
		for _, p := range pods(t, ns) {
			if p.Proxy {
				t.Errorf("pod %s still has istio-proxy after --disable", p.Name)
			}
		}
	}
}

func uids(ps []podState) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.UID)
	}
	slices.Sort(out)
	return out
}

func TestInjectMigratesBetweenRevisions(t *testing.T) {
	ensureRevision(t, injectRev)
	ensureRevision(t, injectRev2)
	const ns = "e2e-inject-mig"
	createNamespace(t, ns, "istio.io/rev: "+injectRev)
	kubectlApply(t, workloadApp("Deployment", ns, "web", 2, "")+workloadApp("StatefulSet", ns, "db", 1, ""))
	waitRunning(t, ns, 3)
	for _, p := range pods(t, ns) {
		if p.Revision != injectRev {
			t.Fatalf("pod %s starts on %q, want %s", p.Name, p.Revision, injectRev)
		}
	}

	res := injectJSON(t, 0, "-n", ns, "--revision", injectRev2)
	n := res.Namespaces[0]
	if n.Migration == nil || n.Migration.From != injectRev || n.Migration.To != injectRev2 {
		t.Errorf("migration %+v, want %s -> %s", n.Migration, injectRev, injectRev2)
	}
	for _, w := range n.Workloads {
		if w.Action != inject.ActionRestart || w.Outcome != inject.OutcomeConverged {
			t.Errorf("%s/%s: %s %s %v", w.Kind, w.Name, w.Action, w.Outcome, w.Problems)
		}
	}
	if got := nsLabels(t, ns)["istio.io/rev"]; got != injectRev2 {
		t.Errorf("istio.io/rev=%q, want %s", got, injectRev2)
	}
	for _, p := range pods(t, ns) {
		if p.Revision != injectRev2 {
			t.Errorf("pod %s on %q after the migration, want %s", p.Name, p.Revision, injectRev2)
		}
	}
	// The text names old -> new.
	r := runIn(t, "", meshctlBin, "inject", "-n", ns, "--revision", injectRev2, "--dry-run")
	if !strings.Contains(r.Stdout, ns) || !strings.Contains(r.Stdout, "unchanged") {
		t.Errorf("dry run after the migration:\n%s", r.Stdout)
	}

	// Two revisions and none named: meshctl stops and lists them.
	r = runIn(t, "", meshctlBin, "inject", "-n", ns)
	if r.Code != 2 || !strings.Contains(r.Stderr, injectRev) || !strings.Contains(r.Stderr, injectRev2) || !strings.Contains(r.Stderr, "--revision") {
		t.Errorf("no --revision with two installed: exit %d\n%s", r.Code, r.Stderr)
	}
}

func TestInjectReportsWhatDoesNotConverge(t *testing.T) {
	ensureRevision(t, injectRev)
	const ns = "e2e-inject-stuck"
	createNamespace(t, ns, "")
	kubectlApply(t, workloadApp("Deployment", ns, "web", 2, ""))
	waitRunning(t, ns, 2)
	// A quota of two pods leaves the rollout no room for a new pod.
	kubectlApply(t, fmt.Sprintf("apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: pods, namespace: %s}\nspec:\n  hard: {pods: \"2\"}\n", ns))
	eventually(t, 30*time.Second, "the quota counts the pods", func() (bool, string) {
		out := runIn(t, "", "kubectl", "get", "resourcequota", "pods", "-n", ns, "-o", "jsonpath={.status.used.pods}").Stdout
		return out == "2", out
	})

	start := time.Now()
	res := injectJSON(t, 3, "-n", ns, "--revision", injectRev, "--timeout", "25s")
	if took := time.Since(start); took > 25*time.Second {
		t.Errorf("took %s, past --timeout", took)
	}
	w := res.Namespaces[0].Workloads[0]
	var reasons []string
	for _, p := range w.Problems {
		reasons = append(reasons, string(p.Reason)+": "+p.Message)
	}
	all := strings.Join(reasons, "\n")
	for _, want := range []string{"RolloutStuck: rollout not finished in time", "FailedCreate: new pods cannot be created", "exceeded quota", "NoProxy"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	if w.Outcome != inject.OutcomeFailed || !res.Failed() {
		t.Errorf("outcome %s", w.Outcome)
	}
}

// BenchmarkInject compares meshctl inject with the kubectl runbook on 50
// namespaces of 4 Deployments with 2 replicas each, in the same simulator:
// first the runbook namespace after namespace (label, rollout restart,
// rollout status per Deployment), then, from the same starting point,
// meshctl inject, then meshctl inject again with nothing to change.
func BenchmarkInject(b *testing.B) {
	const (
		namespaces  = 50
		deployments = 4
		replicas    = 2
		selector    = "e2e-inject-bench=yes"
	)
	must := func(r result, what string) string {
		if r.Code != 0 {
			b.Fatalf("%s: exit %d\n%s%s", what, r.Code, r.Stdout, r.Stderr)
		}
		return r.Stdout
	}
	ensureRevisionTB(b, injectRev)

	names := make([]string, namespaces)
	var manifest strings.Builder
	for i := range names {
		names[i] = fmt.Sprintf("e2e-inject-bench-%02d", i)
		fmt.Fprintf(&manifest, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels: {e2e-inject-bench: \"yes\"}\n---\n", names[i])
		for d := range deployments {
			// Small sidecar requests: 400 proxies at Istio's default 100m
			// would not fit on the simulator's six 4-CPU nodes.
			manifest.WriteString(workloadApp("Deployment", names[i], fmt.Sprintf("app-%d", d), replicas,
				`sidecar.istio.io/proxyCPU: "10m", sidecar.istio.io/proxyMemory: "32Mi"`))
		}
	}
	b.Cleanup(func() {
		args := append([]string{"delete", "namespace", "--wait=false"}, names...)
		runTB(b, "", "kubectl", args...)
	})
	must(runTB(b, manifest.String(), "kubectl", "apply", "-f", "-"), "create the namespaces")
	allRolledOut := func() {
		for _, ns := range names {
			must(runTB(b, "", "kubectl", "rollout", "status", "deployment", "-n", ns, "--timeout", "180s"), "initial rollout "+ns)
		}
	}
	allRolledOut()

	var kubectlSecs, meshctlSecs, rerunSecs float64
	var kubectlCPU, meshctlCPU phaseCPU
	loadBefore := loadAverage()
	for range b.N {
		// The runbook, namespace after namespace.
		start := time.Now()
		kubectlCPU.start()
		for _, ns := range names {
			must(runTB(b, "", "kubectl", "label", "namespace", ns, "istio-injection-", "istio.io/rev="+injectRev, "--overwrite"), "label")
			must(runTB(b, "", "kubectl", "rollout", "restart", "deployment", "-n", ns), "rollout restart")
			for d := range deployments {
				must(runTB(b, "", "kubectl", "rollout", "status", fmt.Sprintf("deployment/app-%d", d), "-n", ns, "--timeout", "180s"), "rollout status")
			}
		}
		kubectlSecs = time.Since(start).Seconds()
		kubectlCPU.stop()

		// Back to the same starting point, untimed: no labels, no sidecars.
		b.StopTimer()
		must(runTB(b, "", meshctlBin, "inject", "--selector", selector, "--disable"), "reset (--disable)")
		must(runTB(b, "", "kubectl", "label", "namespace", "-l", selector, "istio-injection-"), "reset labels")
		b.StartTimer()

		start = time.Now()
		meshctlCPU.start()
		r := runTB(b, "", meshctlBin, "inject", "--selector", selector, "--revision", injectRev, "-o", "json")
		meshctlSecs = time.Since(start).Seconds()
		meshctlCPU.stop()
		checkBenchResult(b, r, namespaces*deployments)

		start = time.Now()
		r = runTB(b, "", meshctlBin, "inject", "--selector", selector, "--revision", injectRev, "-o", "json")
		rerunSecs = time.Since(start).Seconds()
		if res := checkBenchResult(b, r, 0); res.Summary.Unchanged != namespaces*deployments {
			b.Errorf("re-run: %+v, want all unchanged", res.Summary)
		}
	}
	loadAfter := loadAverage()
	ratio := kubectlSecs / meshctlSecs
	b.ReportMetric(kubectlSecs, "kubectl-s")
	b.ReportMetric(meshctlSecs, "meshctl-s")
	b.ReportMetric(ratio, "speedup")
	b.ReportMetric(rerunSecs, "rerun-s")
	fmt.Fprintf(os.Stdout, "\ninject, %d namespaces x %d deployments x %d replicas:\n", namespaces, deployments, replicas)
	fmt.Fprintf(os.Stdout, "  %-40s %8.1fs\n", "kubectl runbook (namespace by namespace)", kubectlSecs)
	fmt.Fprintf(os.Stdout, "  %-40s %8.1fs\n", "meshctl inject", meshctlSecs)
	fmt.Fprintf(os.Stdout, "  %-40s %8.1fx (target >= 3x: %s)\n", "speedup", ratio, met(ratio >= 3))
	fmt.Fprintf(os.Stdout, "  %-40s %8.2fs (target < 2s: %s)\n", "meshctl inject re-run, nothing to do", rerunSecs, met(rerunSecs < 2))
	// meshctl's time is bound by the simulated control plane's CPU; on a host
	// busy with other work the figures say as much about the host as about
	// meshctl, so the load goes with them.
	fmt.Fprintf(os.Stdout, "  %-40s %s -> %s (%d CPUs)\n", "host load average (1 min)", loadBefore, loadAfter, runtime.NumCPU())
	fmt.Fprintf(os.Stdout, "  %-40s simulated control plane %.1fs, client processes %.1fs\n", "CPU used by the runbook", kubectlCPU.sim, kubectlCPU.clients)
	fmt.Fprintf(os.Stdout, "  %-40s simulated control plane %.1fs, client processes %.1fs\n", "CPU used by meshctl inject", meshctlCPU.sim, meshctlCPU.clients)
	// The runbook waits out every namespace's pod start-ups one after the
	// other; meshctl overlaps them. How long a start-up takes is the
	// simulator's setting (meshsim up --pod-startup), so it goes with the figures.
	startup := simScenario(b).PodStartup
	fmt.Fprintf(os.Stdout, "  %-40s %s to %s a pod\n", "simulated pod start-up", startup.Min(), startup.Max())
	js, _ := json.Marshal(map[string]any{"benchmark": "inject", "namespaces": namespaces, "deployments": deployments, "replicas": replicas,
		"kubectlSeconds": kubectlSecs, "meshctlSeconds": meshctlSecs, "speedup": ratio, "rerunSeconds": rerunSecs,
		"loadBefore": loadBefore, "loadAfter": loadAfter, "cpus": runtime.NumCPU(),
		"kubectlSimCPUSeconds": kubectlCPU.sim, "kubectlClientCPUSeconds": kubectlCPU.clients,
		"meshctlSimCPUSeconds": meshctlCPU.sim, "meshctlClientCPUSeconds": meshctlCPU.clients,
		"podStartupMinMillis": startup.MinMillis, "podStartupMaxMillis": startup.MaxMillis})
	fmt.Fprintf(os.Stdout, "%s\n", js)
}

// simScenario is the shape of the shared simulator.
func simScenario(tb testing.TB) scenario.Scenario {
	s, err := state.Dir(stateDir).Load()
	if err != nil {
		tb.Fatalf("read the simulator's state: %v", err)
	}
	return s.Scenario
}

// childCPU adds up the CPU time of the commands runTB ran (benchmarks run
// one at a time).
var childCPU time.Duration

// phaseCPU is the CPU time one phase of a benchmark cost: the simulated
// control plane's processes (etcd, kube-apiserver, controllers, kwok,
// istiod) and the client commands it ran.
type phaseCPU struct {
	sim, clients   float64
	sim0, clients0 float64
}

func (p *phaseCPU) start() { p.sim0, p.clients0 = simCPUSeconds(), childCPU.Seconds() }
func (p *phaseCPU) stop() {
	p.sim, p.clients = simCPUSeconds()-p.sim0, childCPU.Seconds()-p.clients0
}

// simCPUSeconds sums the user and system CPU time of the processes whose
// command line names the simulator's state directory (Linux only; 0
// elsewhere).
func simCPUSeconds() float64 {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var ticks float64
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(stateDir)) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses.
		_, rest, _ := strings.Cut(string(stat), ") ")
		f := strings.Fields(rest)
		if len(f) < 13 {
			continue
		}
		ut, err1 := strconv.ParseFloat(f[11], 64)
		st, err2 := strconv.ParseFloat(f[12], 64)
		if err1 == nil && err2 == nil {
			ticks += ut + st
		}
	}
	return ticks / 100 // USER_HZ
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// loadAverage returns the host's 1-minute load average, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// runTB is runIn for benchmarks (runIn takes a *testing.T).
func runTB(tb testing.TB, stdin, name string, args ...string) result {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, simLookPath(name), args...)
	cmd.Env = append(os.Environ(), simEnv...)
	cmd.Env = append(cmd.Env, "NO_COLOR=1")
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.ProcessState != nil {
		childCPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	r := result{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.Code = ee.ExitCode()
	} else if err != nil {
		tb.Fatalf("%s %v: %v", name, args, err)
	}
	return r
}

// ensureRevisionTB is ensureRevision for benchmarks, sharing its record of
// what is installed.
func ensureRevisionTB(tb testing.TB, revision string) {
	tb.Helper()
	once, _ := installOnce.LoadOrStore(revision, &sync.Once{})
	var failed string
	once.(*sync.Once).Do(func() {
		r := runTB(tb, "", "asmcli", "install", "--project_id", simProject, "--cluster_name", simCluster,
			"--cluster_location", simLocation, "--output_dir", filepath.Join(tb.TempDir(), "asm-out"),
			"--revision_name", revision, "--enable_all", "--ca", "mesh_ca")
		if r.Code != 0 || !strings.Contains(r.Stderr, "Successfully installed ASM.") {
			failed = fmt.Sprintf("asmcli install: exit %d\n%s", r.Code, r.Stderr)
			installOnce.Delete(revision)
		}
	})
	if failed != "" {
		tb.Fatal(failed)
	}
}

func checkBenchResult(b *testing.B, r result, restarts int) *inject.Result {
	b.Helper()
	if r.Code != 0 {
		b.Fatalf("meshctl inject: exit %d\n%s", r.Code, r.Stderr)
	}
	var res inject.Result
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		b.Fatal(err)
	}
	if res.Summary.Restarted != restarts || res.Failed() {
		b.Errorf("meshctl inject: %+v, want %d restarts and no failure", res.Summary, restarts)
	}
	return &res
}
