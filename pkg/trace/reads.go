package trace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
	istionet "istio.io/client-go/pkg/apis/networking/v1"
	istiosec "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// The Compute kinds listed up front: everything a path through a global
// load balancer links to, one list each.
var frontKinds = []lb.Kind{
	lb.KindForwardingRule, lb.KindHTTPSProxy, lb.KindHTTPProxy, lb.KindURLMap, lb.KindBackendService,
	lb.KindHealthCheck, lb.KindCertificate, lb.KindSSLPolicy, lb.KindSecurityPolicy,
}

// Istio's routing kinds, listed up front.
var (
	gvrGateway         = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "gateways"}
	gvrVirtualService  = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}
	gvrDestinationRule = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"}
	gvrPeerAuth        = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"}
)

// reads is everything a trace reads, each read made once: the lists
// started when the trace starts, the rest as soon as a hop knows it needs
// them (memo), so independent reads overlap.
type reads struct {
	ctx  context.Context
	c    Clients
	opts Options

	lists     memo[[]proto.Message]
	health    memo[*computepb.BackendServiceGroupHealth]
	endpoints memo[[]*computepb.NetworkEndpointWithHealthStatus]
	instances memo[[]*computepb.Instance]
	firewalls memo[[]proto.Message]
	services  memo[[]corev1.Service]
	pods      memo[[]corev1.Pod]
	secrets   memo[*corev1.Secret]
	revisions memo[mesh.Revisions]
	istio     memo[[]json.RawMessage]
	cmCerts   memo[[]CMCertificate]
	cmEntries memo[[]CMMapEntry]
}

// newReads starts the reads every trace needs.
func newReads(ctx context.Context, c Clients, opts Options) *reads {
	r := &reads{ctx: ctx, c: c, opts: opts}
	for _, k := range frontKinds {
		r.list(k)
	}
	if c.Kube != nil {
		r.allServices()
		r.meshRevisions()
	}
	if c.Dynamic != nil {
		for _, g := range []schema.GroupVersionResource{gvrGateway, gvrVirtualService, gvrDestinationRule, gvrPeerAuth} {
			r.istioList(g)
		}
	}
	if c.CertificateManager != nil {
		r.certificateManagerCerts()
	}
	return r
}

func (r *reads) list(kind lb.Kind) *future[[]proto.Message] {
	return r.lists.get(string(kind), func() ([]proto.Message, error) {
		ms, err := r.c.Compute.List(r.ctx, kind, "")
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", kind, err)
		}
		return ms, nil
	})
}

// listOf waits for a Compute list and returns its objects typed.
func listOf[T proto.Message](ctx context.Context, r *reads, kind lb.Kind) ([]T, error) {
	ms, err := r.list(kind).wait(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(ms))
	for _, m := range ms {
		if v, ok := m.(T); ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// named finds the object a link (or name) points at in a list.
func named[T interface{ GetName() string }](items []T, link string) (T, bool) {
	name := linkName(link)
	for _, it := range items {
		if it.GetName() == name {
			return it, true
		}
	}
	var zero T
	return zero, false
}

func (r *reads) groupHealth(bs, group string) *future[*computepb.BackendServiceGroupHealth] {
	return r.health.get(bs+"|"+group, func() (*computepb.BackendServiceGroupHealth, error) {
		h, err := r.c.Compute.GetHealth(r.ctx, bs, group)
		if err != nil {
			return nil, fmt.Errorf("backendServices.getHealth %s for %s: %w", bs, linkName(group), err)
		}
		return h, nil
	})
}

func (r *reads) negEndpoints(zone, neg string) *future[[]*computepb.NetworkEndpointWithHealthStatus] {
	return r.endpoints.get(zone+"/"+neg, func() ([]*computepb.NetworkEndpointWithHealthStatus, error) {
		eps, err := r.c.Compute.NetworkEndpoints(r.ctx, zone, neg)
		if err != nil {
			return nil, fmt.Errorf("list the endpoints of NEG %s in %s: %w", neg, zone, err)
		}
		return eps, nil
	})
}

// nodes and firewallRules are read only when an endpoint is unhealthy, to
// find out whether the firewall is why.
func (r *reads) nodes() *future[[]*computepb.Instance] {
	return r.instances.get("", func() ([]*computepb.Instance, error) {
		is, err := r.c.Compute.Instances(r.ctx, "")
		if err != nil {
			return nil, fmt.Errorf("list instances: %w", err)
		}
		return is, nil
	})
}

func (r *reads) firewallRules() *future[[]proto.Message] {
	return r.firewalls.get("", func() ([]proto.Message, error) {
		ms, err := r.c.Compute.List(r.ctx, lb.KindFirewall, "")
		if err != nil {
			return nil, fmt.Errorf("list firewalls: %w", err)
		}
		return ms, nil
	})
}

// errNoKube is why the Kubernetes hops cannot be read.
func (r *reads) errNoKube() error {
	if r.c.KubeErr != nil {
		return r.c.KubeErr
	}
	return errors.New("no Kubernetes client")
}

func (r *reads) allServices() *future[[]corev1.Service] {
	return r.services.get("", func() ([]corev1.Service, error) {
		if r.c.Kube == nil {
			return nil, r.errNoKube()
		}
		var out []corev1.Service
		err := kube.Paginate(r.ctx, func(ctx context.Context, o metav1.ListOptions) (string, error) {
			l, err := r.c.Kube.CoreV1().Services("").List(ctx, o)
			if err != nil {
				return "", err
			}
			out = append(out, l.Items...)
			return l.Continue, nil
		})
		if err != nil {
			return nil, fmt.Errorf("list Services: %w", err)
		}
		return out, nil
	})
}

// podsOf lists the pods a selector picks in a namespace.
func (r *reads) podsOf(ns string, selector map[string]string) *future[[]corev1.Pod] {
	sel := metav1.FormatLabelSelector(&metav1.LabelSelector{MatchLabels: selector})
	return r.pods.get(ns+"|"+sel, func() ([]corev1.Pod, error) {
		if r.c.Kube == nil {
			return nil, r.errNoKube()
		}
		var out []corev1.Pod
		err := kube.Paginate(r.ctx, func(ctx context.Context, o metav1.ListOptions) (string, error) {
			o.LabelSelector = sel
			l, err := r.c.Kube.CoreV1().Pods(ns).List(ctx, o)
			if err != nil {
				return "", err
			}
			out = append(out, l.Items...)
			return l.Continue, nil
		})
		if err != nil {
			return nil, fmt.Errorf("list pods %s in %s: %w", sel, ns, err)
		}
		return out, nil
	})
}

// secret reads a Secret; a missing one is (nil, nil).
func (r *reads) secret(ns, name string) *future[*corev1.Secret] {
	return r.secrets.get(ns+"/"+name, func() (*corev1.Secret, error) {
		if r.c.Kube == nil {
			return nil, r.errNoKube()
		}
		s, err := r.c.Kube.CoreV1().Secrets(ns).Get(r.ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("get Secret %s/%s: %w", ns, name, err)
		}
		return s, nil
	})
}

func (r *reads) meshRevisions() *future[mesh.Revisions] {
	return r.revisions.get("", func() (mesh.Revisions, error) {
		if r.c.Kube == nil {
			return mesh.Revisions{}, r.errNoKube()
		}
		return mesh.ReadRevisions(r.ctx, r.c.Kube)
	})
}

// istioList lists one of Istio's kinds in every namespace, as raw JSON for
// the typed decoders below; a kind whose CRD is not installed is empty.
func (r *reads) istioList(gvr schema.GroupVersionResource) *future[[]json.RawMessage] {
	return r.istio.get(gvr.Resource, func() ([]json.RawMessage, error) {
		if r.c.Dynamic == nil {
			return nil, r.errNoKube()
		}
		var out []json.RawMessage
		err := kube.Paginate(r.ctx, func(ctx context.Context, o metav1.ListOptions) (string, error) {
			l, err := r.c.Dynamic.Resource(gvr).Namespace("").List(ctx, o)
			if err != nil {
				return "", err
			}
			for _, it := range l.Items {
				b, err := json.Marshal(it.Object)
				if err != nil {
					return "", err
				}
				out = append(out, b)
			}
			return l.GetContinue(), nil
		})
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s.%s: %w", gvr.Resource, gvr.Group, err)
		}
		return out, nil
	})
}

// istioObjects decodes a list into Istio's typed objects (their JSON
// decoders read the API's JSON form, oneofs included); an object that does
// not decode is skipped, as istiod would reject it.
func istioObjects[T any](ctx context.Context, r *reads, gvr schema.GroupVersionResource) ([]*T, error) {
	raws, err := r.istioList(gvr).wait(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*T, 0, len(raws))
	for _, b := range raws {
		v := new(T)
		if json.Unmarshal(b, v) == nil {
			out = append(out, v)
		}
	}
	return out, nil
}

func (r *reads) gateways(ctx context.Context) ([]*istionet.Gateway, error) {
	return istioObjects[istionet.Gateway](ctx, r, gvrGateway)
}

func (r *reads) virtualServices(ctx context.Context) ([]*istionet.VirtualService, error) {
	return istioObjects[istionet.VirtualService](ctx, r, gvrVirtualService)
}

func (r *reads) destinationRules(ctx context.Context) ([]*istionet.DestinationRule, error) {
	return istioObjects[istionet.DestinationRule](ctx, r, gvrDestinationRule)
}

func (r *reads) peerAuthentications(ctx context.Context) ([]*istiosec.PeerAuthentication, error) {
	return istioObjects[istiosec.PeerAuthentication](ctx, r, gvrPeerAuth)
}

func (r *reads) certificateManagerCerts() *future[[]CMCertificate] {
	return r.cmCerts.get("", func() ([]CMCertificate, error) {
		if r.c.CertificateManager == nil {
			return nil, r.errNoCertificateManager()
		}
		return r.c.CertificateManager.Certificates(r.ctx)
	})
}

func (r *reads) certificateMapEntries(mapName string) *future[[]CMMapEntry] {
	return r.cmEntries.get(mapName, func() ([]CMMapEntry, error) {
		if r.c.CertificateManager == nil {
			return nil, r.errNoCertificateManager()
		}
		return r.c.CertificateManager.MapEntries(r.ctx, mapName)
	})
}

func (r *reads) errNoCertificateManager() error {
	if r.c.CertificateManagerErr != nil {
		return r.c.CertificateManagerErr
	}
	return errors.New("no Certificate Manager client")
}

// linkName is the last path segment of a link (or the name itself).
func linkName(link string) string { return link[strings.LastIndex(link, "/")+1:] }

// linkZone is the zone in a zonal link ("" for a global one).
func linkZone(link string) string {
	parts := strings.Split(link, "/")
	for i, p := range parts {
		if p == "zones" && i+1 < len(parts) {
			return parts[i+1]
		}
	}
	return ""
}

// linkCollection is the collection a link points into ("backendServices").
func linkCollection(link string) string {
	parts := strings.Split(strings.TrimRight(link, "/"), "/")
	if len(parts) < 2 {
		return ""
	}
	return parts[len(parts)-2]
}
