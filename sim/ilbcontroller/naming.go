package ilbcontroller

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Annotations and the finalizer, as GKE spells them.
const (
	TypeAnnotation           = "networking.gke.io/load-balancer-type"
	legacyTypeAnnotation     = "cloud.google.com/load-balancer-type"
	GlobalAccessAnnotation   = "networking.gke.io/internal-load-balancer-allow-global-access"
	SubnetAnnotation         = "networking.gke.io/internal-load-balancer-subnet"
	Finalizer                = "gke.networking.io/l4-ilb-v1"
	legacyInternalClass      = "networking.gke.io/l4-regional-internal-legacy"
	nodesHealthCheckPort     = 10256
	healthCheckPath          = "/healthz"
	maxForwardingRulePorts   = 5
	loadBalancerNameMaxChars = 32
)

// healthCheckSourceRanges are the ranges Google's L4 health checkers use
// (cloud-provider-gcp L4LoadBalancerSrcRanges).
var healthCheckSourceRanges = []string{"130.211.0.0/22", "35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22"}

// LoadBalancerName is the name of a Service's forwarding rule and backend
// service: "a" and its UID without dashes, at most 32 characters.
func LoadBalancerName(svc *corev1.Service) string {
	name := "a" + strings.ReplaceAll(string(svc.UID), "-", "")
	if len(name) > loadBalancerNameMaxChars {
		name = name[:loadBalancerNameMaxChars]
	}
	return name
}

// InstanceGroupName is the cluster's unmanaged instance group in each zone.
func InstanceGroupName(clusterID string) string { return "k8s-ig--" + clusterID }

// healthCheckName is the shared nodes' health check, or the Service's own
// for externalTrafficPolicy Local.
func healthCheckName(lbName, clusterID string, shared bool) string {
	if shared {
		return fmt.Sprintf("k8s-%s-node", clusterID)
	}
	return lbName
}

func healthCheckFirewallName(hcName string) string { return hcName + "-hc" }

func trafficFirewallName(lbName string) string { return "k8s-fw-" + lbName }

// serviceDescription is what GKE writes into the forwarding rule, backend
// service and an own health check.
func serviceDescription(svc *corev1.Service) string {
	return fmt.Sprintf(`{"kubernetes.io/service-name":"%s/%s"}`, svc.Namespace, svc.Name)
}

// Internal reports whether a Service asks GKE for an internal load balancer.
func Internal(svc *corev1.Service) bool {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return false
	}
	if c := svc.Spec.LoadBalancerClass; c != nil {
		return *c == legacyInternalClass
	}
	for _, key := range []string{TypeAnnotation, legacyTypeAnnotation} {
		if v, ok := svc.Annotations[key]; ok {
			return v == "Internal" || v == "internal"
		}
	}
	return false
}

// sharedHealthCheck: Services that send traffic to every node share one
// health check of the nodes; externalTrafficPolicy Local has its own.
func sharedHealthCheck(svc *corev1.Service) bool {
	return svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal
}
