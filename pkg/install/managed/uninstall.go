package managed

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	gkehubv2 "google.golang.org/api/gkehub/v2"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	meshplan "github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// Uninstall sets the membership's mesh management to not installed, waits
// until the fleet has removed the managed control plane, and then removes
// the membership and the fleet's servicemesh feature when meshctl made them
// (OwnerLabel) and nothing else needs them, unless o.KeepMembership. What
// stays is said in the result's notes, with the command that removes it.
func (in Installer) Uninstall(ctx context.Context, o Options) (res Result, err error) {
	start := in.now()
	res = Result{Mode: "managed", Uninstall: true, Project: o.Project, Location: o.Location, Cluster: o.Cluster,
		FleetProject: o.fleetProject(), DryRun: o.DryRun, Timings: map[string]string{}}
	defer func() { res.Elapsed = in.now().Sub(start).Round(time.Millisecond).String() }()
	o.Channel = "" // uninstall removes whichever channel is there
	if err := o.Validate(); err != nil {
		return res, failure.Usage(err, "")
	}
	p, err := in.read(ctx, o, &res, true)
	if err != nil {
		return res, err
	}
	if !p.registered {
		res.Membership = ""
		res.step(StepRegister, ActionSkipped, "the cluster is not registered to the fleet of %s: nothing to remove", res.FleetProject)
		return res, nil
	}
	was, nothingSet, err := in.planRemoval(ctx, o, &res, p)
	if err != nil {
		return res, err
	}
	cleanup := in.planCleanup(o, &res, p)
	res.Permissions = in.Preflight.Check(ctx, p.uninstallChanges(res.FleetProject, !nothingSet && p.patch, cleanup))
	if cleanup = in.plannedOnly(o, &res, cleanup); o.DryRun {
		return res, nil
	}
	if err := res.Permissions.Err(); err != nil {
		return res, err
	}
	// The uninstall, step by step: the control plane first, then what
	// meshctl made for it.
	var steps []step
	if !nothingSet {
		if p.patch {
			steps = append(steps, in.managementStep(p, &res, ManagementNotInstalled, orUnset(was)))
		}
		steps = append(steps, in.waitStep(p, &res, true))
	}
	if err := in.runSteps(ctx, &res, steps); err != nil {
		return res, err
	}
	if !nothingSet {
		if err := in.confirmRemoved(ctx, &res); err != nil {
			return res, err
		}
	}
	if err := in.runSteps(ctx, &res, cleanup); err != nil {
		return res, err
	}
	res.NextStep = "move workloads off the managed revision: meshctl inject --namespace NAMESPACE --disable (or onto another revision)"
	return res, nil
}

// uninstallChanges are the fleet changes an uninstall's steps make, for
// the permission check: the membership's mesh management set to not
// installed (unless it is already, or was never set), and the removals
// cleanup plans (the membership, the servicemesh feature).
func (p *plan) uninstallChanges(fleetProject string, setManagement bool, cleanup []step) []meshplan.Change {
	membership := MembershipRef{Project: fleetProject, Location: p.ref.Location, ID: p.ref.ID}.Name()
	var out []meshplan.Change
	if setManagement {
		out = append(out, meshplan.Change{Kind: "membershipfeatures", Name: "servicemesh", Action: meshplan.Update,
			Resource: preflight.GoogleName("gkehub", membership+"/features/servicemesh")})
	}
	for _, s := range cleanup {
		switch s.name {
		case StepUnregister:
			out = append(out, meshplan.Change{Kind: "memberships", Name: p.ref.ID, Action: meshplan.Delete,
				Resource: preflight.GoogleName("gkehub", membership)})
		case StepDisableFeature:
			out = append(out, meshplan.Change{Kind: "features", Name: "servicemesh", Action: meshplan.Delete,
				Resource: preflight.GoogleName("gkehub", "projects/"+fleetProject+"/locations/global/features/servicemesh")})
		}
	}
	return out
}

// planRemoval reads the membership's management and decides what to write.
// It returns the management found, and nothingSet when the fleet never
// managed a control plane for the membership.
func (in Installer) planRemoval(ctx context.Context, o Options, res *Result, p *plan) (was string, nothingSet bool, err error) {
	var current *gkehubv2.FeatureSpec
	mf, err := in.Fleet.GetMembershipFeature(ctx, p.ref)
	switch {
	case IsNotFound(err):
	case err != nil:
		return "", true, hubError("read the membership's servicemesh spec", err, "gkehub.membershipfeatures.get", res.FleetProject)
	default:
		current = mf.Spec
	}
	// The revision to see leave the cluster: the one the fleet reports.
	before := MeshStatus{}
	if p.feature != nil {
		if key := FindKey(p.feature.MembershipStates, p.ref); key != "" {
			s := p.feature.MembershipStates[key]
			before = StatusFromV1(&s)
		}
	}
	if revisions := before.ReadyRevisions(); len(revisions) > 0 {
		res.Revision = revisions[0]
	}
	if current != nil && current.Servicemesh != nil {
		was = current.Servicemesh.Management
	}
	switch {
	case was == "" || was == "MANAGEMENT_UNSPECIFIED":
		if before.Removed() {
			res.step(StepManagement, ActionSkipped, "mesh management was never set for %s: nothing to remove", p.ref.ID)
			res.Management = was
			return was, true, nil
		}
		fallthrough
	case was != ManagementNotInstalled:
		p.spec, p.patch = desiredSpec(current, ManagementNotInstalled, "")
	}
	res.Management = ManagementNotInstalled
	switch {
	case !p.patch:
		res.step(StepManagement, ActionSkipped, "management is already %s", ManagementNotInstalled)
	case o.DryRun:
		res.step(StepManagement, ActionPlanned, "set management %s (gkehub v2 PATCH updateMask=spec)", ManagementNotInstalled)
	}
	return was, false, nil
}

// confirmRemoved waits until the revision's ControlPlaneRevision has left
// the cluster; one that stays is a warning, not a failure (the fleet has
// removed the control plane).
func (in Installer) confirmRemoved(ctx context.Context, res *Result) error {
	if res.Revision == "" || in.Dynamic == nil {
		return nil
	}
	gone, err := in.waitGone(ctx, res.Revision)
	switch {
	case err != nil:
		return err
	case gone:
		res.step(StepConfirm, ActionChecked, "ControlPlaneRevision %s has left istio-system", res.Revision)
	default:
		w := Problem{Code: "CPR_REMAINS", Explanation: "ControlPlaneRevision " + res.Revision + " is still in istio-system", Fix: "kubectl get controlplanerevisions -n istio-system"}
		res.Warnings = append(res.Warnings, w)
		in.reporter().Warnf("%s", w.Explanation)
	}
	return nil
}

func orUnset(s string) string {
	if s == "" {
		return "unset"
	}
	return s
}

// RenderText prints the result for a person.
func (r Result) RenderText(w io.Writer, s ui.Styles) error {
	verb := "install"
	if r.Uninstall {
		verb = "uninstall"
	}
	if r.DryRun {
		fmt.Fprintf(w, "%s\n", s.Heading("Would "+verb+" the managed control plane of "+r.Project+"/"+r.Location+"/"+r.Cluster))
	} else if r.Uninstall {
		fmt.Fprintf(w, "%s managed control plane removed from %s/%s/%s\n", s.OK("✓"), r.Project, r.Location, r.Cluster)
	} else {
		fmt.Fprintf(w, "%s managed control plane ready: revision %s (%s)\n", s.OK("✓"), r.Revision, orUnset(r.Implementation))
	}
	for _, st := range r.Steps {
		mark := map[string]string{ActionDone: s.OK("✓"), ActionSkipped: s.Faint("="), ActionPlanned: s.Warning("+"), ActionChecked: s.Faint("·")}[st.Action]
		fmt.Fprintf(w, "  %s %-15s %s\n", mark, st.Name, st.Detail)
	}
	if r.Membership != "" {
		fmt.Fprintf(w, "  membership      %s\n", r.Membership)
	}
	if r.Channel != "" && !r.Uninstall {
		fmt.Fprintf(w, "  channel         %s (%s)\n", r.Channel, r.ChannelSource)
	}
	if r.ControlPlaneRevision != nil {
		fmt.Fprintf(w, "  revision        %s/%s: %s\n", r.ControlPlaneRevision.Namespace, r.ControlPlaneRevision.Name, r.ControlPlaneRevision.Summary())
	}
	if r.Webhook != nil {
		fmt.Fprintf(w, "  webhook         %s (%s)\n", r.Webhook.Name, r.Webhook.ClientConfig)
		if r.Webhook.DefaultTag != "" {
			fmt.Fprintf(w, "  default tag     %s\n", r.Webhook.DefaultTag)
		}
	}
	if len(r.InjectionLabels) > 0 {
		fmt.Fprintf(w, "  inject with     %s (one of them, never both)\n", strings.Join(r.InjectionLabels, " or "))
	}
	if !r.DryRun {
		change := "no changes: everything was already so"
		if r.Changed {
			change = "changed"
		}
		fmt.Fprintf(w, "  took            %s (%s)\n", r.Elapsed, change)
	}
	for _, p := range r.Warnings {
		fmt.Fprintf(w, "%s %s\n", s.Warning("!"), p.String())
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "%s %s\n", s.Faint("note:"), n)
	}
	if r.NextStep != "" {
		fmt.Fprintf(w, "Next: %s\n", r.NextStep)
	}
	if r.DryRun && r.Permissions != nil { // a run that changes things has passed the check
		fmt.Fprintln(w)
		return r.Permissions.RenderText(w, s)
	}
	return nil
}
