package expose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// gatewaysAtOnce bounds the gateways planned and applied at the same time:
// each spends nearly all its time waiting (for a rollout, for GKE's NEG
// controller), and the Kubernetes client's own rate limit keeps the API
// server's load in check.
const gatewaysAtOnce = 32

// ManyOutput is what exposing several Services did (or, in a dry run,
// would do): each one's gateway, and the one load balancer in front of
// them all.
type ManyOutput struct {
	Services     []*Result  `json:"services"`
	LoadBalancer *lb.Result `json:"loadBalancer,omitempty"`
	Warnings     []string   `json:"warnings,omitempty"`
	DryRun       bool       `json:"dryRun,omitempty"`
	// Permissions are what every change (the load balancer's included)
	// needs, as the check before the first change found them.
	Permissions *preflight.Report `json:"permissions,omitempty"`
}

// RunMany exposes several Services in one run. Every gateway is planned
// first, so that all are checked before the first write (none is exposed
// when any cannot be); then the gateways are applied and waited for at the
// same time, and the load balancer is planned and built once for all of
// them, as one graph: twenty Services take about the time of one. Objects
// no longer wanted go last, as in Run. A nil l leaves the load balancer
// alone. Before the first write, pre checks the permissions of every
// change, the load balancer's included (nil checks nothing).
func RunMany(ctx context.Context, c kube.Objects, r ui.Reporter, opts []Options, l *LoadBalancer, pre *preflight.Checker) (*ManyOutput, error) {
	if len(opts) == 0 {
		return nil, errors.New("no Service to expose")
	}
	var lbPlans []func(context.Context) ([]plan.Change, error)
	if l != nil && pre != nil {
		// The load balancer's plan runs beside the gateways'.
		lbPlans = append(lbPlans, func(ctx context.Context) ([]plan.Change, error) { return l.changesAhead(ctx, opts) })
	}
	lbChanges := startPlans(ctx, lbPlans)
	plans, err := planAll(ctx, c, r, opts)
	more, lbErr := lbChanges()
	if err != nil {
		return nil, err
	}
	if lbErr != nil {
		return nil, lbErr
	}
	out := &ManyOutput{DryRun: opts[0].DryRun, Services: make([]*Result, len(plans))}
	for _, p := range plans {
		more = append(more, p.Changes...)
	}
	out.Permissions = pre.Check(ctx, more)
	if err := out.Permissions.Err(); err != nil && !out.DryRun {
		return nil, err
	}
	stale := make([][]step, len(plans))
	waiting := gatewayWaits(ctx, c, opts)
	if out.DryRun {
		zones, zerr := plannedZones(ctx, c)
		for i, p := range plans {
			out.Services[i] = p.dryRunResult(ctx, c)
			if len(out.Services[i].NEG.Zones) == 0 && zerr == nil {
				out.Services[i].NEG.Zones, out.Services[i].NEG.Planned = zones, true
			}
		}
	} else if err := each(ctx, len(plans), func(ctx context.Context, i int) error {
		var err error
		out.Services[i], stale[i], err = plans[i].applyGateway(ctx, waiting, r)
		return err
	}); err != nil {
		return out, err
	}
	if l != nil {
		var mu sync.Mutex
		st := r.Step("plan Google's load balancer")
		lbRes, err := l.exposeAll(ctx, r, out.Services, out.DryRun, func(msg string) {
			mu.Lock()
			out.Warnings = append(out.Warnings, msg)
			mu.Unlock()
		})
		if err != nil {
			st.Fail(err)
			return out, err
		}
		st.Done()
		out.LoadBalancer = lbRes
	}
	return out, each(ctx, len(plans), func(ctx context.Context, i int) error {
		notes, err := deleteAll(ctx, c, r, stale[i], plans[i].opts)
		out.Services[i].Warnings = append(out.Services[i].Warnings, notes...)
		return err
	})
}

// gatewayWaits is the client the gateways are applied and waited for with:
// several gateways' waits poll their Deployments and Services with one
// List a round between them, not one Get each (kube.GetsByList).
func gatewayWaits(ctx context.Context, c kube.Objects, opts []Options) kube.Objects {
	if len(opts) < 2 {
		return c
	}
	sel, err := ownerSelectorIn(serviceNamespaces(opts))
	if err != nil {
		return c
	}
	return kube.NewGetsByList(ctx, c, sel, kDeployment.Resource, kService.Resource)
}

// serviceNamespaces are the namespaces of the Services of opts.
func serviceNamespaces(opts []Options) []string {
	var out []string
	for _, o := range opts {
		out = append(out, o.Namespace)
	}
	return out
}

// planAll plans every gateway at the same time; it returns every failure,
// and no plan unless all succeed.
func planAll(ctx context.Context, c kube.Objects, r ui.Reporter, opts []Options) ([]*Plan, error) {
	plans := make([]*Plan, len(opts))
	errs := make([]error, len(opts))
	// The plans only read (and dry-run): what several of them read (the
	// Services' namespace, the revisions, the cluster's identity) is read
	// once for all, and what meshctl made for the Services is listed once,
	// beside their checks, instead of once per Service.
	var made *ownedIndex
	if len(opts) > 1 {
		c = kube.NewReadMemo(c)
		made = newOwnedIndex(serviceNamespaces(opts))
		go func() { _ = made.load(ctx, c) }()
	}
	_ = each(ctx, len(opts), func(ctx context.Context, i int) error {
		plans[i], errs[i] = newPlan(ctx, c, r, opts[i], made)
		return nil
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return plans, nil
}

// each runs fn for 0..n-1, at most gatewaysAtOnce at a time, and returns
// every failure (it does not stop the others: a gateway half-applied is
// resumed by the next run, but one not applied at all is simply missing).
func each(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	var g errgroup.Group
	g.SetLimit(gatewaysAtOnce)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		g.Go(func() error { errs[i] = fn(ctx, i); return nil })
	}
	_ = g.Wait()
	return errors.Join(errs...)
}

var gvrNodes = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}

// plannedZones are the zones a new gateway's NEG will have: GKE's NEG
// controller makes one in every zone of the cluster's nodes.
func plannedZones(ctx context.Context, c kube.Objects) ([]string, error) {
	items, err := c.List(ctx, gvrNodes, "", "")
	if err != nil {
		return nil, err
	}
	var zones []string
	for _, it := range items {
		if z := it.GetLabels()[corev1.LabelTopologyZone]; z != "" && !slices.Contains(zones, z) {
			zones = append(zones, z)
		}
	}
	slices.Sort(zones)
	if len(zones) == 0 {
		return nil, fmt.Errorf("no node carries %s", corev1.LabelTopologyZone)
	}
	return zones, nil
}

// Manifests are every gateway's desired objects, in order.
func (o *ManyOutput) Manifests() []Object {
	var out []Object
	for _, res := range o.Services {
		out = append(out, res.Objects...)
	}
	return out
}

// RenderText prints each gateway's result, then the load balancer's.
func (o *ManyOutput) RenderText(w io.Writer, s ui.Styles) error {
	var perms *preflight.Report
	if o.DryRun { // a run that changes things has passed the check
		perms = o.Permissions
	}
	return renderWithLB(w, s, ui.TextFunc(o.renderServices), o.LoadBalancer, perms)
}

// renderServices prints each gateway's result, then the warnings of the
// run as a whole.
func (o *ManyOutput) renderServices(w io.Writer, s ui.Styles) error {
	for _, res := range o.Services {
		if err := res.RenderText(w, s); err != nil {
			return err
		}
	}
	for _, warn := range o.Warnings {
		if _, err := fmt.Fprintf(w, "%s %s\n", s.Warning(ui.MarkWarn), warn); err != nil {
			return err
		}
	}
	return nil
}
