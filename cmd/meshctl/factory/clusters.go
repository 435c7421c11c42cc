package factory

import (
	"context"
	"fmt"

	compute "cloud.google.com/go/compute/apiv1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/gcp"
	"github.com/meshctl/meshctl/internal/istiod"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/multicluster"
)

// IstiodEndpointsEnv names a directory service that says where istiods
// listen, instead of port-forwarding to their pods (the simulator's,
// whose istiods are local processes).
const IstiodEndpointsEnv = "MESHCTL_ISTIOD_ENDPOINTS"

// Refs resolves clusters given as PROJECT/LOCATION/NAME, kube contexts or
// bare names (in --project and --location).
func (f *Factory) Refs(args []string) ([]multicluster.Ref, error) {
	contexts, err := kube.Contexts(f.KubeConfig())
	if err != nil {
		return nil, failure.WithHint(err, "pass --kubeconfig, or run `gcloud container clusters get-credentials` for each cluster")
	}
	return multicluster.ParseRefs(args, multicluster.RefDefaults{Project: f.Settings.Project, Location: f.Settings.Location, Contexts: contexts})
}

// RESTConfigFor returns the client configuration of a kube context.
func (f *Factory) RESTConfigFor(context string) (*rest.Config, error) {
	cfg := f.KubeConfig()
	cfg.Context = context
	return kube.RESTConfig(cfg)
}

// KubeFor returns a Kubernetes client for a kube context.
func (f *Factory) KubeFor(context string) (kubernetes.Interface, error) {
	rc, err := f.RESTConfigFor(context)
	if err != nil {
		return nil, err
	}
	return f.NewKubeClient(rc)
}

// MultiClusterClients builds what the commands over several clusters use.
func (f *Factory) MultiClusterClients(ctx context.Context) (multicluster.Clients, error) {
	var c multicluster.Clients
	gke, err := f.ClusterManager(ctx)
	if err != nil {
		return c, err
	}
	fw, err := NewCompute(ctx, f, compute.NewFirewallsRESTClient)
	if err != nil {
		return c, err
	}
	c.GKE, c.Firewalls = gcp.NewGKE(gke), multicluster.FirewallClient{Client: fw}
	c.Kube = func(r multicluster.Ref) (kubernetes.Interface, error) { return f.KubeFor(r.Context) }
	c.Objects = func(r multicluster.Ref) (kube.Objects, error) {
		rc, err := f.RESTConfigFor(r.Context)
		if err != nil {
			return nil, err
		}
		return kube.NewDynamic(rc)
	}
	c.Istiods, err = f.istiodLocator()
	return c, err
}

func (f *Factory) istiodLocator() (multicluster.IstiodLocator, error) {
	if v, ok := f.Env.LookupEnv(IstiodEndpointsEnv); ok && v != "" {
		if err := gcp.ValidateEndpoint(v); err != nil {
			return nil, failure.Usage(fmt.Errorf("%s: %w", IstiodEndpointsEnv, err), "")
		}
		return locator{find: istiod.Directory{URL: v}.Find}, nil
	}
	return locator{find: istiod.Forwarder{RESTConfig: f.RESTConfigFor}.Find}, nil
}

// locator adapts internal/istiod to what pkg/multicluster declares.
type locator struct {
	find func(context.Context, istiod.Target, []string) ([]istiod.Endpoint, error)
}

func (l locator) Istiods(ctx context.Context, r multicluster.Ref, revisions []string) ([]multicluster.IstiodEndpoint, error) {
	eps, err := l.find(ctx, istiod.Target{Project: r.Project, Location: r.Location, Cluster: r.Name, Context: r.Context}, revisions)
	if err != nil {
		return nil, err
	}
	out := make([]multicluster.IstiodEndpoint, len(eps))
	for i, e := range eps {
		out[i] = multicluster.IstiodEndpoint{Revision: e.Revision, DebugURL: e.DebugURL, SecureXDS: e.SecureXDS, Close: e.Close}
	}
	return out, nil
}
