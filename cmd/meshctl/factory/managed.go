package factory

import (
	"context"

	"github.com/meshctl/meshctl/internal/gcp"
	"github.com/meshctl/meshctl/pkg/install/managed"
)

// ManagedInstaller builds the managed control plane's installer: the GKE,
// fleet and Service Usage APIs and, to confirm the result in the cluster
// (so not for a dry run), Kubernetes. install --managed, uninstall
// --managed and migrate --to managed use it.
func (f *Factory) ManagedInstaller(ctx context.Context, dryRun bool) (managed.Installer, error) {
	in := managed.Installer{Reporter: f.Reporter}
	gke, err := f.ClusterManager(ctx)
	if err != nil {
		return in, err
	}
	v1, err := f.GKEHub(ctx)
	if err != nil {
		return in, err
	}
	v2, err := f.GKEHubV2(ctx)
	if err != nil {
		return in, err
	}
	su, err := f.ServiceUsage(ctx)
	if err != nil {
		return in, err
	}
	in.GKE, in.Fleet, in.Services = gcp.NewGKE(gke), managed.HubClient{V1: v1, V2: v2}, managed.ServiceUsageClient{S: su}
	if dryRun {
		return in, nil
	}
	if in.Kube, err = f.Kube(); err != nil {
		return in, err
	}
	in.Dynamic, err = f.Dynamic()
	return in, err
}
