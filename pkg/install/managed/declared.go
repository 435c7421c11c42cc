package managed

import (
	meshplan "github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// DeclaredChanges are the fleet changes a managed install makes, without
// a plan (`meshctl check --permissions`): the mesh API enabled in the
// cluster's project, the cluster's membership, the servicemesh feature
// and its per-membership spec in the fleet project. The install checks
// those of its plan before its first step (installChanges).
func DeclaredChanges(project, fleetProject string) []meshplan.Change {
	return []meshplan.Change{
		{Kind: "services", Name: "mesh.googleapis.com", Action: meshplan.Create,
			Resource: preflight.GoogleName("serviceusage", "projects/"+project+"/services/mesh.googleapis.com")},
		{Kind: "memberships", Name: "ANY", Action: meshplan.Create,
			Resource: preflight.GoogleName("gkehub", "projects/"+fleetProject+"/locations/global/memberships/ANY")},
		{Kind: "features", Name: "servicemesh", Action: meshplan.Create,
			Resource: preflight.GoogleName("gkehub", "projects/"+fleetProject+"/locations/global/features/servicemesh")},
		{Kind: "membershipfeatures", Name: "servicemesh", Action: meshplan.Update,
			Resource: preflight.GoogleName("gkehub", "projects/"+fleetProject+"/locations/global/memberships/ANY/features/servicemesh")},
	}
}
