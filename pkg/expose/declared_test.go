package expose

import (
	"testing"

	"github.com/meshctl/meshctl/pkg/preflight"
)

// The declared superset (`check --permissions --for expose`) holds every
// Kubernetes permission a real expose's plan needs, in any namespace.
func TestDeclaredChangesCoverThePlan(t *testing.T) {
	c := newCluster(t)
	res, _, err := run(t, c, opts(), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{}
	for _, p := range preflight.Required(DeclaredChanges()) {
		declared[p.Kubernetes.Verb+" "+p.Kubernetes.GroupResource()] = true
	}
	needs := preflight.Required(res.Changes)
	if len(needs) < len(res.Changes) {
		t.Fatalf("%d permissions for %d changes", len(needs), len(res.Changes))
	}
	for _, p := range needs {
		if k := p.Kubernetes; k == nil || !declared[k.Verb+" "+k.GroupResource()] {
			t.Errorf("the plan needs %s, which DeclaredChanges lacks", p.Name())
		}
	}
}
