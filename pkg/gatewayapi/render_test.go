package gatewayapi

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/expose"
	"github.com/meshctl/meshctl/pkg/lb"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// specFor is a Service's spec on the shared Gateway "shop-edge" (or its
// own, when gateway is empty), as resolve makes it.
func specFor(service, gateway string, hosts ...string) Spec {
	meshGateway := service + "-gateway"
	names := NamesFor("proj", "prod", "shop", meshGateway, gateway, lb.EdgeSpec{})
	return Spec{
		Service: expose.ServiceRef{Namespace: "shop", Name: service}, MeshGateway: meshGateway,
		Hosts: hosts, Names: names, Address: names.Edge.Address, HTTPRedirect: true,
		ArmorPolicy: names.Edge.Armor, LogSampleRate: 1,
	}
}

// manifests renders objects as YAML documents, as --dry-run -o yaml does.
func manifests(t *testing.T, objs []Object) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, o := range objs {
		u, err := kube.ToUnstructured(o.Obj)
		if err != nil {
			t.Fatal(err)
		}
		y, err := yaml.Marshal(u.Object)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update after checking):\n--- got\n%s", path, got)
	}
}

func TestRenderOneService(t *testing.T) {
	s := specFor("web", "", "www.example.com")
	s.Paths = []string{"/api"}
	s.BackendTimeout = 45 * time.Second
	golden(t, "one-service", manifests(t, Render(s)))
}

// Two Services on one Gateway: the Gateway, its redirect and its policy
// are the same objects in both renderings (so applying the second changes
// nothing of the first's), and each Service has its own route and
// policies on its own mesh gateway.
func TestRenderTwoServicesShareOneGateway(t *testing.T) {
	web, api := Render(specFor("web", "shop-edge", "www.example.com")), Render(specFor("api", "shop-edge", "api.example.com"))
	shared := func(objs []Object) (sh, own []Object) {
		for _, o := range objs {
			if o.shared {
				sh = append(sh, o)
			} else {
				own = append(own, o)
			}
		}
		return sh, own
	}
	webShared, webOwn := shared(web)
	apiShared, apiOwn := shared(api)
	if !bytes.Equal(manifests(t, webShared), manifests(t, apiShared)) {
		t.Errorf("the Gateway's objects differ between its Services:\n%s\n---- vs\n%s", manifests(t, webShared), manifests(t, apiShared))
	}
	out := append(manifests(t, webShared), manifests(t, webOwn)...)
	golden(t, "two-services", append(out, manifests(t, apiOwn)...))
}

func TestRenderPreSharedCertificateHasNoCertMap(t *testing.T) {
	s := specFor("web", "", "www.example.com")
	s.Certificate = "my-cert"
	for _, o := range Render(s) {
		gw, ok := o.Obj.(*gwv1.Gateway)
		if !ok {
			continue
		}
		if _, has := gw.Annotations[CertMapAnnotation]; has {
			t.Errorf("a Gateway with a pre-shared certificate names a certificate map: %v", gw.Annotations)
		}
		if tls := gw.Spec.Listeners[0].TLS; tls == nil || tls.Options[PreSharedCertsOption] != "my-cert" {
			t.Errorf("https listener tls: %+v", tls)
		}
		if len(GatewayRefusals(gw)) != 0 {
			t.Errorf("refused: %v", GatewayRefusals(gw))
		}
	}
}

func gatewayOf(t *testing.T, s Spec) *gwv1.Gateway {
	t.Helper()
	for _, o := range Render(s) {
		if gw, ok := o.Obj.(*gwv1.Gateway); ok {
			return gw
		}
	}
	t.Fatal("no Gateway rendered")
	return nil
}

func routeOf(t *testing.T, s Spec) *gwv1.HTTPRoute {
	t.Helper()
	objs := Render(s)
	return objs[len(objs)-1].Obj.(*gwv1.HTTPRoute)
}

// codes lists the refusals' codes.
func codes(rs []Refusal) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return strings.Join(out, ",")
}

func TestRefusals(t *testing.T) {
	// What meshctl renders itself is never refused.
	if rs := append(GatewayRefusals(gatewayOf(t, specFor("web", "", "www.example.com"))), RouteRefusals(routeOf(t, specFor("web", "", "www.example.com")))...); len(rs) != 0 {
		t.Fatalf("meshctl's own objects refused: %v", rs)
	}
	headerRegex := gwv1.HeaderMatchRegularExpression
	queryRegex := gwv1.QueryParamMatchRegularExpression
	for _, tc := range []struct {
		name      string
		refusals  func() []Refusal
		code, msg string
	}{
		{"regex path from --path", func() []Refusal {
			s := specFor("web", "", "www.example.com")
			s.Paths = []string{"/api/.*"}
			return RouteRefusals(routeOf(t, s))
		}, "GWCER104", `path match type RegularExpression ("/api/.*") is not supported`},
		{"method match someone added", func() []Refusal {
			r := routeOf(t, specFor("web", "", "www.example.com"))
			r.Spec.Rules[0].Matches = []gwv1.HTTPRouteMatch{{Method: ptr.To(gwv1.HTTPMethodGet)}}
			return RouteRefusals(r)
		}, "GWCER104", "method matches are not supported"},
		{"regex header match", func() []Refusal {
			r := routeOf(t, specFor("web", "", "www.example.com"))
			r.Spec.Rules[0].Matches = []gwv1.HTTPRouteMatch{{Headers: []gwv1.HTTPHeaderMatch{{Type: &headerRegex, Name: "x", Value: "a.*"}}}}
			return RouteRefusals(r)
		}, "GWCER104", "header match type RegularExpression"},
		{"regex query match", func() []Refusal {
			r := routeOf(t, specFor("web", "", "www.example.com"))
			r.Spec.Rules[0].Matches = []gwv1.HTTPRouteMatch{{QueryParams: []gwv1.HTTPQueryParamMatch{{Type: &queryRegex, Name: "q", Value: "a.*"}}}}
			return RouteRefusals(r)
		}, "GWCER104", "query parameter match type RegularExpression"},
		{"certmap with a listener tls block", func() []Refusal {
			gw := gatewayOf(t, specFor("web", "", "www.example.com"))
			gw.Spec.Listeners[0].TLS = &gwv1.ListenerTLSConfig{Mode: ptr.To(gwv1.TLSModeTerminate)}
			return GatewayRefusals(gw)
		}, "GWCER105", "TLS configuration not allowed when CertificateMap"},
		{"an IPAddress address (--address 203.0.113.7)", func() []Refusal {
			s := specFor("web", "", "www.example.com")
			s.Address = "203.0.113.7"
			return GatewayRefusals(gatewayOf(t, s))
		}, "GWCER106", `unsupported address type "IPAddress"`},
		{"two addresses", func() []Refusal {
			gw := gatewayOf(t, specFor("web", "", "www.example.com"))
			gw.Spec.Addresses = append(gw.Spec.Addresses, gw.Spec.Addresses[0])
			return GatewayRefusals(gw)
		}, "GWCER106", "only one address is supported, got 2"},
		{"a second GCPBackendPolicy on the Service", func() []Refusal {
			s := specFor("web", "", "www.example.com")
			ours := s.backendPolicy()
			theirs := s.backendPolicy()
			theirs.Name, theirs.CreationTimestamp = "armor", metav1.NewTime(time.Unix(1, 0))
			return PolicyConflicts(backendPolicyTarget(ours), []policyTarget{backendPolicyTarget(ours), backendPolicyTarget(theirs)})
		}, "Conflicted", "GCPBackendPolicy shop/armor already targets Service web-gateway"},
		{"a second HealthCheckPolicy on the Service", func() []Refusal {
			s := specFor("web", "", "www.example.com")
			ours, theirs := s.healthCheckPolicy(), s.healthCheckPolicy()
			theirs.Name = "hc"
			return PolicyConflicts(healthCheckPolicyTarget(ours), []policyTarget{healthCheckPolicyTarget(theirs)})
		}, "Conflicted", "GKE attaches one HealthCheckPolicy per Service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := tc.refusals()
			if codes(rs) != tc.code || !strings.Contains(rs[0].Message, tc.msg) || rs[0].Fix == "" {
				t.Fatalf("refusals %+v, want one %s saying %q with a fix", rs, tc.code, tc.msg)
			}
			// As an error: nothing applied, the fix as its hint.
			err := refusalsError(rs, tc.code == "GWCER104" || tc.code == "GWCER106")
			if !strings.Contains(err.Error(), "nothing was applied") || failure.HintOf(err) != rs[0].Fix {
				t.Errorf("error %q, hint %q", err, failure.HintOf(err))
			}
		})
	}
}

// Policies of another kind, on another Service or in another namespace do
// not conflict.
func TestPolicyConflictsOnlySameKindAndTarget(t *testing.T) {
	s := specFor("web", "", "www.example.com")
	ours := backendPolicyTarget(s.backendPolicy())
	other := specFor("api", "", "api.example.com").backendPolicy()
	hc := s.healthCheckPolicy()
	hc.Name = "other"
	elsewhere := s.backendPolicy()
	elsewhere.Name, elsewhere.Namespace = "x", "other-ns"
	if rs := PolicyConflicts(ours, []policyTarget{backendPolicyTarget(other), healthCheckPolicyTarget(hc), backendPolicyTarget(elsewhere)}); len(rs) != 0 {
		t.Errorf("refused: %v", rs)
	}
}
