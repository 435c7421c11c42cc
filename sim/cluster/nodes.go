package cluster

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/meshctl/meshctl/sim/scenario"
)

// NodeObject renders the i-th scenario node as the Node GKE would
// register: GKE's labels, a gce:// provider ID, its /24 of the cluster's
// Pod range (kwok gives its Pods addresses from it) and the machine type's
// real capacity.
func NodeObject(sc scenario.Scenario, i int, n scenario.Node) (*corev1.Node, error) {
	shape, ok := scenario.LookupMachineType(n.MachineType)
	if !ok {
		return nil, fmt.Errorf("node pool %s: unknown machine type %q", n.Pool, n.MachineType)
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(shape.GuestCPU), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(int64(shape.MemoryMB)*1024*1024, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(110, resource.DecimalSI),
	}
	// GKE reserves part of each node for the system; keep the simulation
	// honest about it so small nodes fill up as they do on GKE.
	allocatable := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(int64(shape.GuestCPU)*1000-int64(60+shape.GuestCPU*10), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(int64(shape.MemoryMB)*1024*1024*3/4, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(110, resource.DecimalSI),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: n.Name,
			Labels: map[string]string{
				"kubernetes.io/hostname":                   n.Name,
				"kubernetes.io/os":                         "linux",
				"kubernetes.io/arch":                       "amd64",
				"topology.kubernetes.io/region":            sc.Region,
				"topology.kubernetes.io/zone":              n.Zone,
				"failure-domain.beta.kubernetes.io/region": sc.Region,
				"failure-domain.beta.kubernetes.io/zone":   n.Zone,
				"node.kubernetes.io/instance-type":         n.MachineType,
				"beta.kubernetes.io/instance-type":         n.MachineType,
				"cloud.google.com/gke-nodepool":            n.Pool,
				"cloud.google.com/machine-family":          scenario.MachineFamily(n.MachineType),
				"cloud.google.com/gke-os-distribution":     "cos",
				"cloud.google.com/gke-container-runtime":   "containerd",
				"type":                                     "kwok",
			},
			Annotations: map[string]string{
				// kwok manages the node (heartbeats, pod status) without a kubelet.
				"kwok.x-k8s.io/node": "fake",
			},
		},
		Spec: corev1.NodeSpec{
			ProviderID: fmt.Sprintf("gce://%s/%s/%s", sc.Project, n.Zone, n.Name),
			PodCIDR:    sc.NodePodCIDR(i),
			PodCIDRs:   []string{sc.NodePodCIDR(i)},
		},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: allocatable,
			// The node's address in its subnet, as the Compute instance has it.
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: sc.NodeIP(i)},
				{Type: corev1.NodeHostName, Address: n.Name},
			},
			NodeInfo: corev1.NodeSystemInfo{
				Architecture: "amd64", OperatingSystem: "linux",
				OSImage: "Container-Optimized OS from Google", KubeletVersion: KubeVersion,
				ContainerRuntimeVersion: "containerd://2.0.4",
			},
		},
	}, nil
}

// EnsureNodes registers every scenario node that is missing and removes
// nodes that are not in the scenario, so a re-run converges on the shape.
func EnsureNodes(ctx context.Context, kc kubernetes.Interface, sc scenario.Scenario) error {
	want := map[string]bool{}
	for i, n := range sc.Nodes() {
		want[n.Name] = true
		obj, err := NodeObject(sc, i, n)
		if err != nil {
			return err
		}
		_, err = kc.CoreV1().Nodes().Create(ctx, obj, metav1.CreateOptions{FieldManager: "meshsim"})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("register node %s: %w", n.Name, err)
		}
		// Capacity is status, which a create drops; a merge patch of the
		// status cannot conflict with kwok's own status updates.
		patch, _ := json.Marshal(map[string]any{"status": map[string]any{
			"capacity": obj.Status.Capacity, "allocatable": obj.Status.Allocatable, "nodeInfo": obj.Status.NodeInfo,
			"addresses": obj.Status.Addresses}})
		if _, err := kc.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "meshsim"}, "status"); err != nil {
			return fmt.Errorf("set capacity of node %s: %w", n.Name, err)
		}
	}
	existing, err := kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "type=kwok"})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	for _, n := range existing.Items {
		if !want[n.Name] {
			if err := kc.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("remove node %s: %w", n.Name, err)
			}
		}
	}
	return nil
}
