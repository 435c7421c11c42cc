package gkegateway

import (
	"cmp"
	"context"
	"log"
	"sync"
	"time"

	gkev1 "github.com/GoogleCloudPlatform/gke-gateway-api/apis/networking/v1"
	gkeclient "github.com/GoogleCloudPlatform/gke-gateway-api/pkg/client/clientset/versioned"
	gkeinformers "github.com/GoogleCloudPlatform/gke-gateway-api/pkg/client/informers/externalversions"
	compute "google.golang.org/api/compute/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gwinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"
)

// Identity of the controller, as GKE shows it.
const (
	// eventSource is the component GKE's events come from.
	eventSource = "sc-gateway-controller"
	// finalizer is the one GKE puts on Gateways it serves.
	finalizer = "gateway.finalizer.networking.gke.io"
	// fieldManager names the controller's writes to Kubernetes objects.
	fieldManager = "sc-gateway-controller"
)

// Options describe the cluster the controller serves.
type Options struct {
	Project       string
	ProjectNumber int64
	Location      string
	Cluster       string
	// Network is the cluster's VPC network; NodeTag the nodes' network tag
	// (the firewall rule's target).
	Network string
	// NetworkProject holds Network: a Shared VPC's host project, where
	// the firewall rule goes (GKE's service agent may make it there);
	// empty means Project.
	NetworkProject string
	NodeTag        string
	// ClusterUID identifies the cluster; the token in every name derives
	// from it.
	ClusterUID string
	// Knobs holds the simulated delays; nil means DefaultKnobs.
	Knobs *KnobsHolder
	// CertificateMaps verifies the maps Gateways name; nil, or an endpoint
	// not serving Certificate Manager, lets every map through unverified.
	CertificateMaps CertificateMaps
	// Logf receives what the controller has to say; nil means log.Printf.
	Logf func(format string, args ...any)
}

// Clients are the controller's ways into Kubernetes and Compute.
type Clients struct {
	Kube    kubernetes.Interface
	Gateway gwclient.Interface
	GKE     gkeclient.Interface
	Compute *compute.Service
}

// Controller is meshsim's stand-in for GKE's Gateway controller for the
// gke-l7-global-external-managed class.
type Controller struct {
	opts Options
	cl   Clients
	g    gce
	// net is Compute in the network's project, for the firewall rule.
	net   gce
	names namer
	knobs *KnobsHolder

	kubeInformers informers.SharedInformerFactory
	gwInformers   gwinformers.SharedInformerFactory
	gkeInformers  gkeinformers.SharedInformerFactory
	recorder      record.EventRecorder
	broadcaster   record.EventBroadcaster

	trigger chan struct{}
	// passMu serialises passes; the fields below belong to the pass.
	passMu sync.Mutex
	// Per-Gateway memory between passes, only for deciding which events to
	// write; everything else is read afresh each pass.
	reported map[types.NamespacedName]report
	// certMapsUnverified is set once the missing Certificate Manager API
	// has been logged.
	certMapsUnverified bool
	lastResync         time.Time
	// idle is set when there is no Gateway and Compute holds nothing of
	// the controller's: passes then make no call until a Gateway appears.
	idle bool
}

// report is what was last said about a Gateway.
type report struct {
	generation int64
	warning    string
	pending    string
	programmed bool
}

// New builds a controller; Run starts it.
func New(cl Clients, opts Options) *Controller {
	if opts.Knobs == nil {
		opts.Knobs = NewKnobsHolder(DefaultKnobs())
	}
	if opts.Logf == nil {
		opts.Logf = log.Printf
	}
	c := &Controller{
		opts: opts, cl: cl, knobs: opts.Knobs,
		g:             gce{svc: cl.Compute, project: opts.Project},
		net:           gce{svc: cl.Compute, project: cmp.Or(opts.NetworkProject, opts.Project)},
		names:         namer{token: ClusterToken(opts.ClusterUID), network: opts.Network},
		kubeInformers: informers.NewSharedInformerFactory(cl.Kube, 0),
		gwInformers:   gwinformers.NewSharedInformerFactory(cl.Gateway, 0),
		gkeInformers:  gkeinformers.NewSharedInformerFactory(cl.GKE, 0),
		trigger:       make(chan struct{}, 1),
		reported:      map[types.NamespacedName]report{},
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = gwv1.Install(scheme)
	_ = gwv1beta1.Install(scheme)
	_ = gkev1.Install(scheme)
	c.broadcaster = record.NewBroadcaster()
	c.recorder = c.broadcaster.NewRecorder(scheme, corev1.EventSource{Component: eventSource})
	c.watch()
	return c
}

// watch registers the informers: Gateways, HTTPRoutes, ReferenceGrants,
// Services, EndpointSlices, Secrets, Namespaces and the three policies.
// Any change pokes the loop; the Gateway and route handlers also write
// GKE's ADD and UPDATE events as they happen.
func (c *Controller) watch() {
	poke := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.poke() },
		UpdateFunc: func(any, any) { c.poke() },
		DeleteFunc: func(any) { c.poke() },
	}
	// Status writes do not change an object's generation: reacting only to
	// spec changes keeps the controller from waking itself.
	specChanged := func(old, cur any) bool {
		o, ok1 := old.(metav1.Object)
		n, ok2 := cur.(metav1.Object)
		return !ok1 || !ok2 || o.GetGeneration() != n.GetGeneration() || !o.GetDeletionTimestamp().Equal(n.GetDeletionTimestamp())
	}
	onSpec := cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { c.poke() },
		UpdateFunc: func(old, cur any) {
			if specChanged(old, cur) {
				c.poke()
			}
		},
		DeleteFunc: func(any) { c.poke() },
	}
	gw := c.gwInformers.Gateway()
	_, _ = gw.V1().Gateways().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if g, ok := obj.(*gwv1.Gateway); ok && string(g.Spec.GatewayClassName) == ClassName && g.DeletionTimestamp == nil {
				c.recorder.Event(g, corev1.EventTypeNormal, "ADD", g.Namespace+"/"+g.Name)
			}
			c.poke()
		},
		UpdateFunc: func(old, cur any) {
			o, n := old.(*gwv1.Gateway), cur.(*gwv1.Gateway)
			if string(n.Spec.GatewayClassName) == ClassName && o.Generation != n.Generation {
				c.recorder.Event(n, corev1.EventTypeNormal, "UPDATE", n.Namespace+"/"+n.Name)
			}
			if specChanged(old, cur) || o.Annotations[certMapAnnotation] != n.Annotations[certMapAnnotation] {
				c.poke()
			}
		},
		DeleteFunc: func(any) { c.poke() },
	})
	_, _ = gw.V1().HTTPRoutes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if r, ok := obj.(*gwv1.HTTPRoute); ok && c.routeNamesOurGateway(r) {
				c.recorder.Event(r, corev1.EventTypeNormal, "ADD", r.Namespace+"/"+r.Name)
			}
			c.poke()
		},
		UpdateFunc: onSpec.UpdateFunc,
		DeleteFunc: onSpec.DeleteFunc,
	})
	_, _ = gw.V1beta1().ReferenceGrants().Informer().AddEventHandler(onSpec)
	pols := c.gkeInformers.Networking().V1()
	for _, inf := range []cache.SharedIndexInformer{
		pols.HealthCheckPolicies().Informer(), pols.GCPBackendPolicies().Informer(), pols.GCPGatewayPolicies().Informer(),
	} {
		_, _ = inf.AddEventHandler(onSpec)
	}
	core := c.kubeInformers.Core().V1()
	for _, inf := range []cache.SharedIndexInformer{
		core.Services().Informer(), core.Secrets().Informer(), core.Namespaces().Informer(),
		c.kubeInformers.Discovery().V1().EndpointSlices().Informer(),
	} {
		_, _ = inf.AddEventHandler(poke)
	}
}

// routeNamesOurGateway reports whether a route names a Gateway of this
// controller's class.
func (c *Controller) routeNamesOurGateway(r *gwv1.HTTPRoute) bool {
	lister := c.gwInformers.Gateway().V1().Gateways().Lister()
	for _, ref := range r.Spec.ParentRefs {
		ns := r.Namespace
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		if g, err := lister.Gateways(ns).Get(string(ref.Name)); err == nil && namesGateway(ref, r.Namespace, g) && string(g.Spec.GatewayClassName) == ClassName {
			return true
		}
	}
	return false
}

func (c *Controller) poke() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// Run reconciles until ctx ends: after every change (a burst coalesced
// into one pass), when a delay runs out, when a pass that could not finish
// is due again (Knobs.RetryDelay), and every Knobs.Resync.
func (c *Controller) Run(ctx context.Context) {
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.cl.Kube.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()
	for _, f := range []interface{ Start(<-chan struct{}) }{c.kubeInformers, c.gwInformers, c.gkeInformers} {
		f.Start(ctx.Done())
	}
	c.kubeInformers.WaitForCacheSync(ctx.Done())
	c.gwInformers.WaitForCacheSync(ctx.Done())
	c.gkeInformers.WaitForCacheSync(ctx.Done())
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		wake := c.Reconcile(ctx)
		timer.Reset(time.Until(wake))
		select {
		case <-ctx.Done():
			return
		case <-c.trigger:
			// Coalesce a burst (kubectl apply of several objects) into one pass.
			time.Sleep(100 * time.Millisecond)
		case <-timer.C:
		case <-c.knobs.changed:
		}
	}
}

// Reconcile makes one pass over every Gateway of the class (a resync pass
// when Knobs.Resync has run out) and returns when the next pass is due at
// the latest. Passes never overlap: a call while Run is in one waits.
func (c *Controller) Reconcile(ctx context.Context) time.Time {
	c.passMu.Lock()
	defer c.passMu.Unlock()
	knobs := c.knobs.Get()
	now := time.Now()
	if knobs.Paused {
		// Woken by the knobs' change.
		return now.Add(time.Hour)
	}
	resync := now.Sub(c.lastResync) >= time.Duration(knobs.Resync)
	if resync {
		c.lastResync = now
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	p := &pass{c: c, knobs: knobs, now: now, resync: resync, wake: c.lastResync.Add(time.Duration(knobs.Resync))}
	p.run(ctx)
	return p.wake
}
