package gatewayapi

import (
	"strings"

	"github.com/meshctl/meshctl/pkg/lb"
)

// The class and controller this path targets: GKE's global external
// Application Load Balancer.
const (
	GatewayClass = "gke-l7-global-external-managed"
	// ControllerName is what GKE's controller writes in route status.
	ControllerName = "networking.gke.io/gateway"
	// LabelGateway marks every Gateway API object meshctl makes with the
	// name of the GKE Gateway it belongs to (on pods, meshctl.io/gateway
	// names the mesh gateway; this is the other gateway).
	LabelGateway = "meshctl.io/gke-gateway"
)

// Annotations and options GKE reads and writes.
const (
	// CertMapAnnotation names a Gateway's Certificate Manager map.
	CertMapAnnotation = "networking.gke.io/certmap"
	// PreSharedCertsOption names Compute SSL certificates in a listener's
	// tls.options.
	PreSharedCertsOption = "networking.gke.io/pre-shared-certs"
	// IAPSecretKey is the key of the OAuth client secret in the Secret a
	// GCPBackendPolicy's iap.oauth2ClientSecret names.
	IAPSecretKey = "key"
)

// Names are the names of what the Gateway API path makes for one Service
// on one GKE Gateway. The Gateway's own (Gateway, redirect route, gateway
// policy, address, policies, certificate map) are shared by the Services
// on it; the rest are the Service's.
type Names struct {
	// Namespace holds the Gateway and every Kubernetes object here: a
	// GKE Gateway's HealthCheckPolicy and GCPBackendPolicy must be in the
	// backend Service's namespace, and the route next to the Service it
	// routes to needs no ReferenceGrant.
	Namespace string `json:"namespace"`
	Gateway   string `json:"gateway"`
	// Redirect is the Gateway's HTTP to HTTPS HTTPRoute; GatewayPolicy its
	// GCPGatewayPolicy (the SSL policy).
	Redirect      string `json:"redirect"`
	GatewayPolicy string `json:"gatewayPolicy"`
	// Route names the Service's HTTPRoute, HealthCheckPolicy and
	// GCPBackendPolicy (kinds differ, so one name serves all): the mesh
	// gateway's name, which they are about.
	Route string `json:"route"`
	// IAPSecret holds the OAuth client secret for IAP.
	IAPSecret string `json:"iapSecret"`
	// Edge names the Compute resources meshctl makes for the Gateway.
	Edge lb.EdgeNames `json:"edge"`
	// CertificateMap is the Gateway's Certificate Manager map.
	CertificateMap string `json:"certificateMap"`

	// project, prefix and key make the per-host Certificate Manager names.
	project string
	prefix  string
	key     []string
}

// NamesFor returns the names for a Service whose mesh gateway is
// meshGateway (in namespace), on the GKE Gateway gateway (empty: the
// Service's own), in cluster of project.
func NamesFor(project, cluster, namespace, meshGateway, gateway string, edge lb.EdgeSpec) Names {
	if gateway == "" {
		// expose names the mesh gateway "<service>[-<namespace>]-gateway";
		// the Service's own GKE Gateway is "...-edge" beside it.
		gateway = strings.TrimSuffix(meshGateway, "gateway") + "edge"
	}
	edge.Project, edge.Key = project, EdgeKey(cluster, namespace, gateway)
	prefix := "mcgw-" + cluster + "-" + namespace + "-" + gateway
	key := []string{project, "gateway", edge.Key}
	return Names{
		Namespace: namespace, Gateway: gateway,
		Redirect:      gateway + "-http-redirect",
		GatewayPolicy: gateway,
		Route:         meshGateway, IAPSecret: meshGateway + "-iap",
		Edge:           edge.Names(),
		CertificateMap: lb.ResourceName(prefix, "certmap", key...),
		project:        project, prefix: prefix, key: key,
	}
}

// EdgeKey is the key the Gateway's Compute resources record as their owner.
func EdgeKey(cluster, namespace, gateway string) string {
	return cluster + "/" + namespace + "/" + gateway
}

// HostCertificate names the Google-managed certificate and the map entry
// for one host: each host has its own, so Services join and leave a shared
// Gateway without touching each other's certificates.
func (n Names) HostCertificate(host string) string {
	label := strings.NewReplacer(".", "-", "*", "wildcard").Replace(strings.ToLower(host))
	return lb.ResourceName(n.prefix+"-"+label, "crt", append(n.key, host)...)
}
