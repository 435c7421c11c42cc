package managed

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/api/gkehub/v1"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// OwnerLabel is the label meshctl puts on the fleet membership and the
// servicemesh feature it creates (value mesh.ManagedBy), so that
// `uninstall --managed` removes what meshctl made and nothing else. Google
// labels take lower-case keys and values; Kubernetes' managed-by key does
// not fit ("app.kubernetes.io/" has a slash).
const OwnerLabel = "managed-by"

// Step names of what an uninstall removes after the control plane.
const (
	StepUnregister     = "unregister"
	StepDisableFeature = "disable-feature"
)

// madeByMeshctl reports whether Google labels mark a resource as meshctl's.
func madeByMeshctl(labels map[string]string) bool { return labels[OwnerLabel] == mesh.ManagedBy }

// ownerLabels are the labels of what meshctl creates in the fleet.
func ownerLabels() map[string]string { return map[string]string{OwnerLabel: mesh.ManagedBy} }

// planCleanup decides what an uninstall removes once the control plane is
// gone: the membership and the servicemesh feature, each only when meshctl
// made it (OwnerLabel), the feature only when no other membership uses it,
// and neither with --keep-membership. What stays gets a note saying why and
// how to remove it by hand.
func (in Installer) planCleanup(o Options, res *Result, p *plan) []step {
	unregister := fmt.Sprintf("`gcloud container fleet memberships unregister %s --gke-cluster %s/%s --project %s` removes it",
		p.ref.ID, p.clusterRef.Location, p.clusterRef.Name, res.FleetProject)
	disable := fmt.Sprintf("`gcloud container fleet mesh disable --project %s` turns it off", res.FleetProject)
	var steps []step
	removeMembership := false
	switch {
	case o.KeepMembership:
		res.Notes = append(res.Notes, fmt.Sprintf("--keep-membership: the membership %s stays registered; %s", p.ref.ID, unregister))
	case !madeByMeshctl(p.membershipLabels):
		res.Notes = append(res.Notes, fmt.Sprintf("the membership %s was not registered by meshctl (no %s=%s label): it stays; %s", p.ref.ID, OwnerLabel, mesh.ManagedBy, unregister))
	default:
		removeMembership = true
		steps = append(steps, in.unregisterStep(p, res))
	}
	if p.feature == nil {
		return steps
	}
	users := featureUsers(p.feature, p.ref, removeMembership)
	switch {
	case o.KeepMembership:
		res.Notes = append(res.Notes, "--keep-membership: the fleet's servicemesh feature stays; "+disable)
	case !madeByMeshctl(p.feature.Labels):
		res.Notes = append(res.Notes, fmt.Sprintf("the fleet's servicemesh feature was not enabled by meshctl (no %s=%s label): it stays; %s", OwnerLabel, mesh.ManagedBy, disable))
	case len(users) > 0:
		res.Notes = append(res.Notes, fmt.Sprintf("the fleet's servicemesh feature stays: meshctl enabled it, but it still serves %s", strings.Join(users, ", ")))
	default:
		steps = append(steps, in.disableFeatureStep(res))
	}
	return steps
}

// plannedOnly records steps as planned in a dry run (and returns none to
// run), or returns them.
func (in Installer) plannedOnly(o Options, res *Result, steps []step) []step {
	if !o.DryRun {
		return steps
	}
	for _, s := range steps {
		res.step(s.name, ActionPlanned, "%s", s.title())
	}
	return nil
}

// featureUsers are the memberships the servicemesh feature holds a spec or
// a state for, besides ref when ref is being removed.
func featureUsers(f *gkehub.Feature, ref MembershipRef, removingRef bool) []string {
	seen := map[string]bool{}
	add := func(key string) {
		r, err := ParseMembershipName(key)
		if err != nil || (removingRef && SameMembership(r, ref)) {
			return
		}
		seen[r.Location+"/"+r.ID] = true
	}
	for k := range f.MembershipSpecs {
		add(k)
	}
	for k := range f.MembershipStates {
		add(k)
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, "membership "+k)
	}
	slices.Sort(out)
	return out
}

// unregisterStep deletes the membership meshctl registered.
func (in Installer) unregisterStep(p *plan, res *Result) step {
	return step{name: StepUnregister, title: title("unregister membership " + p.ref.Name() + " (registered by meshctl)"), action: ActionDone,
		run: func(ctx context.Context, _ ui.Step) (string, error) {
			err := in.Fleet.DeleteMembership(ctx, p.ref)
			if IsNotFound(err) {
				return "membership " + p.ref.Name() + " was already gone", nil
			}
			if err != nil {
				return "", hubError("unregister membership "+p.ref.Name(), err, "gkehub.memberships.delete", res.FleetProject)
			}
			return "unregistered " + p.ref.Name(), nil
		}}
}

// disableFeatureStep deletes the servicemesh feature meshctl enabled.
func (in Installer) disableFeatureStep(res *Result) step {
	return step{name: StepDisableFeature, title: title("disable the servicemesh feature in " + res.FleetProject + " (enabled by meshctl, used by no other membership)"), action: ActionDone,
		run: func(ctx context.Context, _ ui.Step) (string, error) {
			err := in.Fleet.DeleteFeature(ctx, res.FleetProject)
			if IsNotFound(err) {
				return "the servicemesh feature was already disabled", nil
			}
			if err != nil {
				return "", hubError("disable the servicemesh feature", err, "gkehub.features.delete", res.FleetProject)
			}
			return "disabled the servicemesh feature of " + res.FleetProject, nil
		}}
}
