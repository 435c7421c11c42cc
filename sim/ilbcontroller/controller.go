package ilbcontroller

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	compute "google.golang.org/api/compute/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// eventSource is the component GKE's load balancer events come from.
const eventSource = "service-controller"

// Options describe the cluster the controller serves.
type Options struct {
	Project string
	// Region is the cluster's region, where the regional objects go.
	Region string
	// Network and Subnetwork are the cluster's (names); internal
	// addresses come from the subnetwork.
	Network, Subnetwork string
	// NetworkProject holds Network and Subnetwork: a Shared VPC's host
	// project, where GKE also makes the firewall rules (its service agent
	// may); empty means Project.
	NetworkProject string
	// NodeTag is the nodes' network tag, the firewall rules' target.
	NodeTag string
	// ClusterID is GKE's 16-hex-digit cluster id (ClusterID).
	ClusterID string
	// Resync is how often every Service is checked again without a
	// change, repairing what someone else changed; 0 means 30 s.
	Resync time.Duration
	// Logf receives what the controller has to say; nil means log.Printf.
	Logf func(format string, args ...any)
}

// Controller builds GKE's internal load balancers for a cluster's Services.
type Controller struct {
	opts Options
	kube kubernetes.Interface
	g    gce
	// net is Compute in the network's project: the network, subnetworks
	// and firewall rules.
	net      gce
	factory  informers.SharedInformerFactory
	trigger  chan struct{}
	recorder record.EventRecorder
	events   record.EventBroadcaster

	mu sync.Mutex
	// synced is, per Service UID, the fingerprint of the spec last built,
	// so events come once per change, not on every pass.
	synced map[types.UID]string
	// failed is, per Service UID, the last error reported in an event.
	failed map[types.UID]string
}

// New builds a controller; Run starts it.
func New(kube kubernetes.Interface, svc *compute.Service, opts Options) *Controller {
	if opts.Resync == 0 {
		opts.Resync = 30 * time.Second
	}
	if opts.Logf == nil {
		opts.Logf = log.Printf
	}
	c := &Controller{opts: opts, kube: kube, g: gce{svc: svc, project: opts.Project, region: opts.Region},
		net:     gce{svc: svc, project: cmp.Or(opts.NetworkProject, opts.Project), region: opts.Region},
		factory: informers.NewSharedInformerFactory(kube, 10*time.Minute), trigger: make(chan struct{}, 1),
		synced: map[types.UID]string{}, failed: map[types.UID]string{}}
	c.events = record.NewBroadcaster()
	c.recorder = c.events.NewRecorder(clientgoscheme.Scheme, corev1.EventSource{Component: eventSource})
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.poke() },
		UpdateFunc: func(any, any) { c.poke() },
		DeleteFunc: func(any) { c.poke() },
	}
	for _, inf := range []cache.SharedIndexInformer{c.factory.Core().V1().Services().Informer(), c.factory.Core().V1().Nodes().Informer()} {
		_, _ = inf.AddEventHandler(handler)
	}
	return c
}

// ClusterID is the cluster id meshsim gives a cluster: the first 16 hex
// digits of its kube-system namespace's UID.
func ClusterID(ctx context.Context, kube kubernetes.Interface) (string, error) {
	ns, err := kube.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	id := strings.ReplaceAll(string(ns.UID), "-", "")
	if len(id) < 16 {
		return "", fmt.Errorf("kube-system's UID %q is too short for a cluster id", ns.UID)
	}
	return id[:16], nil
}

func (c *Controller) poke() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// Run reconciles until ctx ends: on every change of Services and nodes
// (coalesced), every few seconds while something failed, and every Resync.
func (c *Controller) Run(ctx context.Context) {
	c.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.kube.CoreV1().Events("")})
	defer c.events.Shutdown()
	c.factory.Start(ctx.Done())
	c.factory.WaitForCacheSync(ctx.Done())
	for {
		wait := c.opts.Resync
		if err := c.Reconcile(ctx); err != nil {
			c.opts.Logf("internal load balancers: %v", err)
			wait = 3 * time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-c.trigger:
			// Coalesce a burst of events into one pass.
			time.Sleep(100 * time.Millisecond)
		case <-time.After(wait):
		}
	}
}

// Reconcile makes one pass over every Service.
func (c *Controller) Reconcile(ctx context.Context) error {
	services, err := c.factory.Core().V1().Services().Lister().List(labels.Everything())
	if err != nil {
		return err
	}
	sort.Slice(services, func(i, j int) bool {
		return services[i].Namespace+"/"+services[i].Name < services[j].Namespace+"/"+services[j].Name
	})
	var errs []error
	for _, svc := range services {
		if err := c.reconcileService(ctx, svc); err != nil {
			errs = append(errs, fmt.Errorf("service %s/%s: %w", svc.Namespace, svc.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (c *Controller) reconcileService(ctx context.Context, svc *corev1.Service) error {
	wanted := svc.DeletionTimestamp == nil && Internal(svc)
	has := slices.Contains(svc.Finalizers, Finalizer)
	switch {
	case wanted:
		return c.sync(ctx, svc)
	case has:
		return c.remove(ctx, svc)
	}
	return nil
}

// sync builds or repairs the Service's load balancer and publishes its
// address.
func (c *Controller) sync(ctx context.Context, svc *corev1.Service) error {
	p, err := c.plan(svc)
	fp := fingerprint(svc)
	c.mu.Lock()
	changed := c.synced[svc.UID] != fp
	c.mu.Unlock()
	if changed {
		c.recorder.Event(svc, corev1.EventTypeNormal, "EnsuringLoadBalancer", "Ensuring load balancer")
	}
	if err == nil && !slices.Contains(svc.Finalizers, Finalizer) {
		svc, err = c.setFinalizers(ctx, svc, append(slices.Clone(svc.Finalizers), Finalizer))
	}
	var ip string
	if err == nil {
		ip, err = c.ensure(ctx, p)
	}
	if err == nil {
		_, err = c.setIngress(ctx, svc, ip)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		delete(c.synced, svc.UID)
		if c.failed[svc.UID] != err.Error() {
			c.failed[svc.UID] = err.Error()
			c.recorder.Event(svc, corev1.EventTypeWarning, "SyncLoadBalancerFailed",
				"Error syncing load balancer: failed to ensure load balancer: "+err.Error())
		}
		return err
	}
	delete(c.failed, svc.UID)
	c.synced[svc.UID] = fp
	if changed {
		c.recorder.Event(svc, corev1.EventTypeNormal, "EnsuredLoadBalancer", "Ensured load balancer")
	}
	return nil
}

// remove deletes what sync made for a Service that no longer asks for it,
// then its finalizer and (when it still exists) its address.
func (c *Controller) remove(ctx context.Context, svc *corev1.Service) error {
	c.recorder.Event(svc, corev1.EventTypeNormal, "DeletingLoadBalancer", "Deleting load balancer")
	if err := c.teardown(ctx, svc); err != nil {
		c.recorder.Event(svc, corev1.EventTypeWarning, "SyncLoadBalancerFailed", "Error deleting load balancer: "+err.Error())
		return err
	}
	if svc.DeletionTimestamp == nil {
		var err error
		if svc, err = c.setIngress(ctx, svc, ""); err != nil {
			return err
		}
	}
	rest := slices.DeleteFunc(slices.Clone(svc.Finalizers), func(f string) bool { return f == Finalizer })
	if _, err := c.setFinalizers(ctx, svc, rest); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.synced, svc.UID)
	delete(c.failed, svc.UID)
	c.mu.Unlock()
	c.recorder.Event(svc, corev1.EventTypeNormal, "DeletedLoadBalancer", "Deleted load balancer")
	return nil
}

// setFinalizers writes the Service's finalizers, guarded by the version
// read (a conflict is retried on the next pass), and returns the Service
// as written.
func (c *Controller) setFinalizers(ctx context.Context, svc *corev1.Service, finalizers []string) (*corev1.Service, error) {
	if finalizers == nil {
		finalizers = []string{}
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"finalizers": finalizers, "resourceVersion": svc.ResourceVersion}})
	return c.kube.CoreV1().Services(svc.Namespace).Patch(ctx, svc.Name, types.MergePatchType, patch, metav1.PatchOptions{})
}

// setIngress publishes the load balancer's address ("" takes it away) and
// returns the Service as written.
func (c *Controller) setIngress(ctx context.Context, svc *corev1.Service, ip string) (*corev1.Service, error) {
	var want []corev1.LoadBalancerIngress
	if ip != "" {
		want = []corev1.LoadBalancerIngress{{IP: ip}}
	}
	cur := svc.Status.LoadBalancer.Ingress
	if len(cur) == len(want) && (len(cur) == 0 || cur[0].IP == ip) {
		return svc, nil
	}
	next := svc.DeepCopy()
	next.Status.LoadBalancer.Ingress = want
	return c.kube.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
}

// fingerprint covers what a load balancer is built from.
func fingerprint(svc *corev1.Service) string {
	b, _ := json.Marshal([]any{svc.Spec.Ports, svc.Spec.LoadBalancerIP, svc.Spec.LoadBalancerSourceRanges, svc.Spec.ExternalTrafficPolicy,
		svc.Spec.HealthCheckNodePort, svc.Spec.SessionAffinity, svc.Annotations[GlobalAccessAnnotation], svc.Annotations[SubnetAnnotation]})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
