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
	"github.com/meshctl/meshctl/sim/state"
)

// ProvisioningTimeEnv sets how long the fake fleet takes to provision a
// managed control plane (a Go duration; default 3s). It is read by the
// daemon, which inherits `meshsim up`'s environment; POST
// /meshsim/hub/knobs changes it at run time.
const ProvisioningTimeEnv = "MESHSIM_FLEET_PROVISIONING_TIME"

// newHub builds the fake fleet API over the fake GKE's cluster, with an
// agent acting in the simulated cluster.
func newHub(d state.Dir, s state.Sim, gke *fakegcp.Server, kc kubernetes.Interface, policy *fakeiam.Policy) (*fakehub.Server, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", d.Kubeconfig())
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	knobs := fakehub.DefaultKnobs()
	if v := os.Getenv(ProvisioningTimeEnv); v != "" {
		t, err := time.ParseDuration(v)
		if err != nil {
			return nil, err
		}
		knobs.ProvisioningTime = fakehub.Duration(t)
	}
	agent := &fakehub.KubeAgent{Dir: d, BinDir: s.BinDir, Kube: kc, Dynamic: dyn, Scenario: gke.Scenario}
	return fakehub.New(gke, fakehub.Options{Knobs: &knobs, Agent: agent, Logf: log.Printf, IAM: policy}), nil
}
