//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshctl/meshctl/sim/proc"
)

// BenchmarkMeshsimUp: `meshsim up --clusters N` for 1, 2 and 3 clusters (in
// two regions), from nothing to every node Ready: the wall time and the
// resident memory of all the processes it leaves running (control planes
// and the daemon; no istiod yet), measured right after up returns.
func BenchmarkMeshsimUp(b *testing.B) {
	for _, n := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("clusters=%d", n), func(b *testing.B) {
			var took time.Duration
			var rss, procs int
			for range b.N {
				state, err := os.MkdirTemp("", "e2e-up-")
				if err != nil {
					b.Fatal(err)
				}
				args := []string{"up", "--clusters", strconv.Itoa(n), "--regions", "us-central1,europe-west1", "--private"}
				start := time.Now()
				out, err := meshsim(context.Background(), state, args...)
				took += time.Since(start)
				if err == nil {
					r, p := residentMiB(state)
					rss, procs = rss+r, procs+p
				}
				if down, derr := meshsim(context.Background(), state, "down"); derr != nil {
					b.Logf("meshsim down: %v\n%s", derr, down)
				}
				os.RemoveAll(state)
				if err != nil {
					b.Fatalf("meshsim %v: %v\n%s", args, err, out)
				}
			}
			b.ReportMetric(took.Seconds()/float64(b.N), "s/up")
			b.ReportMetric(float64(rss)/float64(b.N), "MiB-rss")
			b.ReportMetric(float64(procs)/float64(b.N), "processes")
		})
	}
}

// residentMiB sums the resident memory of the processes whose command
// line names the state directory.
func residentMiB(state string) (mib, count int) {
	kib := 0
	for _, pid := range proc.Mentioning(state) {
		f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
				n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
				kib += n
				count++
			}
		}
		f.Close()
	}
	return kib / 1024, count
}

// BenchmarkMeshConnect: on one simulator of three private clusters in two
// regions with the mesh installed in each (started and installed before
// the timer), `mesh connect --fix` of 2 clusters, then of 3, each followed
// by an untimed disconnect; and `check` over 1 cluster, then over 3. The
// issue asks connect(3) ≤ 1.5 × connect(2): the per-cluster work runs
// concurrently and only the remote secrets grow as N×(N−1).
//
// A first, untimed connect of all three turns master global access on
// everywhere (disconnect leaves it on), so both timed connects make the
// same kinds of change: firewall rule, authorized networks, remote secrets,
// the probe and the verification.
func BenchmarkMeshConnect(b *testing.B) {
	mc := startSimFor(b, "e2e-bench-mc-", "three clusters", "--clusters", "3", "--regions", "us-central1,europe-west1", "--private")
	out, err := meshsim(context.Background(), mc.state, "status", "--json")
	if err != nil {
		b.Fatalf("meshsim status: %v\n%s", err, out)
	}
	if err := json.Unmarshal([]byte(out), &mc.status); err != nil || len(mc.status.Clusters) != 3 {
		b.Fatalf("meshsim status --json: %v, %d clusters\n%s", err, len(mc.status.Clusters), out)
	}
	var refs []string
	var wg sync.WaitGroup
	errs := make([]string, 3)
	for i, c := range mc.status.Clusters {
		refs = append(refs, simProject+"/"+c.Location+"/"+c.Name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := runEnv(b, mc.env, "", "asmcli", "install", "--project_id", simProject, "--cluster_location", c.Location,
				"--cluster_name", c.Name, "--output_dir", b.TempDir(), "--revision_name", "asm-bench-1", "--enable_all", "--ca", "mesh_ca")
			if r.Code != 0 {
				errs[i] = fmt.Sprintf("asmcli install in %s: exit %d\n%s", c.Name, r.Code, r.Stderr)
			}
		}()
	}
	wg.Wait()
	if e := strings.Join(errs, ""); e != "" {
		b.Fatal(e)
	}
	// check exits 3 when it reports error findings, which is a full run.
	meshctl := func(args ...string) time.Duration {
		start := time.Now()
		r := runEnv(b, mc.env, "", meshctlBin, args...)
		took := time.Since(start)
		if r.Code != 0 && (args[0] != "check" || r.Code != 3) {
			b.Fatalf("meshctl %s: exit %d\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
		}
		return took
	}
	connect := func(n int) time.Duration {
		return meshctl(append(append([]string{"mesh", "connect"}, refs[:n]...), "--fix", "-o", "json")...)
	}
	disconnect := func(n int) { meshctl(append([]string{"mesh", "disconnect"}, refs[:n]...)...) }
	check := func(n int) time.Duration {
		args := []string{"check", "-o", "json"}
		for _, ref := range refs[:n] {
			args = append(args, "--cluster", ref)
		}
		return meshctl(args...)
	}
	connect(3)
	disconnect(3)
	var c2, c3, k1, k3 time.Duration
	b.ResetTimer()
	for range b.N {
		c2 += connect(2)
		b.StopTimer()
		disconnect(2)
		b.StartTimer()
		c3 += connect(3)
		b.StopTimer()
		disconnect(3)
		b.StartTimer()
		k1 += check(1)
		k3 += check(3)
	}
	n := float64(b.N)
	b.ReportMetric(c2.Seconds()/n, "s/connect-2")
	b.ReportMetric(c3.Seconds()/n, "s/connect-3")
	b.ReportMetric(float64(c3)/float64(c2), "connect-3/2")
	b.ReportMetric(k1.Seconds()/n, "s/check-1")
	b.ReportMetric(k3.Seconds()/n, "s/check-3")
	b.ReportMetric(float64(k3)/float64(k1), "check-3/1")
	b.Logf("connect: 2 clusters %.1fs, 3 clusters %.1fs (%.2fx, aim ≤ 1.5x); check: 1 cluster %.2fs, 3 clusters %.2fs (%.2fx)",
		c2.Seconds()/n, c3.Seconds()/n, float64(c3)/float64(c2), k1.Seconds()/n, k3.Seconds()/n, float64(k3)/float64(k1))
}
