//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/meshctl/meshctl/pkg/migrate"
)

// BenchmarkMigrateVersusRunbook moves 20 namespaces of 4 Deployments (2
// replicas) from an in-cluster revision to the managed one twice, in one
// simulator of its own, with the managed control plane provisioned
// beforehand (untimed: its wait is the fleet's, the same for both): first
// the documented runbook, namespace after namespace (kubectl label,
// rollout restart, rollout status per Deployment, the pods' sidecar status
// read back), then `istioctl uninstall --revision`; then, from a second
// in-cluster revision holding the same namespaces, `meshctl migrate --to
// managed` with its default batch.
func BenchmarkMigrateVersusRunbook(b *testing.B) {
	const (
		namespaces  = 20
		deployments = 4
		replicas    = 2
		first       = "asm-1281-rb"
		second      = "asm-1281-mc"
		selector    = "e2e-migrate-bench=yes"
	)
	env := ownSim(b)
	must := func(r result, what string) string {
		if r.Code != 0 {
			b.Fatalf("%s: exit %d\n%s%s", what, r.Code, r.Stdout, r.Stderr)
		}
		return r.Stdout
	}
	run := func(what, name string, args ...string) string {
		return must(runEnv(b, env, "", name, args...), what)
	}
	asmcliInstall(b, env, first)
	run("install --managed", meshctlBin, "install", "--managed")
	names := make([]string, namespaces)
	var manifest strings.Builder
	for i := range names {
		names[i] = fmt.Sprintf("mig-bench-%02d", i)
		fmt.Fprintf(&manifest, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels: {e2e-migrate-bench: \"yes\", istio.io/rev: %s}\n---\n", names[i], first)
		for d := range deployments {
			// Small sidecar requests, as in BenchmarkInject.
			manifest.WriteString(workloadApp("Deployment", names[i], fmt.Sprintf("app-%d", d), replicas,
				`sidecar.istio.io/proxyCPU: "10m", sidecar.istio.io/proxyMemory: "32Mi"`))
		}
	}
	must(runEnv(b, env, manifest.String(), "kubectl", "apply", "-f", "-"), "create the namespaces")
	waitAllOn(b, env, first, deployments*replicas, names...)

	var runbookSecs, meshctlSecs, rerunSecs float64
	var res migrate.Result
	loadBefore := loadAverage()
	for range b.N {
		start := time.Now()
		for _, ns := range names {
			run("label", "kubectl", "label", "namespace", ns, "istio-injection-", "istio.io/rev=asm-managed", "--overwrite")
			run("rollout restart", "kubectl", "rollout", "restart", "deployment", "-n", ns)
			for d := range deployments {
				run("rollout status", "kubectl", "rollout", "status", fmt.Sprintf("deployment/app-%d", d), "-n", ns, "--timeout", "180s")
			}
			// The pods' sidecar status; terminating pods (a deletion
			// timestamp first) are on their way out.
			out := run("verify", "kubectl", "get", "pods", "-n", ns, "-o", `jsonpath={range .items[*]}{.metadata.deletionTimestamp}|{.metadata.annotations.sidecar\.istio\.io/status}{"\n"}{end}`)
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "|") && strings.Contains(line, first) {
					b.Fatalf("runbook: %s still has pods on %s", ns, first)
				}
			}
		}
		run("istioctl uninstall", "istioctl", "uninstall", "--revision", first, "-y")
		// istioctl returns once it asked for the deletions; the runbook
		// waits until istiod is gone, as meshctl does.
		run("wait for istiod to go", "kubectl", "wait", "--for=delete", "deployment/istiod-"+first, "-n", "istio-system", "--timeout", "180s")
		runbookSecs = time.Since(start).Seconds()
		if got := run("istiod left", "kubectl", "get", "deploy", "-n", "istio-system", "-o", "name"); strings.TrimSpace(got) != "" {
			b.Fatalf("the runbook left %s", got)
		}

		// The same namespaces on a second in-cluster revision, untimed.
		b.StopTimer()
		asmcliInstall(b, env, second)
		run("back to the in-cluster revision", meshctlBin, "inject", "--selector", selector, "--revision", second)
		waitAllOn(b, env, second, deployments*replicas, names...)
		b.StartTimer()

		start = time.Now()
		out := run("meshctl migrate", meshctlBin, "migrate", "--to", "managed", "-o", "json")
		meshctlSecs = time.Since(start).Seconds()
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			b.Fatal(err)
		}
		waitAllOn(b, env, "asm-managed", deployments*replicas, names...)
		if got := run("istiod left", "kubectl", "get", "deploy", "-n", "istio-system", "-o", "name"); strings.TrimSpace(got) != "" {
			b.Fatalf("meshctl migrate left %s", got)
		}

		start = time.Now()
		out = run("meshctl migrate again", meshctlBin, "migrate", "--to", "managed", "-o", "json")
		rerunSecs = time.Since(start).Seconds()
		var again migrate.Result
		if err := json.Unmarshal([]byte(out), &again); err != nil || again.Changed {
			b.Fatalf("re-run changed something (%v): %s", err, out)
		}
	}
	loadAfter := loadAverage()
	ratio := runbookSecs / meshctlSecs
	b.ReportMetric(runbookSecs, "runbook-s")
	b.ReportMetric(meshctlSecs, "meshctl-s")
	b.ReportMetric(ratio, "speedup")
	b.ReportMetric(rerunSecs, "rerun-s")
	fmt.Fprintf(os.Stdout, "\nmigrate --to managed, %d namespaces x %d deployments x %d replicas (managed control plane already provisioned):\n", namespaces, deployments, replicas)
	fmt.Fprintf(os.Stdout, "  %-44s %8.1fs\n", "kubectl/istioctl runbook (namespace by namespace)", runbookSecs)
	fmt.Fprintf(os.Stdout, "  %-44s %8.1fs (timings %v)\n", "meshctl migrate --to managed", meshctlSecs, res.Timings)
	fmt.Fprintf(os.Stdout, "  %-44s %8.1fx (target >= 3x: %s)\n", "speedup", ratio, met(ratio >= 3))
	fmt.Fprintf(os.Stdout, "  %-44s %8.2fs\n", "meshctl migrate re-run, nothing to do", rerunSecs)
	fmt.Fprintf(os.Stdout, "  %-44s %s -> %s (%d CPUs)\n", "host load average (1 min)", loadBefore, loadAfter, runtime.NumCPU())
	js, _ := json.Marshal(map[string]any{"benchmark": "migrate", "namespaces": namespaces, "deployments": deployments, "replicas": replicas,
		"runbookSeconds": runbookSecs, "meshctlSeconds": meshctlSecs, "speedup": ratio, "rerunSeconds": rerunSecs,
		"loadBefore": loadBefore, "loadAfter": loadAfter, "cpus": runtime.NumCPU()})
	fmt.Fprintf(os.Stdout, "%s\n", js)
}
