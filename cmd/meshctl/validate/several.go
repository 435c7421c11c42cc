package validate

import (
	"context"
	"fmt"

	"k8s.io/client-go/dynamic"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/pkg/multicluster"
	"github.com/meshctl/meshctl/pkg/validate"
)

// runSeveral is `meshctl validate --cluster A --cluster B ...`: validate in
// each cluster at once, and the links between them, in one report.
func runSeveral(ctx context.Context, f *factory.Factory, opts *ValidateOptions) error {
	refs, err := f.Refs(f.Settings.Clusters)
	if err != nil {
		return err
	}
	c, err := f.MultiClusterClients(ctx)
	if err != nil {
		return err
	}
	res, err := multicluster.Validate(ctx, c, multicluster.ValidateOptions{
		Clusters: refs, Validate: opts.Validate, ClientsFor: clientsFor(ctx, f, opts),
	})
	if err != nil {
		return err
	}
	return report(opts, res)
}

// clientsFor builds one cluster's validate clients, as clients does for
// the one cluster of the settings.
func clientsFor(ctx context.Context, f *factory.Factory, opts *ValidateOptions) func(context.Context, multicluster.Ref) (validate.Clients, func(), error) {
	return func(_ context.Context, r multicluster.Ref) (validate.Clients, func(), error) {
		var c validate.Clients
		var err error
		if c.Kube, err = f.KubeFor(r.Context); err != nil {
			return c, nil, err
		}
		rc, err := f.RESTConfigFor(r.Context)
		if err != nil {
			return c, nil, err
		}
		if c.Dynamic, err = dynamic.NewForConfig(rc); err != nil {
			return c, nil, fmt.Errorf("create kubernetes client: %w", err)
		}
		release, err := cloudClients(ctx, f, opts, &c, validate.AsmcliCluster{Project: r.Project, Location: r.Location, Cluster: r.Name})
		return c, release, err
	}
}
