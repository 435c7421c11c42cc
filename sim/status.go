package sim

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshctl/meshctl/sim/state"
)

// Status is what runs where. The top-level Kubernetes fields are the first
// cluster's; Clusters has every cluster's.
type Status struct {
	StateDir      string         `json:"stateDir"`
	Up            bool           `json:"up"`
	KubeAPIServer string         `json:"kubeAPIServer,omitempty"`
	KubeVersion   string         `json:"kubeVersion,omitempty"`
	Nodes         int            `json:"nodes"`
	ReadyNodes    int            `json:"readyNodes"`
	GCPEndpoint   string         `json:"gcpEndpoint,omitempty"`
	Processes     map[string]int `json:"processes"` // name -> pid, live ones
	Istiods       []state.Istiod `json:"istiods,omitempty"`
	// Reach serves the reachability model's paths and recent attempts
	// (GET; see sim/reach).
	Reach string `json:"reachURL,omitempty"`
	// VMProxy is where `meshsim vm` tunnels through internal load
	// balancers (CONNECT with the Meshsim-Caller header, sim/reach).
	VMProxy  string          `json:"vmProxy,omitempty"`
	Clusters []ClusterStatus `json:"clusters,omitempty"`
	Problems []string        `json:"problems,omitempty"`
}

// ClusterStatus is one simulated cluster: how to reach it from this
// machine (Context, KubeAPIServer), the addresses GKE gives it, and its
// istiods' local ports.
type ClusterStatus struct {
	Name     string `json:"name"`
	Project  string `json:"project"`
	Location string `json:"location"`
	Region   string `json:"region"`
	// Context is its context in `meshsim env`'s kubeconfig.
	Context       string `json:"context"`
	KubeAPIServer string `json:"kubeAPIServer"`
	// PrivateEndpoint is the address other clusters' istiods dial (a remote
	// secret's server is https://PrivateEndpoint); PublicEndpoint likewise.
	// Both are in the API server's certificate; only istiods, through the
	// reachability proxy, can dial them.
	PrivateEndpoint string `json:"privateEndpoint"`
	PublicEndpoint  string `json:"publicEndpoint"`
	MasterCIDR      string `json:"masterCidr"`
	PodCIDR         string `json:"podCidr"`
	// Network and Subnetwork are the cluster's VPC network and its
	// subnetwork (meshsim up --networks spreads clusters over several).
	Network    string `json:"network"`
	Subnetwork string `json:"subnetwork"`
	SubnetCIDR string `json:"subnetCidr"`
	NodeTag    string `json:"nodeTag"`
	// MeshClusterID is the cluster name asmcli installs istiod under
	// (CLUSTER_ID), which remote secrets for this cluster should carry.
	MeshClusterID string `json:"meshClusterID"`
	// Proxy is the reachability proxy its istiods use (HTTPS_PROXY).
	Proxy       string         `json:"proxy,omitempty"`
	KubeVersion string         `json:"kubeVersion,omitempty"`
	Nodes       int            `json:"nodes"`
	ReadyNodes  int            `json:"readyNodes"`
	Istiods     []IstiodStatus `json:"istiods,omitempty"`
}

// IstiodStatus is an istiod with the URL of its debug endpoints
// (/debug/clusterz, /debug/endpointShardz, /debug/networkz, ...), on its
// monitoring port.
type IstiodStatus struct {
	state.Istiod
	DebugURL string `json:"debugURL"`
}

// GetStatus inspects the simulator of a state directory.
func GetStatus(ctx context.Context, dir state.Dir) Status {
	st := Status{StateDir: string(dir), Processes: map[string]int{}}
	sim, err := dir.Load()
	if err != nil {
		st.Problems = append(st.Problems, err.Error())
		return st
	}
	st.KubeAPIServer, st.GCPEndpoint = sim.KubeAPIServer, sim.GCPEndpoint
	if sim.GCPEndpoint != "" {
		st.Reach = sim.GCPEndpoint + "/meshsim/reach"
	}
	if sim.VMProxyPort != 0 {
		st.VMProxy = fmt.Sprintf("http://127.0.0.1:%d", sim.VMProxyPort)
	}
	for _, name := range dir.Pids().Names() {
		if pid, ok := dir.Pids().Running(name); ok {
			st.Processes[name] = pid
		} else {
			st.Problems = append(st.Problems, name+" is not running")
		}
	}
	st.Istiods, _ = dir.Istiods()
	for i, c := range sim.AllClusters() {
		cs, problem := clusterStatus(ctx, dir, sim, c, st.Istiods)
		st.Clusters = append(st.Clusters, cs)
		if problem != "" {
			st.Problems = append(st.Problems, problem)
		}
		if i == 0 {
			st.KubeVersion, st.Nodes, st.ReadyNodes = cs.KubeVersion, cs.Nodes, cs.ReadyNodes
		}
	}
	st.Up = len(st.Problems) == 0
	return st
}

func clusterStatus(ctx context.Context, dir state.Dir, sim state.Sim, c state.Cluster, istiods []state.Istiod) (ClusterStatus, string) {
	sc := c.Scenario
	cs := ClusterStatus{Name: sc.Cluster, Project: sc.Project, Location: sc.Location, Region: sc.Region,
		Context: c.Context, KubeAPIServer: c.KubeAPIServer,
		PrivateEndpoint: sc.PrivateEndpointIP(), PublicEndpoint: sc.PublicEndpointIP(), MasterCIDR: sc.MasterCIDR,
		PodCIDR: sc.PodRange().String(), Network: sc.Network, Subnetwork: sc.Subnetwork,
		SubnetCIDR: sc.SubnetRange().String(), NodeTag: sc.NodeTag(),
		MeshClusterID: sc.MeshClusterID()}
	if c.ProxyPort != 0 {
		cs.Proxy = fmt.Sprintf("http://127.0.0.1:%d", c.ProxyPort)
	}
	for _, i := range istiods {
		// Records from before several clusters existed name no cluster.
		if i.Cluster == c.Name() || (i.Cluster == "" && !sim.Multi()) {
			cs.Istiods = append(cs.Istiods, IstiodStatus{Istiod: i, DebugURL: fmt.Sprintf("http://127.0.0.1:%d/debug", i.MonitorPort)})
		}
	}
	kc, err := KubeClientFor(dir, c)
	if !sim.Multi() {
		// The one-cluster layout before per-cluster kubeconfigs existed.
		kc, err = KubeClient(dir)
	}
	if err == nil {
		var ver string
		if ver, err = serverVersion(kc); err == nil {
			cs.KubeVersion = ver
		}
	}
	if err != nil {
		problem := "the Kubernetes API does not answer: " + err.Error()
		if sim.Multi() {
			problem = "the Kubernetes API of " + c.Name() + " does not answer: " + err.Error()
		}
		return cs, problem
	}
	if nodes, err := kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
		cs.Nodes, cs.ReadyNodes = len(nodes.Items), countReady(nodes.Items)
	}
	return cs, ""
}

func serverVersion(kc kubernetes.Interface) (string, error) {
	info, err := kc.Discovery().ServerVersion()
	if err != nil {
		return "", err
	}
	return info.GitVersion, nil
}

func countReady(nodes []corev1.Node) int {
	n := 0
	for _, node := range nodes {
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				n++
			}
		}
	}
	return n
}

func waitNodesReady(ctx context.Context, kc kubernetes.Interface, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		nodes, err := kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "type=kwok"})
		if err == nil && countReady(nodes.Items) >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nodes not ready after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
