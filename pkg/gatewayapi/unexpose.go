package gatewayapi

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/expose"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
)

// UnexposeOptions is what `meshctl unexpose svc` runs with for a Service
// exposed through a GKE Gateway.
type UnexposeOptions struct {
	Unexpose         expose.UnexposeOptions
	Project, Cluster string
	// Timeout bounds each wait for the controller (zero: the default).
	Timeout      time.Duration
	PollInterval time.Duration
}

// Exposed reports whether meshctl exposed the Service through a GKE
// Gateway: whether it made an HTTPRoute or a HealthCheckPolicy for it
// (the policy goes last, so that an unexpose cut short is found again).
func Exposed(ctx context.Context, c kube.Objects, namespace, service, gatewayNamespace string) (bool, error) {
	e, err := FindExposure(ctx, c, namespace, service, gatewayNamespace)
	return e != nil, err
}

// Exposure is where a Service is on a GKE Gateway, as its objects say:
// the namespace of the Gateway and of the mesh gateway's Service.
type Exposure struct {
	Namespace   string `json:"namespace"`
	Gateway     string `json:"gateway"`
	MeshGateway string `json:"meshGateway"`
}

// FindExposure finds the Service's route, else its policies (labelled
// with their Gateway); nil when there are none.
func FindExposure(ctx context.Context, c kube.Objects, namespace, service, fallback string) (*Exposure, error) {
	routes, err := ownedRoutes(ctx, c, namespace, service, fallback)
	if err != nil {
		return nil, err
	}
	if len(routes) > 1 {
		return nil, fmt.Errorf("Service %s/%s has %d HTTPRoutes of meshctl's; expected one", namespace, service, len(routes)) //nolint:staticcheck // ST1005: Service is the Kubernetes kind, spelt as kubectl does
	}
	for _, r := range routes {
		return &Exposure{Namespace: r.Namespace, Gateway: attachedGateway(r), MeshGateway: r.Name}, nil
	}
	for _, k := range []kind{kHealthCheckPolicy, kBackendPolicy} {
		items, err := owned(ctx, c, k, namespace, service, fallback)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if gw := it.GetLabels()[LabelGateway]; gw != "" {
				return &Exposure{Namespace: it.GetNamespace(), Gateway: gw, MeshGateway: it.GetName()}, nil
			}
		}
	}
	return nil, nil
}

// UnexposeResult is what unexpose removed: the mesh gateway (pkg/expose)
// and the Service's part of its GKE Gateway.
type UnexposeResult struct {
	*expose.UnexposeResult
	GatewayAPI *TeardownResult `json:"gatewayAPI,omitempty"`
}

// TeardownResult is the GKE Gateway's part of an unexpose.
type TeardownResult struct {
	Gateway string `json:"gateway"`
	// GatewayRemoved: no other route used the Gateway, so it went, and
	// with it everything GKE's controller and meshctl made for it.
	GatewayRemoved bool          `json:"gatewayRemoved"`
	Changes        []plan.Change `json:"changes"`
	Certificates   []plan.Change `json:"certificates,omitempty"`
	Compute        *lb.Result    `json:"compute,omitempty"`
	// ControllerRemoved are the Compute resources GKE's controller
	// deleted, seen gone.
	ControllerRemoved []string `json:"controllerRemoved,omitempty"`
	Warnings          []string `json:"warnings,omitempty"`
	DryRun            bool     `json:"dryRun,omitempty"`
}

// Unexpose removes the Service from its GKE Gateway (and the Gateway when
// no other route uses it), waits for GKE's controller to remove what it
// made, and then deletes the mesh gateway as pkg/expose does. The user's
// address, certificate, certificate map and policies stay.
func Unexpose(ctx context.Context, cl Clients, r ui.Reporter, opts UnexposeOptions) (*UnexposeResult, error) {
	if opts.Timeout == 0 {
		opts.Timeout = DefaultProgramTimeout
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Second
	}
	out := &UnexposeResult{}
	// The hook plans before anything is deleted, so that the permission
	// check covers the Gateway's part with the mesh gateway's.
	var tp *teardownPlan
	hook := expose.TeardownHook{Name: "remove the Service from its GKE Gateway",
		Plan: func(ctx context.Context, _ *expose.Teardown) ([]plan.Change, error) {
			var err error
			if tp, err = planGatewayTeardown(ctx, cl, opts); tp == nil {
				return nil, err
			}
			return tp.changes(), err
		},
		Run: func(ctx context.Context, t *expose.Teardown) error {
			if tp == nil {
				return nil
			}
			tp.res.DryRun = t.DryRun
			out.GatewayAPI = tp.res
			if t.DryRun {
				return nil
			}
			return tp.apply(ctx, cl, r)
		}}
	res, err := expose.Unexpose(ctx, cl.Kube, r, opts.Unexpose, expose.Hooks{BeforeTeardown: []expose.TeardownHook{hook}, Preflight: cl.Preflight})
	out.UnexposeResult = res
	return out, err
}

// teardownPlan is what removing one Service from its Gateway takes.
type teardownPlan struct {
	opts    UnexposeOptions
	names   Names
	spec    Spec // enough of it to name the objects
	res     *TeardownResult
	steps   []step
	markers []step // the policies, deleted last
	last    bool
	gateway *gwv1.Gateway
	certs   *certs
	edge    *lb.Plan
}

// planGatewayTeardown finds where the Service is on a GKE Gateway and
// plans its removal; nil when it is on none.
func planGatewayTeardown(ctx context.Context, cl Clients, opts UnexposeOptions) (*teardownPlan, error) {
	u := opts.Unexpose
	e, err := FindExposure(ctx, cl.Kube, u.Namespace, u.Service, u.GatewayNamespace)
	if err != nil || e == nil {
		return nil, err
	}
	if cl.LB == nil {
		return nil, failure.Usage(fmt.Errorf("Service %s/%s is exposed through a GKE Gateway: removing it needs --project and --cluster (or their MESHCTL_* variables)", u.Namespace, u.Service), "set them") //nolint:staticcheck // ST1005: Service is the Kubernetes kind, spelt as kubectl does
	}
	return planTeardown(ctx, cl, opts, e)
}

// planTeardown works out what goes: the Service's route and policies; the
// Gateway, its redirect and policy, and meshctl's Compute resources and
// certificate map when no other route uses the Gateway; the Service's
// certificates and map entries.
func planTeardown(ctx context.Context, cl Clients, opts UnexposeOptions, e *Exposure) (*teardownPlan, error) {
	u := opts.Unexpose
	names := NamesFor(opts.Project, opts.Cluster, e.Namespace, e.MeshGateway, e.Gateway, lb.EdgeSpec{})
	spec := Spec{Service: expose.ServiceRef{Namespace: u.Namespace, Name: u.Service}, MeshGateway: e.MeshGateway, Names: names}
	tp := &teardownPlan{opts: opts, names: names, spec: spec, res: &TeardownResult{Gateway: e.Namespace + "/" + e.Gateway}}
	live, err := readGateway(ctx, cl.Kube, spec)
	if err != nil {
		return nil, err
	}
	tp.gateway, tp.last = live.gw, len(live.others) == 0
	if !tp.last {
		tp.res.Warnings = append(tp.res.Warnings, fmt.Sprintf("Gateway %s keeps serving %d other route(s): %v", tp.res.Gateway, len(live.others), live.otherNames()))
	}
	// The route first: the load balancer stops sending the Service's
	// hosts to its gateway (or, for the last route, the whole Gateway
	// goes). The policies go last of all: they mark the Service as on this
	// path until everything else has gone, for a run cut short.
	first := []objectRef{{kHTTPRoute, names.Route}}
	if tp.last {
		first = append(first, objectRef{kHTTPRoute, names.Redirect}, objectRef{kGatewayPolicy, names.GatewayPolicy}, objectRef{kGateway, names.Gateway})
	}
	for i, refs := range [][]objectRef{first, {{kHealthCheckPolicy, names.Route}, {kBackendPolicy, names.Route}}} {
		for _, o := range refs {
			s, ok, err := tp.deleteStep(ctx, cl.Kube, o.k, o.name)
			if err != nil {
				return nil, err
			}
			if ok && i == 0 {
				tp.steps = append(tp.steps, s)
			} else if ok {
				tp.markers = append(tp.markers, s)
			}
		}
	}
	tp.res.Changes = changesOf(append(slices.Clone(tp.steps), tp.markers...))
	return tp, tp.planGoogle(ctx, cl)
}

// objectRef names one object of a kind in the Gateway's namespace.
type objectRef struct {
	k    kind
	name string
}

// deleteStep deletes one object, when it exists and is meshctl's (the
// Service's, or the Gateway's own).
func (tp *teardownPlan) deleteStep(ctx context.Context, c kube.Objects, k kind, name string) (step, bool, error) {
	u, err := c.Get(ctx, k.Resource, tp.names.Namespace, name)
	if kube.IsNotFound(err) {
		return step{}, false, nil
	}
	if err != nil {
		return step{}, false, fmt.Errorf("read %s %s/%s: %w", k.Kind, tp.names.Namespace, name, err)
	}
	l := u.GetLabels()
	if !isOwn(l, tp.spec) && !isShared(l, tp.names.Gateway) {
		tp.res.Warnings = append(tp.res.Warnings, fmt.Sprintf("%s %s/%s was not made by meshctl: left alone", k.Kind, tp.names.Namespace, name))
		return step{}, false, nil
	}
	return step{Change: k.change(plan.Delete, tp.names.Namespace, name), kind: k, uid: u.GetUID()}, true, nil
}

// planGoogle plans the certificates' and, for the last route, meshctl's
// Compute resources' removal.
func (tp *teardownPlan) planGoogle(ctx context.Context, cl Clients) error {
	if tp.gateway != nil && tp.gateway.Annotations[CertMapAnnotation] == tp.names.CertificateMap && cl.CertManager != nil {
		c, err := planCertTeardown(ctx, cl.CertManager, tp.names, tp.spec.Service.Namespace+"/"+tp.spec.Service.Name, tp.last)
		if err != nil {
			return err
		}
		tp.certs = c
		tp.res.Certificates = c.Changes
	}
	if !tp.last {
		return nil
	}
	var err error
	tp.edge, err = cl.LB.PlanEdgeTeardown(ctx, lb.EdgeSpec{Project: tp.opts.Project, Key: EdgeKey(tp.opts.Cluster, tp.names.Namespace, tp.names.Gateway)})
	if err != nil {
		return err
	}
	tp.res.Compute = cl.LB.DryRun(tp.edge)
	return nil
}

// apply deletes the route (and, for the last one, the Gateway), waits for
// the controller to remove what it made, removes the certificates and
// meshctl's Compute resources, which the controller's used, and deletes
// the policies last.
func (tp *teardownPlan) apply(ctx context.Context, cl Clients, r ui.Reporter) error {
	made := tp.controllerMade(ctx, cl)
	if err := applySteps(ctx, cl.Kube, r, tp.steps); err != nil {
		return err
	}
	if err := tp.waitControllerGone(ctx, cl, r, made); err != nil {
		return err
	}
	if tp.certs != nil {
		if err := tp.certs.teardown(ctx, cl.CertManager, r); err != nil {
			return err
		}
	}
	if tp.edge != nil {
		res, err := cl.LB.Apply(ctx, tp.edge)
		tp.res.Compute = res
		if err != nil {
			return err
		}
	}
	tp.res.GatewayRemoved = tp.last
	return applySteps(ctx, cl.Kube, r, tp.markers)
}

// controllerMade lists the controller's Compute resources that must go:
// everything the Gateway's annotations name when the Gateway goes, else
// the backend service (and its health check) that holds the Service's NEG.
func (tp *teardownPlan) controllerMade(ctx context.Context, cl Clients) []ChainLink {
	if tp.gateway == nil {
		return nil
	}
	a := tp.gateway.Annotations
	var out []ChainLink
	if tp.last {
		named := map[string]bool{}
		for _, addr := range tp.gateway.Spec.Addresses {
			named[addr.Value] = true // a NamedAddress is listed, but not the controller's
		}
		for _, cr := range controllerResources {
			for _, name := range annotated(a, cr.annotation) {
				if cr.kind != lb.KindAddress || !named[name] {
					out = append(out, ChainLink{Kind: string(cr.kind), Name: name})
				}
			}
		}
		return out
	}
	neg, ok := meshGatewayNEG(ctx, cl.Kube, tp.names.Namespace, tp.spec.MeshGateway)
	if !ok {
		return nil
	}
	bs, err := backendFor(ctx, cl.Compute, annotated(a, annotationBackendServices), neg.Name)
	if err != nil || bs == nil {
		return nil
	}
	out = append(out, ChainLink{Kind: string(lb.KindBackendService), Name: bs.GetName()})
	for _, hc := range bs.GetHealthChecks() {
		out = append(out, ChainLink{Kind: string(lb.KindHealthCheck), Name: lastSegment(hc)})
	}
	return out
}

// waitControllerGone waits for the Gateway to go (its finalizer is the
// controller's: it drops it once its resources are deleted) and for every
// resource the controller made for what went to be gone from Compute.
func (tp *teardownPlan) waitControllerGone(ctx context.Context, cl Clients, r ui.Reporter, made []ChainLink) error {
	st := r.Step(fmt.Sprintf("wait for GKE's Gateway controller to remove %d resource(s)", len(made)))
	err := poll(ctx, tp.opts.PollInterval, tp.opts.Timeout, "removal by GKE's Gateway controller", func() (bool, string, error) {
		if tp.last {
			if _, err := cl.Kube.Get(ctx, kGateway.Resource, tp.names.Namespace, tp.names.Gateway); err == nil {
				return false, "Gateway " + tp.res.Gateway + " still has the controller's finalizer", nil
			} else if !kube.IsNotFound(err) {
				return false, "", err
			}
		}
		var left []string
		for _, l := range made {
			_, err := cl.Compute.Get(ctx, lb.Kind(l.Kind), l.Name)
			switch {
			case IsNotFound(err):
			case err != nil:
				return false, "", fmt.Errorf("read %s %s: %w", lb.Kind(l.Kind).Title(), l.Name, err)
			default:
				left = append(left, lb.Kind(l.Kind).Title()+" "+l.Name)
			}
		}
		st.Progressf("%d of %d left", len(left), len(made))
		return len(left) == 0, fmt.Sprintf("left: %v", left), nil
	})
	if err != nil {
		err = failure.WithHint(err, fmt.Sprintf("see `kubectl get events -n %s`; running unexpose again waits again", tp.names.Namespace))
		st.Fail(err)
		return err
	}
	for _, l := range made {
		tp.res.ControllerRemoved = append(tp.res.ControllerRemoved, lb.Kind(l.Kind).Title()+" "+l.Name)
	}
	st.Done()
	return nil
}

// planCertTeardown plans deleting the Service's map entries and
// certificates, and the map itself when the Gateway goes and nothing else
// is in it.
func planCertTeardown(ctx context.Context, c CertificateManager, n Names, service string, last bool) (*certs, error) {
	p := &certs{mapName: n.CertificateMap, project: n.project, owner: mesh.NewResourceOwner(n.Edge.Owner), service: service}
	m, err := c.GetMap(ctx, n.CertificateMap)
	if IsNotFound(err) {
		return p, nil
	}
	if err != nil {
		return nil, certError("read certificate map "+n.CertificateMap, err)
	}
	if o, ok := mesh.ParseResourceOwner(m.Description); !ok || o.LB != p.owner.LB {
		return p, nil // the user's: never touched
	}
	entries, err := c.ListEntries(ctx, n.CertificateMap)
	if err != nil {
		return nil, certError("list the entries of certificate map "+n.CertificateMap, err)
	}
	rest := 0
	for _, e := range entries {
		o, ok := mesh.ParseResourceOwner(e.Description)
		if !ok || o.LB != p.owner.LB || !o.Serves(service) {
			rest++
			continue
		}
		hc := hostCert{Host: e.Hostname, Name: lastSegment(e.Name), deleteEntry: true}
		if len(e.Certificates) == 1 {
			hc.certificate, hc.deleteCert = lastSegment(e.Certificates[0]), true
		}
		p.stale = append(p.stale, hc)
	}
	deleteMap := last && rest == 0
	p.staleChanges("")
	if deleteMap {
		p.Changes = append(p.Changes, p.change(KindCertificateMap, n.CertificateMap, plan.Delete, "", ""))
	}
	p.createMap = false
	p.deleteMap = deleteMap
	return p, nil
}

// teardown deletes the planned entries and certificates, then the map.
func (p *certs) teardown(ctx context.Context, c CertificateManager, r ui.Reporter) error {
	if err := deleteHosts(ctx, c, r, p.mapName, p.stale); err != nil {
		return err
	}
	if !p.deleteMap {
		return nil
	}
	st := r.Step("delete certificate map " + p.mapName)
	if err := c.DeleteMap(ctx, p.mapName); err != nil && !IsNotFound(err) {
		err = certError("delete certificate map "+p.mapName, err)
		st.Fail(err)
		return err
	}
	st.Done()
	return nil
}

// RenderText prints what unexpose removed.
func (u *UnexposeResult) RenderText(w io.Writer, s ui.Styles) error {
	if err := u.UnexposeResult.RenderText(w, s); err != nil {
		return err
	}
	t := u.GatewayAPI
	if t == nil {
		return nil
	}
	what := "the Service's route and policies"
	if t.GatewayRemoved || t.DryRun && slices.ContainsFunc(t.Changes, func(c plan.Change) bool { return c.Kind == kGateway.Kind }) {
		what = "the whole Gateway"
	}
	verb := "removed"
	if t.DryRun {
		verb = "would remove"
	}
	if _, err := fmt.Fprintf(w, "\nGKE Gateway %s: %s %s\n", t.Gateway, verb, what); err != nil {
		return err
	}
	changes := append(append([]plan.Change{}, t.Changes...), t.Certificates...)
	if t.Compute != nil {
		changes = append(changes, t.Compute.Plan...)
	}
	if err := s.WriteTable(w, plan.Table(changes, kindTitle)); err != nil {
		return err
	}
	for _, warn := range t.Warnings {
		fmt.Fprintf(w, "%s %s\n", s.Warning(ui.MarkWarn), warn)
	}
	if len(t.ControllerRemoved) > 0 {
		fmt.Fprintf(w, "Removed by GKE's Gateway controller (seen gone): %d resource(s)\n", len(t.ControllerRemoved))
	}
	return u.Permissions.RenderDryRun(w, s, t.DryRun)
}
