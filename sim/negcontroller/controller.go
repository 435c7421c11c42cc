// Package negcontroller does in meshsim what GKE's NEG controller does for
// standalone NEGs: for each Service annotated with
// cloud.google.com/neg: {"exposed_ports": {"PORT": {...}}} it keeps one zonal
// network endpoint group per zone that has nodes, holding the ready pods
// behind that port, and writes cloud.google.com/neg-status in GKE's format.
package negcontroller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/meshctl/meshctl/sim/fakegcp"
)

// Annotation keys, as GKE spells them.
const (
	NEGAnnotation       = "cloud.google.com/neg"
	NEGStatusAnnotation = "cloud.google.com/neg-status"
)

// Compute is what the controller needs of the (simulated) Compute API.
type Compute interface {
	EnsureNEG(zone, name, description string) error
	SetNEGEndpoints(zone, name string, eps []fakegcp.Endpoint) error
	// DeleteNEG fails while a backend service still uses the NEG; the
	// controller then keeps it and tries again later, as GKE does.
	DeleteNEG(zone, name string) error
	NEGs() []fakegcp.NEGInfo
}

// negDescription is what GKE writes into a NEG's description.
type negDescription struct {
	ClusterUID  string `json:"cluster-uid"`
	Namespace   string `json:"namespace"`
	ServiceName string `json:"service-name"`
	Port        string `json:"port"`
}

type annotation struct {
	ExposedPorts map[string]struct {
		Name string `json:"name,omitempty"`
	} `json:"exposed_ports"`
}

type negStatus struct {
	NetworkEndpointGroups map[string]string `json:"network_endpoint_groups"`
	Zones                 []string          `json:"zones"`
}

// Controller reconciles annotated Services into NEGs.
type Controller struct {
	kube       kubernetes.Interface
	compute    Compute
	clusterUID string
	factory    informers.SharedInformerFactory
	trigger    chan struct{}
	// Errors receives reconcile errors (e.g. for a log); may be nil.
	Errors func(error)
}

// New builds a controller. clusterUID names the cluster in NEG names and
// descriptions; GKE uses a per-cluster id, meshsim the kube-system UID.
func New(kube kubernetes.Interface, compute Compute, clusterUID string) *Controller {
	c := &Controller{
		kube: kube, compute: compute, clusterUID: clusterUID,
		factory: informers.NewSharedInformerFactory(kube, 10*time.Minute),
		trigger: make(chan struct{}, 1),
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.poke() },
		UpdateFunc: func(any, any) { c.poke() },
		DeleteFunc: func(any) { c.poke() },
	}
	for _, inf := range []cache.SharedIndexInformer{
		c.factory.Core().V1().Services().Informer(),
		c.factory.Core().V1().Nodes().Informer(),
		c.factory.Core().V1().Pods().Informer(),
		c.factory.Discovery().V1().EndpointSlices().Informer(),
	} {
		_, _ = inf.AddEventHandler(handler)
	}
	return c
}

// ClusterUID is the id meshsim's NEG names use for a cluster.
func ClusterUID(ctx context.Context, kube kubernetes.Interface) (string, error) {
	ns, err := kube.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	uid := ""
	for _, r := range string(ns.UID) {
		if r != '-' {
			uid += string(r)
		}
	}
	return uid[:8], nil
}

func (c *Controller) poke() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// Run reconciles until ctx ends: on every change of Services, endpoints,
// pods or nodes (coalesced), and every few seconds to retry NEGs that
// could not be deleted yet.
func (c *Controller) Run(ctx context.Context) {
	c.factory.Start(ctx.Done())
	c.factory.WaitForCacheSync(ctx.Done())
	tick := time.NewTicker(3 * time.Second)
	defer tick.Stop()
	for {
		if err := c.Reconcile(ctx); err != nil && c.Errors != nil {
			c.Errors(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-c.trigger:
			// Coalesce a burst of events (a rollout) into one pass.
			time.Sleep(100 * time.Millisecond)
		case <-tick.C:
		}
	}
}

// Reconcile makes one pass over every Service.
func (c *Controller) Reconcile(ctx context.Context) error {
	services, err := c.factory.Core().V1().Services().Lister().List(labels.Everything())
	if err != nil {
		return err
	}
	zones, err := c.nodeZones()
	if err != nil {
		return err
	}
	var errs []error
	wanted := map[string]bool{} // zone/name
	for _, svc := range services {
		negs, err := c.reconcileService(ctx, svc, zones)
		if err != nil {
			errs = append(errs, fmt.Errorf("service %s/%s: %w", svc.Namespace, svc.Name, err))
		}
		for _, n := range negs {
			for _, z := range zones {
				wanted[z+"/"+n] = true
			}
		}
	}
	// NEGs of this cluster that no Service asks for any more.
	for _, neg := range c.compute.NEGs() {
		var d negDescription
		if json.Unmarshal([]byte(neg.Description), &d) != nil || d.ClusterUID != c.clusterUID || wanted[neg.Zone+"/"+neg.Name] {
			continue
		}
		// In use by a backend service: kept, retried on the next pass.
		_ = c.compute.DeleteNEG(neg.Zone, neg.Name)
	}
	return errors.Join(errs...)
}

// reconcileService keeps one Service's NEGs and status; it returns the
// names of the NEGs the Service wants.
func (c *Controller) reconcileService(ctx context.Context, svc *corev1.Service, zones []string) ([]string, error) {
	raw, annotated := svc.Annotations[NEGAnnotation]
	if !annotated {
		if _, has := svc.Annotations[NEGStatusAnnotation]; has {
			return nil, c.writeStatus(ctx, svc, "")
		}
		return nil, nil
	}
	var ann annotation
	if err := json.Unmarshal([]byte(raw), &ann); err != nil {
		return nil, fmt.Errorf("annotation %s is not valid JSON: %w", NEGAnnotation, err)
	}
	status := negStatus{NetworkEndpointGroups: map[string]string{}, Zones: zones}
	var names []string
	var errs []error
	for portStr, cfg := range ann.ExposedPorts {
		port, err := strconv.Atoi(portStr)
		svcPort := servicePort(svc, int32(port))
		if err != nil || svcPort == nil {
			errs = append(errs, fmt.Errorf("port %s specified in %q doesn't exist in the service", portStr, NEGAnnotation))
			continue
		}
		name := cfg.Name
		if name == "" {
			name = NEGName(c.clusterUID, svc.Namespace, svc.Name, int32(port))
		}
		names = append(names, name)
		status.NetworkEndpointGroups[portStr] = name
		desc, _ := json.Marshal(negDescription{ClusterUID: c.clusterUID, Namespace: svc.Namespace, ServiceName: svc.Name, Port: portStr})
		byZone, err := c.endpoints(svc, svcPort)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, z := range zones {
			if err := c.compute.EnsureNEG(z, name, string(desc)); err != nil {
				errs = append(errs, fmt.Errorf("NEG %s in %s: %w", name, z, err))
				continue
			}
			if err := c.compute.SetNEGEndpoints(z, name, byZone[z]); err != nil {
				errs = append(errs, fmt.Errorf("endpoints of NEG %s in %s: %w", name, z, err))
			}
		}
	}
	b, _ := json.Marshal(status)
	if err := c.writeStatus(ctx, svc, string(b)); err != nil {
		errs = append(errs, err)
	}
	return names, errors.Join(errs...)
}

// writeStatus sets (or, given "", removes) the neg-status annotation.
func (c *Controller) writeStatus(ctx context.Context, svc *corev1.Service, status string) error {
	if svc.Annotations[NEGStatusAnnotation] == status {
		return nil
	}
	var value any = status
	if status == "" {
		value = nil
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{NEGStatusAnnotation: value}}})
	_, err := c.kube.CoreV1().Services(svc.Namespace).Patch(ctx, svc.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "neg-controller"})
	return err
}

func servicePort(svc *corev1.Service, port int32) *corev1.ServicePort {
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == port {
			return &svc.Spec.Ports[i]
		}
	}
	return nil
}

// endpoints are the ready pods behind a Service port, by zone, from the
// Service's EndpointSlices.
func (c *Controller) endpoints(svc *corev1.Service, port *corev1.ServicePort) (map[string][]fakegcp.Endpoint, error) {
	slices, err := c.factory.Discovery().V1().EndpointSlices().Lister().EndpointSlices(svc.Namespace).List(
		labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc.Name}))
	if err != nil {
		return nil, err
	}
	nodes := c.factory.Core().V1().Nodes().Lister()
	pods := c.factory.Core().V1().Pods().Lister()
	out := map[string][]fakegcp.Endpoint{}
	for _, slice := range slices {
		target := int32(0)
		for _, p := range slice.Ports {
			if p.Port != nil && (p.Name == nil && port.Name == "" || p.Name != nil && *p.Name == port.Name) {
				target = *p.Port
			}
		}
		if target == 0 {
			continue
		}
		for _, ep := range slice.Endpoints {
			if ep.Conditions.Ready == nil || !*ep.Conditions.Ready || ep.NodeName == nil || len(ep.Addresses) == 0 {
				continue
			}
			node, err := nodes.Get(*ep.NodeName)
			if err != nil {
				continue
			}
			zone := node.Labels["topology.kubernetes.io/zone"]
			e := fakegcp.Endpoint{Instance: node.Name, IPAddress: ep.Addresses[0], Port: int(target), Ready: true}
			if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" {
				if pod, err := pods.Pods(svc.Namespace).Get(ep.TargetRef.Name); err == nil {
					e.ServedPorts = containerPorts(pod)
				}
			}
			out[zone] = append(out[zone], e)
		}
	}
	for z := range out {
		sort.Slice(out[z], func(i, j int) bool { return out[z][i].IPAddress < out[z][j].IPAddress })
	}
	return out, nil
}

// containerPorts are the ports a pod's containers declare: what a health
// check from outside can reach.
func containerPorts(pod *corev1.Pod) []int {
	var ports []int
	for _, ctr := range pod.Spec.Containers {
		for _, p := range ctr.Ports {
			ports = append(ports, int(p.ContainerPort))
		}
	}
	sort.Ints(ports)
	return ports
}

// nodeZones lists the zones that have nodes, sorted.
func (c *Controller) nodeZones() ([]string, error) {
	nodes, err := c.factory.Core().V1().Nodes().Lister().List(labels.Everything())
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var zones []string
	for _, n := range nodes {
		if z := n.Labels["topology.kubernetes.io/zone"]; z != "" && !seen[z] {
			seen[z] = true
			zones = append(zones, z)
		}
	}
	sort.Strings(zones)
	return zones, nil
}
