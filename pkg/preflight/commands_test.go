package preflight

import (
	"context"
	"slices"
	"testing"

	"github.com/meshctl/meshctl/internal/stubs"
	"github.com/meshctl/meshctl/pkg/plan"
)

// Several commands are checked with one request per project (their
// union), and each command's report holds its own permissions with the
// status found: a permission two commands share is missing in both.
func TestCheckCommands(t *testing.T) {
	reg := stubs.New(t)
	reg.Stub("testIamPermissions p")
	iam := &fakeIAM{reg: reg, held: map[string]bool{"compute.healthChecks.create": true, "compute.globalOperations.get": true}}
	hc := plan.Change{Kind: "healthChecks", Name: "ANY", Action: plan.Create, Resource: ComputeName("p", "global", "healthChecks", "ANY")}
	armor := plan.Change{Kind: "securityPolicies", Name: "ANY", Action: plan.Create, Resource: ComputeName("p", "global", "securityPolicies", "ANY")}
	r := (&Checker{IAM: iam}).CheckCommands(context.Background(), []Declared{
		{Command: "a", Changes: []plan.Change{hc}},
		{Command: "b", Changes: []plan.Change{hc, armor}},
	})
	if len(iam.calls) != 1 || r.Missing != 1 || len(r.Commands) != 2 {
		t.Fatalf("calls %v, report %+v", iam.calls, r)
	}
	a, b := r.Commands[0], r.Commands[1]
	if a.Command != "a" || a.Missing != 0 || !slices.Equal(names(a.Permissions), []string{"compute.globalOperations.get @p", "compute.healthChecks.create @p"}) {
		t.Errorf("a: %+v", a.Report)
	}
	if b.Missing != 1 || len(b.Grants) != 1 || b.Grants[0].Roles[0].Name != "roles/compute.securityAdmin" {
		t.Errorf("b: %+v", b.Report)
	}
}
