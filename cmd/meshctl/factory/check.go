package factory

import (
	"context"

	compute "cloud.google.com/go/compute/apiv1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/gcp"
	"github.com/meshctl/meshctl/pkg/check"
)

// CheckClients builds the clients check uses, for `meshctl check` and the
// install's precheck. A client that cannot be built (no credentials, no
// kubeconfig) is handed over as an error: the checks that need it say so
// and the others run. Bad settings stop the command.
func (f *Factory) CheckClients(ctx context.Context) (check.Clients, error) {
	return f.checkClients(ctx, f.Kube)
}

// CheckClientsFor builds check's clients for the cluster of a kube context
// (check over several clusters).
func (f *Factory) CheckClientsFor(ctx context.Context, kubeContext string) (check.Clients, error) {
	return f.checkClients(ctx, func() (kubernetes.Interface, error) { return f.KubeFor(kubeContext) })
}

func (f *Factory) checkClients(ctx context.Context, kube func() (kubernetes.Interface, error)) (check.Clients, error) {
	var c check.Clients
	usage := func(err error) bool { return err != nil && failure.ExitCode(err) == failure.ExitUsage }

	if gke, err := f.ClusterManager(ctx); err == nil {
		c.GKE = gcp.NewGKE(gke)
	} else if usage(err) {
		return c, err
	} else {
		c.GKEErr = err
	}

	var cc check.ComputeClients
	var err error
	if cc.Projects, err = NewCompute(ctx, f, compute.NewProjectsRESTClient); err == nil {
		if cc.MachineTypes, err = NewCompute(ctx, f, compute.NewMachineTypesRESTClient); err == nil {
			cc.Firewalls, err = NewCompute(ctx, f, compute.NewFirewallsRESTClient)
		}
	}
	switch {
	case err == nil:
		c.Compute = cc
	case usage(err):
		return c, err
	default:
		c.ComputeErr = err
	}

	if kc, err := kube(); err == nil {
		c.Kube = kc
	} else {
		c.KubeErr = err
	}
	return c, nil
}
