package gkegateway

import (
	"strings"
	"testing"
	"time"

	gkev1 "github.com/GoogleCloudPlatform/gke-gateway-api/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1alpha2 "sigs.k8s.io/gateway-api/apis/v1alpha2"
)

// The guide's objects (reference §1), as the tests' starting point.

func guideGateway() *gwv1.Gateway {
	return &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ingress-gateway", Name: "external-http", Annotations: map[string]string{certMapAnnotation: "edge2mesh-cert-map"}},
		Spec: gwv1.GatewaySpec{
			GatewayClassName: ClassName,
			Listeners: []gwv1.Listener{
				{Name: "http", Protocol: gwv1.HTTPProtocolType, Port: 80},
				{Name: "https", Protocol: gwv1.HTTPSProtocolType, Port: 443},
			},
			Addresses: []gwv1.GatewaySpecAddress{{Type: ptrTo(gwv1.NamedAddressType), Value: "e2m-gclb-ip"}},
		},
	}
}

func guideService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ingress-gateway", Name: "asm-ingressgateway"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
			{Name: "status-port", Port: 15021}, {Name: "https", Port: 443, AppProtocol: ptrTo("HTTP2")},
		}},
	}
}

func httpRoute(name, section, backend string, matches ...gwv1.HTTPRouteMatch) *gwv1.HTTPRoute {
	return &gwv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ingress-gateway", Name: name, Generation: 1},
		Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "external-http", SectionName: ptrTo(gwv1.SectionName(section))}}},
			Rules: []gwv1.HTTPRouteRule{{Matches: matches, BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{
				BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(backend), Port: ptrTo(gwv1.PortNumber(443))}}}}}},
		},
	}
}

func worldOf(objs ...any) *world {
	w := &world{namespaces: map[string]*corev1.Namespace{}, services: map[types.NamespacedName]*corev1.Service{}, secrets: map[types.NamespacedName]*corev1.Secret{}}
	for _, o := range objs {
		switch o := o.(type) {
		case *gwv1.Gateway:
			w.gateways = append(w.gateways, o)
		case *gwv1.HTTPRoute:
			w.routes = append(w.routes, o)
		case *corev1.Service:
			w.services[nn(o.Namespace, o.Name)] = o
		case *corev1.Secret:
			w.secrets[nn(o.Namespace, o.Name)] = o
		case *gkev1.GCPBackendPolicy:
			w.backendPolicies = append(w.backendPolicies, o)
		case *gkev1.HealthCheckPolicy:
			w.healthChecks = append(w.healthChecks, o)
		}
	}
	return w
}

func TestTranslateRefusesWithGKECodes(t *testing.T) {
	cases := []struct {
		name   string
		change func(*gwv1.Gateway)
		code   string
		reason gwv1.GatewayConditionReason
		msg    string
	}{
		{"an IPAddress address", func(g *gwv1.Gateway) {
			g.Spec.Addresses = []gwv1.GatewaySpecAddress{{Value: "34.1.2.3"}}
		}, "GWCER106", gwv1.GatewayReasonAddressNotUsable, `unsupported address type "IPAddress"`},
		{"a certificate map and a listener tls block", func(g *gwv1.Gateway) {
			g.Spec.Listeners[1].TLS = &gwv1.ListenerTLSConfig{Options: map[gwv1.AnnotationKey]gwv1.AnnotationValue{preSharedCertsOpt: "my-cert"}}
		}, "GWCER105", gwv1.GatewayReasonInvalid, `TLS configuration not allowed when CertificateMap "edge2mesh-cert-map" is attached`},
		{"a missing Secret", func(g *gwv1.Gateway) {
			delete(g.Annotations, certMapAnnotation)
			g.Spec.Listeners[1].TLS = &gwv1.ListenerTLSConfig{CertificateRefs: []gwv1.SecretObjectReference{{Name: "edge2mesh-credential"}}}
		}, "GWCER102", gwv1.GatewayReasonInvalid, "secrets ingress-gateway/edge2mesh-credential not found"},
		{"an HTTPS listener without certificates", func(g *gwv1.Gateway) {
			delete(g.Annotations, certMapAnnotation)
		}, "GWCER105", gwv1.GatewayReasonInvalid, "no certificate for the HTTPS listeners"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gw := guideGateway()
			c.change(gw)
			tr := translate(worldOf(gw, guideService()), gw)
			if tr.err == nil || tr.err.Code != c.code || tr.err.Reason != c.reason || !strings.Contains(tr.err.Error(), c.msg) {
				t.Fatalf("err = %+v, want %s (%s) containing %q", tr.err, c.code, c.reason, c.msg)
			}
			if !strings.HasPrefix(tr.err.Error(), "Error "+c.code+": ") {
				t.Errorf("message %q does not start the GKE way", tr.err.Error())
			}
		})
	}
	gw := guideGateway()
	if tr := translate(worldOf(gw), gw); tr.err != nil {
		t.Errorf("the guide's Gateway is refused: %v", tr.err)
	}
}

func TestTranslateRouteConditions(t *testing.T) {
	regex := gwv1.HTTPRouteMatch{Path: &gwv1.HTTPPathMatch{Type: ptrTo(gwv1.PathMatchRegularExpression), Value: ptrTo("/a.*")}}
	method := gwv1.HTTPRouteMatch{Method: ptrTo(gwv1.HTTPMethodGet)}
	cases := []struct {
		name                   string
		route                  *gwv1.HTTPRoute
		accepted, resolved     string // reasons
		message                string
		attachedHTTP, attached int32
	}{
		{"the guide's route", httpRoute("default-httproute", "https", "asm-ingressgateway", prefix("/")), "Accepted", "ResolvedRefs", "", 0, 1},
		{"a missing Service", httpRoute("r", "https", "nothere"), "Accepted", "BackendNotFound",
			`failed to be resolved: error cause: reference-not-found: Error GWCER104: HTTPRoute "ingress-gateway/r" is misconfigured, err: Error GWCER102: services ingress-gateway/nothere not found`, 0, 1},
		{"a regular-expression path", httpRoute("r", "https", "asm-ingressgateway", regex), "Invalid", "ResolvedRefs",
			`Error GWCER104: HTTPRoute "ingress-gateway/r" is misconfigured, err: rule 0: path match type RegularExpression is not supported`, 0, 0},
		{"a method match", httpRoute("r", "https", "asm-ingressgateway", method), "Invalid", "ResolvedRefs", "Error GWCER104:", 0, 0},
		{"an unknown section", httpRoute("r", "admin", "asm-ingressgateway"), "NoMatchingParent", "ResolvedRefs", "", 0, 0},
		{"no section: both listeners", httpRoute("r", "", "asm-ingressgateway"), "Accepted", "ResolvedRefs", "", 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.route.Spec.ParentRefs[0].SectionName != nil && *c.route.Spec.ParentRefs[0].SectionName == "" {
				c.route.Spec.ParentRefs[0].SectionName = nil
			}
			gw := guideGateway()
			tr := translate(worldOf(gw, guideService(), c.route), gw)
			parents := tr.parents[nn("ingress-gateway", c.route.Name)]
			if len(parents) != 1 {
				t.Fatalf("parents = %+v, want one", parents)
			}
			acc, res := parents[0].Conditions[0], parents[0].Conditions[1]
			if acc.Type != "Accepted" || res.Type != "ResolvedRefs" || parents[0].ControllerName != ControllerName {
				t.Fatalf("conditions %s, %s by %s", acc.Type, res.Type, parents[0].ControllerName)
			}
			if acc.Reason != c.accepted || res.Reason != c.resolved {
				t.Errorf("Accepted=%s/%s ResolvedRefs=%s/%s, want reasons %s and %s", acc.Status, acc.Reason, res.Status, res.Reason, c.accepted, c.resolved)
			}
			if msg := acc.Message + res.Message; !strings.Contains(msg, c.message) {
				t.Errorf("message %q, want it to contain %q", msg, c.message)
			}
			if tr.listeners[0].attached != c.attachedHTTP || tr.listeners[1].attached != c.attached {
				t.Errorf("attachedRoutes http=%d https=%d, want %d and %d", tr.listeners[0].attached, tr.listeners[1].attached, c.attachedHTTP, c.attached)
			}
			if tr.err != nil {
				t.Errorf("a route problem failed the whole Gateway: %v", tr.err)
			}
		})
	}
}

func TestRoutesFromOtherNamespacesNeedAllowedRoutes(t *testing.T) {
	gw := guideGateway()
	r := httpRoute("shop", "https", "asm-ingressgateway")
	r.Namespace = "shop"
	r.Spec.ParentRefs[0].Namespace = ptrTo(gwv1.Namespace("ingress-gateway"))
	tr := translate(worldOf(gw, r), gw)
	if got := tr.parents[nn("shop", "shop")][0].Conditions[0].Reason; got != string(gwv1.RouteReasonNotAllowedByListeners) {
		t.Errorf("Accepted reason = %s, want NotAllowedByListeners (listeners allow the same namespace by default)", got)
	}
	gw.Spec.Listeners[1].AllowedRoutes = &gwv1.AllowedRoutes{Namespaces: &gwv1.RouteNamespaces{From: ptrTo(gwv1.NamespacesFromAll)}}
	tr = translate(worldOf(gw, r), gw)
	if got := tr.parents[nn("shop", "shop")][0].Conditions[0].Reason; got != string(gwv1.RouteReasonAccepted) {
		t.Errorf("Accepted reason = %s with from: All", got)
	}
}

func targetService(name string) gwv1alpha2.NamespacedPolicyTargetReference {
	return gwv1alpha2.NamespacedPolicyTargetReference{Group: "", Kind: "Service", Name: gwv1.ObjectName(name)}
}

func TestPolicyAttachment(t *testing.T) {
	at := func(age time.Duration) metav1.Time { return metav1.NewTime(time.Unix(1e9, 0).Add(-age)) }
	older := &gkev1.GCPBackendPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "ingress-gateway", Name: "armor", CreationTimestamp: at(time.Hour)},
		Spec: gkev1.GCPBackendPolicySpec{TargetRef: targetService("asm-ingressgateway")}}
	newer := &gkev1.GCPBackendPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "ingress-gateway", Name: "another", CreationTimestamp: at(0)},
		Spec: gkev1.GCPBackendPolicySpec{TargetRef: targetService("asm-ingressgateway")}}
	orphan := &gkev1.GCPBackendPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "ingress-gateway", Name: "orphan"},
		Spec: gkev1.GCPBackendPolicySpec{TargetRef: targetService("gone")}}
	wrongKind := &gkev1.HealthCheckPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "ingress-gateway", Name: "hc"},
		Spec: gkev1.HealthCheckPolicySpec{TargetRef: gwv1alpha2.NamespacedPolicyTargetReference{Group: gatewayGroup, Kind: "Gateway", Name: "external-http"}}}
	p := resolvePolicies(worldOf(guideService(), newer, older, orphan, wrongKind))
	want := map[policyKey]string{
		{kindBackendPolicy, "ingress-gateway", "armor"}:   "Attached",
		{kindBackendPolicy, "ingress-gateway", "another"}: "Conflicted",
		{kindBackendPolicy, "ingress-gateway", "orphan"}:  "TargetNotFound",
		{kindHealthCheckPolicy, "ingress-gateway", "hc"}:  "Invalid",
	}
	for k, reason := range want {
		if got := p.attached[k]; got.reason != reason {
			t.Errorf("%s %s: Attached reason %q (%s), want %s", k.Kind, k.Name, got.reason, got.message, reason)
		}
	}
	if got := p.backend[nn("ingress-gateway", "asm-ingressgateway")]; got == nil || got.Name != "armor" {
		t.Errorf("the Service's GCPBackendPolicy is %v, want the oldest, armor", got)
	}
	if msg := p.attached[policyKey{kindBackendPolicy, "ingress-gateway", "armor"}].message; msg != "Application of GCPBackendPolicy was a success" {
		t.Errorf("Attached message = %q", msg)
	}
}
