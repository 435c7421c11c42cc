package gkegateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	gkev1 "github.com/GoogleCloudPlatform/gke-gateway-api/apis/networking/v1"
	compute "google.golang.org/api/compute/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1alpha2 "sigs.k8s.io/gateway-api/apis/v1alpha2"

	"github.com/meshctl/meshctl/sim/computeclient"
	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/scenario"
)

// guidePolicies are the guide's policies, with the health check in the
// form the CRD at any version accepts.
func guidePolicies() []runtime.Object {
	return []runtime.Object{
		&gkev1.HealthCheckPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "ingress-gateway-healthcheck"},
			Spec: gkev1.HealthCheckPolicySpec{TargetRef: targetService("asm-ingressgateway"), Default: &gkev1.HealthCheckPolicyConfig{
				CheckIntervalSec: ptrTo(int64(20)), TimeoutSec: ptrTo(int64(5)), LogConfig: &gkev1.LogConfig{Enabled: ptrTo(true)},
				Config: &gkev1.HealthCheck{Type: gkev1.HTTP, HTTP: &gkev1.HTTPHealthCheck{
					CommonHealthCheck:     gkev1.CommonHealthCheck{PortSpecification: ptrTo(gkev1.UseFixedPort), Port: ptrTo(int64(15021))},
					CommonHTTPHealthCheck: gkev1.CommonHTTPHealthCheck{RequestPath: ptrTo("/healthz/ready")},
				}},
			}}},
		&gkev1.GCPBackendPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "cloud-armor-backendpolicy"},
			Spec: gkev1.GCPBackendPolicySpec{TargetRef: targetService("asm-ingressgateway"), Default: &gkev1.GCPBackendPolicyConfig{
				SecurityPolicy: ptrTo("edge-fw-policy"), Logging: &gkev1.LoggingConfig{Enabled: ptrTo(true), SampleRate: ptrTo(int32(500000))},
			}}},
		&gkev1.GCPGatewayPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "ssl"},
			Spec: gkev1.GCPGatewayPolicySpec{
				TargetRef: gwv1alpha2.NamespacedPolicyTargetReference{Group: gatewayGroup, Kind: "Gateway", Name: "external-http"},
				Default:   &gkev1.GCPGatewayPolicyConfig{SslPolicy: "gw-ssl-policy"}}},
		httpRoute("default-httproute", "https", "asm-ingressgateway", prefix("/")),
		&gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "http-to-https-redirect-httproute"},
			Spec: gwv1.HTTPRouteSpec{
				CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "external-http", SectionName: ptrTo(gwv1.SectionName("http"))}}},
				Rules: []gwv1.HTTPRouteRule{{Filters: []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterRequestRedirect,
					RequestRedirect: &gwv1.HTTPRequestRedirectFilter{Scheme: ptrTo("https"), StatusCode: ptrTo(301)}}}}},
			}},
	}
}

// userResources are what the guide makes by hand before the Gateway: the
// named address, the Cloud Armor policy and the SSL policy.
func (e *env) userResources(t *testing.T) string {
	t.Helper()
	s, p := e.g.svc, e.g.project
	e.mustDo(t, func(id string) (*compute.Operation, error) {
		return s.GlobalAddresses.Insert(p, &compute.Address{Name: "e2m-gclb-ip"}).RequestId(id).Do()
	})
	e.mustDo(t, func(id string) (*compute.Operation, error) {
		return s.SecurityPolicies.Insert(p, &compute.SecurityPolicy{Name: "edge-fw-policy"}).RequestId(id).Do()
	})
	e.mustDo(t, func(id string) (*compute.Operation, error) {
		return s.SslPolicies.Insert(p, &compute.SslPolicy{Name: "gw-ssl-policy", Profile: "RESTRICTED", MinTlsVersion: "TLS_1_2"}).RequestId(id).Do()
	})
	addr, err := s.GlobalAddresses.Get(p, "e2m-gclb-ip").Do()
	if err != nil {
		t.Fatal(err)
	}
	return addr.Address
}

func (e *env) createGateway(t *testing.T, gw *gwv1.Gateway) {
	t.Helper()
	gw.CreationTimestamp = metav1.Now()
	gw.Generation = 1
	if _, err := e.gw.GatewayV1().Gateways(gw.Namespace).Create(e.ctx, gw, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func tail(link string) string { return link[strings.LastIndex(link, "/")+1:] }

func TestControllerProgramsTheGuidesGatewayAndTearsItDown(t *testing.T) {
	e := newEnv(t, guidePolicies()...)
	ip := e.userResources(t)
	e.createGateway(t, guideGateway())
	gw := e.waitProgrammed(t, "external-http", metav1.ConditionTrue)

	var types []string
	for _, c := range gw.Status.Conditions {
		types = append(types, c.Type)
	}
	if want := []string{"Scheduled", "Accepted", "Programmed", "Ready", "networking.gke.io/GatewayHealthy"}; !slices.Equal(types, want) {
		t.Errorf("conditions %v, want GKE's order %v", types, want)
	}
	if len(gw.Status.Addresses) != 1 || gw.Status.Addresses[0].Value != ip {
		t.Errorf("addresses = %+v, want the named address's %s", gw.Status.Addresses, ip)
	}
	if !hasFinalizer(gw.Finalizers) {
		t.Errorf("finalizers = %v", gw.Finalizers)
	}
	for _, l := range gw.Status.Listeners {
		if l.AttachedRoutes != 1 || conditionOf(l.Conditions, "Programmed").Status != metav1.ConditionTrue {
			t.Errorf("listener %s: %d routes, %+v", l.Name, l.AttachedRoutes, l.Conditions)
		}
	}

	e.checkGuideChain(t, gw, ip)

	// Status and events on the other objects.
	hp, _ := e.gke.NetworkingV1().HealthCheckPolicies(testNS).Get(e.ctx, "ingress-gateway-healthcheck", metav1.GetOptions{})
	if c := conditionOf(hp.Status.Conditions, "Attached"); c.Status != metav1.ConditionTrue || c.Message != "Application of HealthCheckPolicy was a success" {
		t.Errorf("HealthCheckPolicy Attached = %+v", c)
	}
	route, _ := e.gw.GatewayV1().HTTPRoutes(testNS).Get(e.ctx, "default-httproute", metav1.GetOptions{})
	if len(route.Status.Parents) != 1 || route.Status.Parents[0].ControllerName != ControllerName || !accepted(route.Status.Parents[0].Conditions) {
		t.Errorf("route parents = %+v", route.Status.Parents)
	}
	e.eventually(t, "the Gateway's events", func() (bool, string) {
		ev := e.events(t, "external-http")
		return slices.Contains(ev, "Normal ADD: ingress-gateway/external-http") &&
			slices.Contains(ev, "Normal SYNC: SYNC on ingress-gateway/external-http was a success"), fmt.Sprint(ev)
	})

	// Deleting the Gateway takes down what the controller made and no more.
	gw = e.gateway(t, "external-http")
	gw.DeletionTimestamp = ptrTo(metav1.Now())
	if _, err := e.gw.GatewayV1().Gateways(testNS).Update(e.ctx, gw, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(t, "finalizer dropped and resources gone", func() (bool, string) {
		gw := e.gateway(t, "external-http")
		return len(gw.Finalizers) == 0 && len(e.owned()) == 0, fmt.Sprintf("finalizers %v, left %v", gw.Finalizers, e.owned())
	})
	for _, kept := range [][2]string{{"addresses", "e2m-gclb-ip"}, {"securityPolicies", "edge-fw-policy"}, {"sslPolicies", "gw-ssl-policy"}} {
		if _, ok := e.srv.Resource("projects/meshsim-project/global/" + kept[0] + "/" + kept[1]); !ok {
			t.Errorf("the user's %s %s was deleted", kept[0], kept[1])
		}
	}
	e.eventually(t, "NEGs released", func() (bool, string) {
		return len(e.srv.NEGs()) == 0, fmt.Sprint(e.srv.NEGs())
	})

	// With no Gateway left and nothing in Compute, a pass makes no call:
	// other clients' request logs and fault sequences stay their own.
	e.eventually(t, "the Gateway gone from the controller's view", func() (bool, string) {
		_ = e.gw.GatewayV1().Gateways(testNS).Delete(e.ctx, "external-http", metav1.DeleteOptions{})
		l, _ := e.c.gwInformers.Gateway().V1().Gateways().Lister().List(labels.Everything())
		return len(l) == 0, fmt.Sprint(len(l))
	})
	e.c.Reconcile(e.ctx)
	e.srv.ResetRequests()
	e.c.Reconcile(e.ctx)
	if n := e.srv.Requests().Total; n != 0 {
		t.Errorf("an idle pass made %d Compute calls: %v", n, e.srv.Requests().ByMethod)
	}
}

func TestControllerRefusesWhatItCannotFind(t *testing.T) {
	cases := []struct {
		name   string
		change func(*gwv1.Gateway)
		want   string
	}{
		{"a named address that does not exist", func(g *gwv1.Gateway) { g.Spec.Addresses[0].Value = "nowhere" },
			`failed to translate Gateway "ingress-gateway/external-http": Error GWCER106: address "nowhere" does not exist`},
		{"a certificate map that does not exist", func(g *gwv1.Gateway) { g.Annotations[certMapAnnotation] = "no-map" },
			`Error GWCER105: CertificateMap "no-map" does not exist`},
		{"a pre-shared certificate that does not exist", func(g *gwv1.Gateway) {
			delete(g.Annotations, certMapAnnotation)
			g.Spec.Listeners[1].TLS = &gwv1.ListenerTLSConfig{Options: map[gwv1.AnnotationKey]gwv1.AnnotationValue{preSharedCertsOpt: "no-cert"}}
		}, `Error GWCER105: SslCertificate "global/sslCertificates/no-cert" does not exist`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.userResources(t)
			gw := guideGateway()
			c.change(gw)
			e.createGateway(t, gw)
			got := e.waitProgrammed(t, "external-http", metav1.ConditionFalse)
			if msg := conditionOf(got.Status.Conditions, "Programmed").Message; msg != c.want && !strings.HasSuffix(msg, c.want) {
				t.Errorf("Programmed message = %q, want %q", msg, c.want)
			}
			e.eventually(t, "the Warning event", func() (bool, string) {
				ev := e.events(t, "external-http")
				for _, m := range ev {
					if strings.HasPrefix(m, "Warning SYNC: failed to translate Gateway") && strings.HasSuffix(m, c.want) {
						return true, ""
					}
				}
				return false, fmt.Sprint(ev)
			})
			if left := e.owned(); len(left) != 0 {
				t.Errorf("a refused Gateway made %v", left)
			}
		})
	}
}

func TestControllerRetriesWhatComputeRefuses(t *testing.T) {
	e := newEnv(t, guidePolicies()...)
	e.userResources(t)
	// The first write of the HTTPS URL map meets a concurrent writer (412).
	e.srv.UpdateKnobs(func(k *fakegcp.Knobs) {
		k.Faults.FailNext = map[string]fakegcp.MethodFailure{"compute.urlMaps.update": {Count: 1, Code: 412}}
	})
	e.createGateway(t, guideGateway())
	e.waitProgrammed(t, "external-http", metav1.ConditionTrue)
	um := e.c.names.gatewayName(testNS, "external-http", roleTLSFrontend)

	route, _ := e.gw.GatewayV1().HTTPRoutes(testNS).Get(e.ctx, "default-httproute", metav1.GetOptions{})
	route.Spec.Rules = append(route.Spec.Rules, gwv1.HTTPRouteRule{Matches: []gwv1.HTTPRouteMatch{prefix("/west")},
		BackendRefs: route.Spec.Rules[0].BackendRefs})
	route.Generation++
	if _, err := e.gw.GatewayV1().HTTPRoutes(testNS).Update(e.ctx, route, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(t, "the new rule in the URL map after the 412", func() (bool, string) {
		m, err := e.g.svc.UrlMaps.Get(e.g.project, um).Do()
		if err != nil {
			return false, err.Error()
		}
		return len(m.PathMatchers[0].RouteRules) == 2, fmt.Sprint(len(m.PathMatchers[0].RouteRules))
	})
	if got := e.srv.Requests().ByMethod["compute.urlMaps.update"]; got < 2 {
		t.Errorf("urlMaps.update called %d times, want the refused one and its retry", got)
	}

	// A user's URL map uses the controller's backend service: the delete
	// is refused (in use) and retried until the user lets go.
	bs := e.c.names.backendName(testNS, "asm-ingressgateway", 443)
	e.mustDo(t, func(id string) (*compute.Operation, error) {
		return e.g.svc.UrlMaps.Insert(e.g.project, &compute.UrlMap{Name: "users-map", DefaultService: e.g.link("backendServices", bs)}).RequestId(id).Do()
	})
	gw := e.gateway(t, "external-http")
	gw.DeletionTimestamp = ptrTo(metav1.Now())
	if _, err := e.gw.GatewayV1().Gateways(testNS).Update(e.ctx, gw, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(t, "the Gateway's own resources gone, the finalizer dropped", func() (bool, string) {
		return len(e.gateway(t, "external-http").Finalizers) == 0, fmt.Sprint(e.owned())
	})
	if left := e.owned(); !slices.Contains(left, "compute#backendService "+bs) {
		t.Fatalf("left %v, want the backend service the user's map holds", left)
	}
	e.mustDo(t, func(id string) (*compute.Operation, error) {
		return e.g.svc.UrlMaps.Delete(e.g.project, "users-map").RequestId(id).Do()
	})
	e.eventually(t, "the backend service deleted once free", func() (bool, string) {
		left := e.owned()
		return len(left) == 0, fmt.Sprint(left)
	})
}

func TestControllerRouteToMissingService(t *testing.T) {
	e := newEnv(t, append(guidePolicies(), httpRoute("missing", "https", "nothere", prefix("/west")))...)
	e.userResources(t)
	e.createGateway(t, guideGateway())
	e.waitProgrammed(t, "external-http", metav1.ConditionTrue)
	var res metav1.Condition
	e.eventually(t, "ResolvedRefs=False on the route", func() (bool, string) {
		r, _ := e.gw.GatewayV1().HTTPRoutes(testNS).Get(e.ctx, "missing", metav1.GetOptions{})
		if len(r.Status.Parents) == 0 {
			return false, "no parents"
		}
		res = conditionOf(r.Status.Parents[0].Conditions, "ResolvedRefs")
		return res.Status == metav1.ConditionFalse, fmt.Sprintf("%+v", res)
	})
	if res.Reason != "BackendNotFound" || !strings.Contains(res.Message, "Error GWCER102: services ingress-gateway/nothere not found") {
		t.Errorf("ResolvedRefs = %s: %s", res.Reason, res.Message)
	}
	// The rule answers 500; the Gateway's other route still serves.
	um, err := e.g.svc.UrlMaps.Get(e.g.project, e.c.names.gatewayName(testNS, "external-http", roleTLSFrontend)).Do()
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, rr := range um.PathMatchers[0].RouteRules {
		targets = append(targets, tail(rr.RouteAction.WeightedBackendServices[0].BackendService))
	}
	if len(targets) != 2 || !strings.Contains(targets[0], "gw-serve500") || !strings.Contains(targets[1], "asm-ingressgateway-443") {
		t.Errorf("rules go to %v, want /west to gw-serve500 and / to the gateway", targets)
	}
}

// checkGuideChain follows the guide's load balancer from the Gateway's
// annotations through Compute: forwarding rules on the named address, the
// HTTPS proxy with the certificate map and SSL policy, the URL map, the
// backend service with Cloud Armor and logging, the health check on 15021,
// healthy NEGs in every zone, and the firewall rule that lets the health
// checkers in.
func (e *env) checkGuideChain(t *testing.T, gw *gwv1.Gateway, ip string) {
	t.Helper()
	a := gw.Annotations
	for key := range resourceAnnotations {
		if _, ok := a[key]; !ok {
			t.Errorf("annotation %s missing", key)
		}
	}
	if _, err := time.Parse(time.RFC3339, a[lastReconcileAnnotation]); err != nil {
		t.Errorf("%s = %q", lastReconcileAnnotation, a[lastReconcileAnnotation])
	}
	rules := strings.Split(a["networking.gke.io/forwarding-rules"], ", ")
	if len(rules) != 2 || !strings.HasPrefix(rules[0], "/projects/123456789012/global/forwardingRules/gkegw1-") {
		t.Fatalf("forwarding-rules annotation = %q", a["networking.gke.io/forwarding-rules"])
	}
	if a["networking.gke.io/addresses"] != "/projects/123456789012/global/addresses/e2m-gclb-ip" {
		t.Errorf("addresses annotation = %q", a["networking.gke.io/addresses"])
	}
	s, p := e.g.svc, e.g.project
	var https *compute.ForwardingRule
	for _, r := range rules {
		fr, err := s.GlobalForwardingRules.Get(p, tail(r)).Do()
		if err != nil {
			t.Fatal(err)
		}
		if fr.IPAddress != ip || fr.LoadBalancingScheme != "EXTERNAL_MANAGED" || !strings.Contains(fr.Description, `"k8sResource":"/namespaces/ingress-gateway/gateways/external-http"`) {
			t.Errorf("forwarding rule %s: ip %s scheme %s description %s", fr.Name, fr.IPAddress, fr.LoadBalancingScheme, fr.Description)
		}
		if fr.PortRange == "443-443" {
			https = fr
		}
	}
	if https == nil {
		t.Fatal("no forwarding rule on 443")
	}
	proxy, err := s.TargetHttpsProxies.Get(p, tail(https.Target)).Do()
	if err != nil {
		t.Fatal(err)
	}
	if proxy.CertificateMap != "//certificatemanager.googleapis.com/projects/meshsim-project/locations/global/certificateMaps/edge2mesh-cert-map" ||
		tail(proxy.SslPolicy) != "gw-ssl-policy" || len(proxy.SslCertificates) != 0 {
		t.Errorf("proxy: certificateMap %q sslPolicy %q certificates %v", proxy.CertificateMap, proxy.SslPolicy, proxy.SslCertificates)
	}
	um, err := s.UrlMaps.Get(p, tail(proxy.UrlMap)).Do()
	if err != nil {
		t.Fatal(err)
	}
	if um.Name != proxy.Name {
		t.Errorf("URL map %s and its proxy %s do not share a name", um.Name, proxy.Name)
	}
	bsLink := um.PathMatchers[0].RouteRules[0].RouteAction.WeightedBackendServices[0].BackendService
	bs, err := s.BackendServices.Get(p, tail(bsLink)).Do()
	if err != nil {
		t.Fatal(err)
	}
	if bs.LoadBalancingScheme != "EXTERNAL_MANAGED" || bs.Protocol != "HTTP2" || tail(bs.SecurityPolicy) != "edge-fw-policy" ||
		bs.LogConfig == nil || !bs.LogConfig.Enable || bs.LogConfig.SampleRate != 0.5 || len(bs.Backends) != 3 {
		t.Errorf("backend service: %s %s armor %q log %+v backends %d", bs.LoadBalancingScheme, bs.Protocol, bs.SecurityPolicy, bs.LogConfig, len(bs.Backends))
	}
	hc, err := s.HealthChecks.Get(p, tail(bs.HealthChecks[0])).Do()
	if err != nil {
		t.Fatal(err)
	}
	if hc.Name != bs.Name || hc.HttpHealthCheck == nil || hc.HttpHealthCheck.Port != 15021 || hc.HttpHealthCheck.RequestPath != "/healthz/ready" || hc.CheckIntervalSec != 20 {
		t.Errorf("health check %s: %+v every %ds", hc.Name, hc.HttpHealthCheck, hc.CheckIntervalSec)
	}
	e.checkHealthy(t, bs)
}

// checkHealthy: every zone's endpoint is HEALTHY, because the pods serve
// 15021 and the controller's firewall rule lets the health checkers in.
func (e *env) checkHealthy(t *testing.T, bs *compute.BackendService) {
	t.Helper()
	s, p := e.g.svc, e.g.project
	for _, b := range bs.Backends {
		h, err := s.BackendServices.GetHealth(p, bs.Name, &compute.ResourceGroupReference{Group: b.Group}).Do()
		if err != nil {
			t.Fatal(err)
		}
		if len(h.HealthStatus) != 1 || h.HealthStatus[0].HealthState != "HEALTHY" {
			t.Errorf("health of %s: %+v", tail(b.Group), h.HealthStatus)
		}
	}
	// The rule is in the network's project (a Shared VPC's host).
	fw, err := s.Firewalls.Get(e.c.net.project, e.c.names.firewallName()).Do()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(fw.Allowed[0].Ports) != "[8443 15021]" || fmt.Sprint(fw.SourceRanges) != "[130.211.0.0/22 35.191.0.0/16]" {
		t.Errorf("firewall %s: ports %v from %v", fw.Name, fw.Allowed[0].Ports, fw.SourceRanges)
	}

}

// selfSigned is a certificate and key for host, PEM-encoded.
func selfSigned(t *testing.T, host string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func TestControllerMakesItsAddressAndCertificates(t *testing.T) {
	crt, key := selfSigned(t, "shop.example.com")
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "shop-tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": crt, "tls.key": key}}
	e := newEnv(t, append(guidePolicies()[:1], secret, httpRoute("shop", "https", "asm-ingressgateway"))...)
	gw := guideGateway()
	delete(gw.Annotations, certMapAnnotation)
	gw.Spec.Addresses = nil
	gw.Spec.Listeners = gw.Spec.Listeners[1:]
	gw.Spec.Listeners[0].TLS = &gwv1.ListenerTLSConfig{CertificateRefs: []gwv1.SecretObjectReference{{Name: "shop-tls"}}}
	e.createGateway(t, gw)
	got := e.waitProgrammed(t, "external-http", metav1.ConditionTrue)

	addrName := e.c.names.gatewayName(testNS, "external-http", roleAddress)
	addr, err := e.g.svc.GlobalAddresses.Get(e.g.project, addrName).Do()
	if err != nil {
		t.Fatalf("the controller's address: %v", err)
	}
	if len(got.Status.Addresses) != 1 || got.Status.Addresses[0].Value != addr.Address {
		t.Errorf("status addresses %+v, want %s", got.Status.Addresses, addr.Address)
	}
	proxy, err := e.g.svc.TargetHttpsProxies.Get(e.g.project, e.c.names.gatewayName(testNS, "external-http", roleTLSFrontend)).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(proxy.SslCertificates) != 1 || proxy.CertificateMap != "" {
		t.Fatalf("proxy certificates %v, map %q", proxy.SslCertificates, proxy.CertificateMap)
	}
	first := tail(proxy.SslCertificates[0])
	cert, err := e.g.svc.SslCertificates.Get(e.g.project, first).Do()
	if err != nil || cert.Type != "SELF_MANAGED" || fmt.Sprint(cert.SubjectAlternativeNames) != "[shop.example.com]" {
		t.Fatalf("certificate %s: %+v, %v", first, cert, err)
	}
	if !strings.HasSuffix(got.Annotations["networking.gke.io/ssl-certificates"], "/sslCertificates/"+first) {
		t.Errorf("ssl-certificates annotation = %q", got.Annotations["networking.gke.io/ssl-certificates"])
	}

	// A renewed Secret: a new certificate goes onto the proxy, the old one
	// is deleted once free.
	crt, key = selfSigned(t, "shop.example.com")
	secret.Data = map[string][]byte{"tls.crt": crt, "tls.key": key}
	if _, err := e.kube.CoreV1().Secrets(testNS).Update(e.ctx, secret, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(t, "the renewed certificate served, the old one gone", func() (bool, string) {
		p, err := e.g.svc.TargetHttpsProxies.Get(e.g.project, proxy.Name).Do()
		if err != nil || len(p.SslCertificates) != 1 || tail(p.SslCertificates[0]) == first {
			return false, fmt.Sprint(p.SslCertificates, err)
		}
		_, err = e.g.svc.SslCertificates.Get(e.g.project, first).Do()
		return computeclient.IsNotFound(err), fmt.Sprint(err)
	})

	gw = e.gateway(t, "external-http")
	gw.DeletionTimestamp = ptrTo(metav1.Now())
	if _, err := e.gw.GatewayV1().Gateways(testNS).Update(e.ctx, gw, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(t, "the address and certificates deleted with the rest", func() (bool, string) {
		left := e.owned()
		return len(left) == 0, fmt.Sprint(left)
	})
}

// On a Shared VPC the controller's firewall rule goes into the host
// project, on its network: only there does it let the health checkers
// reach the nodes (the simulator counts no other), so the backends turn
// HEALTHY; the service project gets no rule; deleting the Gateway deletes
// the host project's rule.
func TestControllerOnASharedVPCPutsTheRuleInTheHostProject(t *testing.T) {
	const host = "net-host"
	sc := scenario.Default()
	sc.SharedVPCHost = host
	e := newEnvFor(t, sc, guidePolicies()...)
	ip := e.userResources(t)
	e.createGateway(t, guideGateway())
	gw := e.waitProgrammed(t, "external-http", metav1.ConditionTrue)
	e.checkGuideChain(t, gw, ip)
	rule := e.c.names.firewallName()
	fw, ok := e.srv.Resource("projects/" + host + "/global/firewalls/" + rule)
	if !ok || fw["network"] != "https://www.googleapis.com/compute/v1/projects/"+host+"/global/networks/"+sc.Network {
		t.Errorf("rule %s in the host project: %v", rule, fw)
	}
	if _, ok := e.srv.Resource("projects/" + sc.Project + "/global/firewalls/" + rule); ok {
		t.Errorf("rule %s made in the service project", rule)
	}

	gw = e.gateway(t, "external-http")
	gw.DeletionTimestamp = ptrTo(metav1.Now())
	if _, err := e.gw.GatewayV1().Gateways(testNS).Update(e.ctx, gw, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(t, "the host project's rule deleted with the Gateway", func() (bool, string) {
		_, ok := e.srv.Resource("projects/" + host + "/global/firewalls/" + rule)
		return !ok, rule
	})
}
