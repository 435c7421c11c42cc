package expose

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// MaxNameLength is the longest name meshctl gives an object: a DNS label
// (RFC 1123) for Kubernetes, and Compute's limit (RFC 1035) for NEGs.
const MaxNameLength = 63

// Names are the deterministic names of what expose makes for one Service.
// The same input always gives the same names, so a second run finds what
// the first made, and two Services never share a name.
type Names struct {
	// Gateway names the gateway's Deployment, Service, ServiceAccount,
	// Role, RoleBinding, PodDisruptionBudget, HorizontalPodAutoscaler,
	// Istio Gateway, VirtualService and DestinationRule (kinds differ, so
	// one name serves all, as in Istio's own samples).
	Gateway string `json:"gateway"`
	// CertSecret names the Secret with the gateway's self-signed certificate.
	CertSecret string `json:"certSecret"`
	// PeerAuthentication names the STRICT policy for the Service's pods.
	PeerAuthentication string `json:"peerAuthentication"`
	// NEG names the zonal network endpoint groups of the gateway's HTTPS
	// port (the same name in every zone).
	NEG string `json:"neg"`
}

// NamesFor returns the names for exposing namespace/service with the gateway
// in gatewayNamespace. clusterID tells clusters of one project apart: NEG
// names are per zone and project, so two clusters exposing the same
// namespace/service must not share them.
func NamesFor(namespace, service, gatewayNamespace, clusterID string) Names {
	parts := []string{service}
	if gatewayNamespace != namespace && gatewayNamespace != DedicatedNamespace(namespace, service) {
		// Services of the same name from two namespaces may share a
		// gateway namespace.
		parts = append(parts, namespace)
	}
	return Names{
		Gateway:            dnsName(parts, "gateway"),
		CertSecret:         dnsName(parts, "gateway-cert"),
		PeerAuthentication: dnsName([]string{service}, "strict-mtls"),
		NEG:                negName(namespace, service, clusterID),
	}
}

// DedicatedNamespace is the namespace a gateway gets when none is given:
// its own, NAMESPACE-SERVICE-gateway, so that the gateway's Role (whose
// bare `list secrets` istiod's SDS check needs) sees its own certificate
// and nothing else.
func DedicatedNamespace(namespace, service string) string {
	return dnsName([]string{namespace, service}, "gateway")
}

// dnsName joins parts and suffix with dashes. A name longer than
// MaxNameLength keeps the suffix, shortens the parts and adds a hash of
// the untruncated parts, so that long names stay distinct.
func dnsName(parts []string, suffix string) string {
	name := strings.Join(append(append([]string(nil), parts...), suffix), "-")
	if len(name) <= MaxNameLength {
		return name
	}
	h := shortHash(strings.Join(parts, "/"))
	keep := MaxNameLength - len(suffix) - len(h) - 2
	head := strings.TrimRight(strings.Join(parts, "-")[:keep], "-")
	return head + "-" + h + "-" + suffix
}

// negName is meshctl-NAMESPACE-SERVICE-HASH, the hash covering the cluster
// too; Compute names start with a letter, which the prefix guarantees.
func negName(namespace, service, clusterID string) string {
	h := shortHash(clusterID + "/" + namespace + "/" + service)
	head := "meshctl-" + namespace + "-" + service
	if keep := MaxNameLength - len(h) - 1; len(head) > keep {
		head = strings.TrimRight(head[:keep], "-")
	}
	return head + "-" + h
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}
