package preflight

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/meshctl/meshctl/internal/stubs"
	"github.com/meshctl/meshctl/pkg/plan"
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

// slowAccess answers each access review after latency: allowed unless the
// review names no object and wideDenied (RBAC granting single objects by
// name, so every review is asked again by name).
type slowAccess struct {
	latency    time.Duration
	wideDenied bool
}

func (s slowAccess) Allowed(ctx context.Context, a KubeAccess) (bool, error) {
	select {
	case <-time.After(s.latency):
	case <-ctx.Done():
		return false, ctx.Err()
	}
	return !s.wideDenied || a.Name != "", nil
}

// BenchmarkKubeCheck measures the Kubernetes half of the check on the
// plan of an in-cluster revision's removal (16 deletions of 12 kinds, as
// `uninstall --revision` plans them): the reviews are sent at once, one
// round trip; when RBAC grants only named objects, a second round asks
// each object by name.
func BenchmarkKubeCheck(b *testing.B) {
	const latency = 50 * time.Millisecond
	var changes []plan.Change
	for _, k := range []struct{ resource, ns string }{
		{"admissionregistration.k8s.io/mutatingwebhookconfigurations", ""}, {"admissionregistration.k8s.io/validatingwebhookconfigurations", ""},
		{"services", "istio-system"}, {"autoscaling/horizontalpodautoscalers", "istio-system"}, {"configmaps", "istio-system"},
		{"configmaps", "istio-system"}, {"configmaps", "istio-system"}, {"rbac.authorization.k8s.io/rolebindings", "istio-system"},
		{"rbac.authorization.k8s.io/roles", "istio-system"}, {"rbac.authorization.k8s.io/clusterrolebindings", ""},
		{"rbac.authorization.k8s.io/clusterrolebindings", ""}, {"rbac.authorization.k8s.io/clusterroles", ""},
		{"rbac.authorization.k8s.io/clusterroles", ""}, {"rbac.authorization.k8s.io/clusterroles", ""},
		{"serviceaccounts", "istio-system"}, {"apps/deployments", "istio-system"},
	} {
		changes = append(changes, plan.Change{Kind: k.resource, Namespace: k.ns, Name: fmt.Sprintf("o%d", len(changes)), Action: plan.Delete, Resource: k.resource})
	}
	for _, tc := range []struct {
		name       string
		wideDenied bool
		most       time.Duration
	}{{"granted", false, 2 * latency}, {"by-name", true, 3 * latency}} {
		b.Run(tc.name, func(b *testing.B) {
			c := &Checker{Access: slowAccess{latency: latency, wideDenied: tc.wideDenied}}
			start := time.Now()
			for range b.N {
				if r := c.Check(context.Background(), changes); r.Missing != 0 {
					b.Fatalf("missing %d", r.Missing)
				}
			}
			per := time.Since(start) / time.Duration(b.N)
			b.ReportMetric(float64(per)/float64(latency), "round-trips/op")
			if per >= tc.most {
				b.Errorf("the check took %s with %s a review", per, latency)
			}
		})
	}
}
