// Package ewgateway says what an Istio east-west gateway behind an internal
// load balancer would do with a connection, without Envoy: meshsim's gateway
// pods are kwok pods that run nothing, so the route is read from the
// cluster's objects, as the gateway's Envoy would get it from istiod:
//
//  1. the internal load balancer (a<UID>, by sim/ilbcontroller) belongs
//     to a LoadBalancer Service of a cluster, which must have the port and
//     ready endpoints (the gateway pods);
//  2. an Istio Gateway selecting those pods' labels has a server on the
//     port in TLS PASSTHROUGH mode (Istio's expose-istiod.yaml; any
//     namespace, as istiod applies Gateways by default);
//  3. a VirtualService bound to that Gateway has a tls route whose match
//     takes the port and the client's server name (sniHosts, with
//     wildcards), and its destination is a Service of the cluster;
//  4. that Service is a revision's istiod (istiod[-REV] in istio-system,
//     its selector's istio.io/rev): the connection ends at the local
//     istiod of that revision in that cluster, its secure gRPC port for
//     15012, its webhook port for 443 and 15017.
//
// AUTO_PASSTHROUGH (15443, mesh traffic to another network's workloads)
// and destinations other than istiod have no data path in meshsim: such a
// connection is refused with the reason.
package ewgateway

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/ilbcontroller"
	"github.com/meshctl/meshctl/sim/state"
)

// Cluster is one simulated cluster the router reads.
type Cluster struct {
	Name  string
	Kube  kubernetes.Interface
	Istio istioclient.Interface
}

// Router routes connections through internal load balancers to the local
// istiods of a state directory.
type Router struct {
	Clusters []Cluster
	// Istiods lists the running istiods (state.Dir.Istiods).
	Istiods func() ([]state.Istiod, error)
}

// Route is reach.Router: where a connection to lb's port with the TLS
// server name sni ends, and the route it took.
func (r *Router) Route(lb fakegcp.InternalLB, port int, sni string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, svc, err := r.service(ctx, lb)
	if err != nil {
		return "", "", err
	}
	pod, err := readyPod(ctx, c, svc, port)
	if err != nil {
		return "", "", err
	}
	gw, err := passthroughGateway(ctx, c, pod, port)
	if err != nil {
		return "", "", err
	}
	vs, host, destPort, err := tlsRoute(ctx, c, gw, port, sni)
	if err != nil {
		return "", "", err
	}
	rev, err := istiodRevision(ctx, c, host)
	if err != nil {
		return "", "", err
	}
	backend, err := r.istiodPort(c.Name, rev, destPort)
	if err != nil {
		return "", "", err
	}
	route := fmt.Sprintf("Service %s/%s (cluster %s) → Gateway %s/%s → VirtualService %s/%s → %s:%d, istiod revision %s",
		svc.Namespace, svc.Name, c.Name, gw.Namespace, gw.Name, vs.Namespace, vs.Name, host, destPort, rev)
	return backend, route, nil
}

// service finds the Service GKE made the load balancer for.
func (r *Router) service(ctx context.Context, lb fakegcp.InternalLB) (Cluster, *corev1.Service, error) {
	ns, name, ok := strings.Cut(serviceName(lb.Description), "/")
	if !ok {
		return Cluster{}, nil, fmt.Errorf("forwarding rule %s was not made for a Kubernetes Service", lb.Name)
	}
	for _, c := range r.Clusters {
		svc, err := c.Kube.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && ilbcontroller.LoadBalancerName(svc) == lb.Name {
			return c, svc, nil
		}
	}
	return Cluster{}, nil, fmt.Errorf("no cluster has the Service %s/%s of forwarding rule %s", ns, name, lb.Name)
}

func serviceName(description string) string {
	const key = `"kubernetes.io/service-name":"`
	_, rest, _ := strings.Cut(description, key)
	name, _, _ := strings.Cut(rest, `"`)
	return name
}

// readyPod is a ready pod behind the Service's port: one of the gateway's.
func readyPod(ctx context.Context, c Cluster, svc *corev1.Service, port int) (*corev1.Pod, error) {
	if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return int(p.Port) == port }) {
		return nil, fmt.Errorf("Service %s/%s has no port %d", svc.Namespace, svc.Name, port) //nolint:staticcheck // ST1005: Service is the Kubernetes kind, spelt as kubectl does
	}
	eps, err := c.Kube.DiscoveryV1().EndpointSlices(svc.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + svc.Name})
	if err != nil {
		return nil, err
	}
	for _, s := range eps.Items {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && *ep.Conditions.Ready && ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" {
				return c.Kube.CoreV1().Pods(ep.TargetRef.Namespace).Get(ctx, ep.TargetRef.Name, metav1.GetOptions{})
			}
		}
	}
	return nil, fmt.Errorf("Service %s/%s has no ready endpoints: the gateway pods do not run", svc.Namespace, svc.Name) //nolint:staticcheck // ST1005: Service is the Kubernetes kind, spelt as kubectl does
}

// passthroughGateway is an Istio Gateway applying to the pod with a
// PASSTHROUGH server on the port.
func passthroughGateway(ctx context.Context, c Cluster, pod *corev1.Pod, port int) (*networkingv1.Gateway, error) {
	gws, err := c.Istio.NetworkingV1().Gateways("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list Istio Gateways: %w", err)
	}
	var auto string
	for _, gw := range gws.Items {
		if len(gw.Spec.Selector) == 0 || !labels.SelectorFromSet(gw.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			continue
		}
		for _, s := range gw.Spec.Servers {
			if s.GetPort() == nil || int(s.GetPort().GetNumber()) != port || s.GetTls() == nil {
				continue
			}
			switch s.GetTls().GetMode().String() {
			case "PASSTHROUGH":
				return gw, nil
			case "AUTO_PASSTHROUGH":
				auto = gw.Namespace + "/" + gw.Name
			}
		}
	}
	if auto != "" {
		return nil, fmt.Errorf("Gateway %s passes port %d through to mesh workloads (AUTO_PASSTHROUGH): meshsim has no data path for mesh traffic", auto, port) //nolint:staticcheck // ST1005: Gateway is Istio's kind
	}
	return nil, fmt.Errorf("no Istio Gateway selecting the gateway pod %s/%s has a PASSTHROUGH server on port %d (Istio's expose-istiod.yaml)",
		pod.Namespace, pod.Name, port)
}

// tlsRoute is the VirtualService bound to the Gateway whose tls route
// takes the port and server name, and its destination.
func tlsRoute(ctx context.Context, c Cluster, gw *networkingv1.Gateway, port int, sni string) (*networkingv1.VirtualService, string, int, error) {
	vss, err := c.Istio.NetworkingV1().VirtualServices("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, "", 0, fmt.Errorf("list VirtualServices: %w", err)
	}
	for _, vs := range vss.Items {
		if !bindsTo(vs, gw) {
			continue
		}
		for _, route := range vs.Spec.Tls {
			for _, m := range route.GetMatch() {
				if (m.GetPort() != 0 && int(m.GetPort()) != port) || !sniMatches(m.GetSniHosts(), sni) || len(route.GetRoute()) == 0 {
					continue
				}
				d := route.GetRoute()[0].GetDestination()
				destPort := int(d.GetPort().GetNumber())
				if destPort == 0 {
					destPort = port
				}
				return vs, d.GetHost(), destPort, nil
			}
		}
	}
	return nil, "", 0, fmt.Errorf("no VirtualService bound to Gateway %s/%s routes port %d for server name %q", gw.Namespace, gw.Name, port, sni)
}

// bindsTo: a VirtualService names a Gateway as NAME (its own namespace)
// or NS/NAME.
func bindsTo(vs *networkingv1.VirtualService, gw *networkingv1.Gateway) bool {
	for _, g := range vs.Spec.Gateways {
		if g == gw.Namespace+"/"+gw.Name || (g == gw.Name && vs.Namespace == gw.Namespace) {
			return true
		}
	}
	return false
}

// sniMatches reads sniHosts as Istio does: exact names and "*"-prefixed
// wildcards.
func sniMatches(hosts []string, sni string) bool {
	for _, h := range hosts {
		if ok, _ := path.Match(h, sni); ok || h == "*" || h == sni {
			return true
		}
	}
	return false
}

// istiodRevision reads which revision's istiod a destination host is: the
// istio.io/rev of the istio-system Service it names.
func istiodRevision(ctx context.Context, c Cluster, host string) (string, error) {
	name, rest, _ := strings.Cut(host, ".")
	ns, _, _ := strings.Cut(rest, ".")
	if ns != "istio-system" || !strings.HasPrefix(name, "istiod") {
		return "", fmt.Errorf("the gateway would forward to %s, which is no istiod: meshsim has no data path to it", host)
	}
	svc, err := c.Kube.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("the gateway forwards to %s: %w", host, err)
	}
	rev := svc.Spec.Selector["istio.io/rev"]
	if rev == "" {
		return "", fmt.Errorf("Service %s/%s selects no istio.io/rev", ns, name) //nolint:staticcheck // ST1005: Service is the Kubernetes kind, spelt as kubectl does
	}
	return rev, nil
}

// istiodPort is the local address of the revision's istiod in the cluster
// for the port istiod's Service exposes.
func (r *Router) istiodPort(cluster, rev string, port int) (string, error) {
	istiods, err := r.Istiods()
	if err != nil {
		return "", err
	}
	for _, i := range istiods {
		if i.Revision != rev || (i.Cluster != "" && i.Cluster != cluster) {
			continue
		}
		switch port {
		case 15012:
			return fmt.Sprintf("127.0.0.1:%d", i.SecureGRPC), nil
		case 443, 15017:
			return fmt.Sprintf("127.0.0.1:%d", i.WebhookPort), nil
		}
		return "", fmt.Errorf("istiod %s serves no port %d meshsim runs", rev, port)
	}
	return "", fmt.Errorf("no istiod of revision %s runs for cluster %s", rev, cluster)
}
