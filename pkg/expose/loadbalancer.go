package expose

import (
	"context"
	"fmt"
	"io"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// LoadBalancer is Google's global external HTTPS load balancer in front of
// an exposed Service. pkg/lb builds it once the gateway is ready, from the
// gateway's NEG, ports and health check, and removes it before unexpose
// deletes the gateway.
type LoadBalancer struct {
	// Spec is the load balancer's input but its Services, which come from
	// the gateway: where (Project, Location, Cluster) and how (LB, Address,
	// Armor, ...).
	Spec lb.Spec
	// Client builds pkg/lb's client when the load balancer is planned;
	// release frees it.
	Client func(ctx context.Context) (cl *lb.Client, release func(), err error)
}

// ExposeOutput is expose's result with the load balancer's beside it.
type ExposeOutput struct {
	*Result
	LoadBalancer *lb.Result `json:"loadBalancer,omitempty"`
}

// UnexposeOutput is unexpose's result with the load balancer's beside it.
type UnexposeOutput struct {
	*UnexposeResult
	LoadBalancer *lb.Result `json:"loadBalancer,omitempty"`
}

// RunWithLoadBalancer exposes the Service as Run does and then builds its
// load balancer (in a dry run: plans it, with the NEGs GKE will make). A nil
// l leaves the load balancer alone. Check l.Validate(opts) first: the
// gateway must not change when the load balancer could not be built after
// it. Before the gateway changes, pre checks the permissions of both (nil
// checks nothing).
func RunWithLoadBalancer(ctx context.Context, c kube.Objects, r ui.Reporter, opts Options, l *LoadBalancer, pre *preflight.Checker) (*ExposeOutput, error) {
	many, err := RunMany(ctx, c, r, []Options{opts}, l, pre)
	if many == nil || len(many.Services) == 0 || many.Services[0] == nil {
		return nil, err
	}
	res := many.Services[0]
	res.Warnings = append(res.Warnings, many.Warnings...)
	res.Permissions = many.Permissions
	return &ExposeOutput{Result: res, LoadBalancer: many.LoadBalancer}, err
}

// UnexposeWithLoadBalancer removes the Service's part of its load balancer,
// then what Unexpose removes. A nil l leaves the load balancer alone.
// Before anything is deleted, pre checks the permissions of every deletion
// (nil checks nothing).
func UnexposeWithLoadBalancer(ctx context.Context, c kube.Objects, r ui.Reporter, opts UnexposeOptions, l *LoadBalancer, pre *preflight.Checker) (*UnexposeOutput, error) {
	out := &UnexposeOutput{}
	hooks := Hooks{Preflight: pre}
	if l != nil {
		var teardown *plannedTeardown
		hooks.BeforeTeardown = []TeardownHook{{Name: "remove Google's load balancer",
			Plan: func(ctx context.Context, t *Teardown) ([]plan.Change, error) {
				var err error
				teardown, err = l.planTeardown(ctx, t)
				return teardown.changes(), err
			},
			Run: func(ctx context.Context, t *Teardown) error {
				var err error
				out.LoadBalancer, err = teardown.run(ctx)
				return err
			}}}
	}
	res, err := Unexpose(ctx, c, r, opts, hooks)
	if err != nil {
		return nil, err
	}
	out.UnexposeResult = res
	return out, nil
}

// Validate checks the load balancer's input for exposing the Services of
// opts before anything is written. The gateways' NEGs do not exist yet: a
// stand-in named "pending" takes their place. A dry run may lack the
// cluster's coordinates: it plans the gateways alone, with a warning.
func (l *LoadBalancer) Validate(opts ...Options) error {
	if missing := l.missingSettings(); len(missing) > 0 {
		if len(opts) > 0 && opts[0].DryRun {
			return nil
		}
		return errMissingSettings(missing)
	}
	spec := l.Spec
	spec.Services = nil
	for _, o := range opts {
		spec.Services = append(spec.Services, lb.Service{Namespace: o.Namespace, Name: o.Service, Hosts: o.Hosts, NEG: lb.NEG{Name: "pending", Zones: []string{"pending"}}})
	}
	return spec.Validate()
}

// missingSettings names the settings the load balancer needs that are unset.
func (l *LoadBalancer) missingSettings() []string {
	var out []string
	for _, kv := range [][2]string{{"--project", l.Spec.Project}, {"--location", l.Spec.Location}, {"--cluster", l.Spec.Cluster}} {
		if kv[1] == "" {
			out = append(out, kv[0])
		}
	}
	return out
}

func errMissingSettings(missing []string) error {
	return failure.Usage(fmt.Errorf("the load balancer needs %v (or their MESHCTL_* variables, or a GKE kubeconfig context)", missing),
		"set them, or pass --no-lb to expose only the gateway")
}

// exposeAll plans one load balancer for the gateways in results, in one
// graph, and unless dryRun builds it. A dry run plans the NEGs the
// gateways will have (dryRunZones).
func (l *LoadBalancer) exposeAll(ctx context.Context, r ui.Reporter, results []*Result, dryRun bool, warnf func(string)) (*lb.Result, error) {
	warn := func(msg string) {
		warnf(msg)
		r.Warnf("%s", msg)
	}
	if missing := l.missingSettings(); len(missing) > 0 {
		warn(fmt.Sprintf("the load balancer is not planned: it needs %v", missing))
		return nil, nil
	}
	spec := l.Spec
	spec.Services = nil
	for _, res := range results {
		if len(res.NEG.Zones) == 0 {
			warn("the load balancer is planned once GKE reports the gateways' NEGs: run without --dry-run, or again once they exist")
			return nil, nil
		}
		spec.Services = append(spec.Services, lb.Service{
			Namespace: res.Service.Namespace, Name: res.Service.Name, Hosts: res.Hosts,
			NEG:         lb.NEG{Name: res.NEG.Name, Zones: res.NEG.Zones},
			ServingPort: int(res.Gateway.TargetPort), HealthCheckPort: int(res.Gateway.HealthCheck.Port), HealthCheckPath: res.Gateway.HealthCheck.Path,
		})
	}
	return l.planAndApply(ctx, dryRun, func(cl *lb.Client) (*lb.Plan, error) { return cl.Plan(ctx, spec) })
}

// plannedTeardown is the Service's part of the load balancer, planned
// and waiting to be removed (nil: nothing to remove).
type plannedTeardown struct {
	cl      *lb.Client
	release func()
	plan    *lb.Plan
	dryRun  bool
}

// planTeardown plans the removal of the Service's part of the load
// balancer.
func (l *LoadBalancer) planTeardown(ctx context.Context, t *Teardown) (*plannedTeardown, error) {
	if missing := l.missingSettings(); len(missing) > 0 {
		if len(t.Gateways) == 0 {
			return nil, nil // nothing was exposed here; nothing to ask for
		}
		return nil, errMissingSettings(missing)
	}
	spec := l.Spec
	spec.Services = []lb.Service{{Namespace: t.Service.Namespace, Name: t.Service.Name}}
	cl, release, err := l.Client(ctx)
	if err != nil {
		return nil, err
	}
	p, err := cl.PlanTeardown(ctx, spec)
	if err != nil {
		release()
		return nil, err
	}
	return &plannedTeardown{cl: cl, release: release, plan: p, dryRun: t.DryRun}, nil
}

func (pt *plannedTeardown) changes() []plan.Change {
	if pt == nil {
		return nil
	}
	return pt.plan.Changes
}

// run removes what was planned (a dry run reports it) and frees the client.
func (pt *plannedTeardown) run(ctx context.Context) (*lb.Result, error) {
	if pt == nil {
		return nil, nil
	}
	defer pt.release()
	if pt.dryRun {
		return pt.cl.DryRun(pt.plan), nil
	}
	return pt.cl.Apply(ctx, pt.plan)
}

// changesAhead plans the load balancer before the gateway exists, for the
// permission check: its NEG is a stand-in, which changes no permission.
// Without the cluster's coordinates (a dry run may lack them) there is
// nothing to plan yet.
func (l *LoadBalancer) changesAhead(ctx context.Context, opts []Options) ([]plan.Change, error) {
	if len(l.missingSettings()) > 0 {
		return nil, nil
	}
	spec := l.Spec
	spec.Services = nil
	for _, o := range opts {
		spec.Services = append(spec.Services, lb.Service{Namespace: o.Namespace, Name: o.Service, Hosts: o.Hosts,
			NEG:         lb.NEG{Name: "pending", Zones: []string{"pending"}},
			ServingPort: int(mesh.GatewayHTTPSPort), HealthCheckPort: int(mesh.StatusPort), HealthCheckPath: mesh.ReadinessPath})
	}
	cl, release, err := l.Client(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	p, err := cl.Plan(ctx, spec)
	if err != nil {
		return nil, err
	}
	return p.Changes, nil
}

// planAndApply plans with a fresh client and applies the plan, unless dryRun.
func (l *LoadBalancer) planAndApply(ctx context.Context, dryRun bool, plan func(*lb.Client) (*lb.Plan, error)) (*lb.Result, error) {
	cl, release, err := l.Client(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	p, err := plan(cl)
	if err != nil {
		return nil, err
	}
	if dryRun {
		return cl.DryRun(p), nil
	}
	return cl.Apply(ctx, p)
}

// Manifests are the gateway's desired objects.
func (o *ExposeOutput) Manifests() []Object { return o.Objects }

// RenderText prints the gateway's result, then the load balancer's.
func (o *ExposeOutput) RenderText(w io.Writer, s ui.Styles) error {
	return renderWithLB(w, s, o.Result, o.LoadBalancer, o.dryRunPermissions())
}

// dryRunPermissions are the permissions a dry run shows (a run that
// changes things has passed the check).
func (o *ExposeOutput) dryRunPermissions() *preflight.Report {
	if o.Result == nil || !o.DryRun {
		return nil
	}
	return o.Permissions
}

// RenderText prints what unexpose removed, then the load balancer's part.
func (o *UnexposeOutput) RenderText(w io.Writer, s ui.Styles) error {
	var perms *preflight.Report
	if o.UnexposeResult != nil && o.DryRun && len(o.Changes) > 0 {
		perms = o.Permissions
	}
	return renderWithLB(w, s, o.UnexposeResult, o.LoadBalancer, perms)
}

func renderWithLB(w io.Writer, s ui.Styles, first ui.TextRenderer, lbRes *lb.Result, perms *preflight.Report) error {
	if err := first.RenderText(w, s); err != nil {
		return err
	}
	var more []ui.TextRenderer
	if lbRes != nil && len(lbRes.Plan) > 0 {
		more = append(more, lbRes)
	}
	if perms != nil {
		more = append(more, perms)
	}
	for _, next := range more {
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
		if err := next.RenderText(w, s); err != nil {
			return err
		}
	}
	return nil
}
