package preflight

import (
	"context"
	"testing"
	"time"

	"github.com/meshctl/meshctl/internal/stubs"
)

// BenchmarkCheck measures what the check adds to a command's wall time
// when each testIamPermissions request takes latency: a plan over three
// projects, in chunks of two (two requests a project), costs one round
// trip, reported as round-trips/op (wall time over latency, at most 1.x).
func BenchmarkCheck(b *testing.B) {
	const latency = 50 * time.Millisecond
	reg := stubs.New(b)
	for _, p := range []string{"a", "b", "c"} {
		reg.Stub("testIamPermissions " + p)
	}
	iam := &fakeIAM{reg: reg, latency: latency, held: map[string]bool{}}
	c := &Checker{IAM: iam, ChunkSize: 2}
	changes := computeChanges("a", "b", "c")
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		c.Check(context.Background(), changes)
	}
	per := time.Since(start) / time.Duration(b.N)
	b.ReportMetric(float64(per)/float64(latency), "round-trips/op")
	if per >= 2*latency {
		b.Errorf("the check took %s a run with %s a request: more than one round trip", per, latency)
	}
}
