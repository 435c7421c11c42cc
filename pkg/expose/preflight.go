package expose

import (
	"context"
	"fmt"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/meshctl/meshctl/pkg/plan"
)

// startPlans runs other plans (the load balancer's) in the background,
// beside the gateways', and returns what waits for their changes.
func startPlans(ctx context.Context, plans []func(context.Context) ([]plan.Change, error)) func() ([]plan.Change, error) {
	out := make([][]plan.Change, len(plans))
	var g errgroup.Group
	for i, p := range plans {
		g.Go(func() error {
			var err error
			out[i], err = p(ctx)
			return err
		})
	}
	return func() ([]plan.Change, error) {
		err := g.Wait()
		var all []plan.Change
		for _, cs := range out {
			all = append(all, cs...)
		}
		return all, err
	}
}

// checkTeardown plans the hooks' part of a teardown and checks the
// permissions of every deletion before the first one; a dry run only
// reports them.
func checkTeardown(ctx context.Context, t *Teardown, hooks Hooks, dryRun bool) error {
	changes := slices.Clone(t.Changes)
	for _, h := range hooks.BeforeTeardown {
		if h.Plan == nil {
			continue
		}
		more, err := h.Plan(ctx, t)
		if err != nil {
			return fmt.Errorf("%s: %w (nothing deleted)", h.Name, err)
		}
		changes = append(changes, more...)
	}
	t.Permissions = hooks.Preflight.Check(ctx, changes)
	if dryRun {
		return nil
	}
	return t.Permissions.Err()
}

// DeclaredChanges are every Kubernetes change expose and unexpose can make,
// in any namespace, without a plan: each kind of the gateway's objects
// created, updated and deleted. It is `meshctl check --permissions`'
// superset; TestDeclaredChangesCoverThePlan checks a plan needs no more.
func DeclaredChanges() []plan.Change {
	var out []plan.Change
	for _, k := range deleteOrder {
		for _, a := range []plan.Action{plan.Create, plan.Update, plan.Delete} {
			out = append(out, plan.Change{Kind: k.Kind, Name: "ANY", Action: a, Resource: k.groupResource()})
		}
	}
	return out
}
