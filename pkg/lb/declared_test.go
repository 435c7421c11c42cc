package lb

import (
	"testing"

	"github.com/meshctl/meshctl/pkg/preflight"
	"github.com/meshctl/meshctl/sim/fakeiam"
)

// Every permission of the declared superset exists: Resource Manager
// refuses a whole testIamPermissions request (400) for one that does not.
func TestDeclaredPermissionsExist(t *testing.T) {
	for _, p := range preflight.Required(DeclaredChanges("p")) {
		if err := fakeiam.Validate(p.Permission); err != nil {
			t.Errorf("%s: %v", p.Permission, err)
		}
	}
}
