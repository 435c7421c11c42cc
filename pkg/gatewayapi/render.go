package gatewayapi

import (
	"strings"
	"time"

	gkev1 "github.com/GoogleCloudPlatform/gke-gateway-api/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/apis/v1alpha2"

	"github.com/meshctl/meshctl/pkg/expose"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// Spec is the desired state of one Service's part of a GKE Gateway, and of
// the Gateway itself as this run sees it: the options checked against the
// cluster and completed from it. Render turns it into objects.
type Spec struct {
	// Service is the exposed Service; MeshGateway the Service of its mesh
	// ingress gateway, which the route and the policies are about.
	Service     expose.ServiceRef `json:"service"`
	MeshGateway string            `json:"meshGateway"`
	Hosts       []string          `json:"hosts"`
	Paths       []string          `json:"paths"`
	Names       Names             `json:"names"`
	// Address is the Gateway's address: a reserved address's name, or
	// (refused before anything is applied) an IP.
	Address string `json:"address"`
	// Certificate names a pre-shared Compute certificate; empty means the
	// Gateway serves Names.CertificateMap.
	Certificate  string `json:"certificate,omitempty"`
	HTTPRedirect bool   `json:"httpRedirect"`
	// ArmorPolicy is the Cloud Armor policy the backend uses ("": none).
	ArmorPolicy        string        `json:"armorPolicy,omitempty"`
	LogSampleRate      float64       `json:"logSampleRate"`
	MaxRatePerEndpoint int64         `json:"maxRatePerEndpoint,omitempty"`
	IAP                bool          `json:"iap,omitempty"`
	IAPClientID        string        `json:"iapClientId,omitempty"`
	IAPClientSecret    string        `json:"-"`
	BackendTimeout     time.Duration `json:"backendTimeout,omitempty"`
}

// gatewayGV is gateway.networking.k8s.io/v1, the Gateway's and the route's
// group and version; gkeGV networking.gke.io/v1, the policies'.
var (
	gatewayGV = schema.GroupVersion(gwv1.GroupVersion)
	gkeGV     = schema.GroupVersion{Group: gkev1.GroupName, Version: "v1"}
)

// kind is one kind of object this path manages.
type kind struct {
	Kind     string
	Resource schema.GroupVersionResource
}

var (
	kGateway           = kind{"Gateway", gatewayGV.WithResource("gateways")}
	kHTTPRoute         = kind{"HTTPRoute", gatewayGV.WithResource("httproutes")}
	kHealthCheckPolicy = kind{"HealthCheckPolicy", gkeGV.WithResource("healthcheckpolicies")}
	kBackendPolicy     = kind{"GCPBackendPolicy", gkeGV.WithResource("gcpbackendpolicies")}
	kGatewayPolicy     = kind{"GCPGatewayPolicy", gkeGV.WithResource("gcpgatewaypolicies")}
	kSecret            = kind{"Secret", schema.GroupVersionResource{Version: "v1", Resource: "secrets"}}
	kService           = kind{"Service", schema.GroupVersionResource{Version: "v1", Resource: "services"}}
	kEvent             = kind{"Event", schema.GroupVersionResource{Version: "v1", Resource: "events"}}
)

// Object is one object the path wants to exist.
type Object struct {
	kind kind
	// Obj is the typed object with its apiVersion and kind set.
	Obj interface {
		metav1.Object
		runtime.Object
	}
	// shared objects belong to the Gateway, not to one Service.
	shared bool
}

// Kind returns the object's kind, e.g. "HTTPRoute".
func (o Object) Kind() string { return o.kind.Kind }

// Ref returns "Kind namespace/name".
func (o Object) Ref() string { return o.kind.Kind + " " + o.Obj.GetNamespace() + "/" + o.Obj.GetName() }

// Render returns the objects for s in the order they are applied: the
// Service's policies first, so that the controller's first translation of
// its backend already health-checks Istio's status port (GKE's default,
// GET / on the serving port, fails against the gateway); then the Gateway
// and its policy; the routes last.
func Render(s Spec) []Object {
	var objs []Object
	if s.IAPClientSecret != "" {
		objs = append(objs, Object{kind: kSecret, Obj: s.iapSecret()})
	}
	objs = append(objs,
		Object{kind: kHealthCheckPolicy, Obj: s.healthCheckPolicy()},
		Object{kind: kBackendPolicy, Obj: s.backendPolicy()},
		Object{kind: kGateway, Obj: s.gateway(), shared: true},
		Object{kind: kGatewayPolicy, Obj: s.gatewayPolicy(), shared: true},
	)
	if s.HTTPRedirect {
		objs = append(objs, Object{kind: kHTTPRoute, Obj: s.redirectRoute(), shared: true})
	}
	return append(objs, Object{kind: kHTTPRoute, Obj: s.route()})
}

// meta is a Service's own object's metadata.
func (s Spec) meta(name string) metav1.ObjectMeta {
	l := mesh.OwnerLabels(s.Service.Namespace, s.Service.Name)
	l[LabelGateway] = s.Names.Gateway
	return metav1.ObjectMeta{Name: name, Namespace: s.Names.Namespace, Labels: l}
}

// sharedMeta is the Gateway's objects' metadata: meshctl's, for no one
// Service.
func (s Spec) sharedMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: s.Names.Namespace,
		Labels: map[string]string{mesh.LabelManagedBy: mesh.ManagedBy, LabelGateway: s.Names.Gateway}}
}

func typeMeta(gv schema.GroupVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: gv.String(), Kind: kind}
}

func (s Spec) serviceTarget() v1alpha2.NamespacedPolicyTargetReference {
	return v1alpha2.NamespacedPolicyTargetReference{Group: "", Kind: "Service", Name: gwv1.ObjectName(s.MeshGateway)}
}

// healthCheckPolicy probes Istio's readiness endpoint on the status port,
// in the form both the v1.3.0 CRD and HEAD's CEL rules accept: HEAD
// requires portSpecification, and refuses the guide's port-and-portName
// form (reference gke-gateway.md §4).
func (s Spec) healthCheckPolicy() *gkev1.HealthCheckPolicy {
	return &gkev1.HealthCheckPolicy{
		TypeMeta:   typeMeta(gkeGV, "HealthCheckPolicy"),
		ObjectMeta: s.meta(s.Names.Route),
		Spec: gkev1.HealthCheckPolicySpec{
			TargetRef: s.serviceTarget(),
			Default: &gkev1.HealthCheckPolicyConfig{
				CheckIntervalSec: ptr.To[int64](5), TimeoutSec: ptr.To[int64](5),
				HealthyThreshold: ptr.To[int64](2), UnhealthyThreshold: ptr.To[int64](2),
				LogConfig: &gkev1.LogConfig{Enabled: ptr.To(true)},
				Config: &gkev1.HealthCheck{
					Type: gkev1.HTTP,
					HTTP: &gkev1.HTTPHealthCheck{
						CommonHealthCheck: gkev1.CommonHealthCheck{
							PortSpecification: ptr.To(gkev1.UseFixedPort),
							Port:              ptr.To[int64](mesh.StatusPort),
						},
						CommonHTTPHealthCheck: gkev1.CommonHTTPHealthCheck{RequestPath: ptr.To(mesh.ReadinessPath)},
					},
				},
			},
		},
	}
}

// backendPolicy sets the backend service's Cloud Armor policy, logging,
// IAP, timeout and rate.
func (s Spec) backendPolicy() *gkev1.GCPBackendPolicy {
	cfg := &gkev1.GCPBackendPolicyConfig{
		Logging: &gkev1.LoggingConfig{Enabled: ptr.To(s.LogSampleRate > 0)},
	}
	if s.LogSampleRate > 0 {
		// GKE takes the rate in millionths.
		cfg.Logging.SampleRate = ptr.To(int32(s.LogSampleRate*1e6 + 0.5))
	}
	if s.ArmorPolicy != "" {
		cfg.SecurityPolicy = ptr.To(s.ArmorPolicy)
	}
	if s.BackendTimeout > 0 {
		cfg.TimeoutSec = ptr.To(int64(s.BackendTimeout / time.Second))
	}
	if s.MaxRatePerEndpoint > 0 {
		cfg.MaxRatePerEndpoint = ptr.To(s.MaxRatePerEndpoint)
	}
	if s.IAP {
		cfg.IAP = &gkev1.IdentityAwareProxyConfig{Enabled: ptr.To(true)}
		if s.IAPClientID != "" {
			cfg.IAP.ClientID = ptr.To(s.IAPClientID)
			cfg.IAP.Oauth2ClientSecret = &gkev1.Oauth2ClientSecret{Name: ptr.To(s.Names.IAPSecret)}
		}
	}
	return &gkev1.GCPBackendPolicy{
		TypeMeta:   typeMeta(gkeGV, "GCPBackendPolicy"),
		ObjectMeta: s.meta(s.Names.Route),
		Spec:       gkev1.GCPBackendPolicySpec{TargetRef: s.serviceTarget(), Default: cfg},
	}
}

func (s Spec) iapSecret() *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: s.meta(s.Names.IAPSecret),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{IAPSecretKey: []byte(s.IAPClientSecret)},
	}
}

// gateway is the GKE Gateway: HTTPS on 443 (and HTTP on 80 for the
// redirect), routes from its own namespace only, the reserved address, and
// the certificates: a Certificate Manager map (annotation, and then no
// listener tls at all: GKE refuses both together, GWCER105) or a
// pre-shared certificate in the listener's tls options.
func (s Spec) gateway() *gwv1.Gateway {
	m := s.sharedMeta(s.Names.Gateway)
	same := &gwv1.AllowedRoutes{Namespaces: &gwv1.RouteNamespaces{From: ptr.To(gwv1.NamespacesFromSame)}}
	https := gwv1.Listener{Name: "https", Protocol: gwv1.HTTPSProtocolType, Port: 443, AllowedRoutes: same}
	if s.Certificate != "" {
		https.TLS = &gwv1.ListenerTLSConfig{Mode: ptr.To(gwv1.TLSModeTerminate),
			Options: map[gwv1.AnnotationKey]gwv1.AnnotationValue{PreSharedCertsOption: gwv1.AnnotationValue(s.Certificate)}}
	} else {
		m.Annotations = map[string]string{CertMapAnnotation: s.Names.CertificateMap}
	}
	listeners := []gwv1.Listener{https}
	if s.HTTPRedirect {
		listeners = append(listeners, gwv1.Listener{Name: "http", Protocol: gwv1.HTTPProtocolType, Port: 80, AllowedRoutes: same})
	}
	addrType := gwv1.NamedAddressType
	if isIP(s.Address) {
		addrType = gwv1.IPAddressType
	}
	return &gwv1.Gateway{
		TypeMeta:   typeMeta(gatewayGV, "Gateway"),
		ObjectMeta: m,
		Spec: gwv1.GatewaySpec{
			GatewayClassName: GatewayClass,
			Listeners:        listeners,
			Addresses:        []gwv1.GatewaySpecAddress{{Type: ptr.To(addrType), Value: s.Address}},
		},
	}
}

// gatewayPolicy sets the HTTPS proxy's SSL policy.
func (s Spec) gatewayPolicy() *gkev1.GCPGatewayPolicy {
	return &gkev1.GCPGatewayPolicy{
		TypeMeta:   typeMeta(gkeGV, "GCPGatewayPolicy"),
		ObjectMeta: s.sharedMeta(s.Names.GatewayPolicy),
		Spec: gkev1.GCPGatewayPolicySpec{
			TargetRef: v1alpha2.NamespacedPolicyTargetReference{Group: gwv1.GroupName, Kind: "Gateway", Name: gwv1.ObjectName(s.Names.Gateway)},
			Default:   &gkev1.GCPGatewayPolicyConfig{SslPolicy: s.Names.Edge.SSLPolicy},
		},
	}
}

func (s Spec) parentRef(section string) gwv1.ParentReference {
	return gwv1.ParentReference{Name: gwv1.ObjectName(s.Names.Gateway), SectionName: ptr.To(gwv1.SectionName(section))}
}

// redirectRoute sends every http:// request to https:// (301).
func (s Spec) redirectRoute() *gwv1.HTTPRoute {
	return &gwv1.HTTPRoute{
		TypeMeta:   typeMeta(gatewayGV, "HTTPRoute"),
		ObjectMeta: s.sharedMeta(s.Names.Redirect),
		Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{s.parentRef("http")}},
			Rules: []gwv1.HTTPRouteRule{{Filters: []gwv1.HTTPRouteFilter{{
				Type:            gwv1.HTTPRouteFilterRequestRedirect,
				RequestRedirect: &gwv1.HTTPRequestRedirectFilter{Scheme: ptr.To("https"), StatusCode: ptr.To(301)},
			}}}},
		},
	}
}

// route sends the Service's hosts (and paths) to its mesh gateway's HTTPS
// port, which the load balancer reaches as HTTP/2 over TLS (the port's
// appProtocol).
func (s Spec) route() *gwv1.HTTPRoute {
	var hostnames []gwv1.Hostname
	for _, h := range s.Hosts {
		hostnames = append(hostnames, gwv1.Hostname(strings.ToLower(strings.TrimSuffix(h, "."))))
	}
	rule := gwv1.HTTPRouteRule{BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{
		BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(s.MeshGateway), Port: ptr.To(gwv1.PortNumber(expose.HTTPSPort))},
	}}}}
	for _, p := range s.Paths {
		typ := gwv1.PathMatchPathPrefix
		if looksLikeRegex(p) {
			// Kept as the user meant it, so that the check before applying
			// refuses it as GKE would (GWCER104).
			typ = gwv1.PathMatchRegularExpression
		}
		rule.Matches = append(rule.Matches, gwv1.HTTPRouteMatch{Path: &gwv1.HTTPPathMatch{Type: ptr.To(typ), Value: ptr.To(p)}})
	}
	return &gwv1.HTTPRoute{
		TypeMeta:   typeMeta(gatewayGV, "HTTPRoute"),
		ObjectMeta: s.meta(s.Names.Route),
		Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{s.parentRef("https")}},
			Hostnames:       hostnames,
			Rules:           []gwv1.HTTPRouteRule{rule},
		},
	}
}

// looksLikeRegex: characters a path prefix cannot hold (the CRD's pattern
// allows none of them), or ".*", mean the user wrote a regular expression.
func looksLikeRegex(p string) bool {
	return strings.ContainsAny(p, `^[]{}|\?`) || strings.Contains(p, ".*") || strings.Contains(p, ".+")
}
