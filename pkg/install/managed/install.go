// Package managed is `meshctl install --managed` and `uninstall --managed`:
// Google's managed control plane through the fleet API, as Google now
// recommends. An install registers the cluster as a fleet membership,
// enables the servicemesh feature, sets the membership's management to
// automatic, waits until the fleet reports the revision ready and confirms
// it in the cluster; an uninstall sets management to not installed and
// waits until the control plane is gone. Both first read everything and
// decide each step (a dry run stops there), then run the steps that are not
// already done, in order, through one runner (steps.go). Before any change
// an install runs check.ManagedChecks, so that what the fleet would refuse
// minutes later stops it at once, with the fix.
package managed

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/api/gkehub/v1"
	gkehubv2 "google.golang.org/api/gkehub/v2"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/check"
	"github.com/meshctl/meshctl/pkg/findings"
	meshplan "github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// Options are what `meshctl install --managed` (and `uninstall
// --managed`) were asked to do.
type Options struct {
	Project, Location, Cluster string
	// FleetProject hosts the fleet; empty means the cluster's project.
	FleetProject string
	// Membership is the membership's id; empty means the cluster's
	// existing membership, else the cluster's name.
	Membership string
	// Channel is rapid, regular or stable; empty means the one Google maps
	// from the cluster's GKE release channel.
	Channel    string
	SkipChecks bool
	DryRun     bool
	// KeepMembership (uninstall) keeps the membership and the servicemesh
	// feature even when meshctl made them.
	KeepMembership bool
}

// Validate rejects bad options before any API call.
func (o Options) Validate() error {
	var missing []string
	for _, f := range []struct{ flag, v string }{{"--project", o.Project}, {"--location", o.Location}, {"--cluster", o.Cluster}} {
		if f.v == "" {
			missing = append(missing, f.flag)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the cluster is not fully named: set %s (or use a gke_PROJECT_LOCATION_CLUSTER kube context)", strings.Join(missing, ", "))
	}
	if o.Channel != "" && !slices.Contains(Channels, o.Channel) {
		return fmt.Errorf("--channel %q: want one of %s", o.Channel, strings.Join(Channels, ", "))
	}
	if o.Membership != "" && !validMembershipID(o.Membership) {
		return fmt.Errorf("--membership %q: a membership name is lower-case letters, digits and dashes, starting and ending with a letter or digit, at most 63 characters (RFC 1123)", o.Membership)
	}
	return nil
}

func (o Options) fleetProject() string {
	if o.FleetProject != "" {
		return o.FleetProject
	}
	return o.Project
}

// Installer provisions (and removes) the managed Cloud Service Mesh
// control plane through the fleet API: membership, servicemesh feature,
// automatic management, and the wait until the fleet reports it ready.
type Installer struct {
	GKE   GKE
	Fleet Fleet
	// Services enables mesh.googleapis.com when the fleet says it is off;
	// nil means say how instead.
	Services ServiceUsage
	// Kube and Dynamic read the cluster to confirm what the fleet reports;
	// nil skips the confirmation (dry runs).
	Kube     kubernetes.Interface
	Dynamic  dynamic.Interface
	Reporter ui.Reporter
	// MinPoll and MaxPoll pace the status polling: every MinPoll at first,
	// then every tenth of the time waited, up to MaxPoll (defaults 1s and
	// 15s).
	MinPoll, MaxPoll time.Duration
	// ConfirmTimeout bounds the wait for the in-cluster objects once the
	// fleet reports the control plane ready (default 5 minutes).
	ConfirmTimeout time.Duration
	// APIRetryDelay paces features.create retries while an API enablement
	// propagates (default one second, growing 1.75x as gcloud's does).
	APIRetryDelay time.Duration
	Now           func() time.Time
	// Preflight checks, before the first change, that the caller may make
	// every change the install plans; nil checks nothing.
	Preflight *preflight.Checker
}

// Step names of a managed install, in order.
const (
	StepReadCluster   = "read-cluster"
	StepPrechecks     = "prechecks"
	StepRegister      = "register"
	StepEnableFeature = "enable-feature"
	StepManagement    = "set-management"
	StepWait          = "wait"
	StepConfirm       = "confirm"
)

// Step actions.
const (
	ActionDone    = "done"    // the step changed something
	ActionSkipped = "skipped" // already so: nothing to change
	ActionPlanned = "planned" // a dry run would do it
	ActionChecked = "checked" // read-only steps
)

// StepResult is one step and what became of it.
type StepResult struct {
	Name   string `json:"name"`
	Action string `json:"action"`
	Detail string `json:"detail"`
}

// Result is what a managed install or uninstall did.
type Result struct {
	Mode         string `json:"mode"` // "managed"
	Project      string `json:"project"`
	Location     string `json:"location"`
	Cluster      string `json:"cluster"`
	FleetProject string `json:"fleetProject"`
	// Membership is the membership's full name.
	Membership    string `json:"membership"`
	Channel       string `json:"channel,omitempty"`
	ChannelSource string `json:"channelSource,omitempty"`
	// Revision is the managed revision (asm-managed, asm-managed-rapid or
	// asm-managed-stable).
	Revision             string       `json:"revision,omitempty"`
	Implementation       string       `json:"implementation,omitempty"`
	Management           string       `json:"management,omitempty"`
	Status               *MeshStatus  `json:"status,omitempty"`
	ControlPlaneRevision *CPRInfo     `json:"controlPlaneRevision,omitempty"`
	Webhook              *WebhookInfo `json:"webhook,omitempty"`
	InjectionLabels      []string     `json:"injectionLabels,omitempty"`
	EnabledAPIs          []string     `json:"enabledApis,omitempty"`
	Steps                []StepResult `json:"steps"`
	// Precheck are the findings that stopped an install before any change
	// (check.ManagedChecks).
	Precheck []findings.Finding `json:"precheck,omitempty"`
	Warnings []Problem          `json:"warnings,omitempty"`
	Notes    []string           `json:"notes,omitempty"`
	// Permissions are what the planned changes need, as the check before
	// the first one found them.
	Permissions *preflight.Report `json:"permissions,omitempty"`
	Changed     bool              `json:"changed"`
	DryRun      bool              `json:"dryRun,omitempty"`
	Uninstall   bool              `json:"uninstall,omitempty"`
	NextStep    string            `json:"nextStep,omitempty"`
	Elapsed     string            `json:"elapsed"`
	Timings     map[string]string `json:"timings,omitempty"`
}

func (r *Result) step(name, action, format string, args ...any) {
	r.Steps = append(r.Steps, StepResult{Name: name, Action: action, Detail: fmt.Sprintf(format, args...)})
	if action == ActionDone {
		r.Changed = true
	}
}

// plan is what a run found and decided before changing anything.
type plan struct {
	cluster    *containerpb.Cluster
	clusterRef ClusterRef
	fix        FixContext
	ref        MembershipRef
	registered bool
	// membershipLabels are the registered membership's Google labels
	// (OwnerLabel marks one meshctl registered).
	membershipLabels map[string]string
	feature          *gkehub.Feature // nil: not enabled
	spec             *gkehubv2.FeatureSpec
	patch            bool
	channel          string
	revision         string
	projectNumber    string
}

func (in Installer) now() time.Time {
	if in.Now != nil {
		return in.Now()
	}
	return time.Now()
}

func (in Installer) reporter() ui.Reporter {
	if in.Reporter == nil {
		return ui.Discard
	}
	return in.Reporter
}

// Install provisions the managed control plane, skipping every step already
// done, and waits until the fleet reports it ready; with DryRun it only
// reads and reports what it would do.
func (in Installer) Install(ctx context.Context, o Options) (res Result, err error) {
	start := in.now()
	res = Result{Mode: "managed", Project: o.Project, Location: o.Location, Cluster: o.Cluster,
		FleetProject: o.fleetProject(), DryRun: o.DryRun, Timings: map[string]string{}}
	defer func() { res.Elapsed = in.now().Sub(start).Round(time.Millisecond).String() }()
	if err := o.Validate(); err != nil {
		return res, failure.Usage(err, "")
	}
	p, err := in.read(ctx, o, &res, false)
	if err != nil {
		return res, err
	}
	res.Permissions = in.Preflight.Check(ctx, p.installChanges(res.FleetProject))
	if o.DryRun {
		res.NextStep = "meshctl install --managed (without --dry-run)"
		return res, nil
	}
	if err := res.Permissions.Err(); err != nil {
		return res, err
	}
	// The install, step by step; each is left out when already done.
	var steps []step
	if !p.registered {
		steps = append(steps, in.registerStep(p))
	}
	if p.feature == nil {
		steps = append(steps, in.featureStep(&res))
	}
	if p.patch {
		steps = append(steps, in.managementStep(p, &res, ManagementAutomatic, ""))
	}
	res.Management = ManagementAutomatic
	steps = append(steps, in.waitStep(p, &res, false))
	if in.Kube != nil {
		steps = append(steps, in.confirmStep(&res))
	}
	if err := in.runSteps(ctx, &res, steps); err != nil {
		return res, err
	}
	res.NextStep = "meshctl inject --namespace NAMESPACE --revision " + res.Revision
	return res, nil
}

// installChanges are the fleet changes the install's steps make, for the
// permission check: the membership unless registered, the servicemesh
// feature unless enabled, and the membership's mesh management unless set.
// Enabling mesh.googleapis.com is left out: the install does it only when
// the fleet reports the API off, and a 403 then still names the permission.
func (p *plan) installChanges(fleetProject string) []meshplan.Change {
	membership := MembershipRef{Project: fleetProject, Location: p.ref.Location, ID: p.ref.ID}.Name()
	var out []meshplan.Change
	if !p.registered {
		out = append(out, meshplan.Change{Kind: "memberships", Name: p.ref.ID, Action: meshplan.Create,
			Resource: preflight.GoogleName("gkehub", membership)})
	}
	if p.feature == nil {
		out = append(out, meshplan.Change{Kind: "features", Name: "servicemesh", Action: meshplan.Create,
			Resource: preflight.GoogleName("gkehub", "projects/"+fleetProject+"/locations/global/features/servicemesh")})
	}
	if p.patch {
		out = append(out, meshplan.Change{Kind: "membershipfeatures", Name: "servicemesh", Action: meshplan.Update,
			Resource: preflight.GoogleName("gkehub", membership+"/features/servicemesh")})
	}
	return out
}

// registerStep registers the cluster as a fleet membership.
func (in Installer) registerStep(p *plan) step {
	return step{name: StepRegister, title: title("register " + p.ref.Name()), action: ActionDone,
		run: func(ctx context.Context, _ ui.Step) (string, error) {
			c := p.clusterRef
			return fmt.Sprintf("registered %s with workload identity (issuer %s)", p.ref.Name(), ClusterIssuer(c.Project, c.Location, c.Name)), in.register(ctx, p)
		}}
}

// featureStep enables the fleet's servicemesh feature (and the mesh API
// when it is off).
func (in Installer) featureStep(res *Result) step {
	return step{name: StepEnableFeature, title: title("enable the servicemesh feature in " + res.FleetProject), action: ActionDone,
		run: func(ctx context.Context, progress ui.Step) (string, error) {
			enabled, err := in.enableFeature(ctx, res.FleetProject, progress)
			res.EnabledAPIs = enabled
			if len(enabled) > 0 {
				return "enabled " + strings.Join(enabled, ", ") + ", then the servicemesh feature", err
			}
			return "enabled the servicemesh feature", err
		}}
}

// managementStep writes the membership's mesh management (gkehub v2);
// was is the management it replaces, for the detail ("" to leave it out).
func (in Installer) managementStep(p *plan, res *Result, management, was string) step {
	t := "set management of " + p.ref.ID + " to automatic"
	if management == ManagementNotInstalled {
		t = "set management of " + p.ref.ID + " to not installed"
	}
	return step{name: StepManagement, title: title(t), action: ActionDone,
		run: func(ctx context.Context, _ ui.Step) (string, error) {
			if err := in.Fleet.PatchMembershipFeature(ctx, p.ref, p.spec); err != nil {
				return "", hubError("set the membership's mesh management", err, "gkehub.membershipfeatures.update", res.FleetProject)
			}
			if was != "" {
				return fmt.Sprintf("management %s (was %s)", management, was), nil
			}
			return fmt.Sprintf("management %s%s", management, channelNote(p.spec)), nil
		}}
}

// waitStep waits until the fleet reports the control plane ready (or, for
// an uninstall, gone).
func (in Installer) waitStep(p *plan, res *Result, uninstall bool) step {
	t := "wait for the managed control plane " + p.revision
	if uninstall {
		t = "wait for the fleet to remove the managed control plane"
	}
	return step{name: StepWait, title: title(t), action: ActionChecked,
		run: func(ctx context.Context, progress ui.Step) (string, error) {
			status, a, err := in.wait(ctx, res.FleetProject, p, progress, uninstall)
			res.Status = &status
			if err != nil {
				progress.Fail(errors.New(status.Summary()))
				if !uninstall {
					res.Implementation, res.Warnings = status.Implementation, a.Problems
				}
				return "", err
			}
			if !uninstall {
				res.Implementation, res.Warnings, res.Revision = status.Implementation, a.Problems, a.Revision
				for _, w := range a.Problems {
					in.reporter().Warnf("%s: %s", w.Code, w.Explanation)
				}
			}
			return status.Summary(), nil
		}}
}

// confirmStep waits until the cluster shows the ready revision: its
// ControlPlaneRevision and its injection webhook.
func (in Installer) confirmStep(res *Result) step {
	return step{name: StepConfirm, title: func() string { return "confirm revision " + res.Revision + " in the cluster" }, action: ActionChecked,
		run: func(ctx context.Context, _ ui.Step) (string, error) {
			cpr, hook, labels, err := in.confirm(ctx, res.Revision)
			if err != nil {
				return "", err
			}
			res.ControlPlaneRevision, res.Webhook, res.InjectionLabels = cpr, hook, labels
			return fmt.Sprintf("ControlPlaneRevision %s %s; webhook %s (%s)", cpr.Name, cpr.Summary(), hook.Name, hook.ClientConfig), nil
		}}
}

func channelNote(spec *gkehubv2.FeatureSpec) string {
	if spec != nil && spec.Servicemesh != nil && spec.Servicemesh.DefaultChannel != "" {
		return ", channel " + spec.Servicemesh.DefaultChannel
	}
	return ""
}

// read gathers everything a run needs and decides each step, changing
// nothing: the cluster, the checks the fleet would otherwise fail (install
// only), the membership, then the feature and the management. For an
// uninstall it stops after the membership.
func (in Installer) read(ctx context.Context, o Options, res *Result, uninstall bool) (*plan, error) {
	p := &plan{}
	if err := in.readCluster(ctx, o, res, p); err != nil {
		return nil, err
	}
	if !uninstall {
		if err := precheck(o, res, p); err != nil {
			return nil, err
		}
	}
	if err := in.lookupMembership(ctx, o, res, p, uninstall); err != nil || uninstall {
		return p, err
	}
	return p, in.planManagement(ctx, o, res, p)
}

// readCluster reads the cluster from the GKE API.
func (in Installer) readCluster(ctx context.Context, o Options, res *Result, p *plan) error {
	clusterName := fmt.Sprintf("projects/%s/locations/%s/clusters/%s", o.Project, o.Location, o.Cluster)
	st := in.reporter().Step("read cluster " + o.Project + "/" + o.Location + "/" + o.Cluster)
	cl, err := in.GKE.GetCluster(ctx, clusterName)
	if err != nil {
		err = clusterError(err, o)
		st.Fail(err)
		return err
	}
	st.Done()
	p.cluster = cl
	loc := cl.GetLocation()
	if loc == "" {
		loc = o.Location
	}
	res.Location = loc
	p.clusterRef = ClusterRef{Project: o.Project, Location: loc, Name: o.Cluster}
	p.fix = FixContext{Project: o.Project, Location: loc, Cluster: o.Cluster, FleetProject: res.FleetProject,
		PoolsWithoutGKEMetadata: check.PoolsWithoutGKEMetadata(cl)}
	res.step(StepReadCluster, ActionChecked, "GKE %s, release channel %s, workload pool %q", cl.GetCurrentMasterVersion(),
		cl.GetReleaseChannel().GetChannel().String(), cl.GetWorkloadIdentityConfig().GetWorkloadPool())
	return nil
}

// precheck runs check's managed control plane checks (check.ManagedChecks)
// on the cluster, so that an install stops, with findings and their fixes,
// before it changes anything the fleet would then refuse.
func precheck(o Options, res *Result, p *plan) error {
	if o.SkipChecks {
		res.step(StepPrechecks, ActionSkipped, "--skip-checks")
		return nil
	}
	found := check.Managed(p.cluster, check.Options{Project: o.Project, Location: p.clusterRef.Location, Cluster: o.Cluster})
	if len(found) == 0 {
		res.step(StepPrechecks, ActionChecked, "workload identity, node pools' metadata server, nodes")
		return nil
	}
	res.Precheck = found
	res.step(StepPrechecks, ActionChecked, "%d problem(s)", len(found))
	var lines, fixes []string
	for _, f := range found {
		lines = append(lines, f.String())
		if f.Hint != "" {
			fixes = append(fixes, f.Hint)
		}
	}
	err := fmt.Errorf("the cluster does not meet the managed control plane's requirements; nothing was changed:\n  %s", strings.Join(lines, "\n  "))
	return &failure.Error{Err: err, Code: failure.ExitProblems,
		Hint: strings.Join(fixes, "\n") + "\nthen run `meshctl install --managed` again (or skip these checks with --skip-checks)"}
}

// lookupMembership finds the cluster's membership and the servicemesh
// feature, and decides whether to register.
func (in Installer) lookupMembership(ctx context.Context, o Options, res *Result, p *plan, uninstall bool) error {
	st := in.reporter().Step("look up the cluster's fleet membership in " + res.FleetProject)
	mems, err := in.Fleet.ListMemberships(ctx, res.FleetProject)
	if err != nil {
		err = hubError("list fleet memberships", err, "gkehub.memberships.list", res.FleetProject)
		st.Fail(err)
		return err
	}
	feat, err := in.Fleet.GetFeature(ctx, res.FleetProject)
	switch {
	case IsNotFound(err):
		feat = nil
	case err != nil:
		err = hubError("read the servicemesh feature", err, "gkehub.features.get", res.FleetProject)
		st.Fail(err)
		return err
	}
	p.feature = feat
	if feat != nil && res.FleetProject == o.Project {
		p.projectNumber = projectNumberFromKeys(feat)
	}
	ref, registered, err := chooseMembership(mems, p.clusterRef, p.projectNumber, o.Membership, res.FleetProject)
	if err != nil {
		st.Fail(err)
		return err
	}
	st.Done()
	p.ref, p.registered = ref, registered
	for _, m := range mems {
		if other, err := ParseMembershipName(m.Name); err == nil && registered && SameMembership(other, ref) {
			p.membershipLabels = m.Labels
		}
	}
	p.fix.Membership, p.fix.MembershipLocation = ref.ID, ref.Location
	res.Membership = ref.Name()
	switch {
	case registered:
		res.step(StepRegister, ActionSkipped, "the cluster is registered as %s", ref.Name())
	case !uninstall && o.DryRun:
		res.step(StepRegister, ActionPlanned, "register %s (location %s: the cluster's, as gcloud does) with workload identity", ref.Name(), ref.Location)
	}
	return nil
}

// planManagement decides the feature's enablement, the channel (and so
// the revision) and whether the membership's management must be written.
func (in Installer) planManagement(ctx context.Context, o Options, res *Result, p *plan) error {
	if p.feature != nil {
		res.step(StepEnableFeature, ActionSkipped, "the servicemesh feature is enabled (%s)", resourceState(p.feature))
	} else if o.DryRun {
		res.step(StepEnableFeature, ActionPlanned, "enable the servicemesh feature (and %s if it is off)", MeshAPI)
	}
	var current *gkehubv2.FeatureSpec
	if p.registered {
		mf, err := in.Fleet.GetMembershipFeature(ctx, p.ref)
		switch {
		case IsNotFound(err):
		case err != nil:
			return hubError("read the membership's servicemesh spec", err, "gkehub.membershipfeatures.get", res.FleetProject)
		default:
			current = mf.Spec
		}
	}
	wantChannel := chooseChannel(o, res, p, current)
	p.spec, p.patch = desiredSpec(current, ManagementAutomatic, wantChannel)
	switch {
	case !p.patch:
		res.step(StepManagement, ActionSkipped, "management is already %s%s", ManagementAutomatic, channelNote(current))
	case o.DryRun:
		res.step(StepManagement, ActionPlanned, "set management %s%s (gkehub v2 PATCH updateMask=spec)", ManagementAutomatic, channelNote(p.spec))
	}
	return nil
}

// chooseChannel picks the channel, and so the revision: --channel, else the
// membership's defaultChannel, else the one Google maps from the cluster's
// GKE release channel. It returns the defaultChannel to write ("" to leave
// it as it is).
func chooseChannel(o Options, res *Result, p *plan, current *gkehubv2.FeatureSpec) string {
	gkeChannel := p.cluster.GetReleaseChannel().GetChannel().String()
	mapped, documented := ChannelForGKE(strings.TrimPrefix(gkeChannel, "RELEASE_CHANNEL_"))
	p.channel, res.ChannelSource = mapped, "GKE release channel "+gkeChannel
	if !documented {
		res.Notes = append(res.Notes, fmt.Sprintf("GKE release channel %s has no documented managed channel; %s assumed (set --channel to choose)", gkeChannel, mapped))
	}
	wantChannel := ""
	switch {
	case o.Channel != "":
		p.channel, res.ChannelSource = o.Channel, "--channel"
		if o.Channel != mapped {
			wantChannel = fleetChannel(o.Channel)
		}
	case current != nil && current.Servicemesh != nil && current.Servicemesh.DefaultChannel != "" && current.Servicemesh.DefaultChannel != "CHANNEL_UNSPECIFIED":
		p.channel, res.ChannelSource = strings.ToLower(current.Servicemesh.DefaultChannel), "the membership's defaultChannel"
	}
	res.Channel = p.channel
	p.revision = RevisionForChannel(p.channel)
	res.Revision = p.revision
	return wantChannel
}

// desiredSpec returns the membership's servicemesh spec with management
// set (and defaultChannel, when channel is not empty), keeping the other
// fields as gcloud does, and whether that differs from current.
func desiredSpec(current *gkehubv2.FeatureSpec, management, channel string) (*gkehubv2.FeatureSpec, bool) {
	next := &gkehubv2.FeatureSpec{}
	if current != nil {
		c := *current
		next = &c
	}
	sm := &gkehubv2.ServiceMeshSpec{}
	if next.Servicemesh != nil {
		c := *next.Servicemesh
		sm = &c
	}
	changed := sm.Management != management
	sm.Management = management
	if channel != "" && sm.DefaultChannel != channel {
		sm.DefaultChannel = channel
		changed = true
	}
	next.Servicemesh = sm
	return next, changed
}

func resourceState(f *gkehub.Feature) string {
	if f.ResourceState != nil && f.ResourceState.State != "" {
		return f.ResourceState.State
	}
	return "state not reported"
}

// projectNumberFromKeys learns the fleet project's number from the
// feature's membership keys, which Google writes with it.
func projectNumberFromKeys(f *gkehub.Feature) string {
	for k := range f.MembershipStates {
		if ref, err := ParseMembershipName(k); err == nil && isNumber(ref.Project) {
			return ref.Project
		}
	}
	for k := range f.MembershipSpecs {
		if ref, err := ParseMembershipName(k); err == nil && isNumber(ref.Project) {
			return ref.Project
		}
	}
	return ""
}

// membershipLocation is where gcloud registers a GKE cluster: the cluster's
// region (a zonal cluster's zone's region).
func membershipLocation(clusterLocation string) string {
	if i := strings.LastIndex(clusterLocation, "-"); i > 0 && len(clusterLocation)-i == 2 {
		c := clusterLocation[len(clusterLocation)-1]
		if c >= 'a' && c <= 'z' {
			return clusterLocation[:i]
		}
	}
	return clusterLocation
}

// chooseMembership finds the cluster's membership by its resource link, in
// whatever location it was registered (the regional-membership-addressed-
// as-global mistake cannot happen), or names the one to create.
func chooseMembership(mems []*gkehub.Membership, cluster ClusterRef, projectNumber, want, fleetProject string) (MembershipRef, bool, error) {
	for _, m := range mems {
		if m == nil || m.Endpoint == nil || m.Endpoint.GkeCluster == nil {
			continue
		}
		if !cluster.Matches(m.Endpoint.GkeCluster.ResourceLink, projectNumber) {
			continue
		}
		ref, err := ParseMembershipName(m.Name)
		if err != nil {
			return MembershipRef{}, false, err
		}
		if want != "" && ref.ID != want {
			return MembershipRef{}, false, failure.WithHint(
				fmt.Errorf("the cluster is already registered as membership %s (location %s); a cluster belongs to one membership", ref.ID, ref.Location),
				fmt.Sprintf("use --membership %s, or leave --membership out", ref.ID))
		}
		if m.State != nil && m.State.Code == "DELETING" {
			return MembershipRef{}, false, failure.WithHint(fmt.Errorf("membership %s is being unregistered", ref.Name()),
				"wait until `gcloud container fleet memberships list --project "+fleetProject+"` no longer shows it, then run meshctl again")
		}
		return ref, true, nil
	}
	id := want
	if id == "" {
		id = cluster.Name
	}
	ref := MembershipRef{Project: fleetProject, Location: membershipLocation(cluster.Location), ID: id}
	for _, m := range mems {
		other, err := ParseMembershipName(m.Name)
		if err != nil || other.ID != id || other.Location != ref.Location {
			continue
		}
		link := ""
		if m.Endpoint != nil && m.Endpoint.GkeCluster != nil {
			link = m.Endpoint.GkeCluster.ResourceLink
		}
		return MembershipRef{}, false, failure.WithHint(
			fmt.Errorf("membership %s already exists for another cluster (%s)", other.Name(), orUnknown(link)),
			"choose another name with --membership NAME")
	}
	return ref, false, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "not a GKE cluster"
	}
	return s
}

func (in Installer) register(ctx context.Context, p *plan) error {
	c := p.clusterRef
	m := &gkehub.Membership{
		Endpoint:  &gkehub.MembershipEndpoint{GkeCluster: &gkehub.GkeCluster{ResourceLink: ClusterResourceLink(c.Project, c.Location, c.Name)}},
		Authority: &gkehub.Authority{Issuer: ClusterIssuer(c.Project, c.Location, c.Name)},
		// Recorded as meshctl's: `uninstall --managed` removes it.
		Labels: ownerLabels(),
	}
	err := in.Fleet.CreateMembership(ctx, p.ref, m)
	if httpCode(err) == http.StatusConflict {
		// Registered meanwhile (another run): take it if it is this cluster's.
		mems, lerr := in.Fleet.ListMemberships(ctx, p.ref.Project)
		if lerr == nil {
			if ref, ok, cerr := chooseMembership(mems, c, p.projectNumber, p.ref.ID, p.ref.Project); cerr == nil && ok && ref.ID == p.ref.ID {
				return nil
			}
		}
	}
	if err != nil {
		return hubError("register the cluster as membership "+p.ref.Name(), err, "gkehub.memberships.create", p.ref.Project)
	}
	return nil
}

// enableFeature creates the servicemesh feature. When the fleet answers
// that mesh.googleapis.com is not enabled, it enables the API and retries
// while the enablement propagates, as `gcloud container fleet mesh enable`
// does. It returns the APIs it enabled.
func (in Installer) enableFeature(ctx context.Context, project string, st ui.Step) ([]string, error) {
	var enabled []string
	delay := in.APIRetryDelay
	if delay <= 0 {
		delay = time.Second
	}
	retries := 0
	for {
		err := in.Fleet.CreateFeature(ctx, project)
		switch {
		case err == nil:
			return enabled, nil
		case httpCode(err) == http.StatusConflict:
			return enabled, nil // enabled meanwhile
		case apiNotEnabled(err, MeshAPI) && len(enabled) == 0:
			if in.Services == nil {
				return nil, failure.WithHint(fmt.Errorf("%s is not enabled in project %s", MeshAPI, project),
					fmt.Sprintf("run `gcloud services enable %s --project %s`, then meshctl again", MeshAPI, project))
			}
			st.Progressf("%s is not enabled in %s: enabling it", MeshAPI, project)
			in.reporter().Infof("enabling %s in project %s (the servicemesh feature needs it)", MeshAPI, project)
			if err := in.Services.EnableService(ctx, project, MeshAPI); err != nil {
				return nil, hubError("enable "+MeshAPI, err, "serviceusage.services.enable", project)
			}
			enabled = append(enabled, MeshAPI)
		case apiNotEnabled(err, MeshAPI) && retries < 4:
			// The enablement takes a moment to reach the fleet API.
			retries++
			st.Progressf("waiting for the %s enablement to reach the fleet API", MeshAPI)
			if err := sleep(ctx, delay); err != nil {
				return enabled, err
			}
			delay = delay * 7 / 4
		default:
			return enabled, hubError("enable the servicemesh feature", err, "gkehub.features.create", project)
		}
	}
}

// wait polls the servicemesh feature until the membership's control plane
// is ready (or, for an uninstall, gone), has failed, or ctx ends.
func (in Installer) wait(ctx context.Context, fleetProject string, p *plan, st ui.Step, uninstall bool) (MeshStatus, Assessment, error) {
	minPoll, maxPoll := in.MinPoll, in.MaxPoll
	if minPoll <= 0 {
		minPoll = time.Second
	}
	if maxPoll < minPoll {
		maxPoll = max(minPoll, 15*time.Second)
	}
	start := in.now()
	var (
		status      MeshStatus
		assessment  Assessment
		lastSummary string
		lastShown   time.Time
		failures    int
	)
	for {
		feat, err := in.Fleet.GetFeature(ctx, fleetProject)
		switch {
		case err == nil:
			failures = 0
			if p.fix.FleetProjectNumber == "" {
				p.fix.FleetProjectNumber = projectNumberFromKeys(feat)
			}
			key := FindKey(feat.MembershipStates, p.ref)
			var ms *gkehub.MembershipFeatureState
			if key != "" {
				s := feat.MembershipStates[key]
				ms = &s
			}
			status = StatusFromV1(ms)
			if uninstall {
				assessment = Assessment{Phase: PhaseWaiting}
				if status.Removed() {
					assessment.Phase = PhaseRemoved
				}
			} else {
				assessment = status.Assess(p.revision, p.fix)
			}
		case IsNotFound(err) && uninstall:
			status, assessment = MeshStatus{}, Assessment{Phase: PhaseRemoved}
		case ctx.Err() != nil:
		default:
			failures++
			if failures > 3 || (httpCode(err) != 0 && httpCode(err) < 500 && httpCode(err) != http.StatusTooManyRequests) {
				return status, assessment, hubError("read the servicemesh feature", err, "gkehub.features.get", fleetProject)
			}
		}
		elapsed := in.now().Sub(start).Round(time.Second)
		if summary := status.Summary(); summary != lastSummary || in.now().Sub(lastShown) >= time.Minute {
			st.Progressf("%s (%s)", summary, elapsed)
			lastSummary, lastShown = summary, in.now()
		}
		switch assessment.Phase {
		case PhaseReady, PhaseRemoved:
			return status, assessment, nil
		case PhaseFailed:
			return status, assessment, failedError(status, assessment, p)
		}
		// Poll often early (the simulator takes seconds), then about every
		// tenth of the time waited so far, up to MaxPoll (Google takes
		// minutes).
		interval := min(max(minPoll, in.now().Sub(start)/10), maxPoll)
		if err := sleep(ctx, interval); err != nil {
			return status, assessment, timeoutError(err, status, in.now().Sub(start).Round(time.Second), uninstall)
		}
	}
}

func failedError(s MeshStatus, a Assessment, p *plan) error {
	var lines, fixes []string
	for _, pr := range a.Problems {
		if !pr.Blocking {
			continue
		}
		lines = append(lines, pr.Code+": "+pr.Explanation)
		if pr.Fix != "" && !slices.Contains(fixes, pr.Fix) {
			fixes = append(fixes, pr.Fix)
		}
	}
	err := fmt.Errorf("the fleet cannot provision the managed control plane for %s (%s):\n  %s", p.ref.ID, s.Summary(), strings.Join(lines, "\n  "))
	hint := strings.Join(fixes, "\n")
	if hint != "" {
		hint += "\n"
	}
	hint += "then run `meshctl install --managed` again: it skips the steps already done"
	return failure.WithHint(err, hint)
}

func timeoutError(err error, s MeshStatus, elapsed time.Duration, uninstall bool) error {
	if !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if uninstall {
		return failure.WithHint(fmt.Errorf("the managed control plane was not removed after %s (%s): %w", elapsed, s.Summary(), err),
			"Google keeps deprovisioning in the background; run `meshctl uninstall --managed` again to keep waiting, or raise --timeout")
	}
	return failure.WithHint(fmt.Errorf("the managed control plane is not ready after %s (%s): %w", elapsed, s.Summary(), err),
		"Google keeps provisioning in the background (it can take 5 to 60 minutes): run `meshctl install --managed` again to keep waiting (it skips the steps already done), or raise --timeout (e.g. --timeout 60m)")
}

func clusterError(err error, o Options) error {
	switch httpCode(err) {
	case http.StatusNotFound:
		return failure.WithHint(fmt.Errorf("cluster %s not found in %s (project %s): %w", o.Cluster, o.Location, o.Project, err),
			fmt.Sprintf("list the clusters with `gcloud container clusters list --project %s`, then set --location and --cluster", o.Project))
	case http.StatusForbidden:
		return failure.WithHint(fmt.Errorf("read cluster %s: %w", o.Cluster, err), "meshctl needs container.clusters.get (roles/container.clusterViewer)")
	}
	return fmt.Errorf("read cluster %s: %w", o.Cluster, err)
}

// hubError says what failed and, for a 403, which permission or API.
func hubError(what string, err error, permission, project string) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch httpCode(err) {
	case http.StatusForbidden:
		msg := errorMessage(err)
		if strings.Contains(msg, "has not been used") || strings.Contains(msg, "is disabled") || strings.Contains(msg, "SERVICE_DISABLED") {
			return failure.WithHint(fmt.Errorf("%s: %s", what, msg), "run `gcloud services enable gkehub.googleapis.com --project "+project+"`")
		}
		return failure.WithHint(fmt.Errorf("%s: %s", what, msg), "meshctl needs "+permission+" in project "+project+" (roles/gkehub.admin has it)")
	case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict:
		return fmt.Errorf("%s: %s", what, errorMessage(err))
	}
	return fmt.Errorf("%s: %w", what, err)
}
