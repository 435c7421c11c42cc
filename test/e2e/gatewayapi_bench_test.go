//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkExposeGatewayAPIVersusCompute exposes one Service through a GKE
// Gateway (--via gateway-api: meshctl applies objects, the controller
// stand-in builds the load balancer) and another through meshctl's own
// load balancer (--via compute), on the same simulator, each timed from
// the command's start to its return: Programmed and every backend
// HEALTHY. The controller's delays (meshsim's defaults) are reported
// with the figures; GKE's own are minutes (reference gke-gateway.md §3).
func BenchmarkExposeGatewayAPIVersusCompute(b *testing.B) {
	const ns = "bench-gwapi"
	ensureRevisionB(b, "asm-test-1")
	b.Cleanup(func() { lbRun(b, "", "kubectl", "delete", "namespace", ns, "--wait=false") })
	lbKubectl(b, webApp(ns, "asm-test-1", 1)+"---\n"+strings.ReplaceAll(strings.SplitN(webApp(ns, "asm-test-1", 1), "---\n", 2)[1], "web", "shop"), "apply", "-f", "-")
	var knobs map[string]any
	lbSimAPI(b, http.MethodGet, "/meshsim/gateway/knobs", nil, &knobs)

	expose := func(svc, host string, via ...string) time.Duration {
		args := append([]string{"expose", "svc", svc, "-n", ns, "--host", host}, via...)
		start := time.Now()
		if r := lbRun(b, "", meshctlBin, args...); r.Code != 0 {
			b.Fatalf("meshctl %s: exit %d\n%s", strings.Join(args, " "), r.Code, r.Stderr)
		}
		return time.Since(start)
	}
	unexpose := func(svc string) {
		if r := lbRun(b, "", meshctlBin, "unexpose", "svc", svc, "-n", ns); r.Code != 0 {
			b.Fatalf("unexpose %s: exit %d\n%s", svc, r.Code, r.Stderr)
		}
	}
	var viaGateway, viaCompute, teardownGateway time.Duration
	for i := 0; i < b.N; i++ {
		viaGateway += expose("web", "web.bench.example.com", "--via", "gateway-api")
		viaCompute += expose("shop", "shop.bench.example.com", "--via", "compute")
		b.StopTimer()
		teardownGateway += timed(func() { unexpose("web") })
		unexpose("shop")
		b.StartTimer()
	}
	n := float64(b.N)
	r := newBenchReport(b)
	r.add("expose --via gateway-api to Programmed and healthy", viaGateway.Seconds()/n, "s")
	r.add("expose --via compute to healthy", viaCompute.Seconds()/n, "s")
	r.add("unexpose --via gateway-api until the controller's resources are gone", teardownGateway.Seconds()/n, "s")
	for _, k := range []string{"acceptDelay", "programDelay", "retryDelay"} {
		d, _ := time.ParseDuration(fmt.Sprint(knobs[k]))
		r.add("controller "+k, d.Seconds(), "s")
	}
	r.print(os.Stdout)
}

// ensureRevisionB installs a revision with the asmcli stand-in, as
// ensureRevision does for tests, once per benchmark binary.
func ensureRevisionB(b *testing.B, revision string) {
	b.Helper()
	once, _ := installOnce.LoadOrStore(revision, &sync.Once{})
	var failed string
	once.(*sync.Once).Do(func() {
		r := lbRun(b, "", "asmcli", "install", "--project_id", simProject, "--cluster_name", simCluster,
			"--cluster_location", simLocation, "--output_dir", filepath.Join(b.TempDir(), "asm-out"), "--revision_name", revision, "--enable_all", "--ca", "mesh_ca")
		if r.Code != 0 {
			failed = fmt.Sprintf("asmcli install: exit %d\n%s", r.Code, r.Stderr)
			installOnce.Delete(revision)
		}
	})
	if failed != "" {
		b.Fatal(failed)
	}
}
