package expose

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// The proxy's metrics ports, which Prometheus-style scrapers read: Envoy's
// own statistics, and the agent's merged view (Envoy's and the
// application's) that Istio's prometheus.io annotations point scrapers at.
const (
	envoyMetricsPort  = 15090
	mergedMetricsPort = 15020
)

// namespace is the gateway's own namespace, marked as made by meshctl for
// the Service and labelled for the gateway's revision (istio.io/rev), as
// Istio's gateway-injection docs label a gateway's namespace. The pods'
// own istio.io/rev alone would be injected too (the revision webhook's
// object selector), but `istioctl analyze` judges injection by the
// namespace: without the label it reports the namespace as not injected
// (IST0102). Both labels name the same revision, so neither overrides the
// other.
func (s Spec) namespace() *corev1.Namespace {
	labels := mesh.OwnerLabels(s.Namespace, s.Service)
	labels[mesh.LabelRevision] = s.Revision
	return &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: s.GatewayNamespace, Labels: labels},
	}
}

// networkPolicy admits to the gateway's pods only what serves them, so a
// cluster that enforces network policy (GKE Dataplane V2) refuses the rest:
//
//   - Google's front ends and health checkers (lb.GFERanges, the ranges
//     Google documents for the global external Application Load Balancer)
//     on the serving port and the status port: with container-native NEGs
//     the load balancer connects to the pod's own IP and port, so these are
//     the pod ports (8443, 15021), not the Service's.
//   - Pods of any namespace of the cluster on the metrics ports (15090,
//     15020), for in-cluster scrapers such as Prometheus or Google Cloud
//     Managed Service for Prometheus's collectors; nothing outside the
//     cluster.
//
// istiod needs no ingress rule: the proxy dials istiod for its
// configuration and certificates (xDS and SDS on 15012), so that traffic is
// the gateway's egress, which the policy leaves open (policyTypes Ingress
// only). The kubelet's readiness probes come from the node, which network
// policy implementations admit to their node's pods regardless.
func (s Spec) networkPolicy() *networkingv1.NetworkPolicy {
	tcp := corev1.ProtocolTCP
	port := func(n int32) networkingv1.NetworkPolicyPort {
		return networkingv1.NetworkPolicyPort{Protocol: ptr.To(tcp), Port: ptr.To(intstr.FromInt32(n))}
	}
	var google []networkingv1.NetworkPolicyPeer
	for _, cidr := range lb.GFERanges {
		google = append(google, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}})
	}
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: s.meta(s.Names.Gateway, s.GatewayNamespace),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: s.selectorLabels()},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{From: google, Ports: []networkingv1.NetworkPolicyPort{port(mesh.GatewayHTTPSPort), port(mesh.StatusPort)}},
				{
					From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}},
					Ports: []networkingv1.NetworkPolicyPort{port(envoyMetricsPort), port(mergedMetricsPort)},
				},
			},
		},
	}
}
