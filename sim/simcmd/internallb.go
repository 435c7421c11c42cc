package simcmd

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"strconv"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshctl/meshctl/sim/ewgateway"
	"github.com/meshctl/meshctl/sim/fakeiam"
	"github.com/meshctl/meshctl/sim/ilbcontroller"
	"github.com/meshctl/meshctl/sim/state"
)

// startInternalLBs runs GKE's internal load balancer controller for every
// cluster, against the Compute API at endpoint, as the project's GKE
// service agent (the user's permissions do not bound it), until ctx ends.
func startInternalLBs(ctx context.Context, d state.Dir, s state.Sim, endpoint string) error {
	agent := &http.Client{Transport: fakeiam.AsPrincipal(fakeiam.GKEServiceAgent(strconv.FormatInt(s.Scenario.ProjectNumber, 10)), nil)}
	svc, err := ilbcontroller.NewComputeService(ctx, endpoint, agent)
	if err != nil {
		return err
	}
	for _, c := range s.AllClusters() {
		kube, _, err := clusterClients(d, c)
		if err != nil {
			return err
		}
		id, err := ilbcontroller.ClusterID(ctx, kube)
		if err != nil {
			return fmt.Errorf("cluster %s: read its id: %w", c.Name(), err)
		}
		sc, name := c.Scenario, c.Name()
		ctl := ilbcontroller.New(kube, svc, ilbcontroller.Options{Project: sc.Project, Region: sc.Region, Network: sc.Network, NetworkProject: sc.NetworkProject(),
			Subnetwork: sc.Subnetwork, NodeTag: sc.NodeTag(), ClusterID: id,
			Logf: func(format string, a ...any) { log.Printf("cluster %s: "+format, append([]any{name}, a...)...) }})
		go ctl.Run(ctx)
	}
	return nil
}

// newGatewayRouter routes simulated VMs' connections through internal
// load balancers as each cluster's east-west gateway would.
func newGatewayRouter(d state.Dir, s state.Sim) (*ewgateway.Router, error) {
	r := &ewgateway.Router{Istiods: d.Istiods}
	for _, c := range s.AllClusters() {
		kube, istio, err := clusterClients(d, c)
		if err != nil {
			return nil, err
		}
		r.Clusters = append(r.Clusters, ewgateway.Cluster{Name: c.Name(), Kube: kube, Istio: istio})
	}
	return r, nil
}

// clusterClients are a cluster's Kubernetes and Istio clients.
func clusterClients(d state.Dir, c state.Cluster) (kubernetes.Interface, istioclient.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", d.ClusterKubeconfig(c.Name()))
	if err != nil {
		return nil, nil, fmt.Errorf("cluster %s: %w", c.Name(), err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	istio, err := istioclient.NewForConfig(cfg)
	return kube, istio, err
}
