package simcmd

import (
	"log"
	"os"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/fakehub"
	"github.com/meshctl/meshctl/sim/fakeiam"
	"github.com/meshctl/meshctl/sim/mesh"
	"github.com/meshctl/meshctl/sim/scenario"
	"github.com/meshctl/meshctl/sim/state"
)

// ProvisioningTimeEnv sets how long the fake fleet takes to provision a
// managed control plane (a Go duration; default 3s). It is read by the
// daemon, which inherits `meshsim up`'s environment; POST
// /meshsim/hub/knobs changes it at run time.
const ProvisioningTimeEnv = "MESHSIM_FLEET_PROVISIONING_TIME"

// newHub builds the fake fleet API over the fake GKE's clusters. Each
// membership gets an agent acting in the cluster it names: that cluster's
// API server (its own kubeconfig) and a local istiod of its own for the
// managed revision.
func newHub(d state.Dir, s state.Sim, gke *fakegcp.Server, policy *fakeiam.Policy) (*fakehub.Server, error) {
	knobs := fakehub.DefaultKnobs()
	if v := os.Getenv(ProvisioningTimeEnv); v != "" {
		t, err := time.ParseDuration(v)
		if err != nil {
			return nil, err
		}
		knobs.ProvisioningTime = fakehub.Duration(t)
	}
	agentFor := func(sc scenario.Scenario) (fakehub.Agent, error) {
		return newFleetAgent(d, s, gke, sc.Location, sc.Cluster)
	}
	return fakehub.New(gke, fakehub.Options{Knobs: &knobs, AgentFor: agentFor, Logf: log.Printf, IAM: policy}), nil
}

// newFleetAgent is the fleet agent of one simulated cluster.
func newFleetAgent(d state.Dir, s state.Sim, gke *fakegcp.Server, location, name string) (*fakehub.KubeAgent, error) {
	t, err := mesh.TargetFor(d, s, "", location, name, "")
	if err != nil {
		return nil, err
	}
	recorded, _ := s.ClusterFor("", location, name)
	cfg, err := clientcmd.BuildConfigFromFlags("", t.Kubeconfig)
	if err != nil {
		return nil, err
	}
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	// The cluster's shape as GKE describes it now (node pools and
	// workload identity change at run time).
	current := func() scenario.Scenario {
		for _, sc := range gke.SimulatedClusters() {
			if sc.Location == location && sc.Cluster == name {
				return sc
			}
		}
		return recorded.Scenario // GKE deleted it: the shape meshsim started
	}
	return &fakehub.KubeAgent{Dir: d, BinDir: s.BinDir, Location: location, Cluster: name, Kube: kc, Dynamic: dyn, Scenario: current}, nil
}
