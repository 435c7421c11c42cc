package vm

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// The declared superset (`check --permissions --for vm`) holds every
// permission a real add's plan needs (a VM on another network: both
// rules), the Google ones by name and project and the Kubernetes ones by
// verb and resource, and what add asks outside its plan: reading the
// instance and the network, and requesting the token.
func TestDeclaredChangesCoverAdd(t *testing.T) {
	kc, objs := multiNetworkMesh(t)
	g := newFakeGoogle()
	farInstance(g, "us-central1-a")
	peer(g, "ACTIVE")
	c := Clients{Kube: kc, Objects: objs, Cloud: func(context.Context) (Cloud, error) { return g.cloud(), nil }}
	res, err := Add(context.Background(), c, ui.Discard, nil, AddOptions{Name: "db", Namespace: "db", Ports: []Port{{"mysql", 3306}},
		Bundle: filepath.Join(t.TempDir(), "b"), Instance: "far-1", Zone: "us-central1-a", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	key := func(p preflight.Permission) string {
		if k := p.Kubernetes; k != nil {
			return k.Verb + " " + k.GroupResource()
		}
		return p.Project + " " + p.Permission
	}
	var declared []string
	for _, p := range preflight.Required(DeclaredChanges("svc", "host")) {
		declared = append(declared, key(p))
	}
	needs := preflight.Required(res.Changes)
	if len(needs) < 6 {
		t.Fatalf("the plan needs only %v", needs)
	}
	for _, p := range needs {
		if !slices.Contains(declared, key(p)) {
			t.Errorf("the plan needs %s in %s, which DeclaredChanges lacks", p.Name(), p.Where())
		}
	}
	for _, want := range []string{"svc compute.instances.get", "host compute.networks.get", "host compute.firewalls.create", "host compute.networks.updatePolicy",
		"create serviceaccounts/token", "create workloadgroups.networking.istio.io"} {
		if !slices.Contains(declared, want) {
			t.Errorf("DeclaredChanges lacks %s: %v", want, declared)
		}
	}
	if slices.Contains(declared, "patch serviceaccounts/token") || slices.Contains(declared, "svc compute.zoneOperations.get") {
		t.Errorf("DeclaredChanges asks more than a token request and a read need: %v", declared)
	}
}
