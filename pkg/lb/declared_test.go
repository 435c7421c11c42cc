package lb

import (
	"slices"
	"strings"
	"testing"

	"github.com/meshctl/meshctl/pkg/preflight"
	"github.com/meshctl/meshctl/sim/fakeiam"
)

// Every permission of the declared superset exists: Resource Manager
// refuses a whole testIamPermissions request (400) for one that does not.
func TestDeclaredPermissionsExist(t *testing.T) {
	for _, p := range preflight.Required(DeclaredChanges("p", "p")) {
		if err := fakeiam.Validate(p.Permission); err != nil {
			t.Errorf("%s: %v", p.Permission, err)
		}
	}
}

// On a Shared VPC, `check --permissions` asks for the firewall
// permissions in the host project, on its network, as the apply makes
// the rule there; everything else stays in the cluster's project.
func TestDeclaredFirewallIsInTheNetworksProject(t *testing.T) {
	changes := DeclaredChanges("svc", "host")
	firewalls := 0
	for _, c := range changes {
		want := "//compute.googleapis.com/projects/svc/"
		if c.Kind == string(KindFirewall) {
			firewalls++
			want = "//compute.googleapis.com/projects/host/"
			for _, u := range c.Uses {
				if u != preflight.ComputeName("host", "global", "networks", "ANY") {
					t.Errorf("%s firewall uses %s", c.Action, u)
				}
			}
		}
		if !strings.HasPrefix(c.Resource, want) {
			t.Errorf("%s %s in %s, want under %s", c.Action, c.Kind, c.Resource, want)
		}
	}
	if firewalls != 3 {
		t.Errorf("%d firewall changes, want create, update and delete", firewalls)
	}
	var hostPerms []string
	for _, p := range preflight.Required(changes) {
		if p.Project == "host" {
			hostPerms = append(hostPerms, p.Permission)
		}
	}
	for _, want := range []string{"compute.firewalls.create", "compute.firewalls.delete", "compute.networks.updatePolicy"} {
		if !slices.Contains(hostPerms, want) {
			t.Errorf("host project permissions %v lack %s", hostPerms, want)
		}
	}
}
