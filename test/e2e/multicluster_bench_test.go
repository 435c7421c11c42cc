//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
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
