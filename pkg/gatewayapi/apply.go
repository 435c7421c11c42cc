package gatewayapi

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/expose"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/plan"
)

// Run exposes a Service through a GKE Gateway: it plans, checks that the
// caller may make every change of the plan (cl.Preflight) and, unless a
// dry run, applies and waits for GKE's Gateway controller.
func Run(ctx context.Context, cl Clients, r ui.Reporter, opts Options) (*Result, error) {
	p, err := NewPlan(ctx, cl, r, opts)
	if err != nil {
		return nil, err
	}
	perms, err := p.check(ctx, cl.Preflight)
	if err != nil {
		return nil, err // nothing was changed
	}
	var res *Result
	if p.opts.Expose.DryRun {
		res = p.DryRun(cl)
	} else {
		res, err = p.Apply(ctx, cl, r)
	}
	if res != nil && res.Result != nil {
		res.Permissions = perms
	}
	return res, err
}

// DryRun is the result of not applying p.
func (p *Plan) DryRun(cl Clients) *Result {
	res := &Result{Result: p.Mesh.DryRunResult(), GatewayAPI: p.edgeResult()}
	res.GatewayAPI.DryRun = true
	if p.Edge != nil {
		res.GatewayAPI.Compute = cl.LB.DryRun(p.Edge)
	}
	return res
}

// edgeResult is the GKE Gateway's part of the result, as planned.
func (p *Plan) edgeResult() *EdgeResult {
	s := p.Spec
	res := &EdgeResult{
		Gateway: s.Names.Namespace + "/" + s.Names.Gateway, Class: GatewayClass,
		Route: s.Names.Namespace + "/" + s.Names.Route, Changes: p.Changes, Warnings: p.Warnings,
		Objects: p.Objects,
	}
	if p.Certs != nil {
		res.CertificateMap = p.Certs.mapName
		res.Certificates = p.Certs.Changes
	}
	return res
}

// Apply makes the plan so: the mesh gateway first (pkg/expose: written,
// rolled out with its proxies injected), then Google's pieces meshctl makes
// itself (address, SSL and Cloud Armor policies, certificate map), the
// Gateway API objects, and then it waits for GKE's controller to program
// the load balancer and for the backends to be healthy.
func (p *Plan) Apply(ctx context.Context, cl Clients, r ui.Reporter) (*Result, error) {
	start := time.Now()
	out := &Result{GatewayAPI: p.edgeResult()}
	hook := expose.Hook{
		Name: fmt.Sprintf("GKE Gateway %s/%s in front of the gateway", p.Spec.Names.Namespace, p.Spec.Names.Gateway),
		Run: func(ctx context.Context, _ *expose.Result) error {
			return p.applyEdge(ctx, cl, r, out.GatewayAPI)
		},
	}
	res, err := p.Mesh.Apply(ctx, cl.Kube, r, expose.Hooks{AfterGateway: []expose.Hook{hook}})
	out.Result = res
	out.GatewayAPI.Elapsed = lb.Duration(time.Since(start))
	return out, err
}

// applyEdge makes Google's pieces (at once: the controller refuses a
// Gateway whose address, certificate map or policies are missing), then
// writes the Kubernetes objects in order and waits.
func (p *Plan) applyEdge(ctx context.Context, cl Clients, r ui.Reporter, res *EdgeResult) error {
	g, gctx := errgroup.WithContext(ctx)
	if p.Edge != nil {
		g.Go(func() error {
			lr, err := cl.LB.Apply(gctx, p.Edge)
			res.Compute = lr
			return err
		})
	}
	if p.Certs != nil {
		g.Go(func() error { return p.Certs.apply(gctx, cl.CertManager, r) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := applySteps(ctx, cl.Kube, r, p.steps); err != nil {
		return err
	}
	return p.wait(ctx, cl, r, res)
}

// applySteps writes what differs, in order, and stops at the first
// failure: the routes must not come before the policies and the Gateway.
func applySteps(ctx context.Context, c kube.Objects, r ui.Reporter, steps []step) error {
	for _, s := range steps {
		var err error
		switch s.Action {
		case plan.Create, plan.Update:
			st := r.Step(fmt.Sprintf("%s %s", s.Action, s.Ref()))
			if len(s.Fields) > 0 {
				st.Progressf("%s", plan.DescribeFields(s.Fields))
			}
			if _, err = c.Apply(ctx, s.kind.Resource, s.obj, false); err != nil {
				err = applyError(fmt.Sprintf("%s %s", s.Action, s.Ref()), s.kind, err)
				st.Fail(err)
				return err
			}
			st.Done()
		case plan.Delete:
			st := r.Step("delete " + s.Ref())
			if err = c.Delete(ctx, s.kind.Resource, s.Namespace, s.Name, s.uid, false); err != nil && !kube.IsNotFound(err) {
				err = applyError("delete "+s.Ref(), s.kind, err)
				st.Fail(err)
				return err
			}
			st.Done()
		}
	}
	return nil
}
