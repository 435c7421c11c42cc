package simcmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshctl/meshctl/sim/fakeiam"
	"github.com/meshctl/meshctl/sim/scenario"
	"github.com/meshctl/meshctl/sim/state"
)

// TestUpPermissionsReachTheDaemon: what `meshsim up --deny --iam-policy`
// writes is what the daemon enforces and its Resource Manager answers from.
func TestUpPermissionsReachTheDaemon(t *testing.T) {
	sc := scenario.Default()
	file := filepath.Join(t.TempDir(), "iam.json")
	if err := os.WriteFile(file, []byte(`{"projects":[{"id":"host","number":"2"}],
		"principals":{"default":{"allow":null,"projects":{"host":{"allow":null,"deny":["compute.subnetworks.use"]}}}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := &iamFlags{deny: []string{"compute.securityPolicies.create", "compute.firewalls.*"}, policy: file}
	cfg, err := flags.config(sc)
	if err != nil {
		t.Fatal(err)
	}
	d := state.Dir(t.TempDir())
	if err := writeIAMPolicy(d, cfg); err != nil {
		t.Fatal(err)
	}
	policy, rm, err := newIAM(d, sc)
	if err != nil || rm == nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		project, perm string
		want          bool
	}{
		{sc.Project, "compute.securityPolicies.create", false},
		{sc.Project, "compute.firewalls.create", false},
		{sc.Project, "compute.backendServices.create", true},
		{sc.Project, "compute.subnetworks.use", true},
		{"host", "compute.subnetworks.use", false},
		{"2", "compute.backendServices.create", true},
	} {
		if got := policy.Holds(fakeiam.DefaultPrincipal, c.project, c.perm); got != c.want {
			t.Errorf("%s in %s: %v, want %v", c.perm, c.project, got, c.want)
		}
	}

	// Nothing starts with a permission that does not exist.
	_, err = (&iamFlags{deny: []string{"compute.securityPolicy.create"}}).config(sc)
	if err == nil || !strings.Contains(err.Error(), "did you mean compute.securityPolicies.create") {
		t.Errorf("a misspelt --deny: %v", err)
	}
	if _, err := (&iamFlags{policy: filepath.Join(t.TempDir(), "missing.json")}).config(sc); err == nil {
		t.Error("a missing --iam-policy file is accepted")
	}
	// Without flags the daemon finds no file and enforces nothing.
	policy, _, err = newIAM(state.Dir(t.TempDir()), sc)
	if err != nil || !policy.Holds(fakeiam.DefaultPrincipal, sc.Project, "compute.firewalls.create") {
		t.Errorf("no iam.json: %v", err)
	}
}
