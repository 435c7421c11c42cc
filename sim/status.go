package sim

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"

	"github.com/meshctl/meshctl/sim/state"
)

// Status is what runs where.
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
	Problems      []string       `json:"problems,omitempty"`
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
	for _, name := range dir.Pids().Names() {
		if pid, ok := dir.Pids().Running(name); ok {
			st.Processes[name] = pid
		} else {
			st.Problems = append(st.Problems, name+" is not running")
		}
	}
	st.Istiods, _ = dir.Istiods()
	kc, err := KubeClient(dir)
	if err == nil {
		var info *version.Info
		if info, err = kc.Discovery().ServerVersion(); err == nil {
			st.KubeVersion = info.GitVersion
		}
	}
	if err != nil {
		st.Problems = append(st.Problems, "the Kubernetes API does not answer: "+err.Error())
		return st
	}
	nodes, err := kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err == nil {
		st.Nodes = len(nodes.Items)
		st.ReadyNodes = countReady(nodes.Items)
	}
	st.Up = len(st.Problems) == 0
	return st
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
