package check

import (
	"context"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/pkg/check"
	"github.com/meshctl/meshctl/pkg/multicluster"
)

// SeveralOptions are `meshctl check --cluster A --cluster B ...`: each
// cluster checked, and the clusters together as one mesh would need them.
type SeveralOptions struct {
	Check   multicluster.CheckOptions
	Clients func(context.Context) (multicluster.Clients, error)
}

// completeSeveral resolves the clusters of several --cluster flags.
func completeSeveral(f *factory.Factory, opts *CheckOptions) error {
	if _, err := check.LookupRelease(opts.Check.MeshVersion); err != nil {
		return failure.Usage(err, "pass --mesh-version with one of the releases listed")
	}
	refs, err := f.Refs(f.Settings.Clusters)
	if err != nil {
		return err
	}
	opts.Several = &SeveralOptions{
		Check: multicluster.CheckOptions{Clusters: refs, Check: opts.Check,
			ClientsFor: func(ctx context.Context, r multicluster.Ref) (check.Clients, error) {
				return f.CheckClientsFor(ctx, r.Context)
			}},
		Clients: f.MultiClusterClients,
	}
	opts.Printer, opts.Reporter = f.Printer, f.Reporter
	return nil
}

func runSeveral(ctx context.Context, opts *CheckOptions) error {
	c, err := opts.Several.Clients(ctx)
	if err != nil {
		return err
	}
	res, err := multicluster.Check(ctx, c, opts.Reporter, opts.Several.Check)
	if err != nil {
		return err
	}
	if err := opts.Printer.Print(res); err != nil {
		return err
	}
	if res.HasProblems() {
		return failure.Problems()
	}
	return nil
}
