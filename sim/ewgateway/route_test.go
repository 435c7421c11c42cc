package ewgateway

import (
	"context"
	"strings"
	"testing"

	apinetworking "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/state"
)

const rev = "asm-1"

// cluster holds an east-west gateway with a ready pod behind its internal
// load balancer, and istiod's Service for the revision.
func cluster(objs ...runtime.Object) (*kubefake.Clientset, fakegcp.InternalLB) {
	ready := true
	gwLabels := map[string]string{"istio": "eastwestgateway", "app": "istio-eastwestgateway"}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "istio-eastwestgateway", Namespace: "istio-system", UID: "11111111-2222-3333-4444-555555555555"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: gwLabels,
			Ports: []corev1.ServicePort{{Name: "tls", Port: 15443}, {Name: "tls-istiod", Port: 15012}}}}
	kube := kubefake.NewClientset(append([]runtime.Object{svc,
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "gw-1", Namespace: "istio-system", Labels: gwLabels}},
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "gw-abc", Namespace: "istio-system",
			Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.112.0.9"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "istio-system", Name: "gw-1"}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "istiod-" + rev, Namespace: "istio-system"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "istiod", "istio.io/rev": rev}}},
	}, objs...)...)
	lb := fakegcp.InternalLB{Name: "a11111111222233334444555555555555"[:32], Description: `{"kubernetes.io/service-name":"istio-system/istio-eastwestgateway"}`}
	return kube, lb
}

// exposeIstiod is Istio's expose-istiod-rev.yaml.tmpl for the revision.
func exposeIstiod() []runtime.Object {
	sni := []string{"istiod-" + rev + ".istio-system.svc", "istiod-" + rev + ".istio-system.svc.cluster.local"}
	return []runtime.Object{
		&networkingv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "istiod-gateway", Namespace: "istio-system"},
			Spec: apinetworking.Gateway{Selector: map[string]string{"istio": "eastwestgateway"}, Servers: []*apinetworking.Server{
				{Port: &apinetworking.Port{Name: "tls-istiod", Number: 15012, Protocol: "tls"}, Hosts: []string{"*"},
					Tls: &apinetworking.ServerTLSSettings{Mode: apinetworking.ServerTLSSettings_PASSTHROUGH}},
				{Port: &apinetworking.Port{Name: "tls", Number: 15443, Protocol: "TLS"}, Hosts: []string{"*.local"},
					Tls: &apinetworking.ServerTLSSettings{Mode: apinetworking.ServerTLSSettings_AUTO_PASSTHROUGH}},
			}}},
		&networkingv1.VirtualService{ObjectMeta: metav1.ObjectMeta{Name: "istiod-vs-" + rev, Namespace: "istio-system"},
			Spec: apinetworking.VirtualService{Hosts: []string{"*"}, Gateways: []string{"istiod-gateway"}, Tls: []*apinetworking.TLSRoute{{
				Match: []*apinetworking.TLSMatchAttributes{{Port: 15012, SniHosts: sni}},
				Route: []*apinetworking.RouteDestination{{Destination: &apinetworking.Destination{
					Host: "istiod-" + rev + ".istio-system.svc.cluster.local", Port: &apinetworking.PortSelector{Number: 15012}}}},
			}}}},
	}
}

// istioWith is a fake Istio clientset holding objs, made through the
// client (the constructor files v1 objects where List does not look).
func istioWith(t *testing.T, objs ...runtime.Object) *istiofake.Clientset {
	t.Helper()
	c := istiofake.NewSimpleClientset()
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *networkingv1.Gateway:
			_, err = c.NetworkingV1().Gateways(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
		case *networkingv1.VirtualService:
			_, err = c.NetworkingV1().VirtualServices(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func router(kube *kubefake.Clientset, istio *istiofake.Clientset) *Router {
	return &Router{Clusters: []Cluster{{Name: "meshsim", Kube: kube, Istio: istio}}, Istiods: func() ([]state.Istiod, error) {
		return []state.Istiod{{Revision: rev, Cluster: "meshsim", SecureGRPC: 40123, WebhookPort: 40124}}, nil
	}}
}

func TestRouteToIstiodThroughExposeIstiod(t *testing.T) {
	kube, lb := cluster()
	r := router(kube, istioWith(t, exposeIstiod()...))
	backend, route, err := r.Route(lb, 15012, "istiod-"+rev+".istio-system.svc")
	if err != nil || backend != "127.0.0.1:40123" {
		t.Fatalf("route: %q %q %v", backend, route, err)
	}
	for _, want := range []string{"Service istio-system/istio-eastwestgateway (cluster meshsim)", "Gateway istio-system/istiod-gateway",
		"VirtualService istio-system/istiod-vs-asm-1", "istiod revision asm-1"} {
		if !strings.Contains(route, want) {
			t.Errorf("route %q lacks %q", route, want)
		}
	}
	for _, tt := range []struct {
		port int
		sni  string
		want string
	}{
		{15012, "istiod.istio-system.svc", `routes port 15012 for server name "istiod.istio-system.svc"`},
		{15443, "outbound_.80_._.web.ns.svc.cluster.local", "AUTO_PASSTHROUGH): meshsim has no data path for mesh traffic"},
		{15017, "istiod-" + rev + ".istio-system.svc", "has no port 15017"},
	} {
		if _, _, err := r.Route(lb, tt.port, tt.sni); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("port %d %s: %v, want %q", tt.port, tt.sni, err, tt.want)
		}
	}
}

func TestNoRouteWithoutExposeIstiod(t *testing.T) {
	kube, lb := cluster()
	_, _, err := router(kube, istioWith(t)).Route(lb, 15012, "istiod-"+rev+".istio-system.svc")
	if err == nil || !strings.Contains(err.Error(), "no Istio Gateway selecting the gateway pod istio-system/gw-1 has a PASSTHROUGH server on port 15012") {
		t.Errorf("without the Gateway: %v", err)
	}
	lb.Description = `{"kubernetes.io/service-name":"istio-system/elsewhere"}`
	if _, _, err := router(kube, istioWith(t)).Route(lb, 15012, "x"); err == nil || !strings.Contains(err.Error(), "no cluster has the Service") {
		t.Errorf("another Service: %v", err)
	}
}
