package managed

import (
	"context"

	"google.golang.org/api/gkehub/v1"
)

// ClusterStatus is what the fleet reports of the managed mesh of one
// cluster: its membership, whether the servicemesh feature is on, and the
// feature's state for the membership with what it means.
type ClusterStatus struct {
	FleetProject   string     `json:"fleetProject"`
	Membership     string     `json:"membership,omitempty"`
	Registered     bool       `json:"registered"`
	FeatureEnabled bool       `json:"featureEnabled"`
	Status         MeshStatus `json:"status"`
	Assessment     Assessment `json:"assessment"`
	// Fix names what the assessment's fixes refer to.
	Fix FixContext `json:"-"`
}

// ReadClusterStatus finds cluster's membership in fleetProject and reads
// the servicemesh feature's state for it, as `meshctl validate` does on a
// managed mesh instead of running asmcli. It only reads.
func ReadClusterStatus(ctx context.Context, fleet Fleet, fleetProject string, cluster ClusterRef) (ClusterStatus, error) {
	out := ClusterStatus{FleetProject: fleetProject}
	mems, err := fleet.ListMemberships(ctx, fleetProject)
	if err != nil {
		return out, hubError("list fleet memberships", err, "gkehub.memberships.list", fleetProject)
	}
	feat, err := fleet.GetFeature(ctx, fleetProject)
	switch {
	case IsNotFound(err):
		feat = nil
	case err != nil:
		return out, hubError("read the servicemesh feature", err, "gkehub.features.get", fleetProject)
	}
	projectNumber := ""
	if feat != nil && fleetProject == cluster.Project {
		projectNumber = projectNumberFromKeys(feat)
	}
	ref, registered, err := chooseMembership(mems, cluster, projectNumber, "", fleetProject)
	if err != nil {
		return out, err
	}
	out.Membership, out.Registered, out.FeatureEnabled = ref.Name(), registered, feat != nil
	out.Fix = FixContext{Project: cluster.Project, Location: cluster.Location, Cluster: cluster.Name, FleetProject: fleetProject,
		Membership: ref.ID, MembershipLocation: ref.Location}
	if feat != nil {
		out.Fix.FleetProjectNumber = projectNumberFromKeys(feat)
	}
	if !registered || feat == nil {
		return out, nil
	}
	var ms *gkehub.MembershipFeatureState
	if key := FindKey(feat.MembershipStates, ref); key != "" {
		s := feat.MembershipStates[key]
		ms = &s
	}
	out.Status = StatusFromV1(ms)
	out.Assessment = out.Status.Assess("", out.Fix)
	return out, nil
}
