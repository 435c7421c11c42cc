package validate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// fakeCompute holds objects by kind and name; a call it has no answer for
// fails the test.
type fakeCompute struct {
	t       *testing.T
	objs    map[lb.Kind]map[string]proto.Message
	health  map[string]*computepb.BackendServiceGroupHealth // by NEG link
	listErr error
}

func (f *fakeCompute) put(kind lb.Kind, name string, m proto.Message) {
	if f.objs[kind] == nil {
		f.objs[kind] = map[string]proto.Message{}
	}
	f.objs[kind][name] = m
}

func (f *fakeCompute) Get(_ context.Context, kind lb.Kind, name string) (proto.Message, error) {
	if m, ok := f.objs[kind][name]; ok {
		return m, nil
	}
	return nil, &googleapi.Error{Code: 404, Message: fmt.Sprintf("%s %s not found", kind, name)}
}

func (f *fakeCompute) List(_ context.Context, kind lb.Kind, filter string) ([]proto.Message, error) {
	if f.listErr != nil {
		return nil, f.listErr
	}
	var out []proto.Message
	for _, m := range f.objs[kind] {
		out = append(out, m)
	}
	return out, nil
}

func (f *fakeCompute) GetHealth(_ context.Context, bs, group string) (*computepb.BackendServiceGroupHealth, error) {
	h, ok := f.health[group]
	if !ok {
		f.t.Errorf("unexpected getHealth %s %s", bs, group)
		return nil, errors.New("unexpected")
	}
	return h, nil
}

const (
	base   = "https://www.googleapis.com/compute/v1/projects/p/"
	negA   = base + "zones/us-central1-a/networkEndpointGroups/cart-neg"
	negB   = base + "zones/us-central1-b/networkEndpointGroups/cart-neg"
	bsName = "mc-c-shop-cart-bs"
)

// healthyLB is what expose builds for shop/cart.
func healthyLB(t *testing.T) *fakeCompute {
	f := &fakeCompute{t: t, objs: map[lb.Kind]map[string]proto.Message{}, health: map[string]*computepb.BackendServiceGroupHealth{}}
	svOwner := mesh.ResourceOwner{ManagedBy: "meshctl", LB: "c/shop/cart", Services: []string{"shop/cart"}}.String()
	f.put(lb.KindBackendService, bsName, &computepb.BackendService{Name: proto.String(bsName), Description: proto.String(svOwner),
		HealthChecks:   []string{base + "global/healthChecks/mc-c-shop-cart-hc"},
		SecurityPolicy: proto.String(base + "global/securityPolicies/mc-armor"),
		Backends:       []*computepb.Backend{{Group: proto.String(negA)}, {Group: proto.String(negB)}}})
	f.put(lb.KindHealthCheck, "mc-c-shop-cart-hc", &computepb.HealthCheck{Name: proto.String("mc-c-shop-cart-hc")})
	f.put(lb.KindSecurityPolicy, "mc-armor", &computepb.SecurityPolicy{Name: proto.String("mc-armor")})
	f.put(lb.KindFirewall, "mc-c-shop-cart-gfe", &computepb.Firewall{Name: proto.String("mc-c-shop-cart-gfe"), Direction: proto.String("INGRESS"),
		SourceRanges: []string{"35.191.0.0/16", "130.211.0.0/22"},
		Allowed:      []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"8443", "15021"}}}})
	f.put(lb.KindURLMap, "mc-um", &computepb.UrlMap{Name: proto.String("mc-um"), DefaultService: proto.String(base + "global/backendServices/" + bsName),
		HostRules:    []*computepb.HostRule{{Hosts: []string{"cart.example.com"}, PathMatcher: proto.String(bsName)}},
		PathMatchers: []*computepb.PathMatcher{{Name: proto.String(bsName), DefaultService: proto.String(base + "global/backendServices/" + bsName)}}})
	f.put(lb.KindHTTPSProxy, "mc-https", &computepb.TargetHttpsProxy{Name: proto.String("mc-https"), UrlMap: proto.String(base + "global/urlMaps/mc-um"),
		SslPolicy: proto.String(base + "global/sslPolicies/mc-ssl"), SslCertificates: []string{base + "global/sslCertificates/mc-cert"}})
	f.put(lb.KindForwardingRule, "mc-fr-443", &computepb.ForwardingRule{Name: proto.String("mc-fr-443"), PortRange: proto.String("443-443"), Target: proto.String(base + "global/targetHttpsProxies/mc-https")})
	f.put(lb.KindSSLPolicy, "mc-ssl", &computepb.SslPolicy{Name: proto.String("mc-ssl"), MinTlsVersion: proto.String("TLS_1_2")})
	f.put(lb.KindCertificate, "mc-cert", &computepb.SslCertificate{Name: proto.String("mc-cert"), Description: proto.String(svOwner), Type: proto.String("MANAGED"),
		Managed: &computepb.SslCertificateManagedSslCertificate{Domains: []string{"cart.example.com"}, Status: proto.String("ACTIVE"),
			DomainStatus: map[string]string{"cart.example.com": "ACTIVE"}}})
	ok := func(ip string) *computepb.HealthStatus {
		return &computepb.HealthStatus{IpAddress: proto.String(ip), Port: proto.Int32(8443), HealthState: proto.String("HEALTHY")}
	}
	f.health[negA] = &computepb.BackendServiceGroupHealth{HealthStatus: []*computepb.HealthStatus{ok("10.0.0.5")}}
	f.health[negB] = &computepb.BackendServiceGroupHealth{HealthStatus: []*computepb.HealthStatus{ok("10.0.1.7")}}
	return f
}

func TestLoadBalancer(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(f *fakeCompute)
		want   []string
		kube   func(f *fixture)
	}{
		{"healthy", func(*fakeCompute) {}, nil, nil},
		{"endpoints unhealthy in one zone", func(f *fakeCompute) {
			f.health[negB].HealthStatus[0].HealthState = proto.String("UNHEALTHY")
		}, []string{"MC0231 backend service " + bsName}, nil},
		{"NEG without endpoints", func(f *fakeCompute) {
			f.health[negA].HealthStatus = nil
		}, []string{"MC0231 backend service " + bsName}, nil},
		{"Cloud Armor detached", func(f *fakeCompute) {
			f.objs[lb.KindBackendService][bsName].(*computepb.BackendService).SecurityPolicy = nil
		}, []string{"MC0234 backend service " + bsName}, nil},
		{"firewall deleted", func(f *fakeCompute) {
			delete(f.objs[lb.KindFirewall], "mc-c-shop-cart-gfe")
		}, []string{"MC0235 Service shop/cart"}, nil},
		{"firewall missing one range", func(f *fakeCompute) {
			f.objs[lb.KindFirewall]["mc-c-shop-cart-gfe"].(*computepb.Firewall).SourceRanges = []string{"35.191.0.0/16"}
		}, []string{"MC0235 Service shop/cart"}, nil},
		{"only another exposed Service's rule covers the ports", func(f *fakeCompute) {
			fw := f.objs[lb.KindFirewall]["mc-c-shop-cart-gfe"].(*computepb.Firewall)
			fw.Description = proto.String(mesh.ResourceOwner{ManagedBy: "meshctl", LB: "c/shop/other", Services: []string{"shop/other"}}.String())
		}, []string{"MC0235 Service shop/cart"}, nil},
		{"a user's own rule covers the ports", func(f *fakeCompute) {
			delete(f.objs[lb.KindFirewall], "mc-c-shop-cart-gfe")
			f.put(lb.KindFirewall, "allow-lb", &computepb.Firewall{Name: proto.String("allow-lb"), SourceRanges: []string{"35.191.0.0/16", "130.211.0.0/22"},
				Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"8000-16000"}}}})
		}, nil, nil},
		{"health check deleted", func(f *fakeCompute) {
			delete(f.objs[lb.KindHealthCheck], "mc-c-shop-cart-hc")
		}, []string{"MC0230 backend service " + bsName}, nil},
		{"URL map no longer routes to the backend service", func(f *fakeCompute) {
			um := f.objs[lb.KindURLMap]["mc-um"].(*computepb.UrlMap)
			um.DefaultService, um.PathMatchers[0].DefaultService = proto.String(base+"global/backendServices/other"), proto.String(base+"global/backendServices/other")
		}, []string{"MC0230 backend service " + bsName}, nil},
		{"forwarding rule deleted", func(f *fakeCompute) {
			delete(f.objs[lb.KindForwardingRule], "mc-fr-443")
		}, []string{"MC0230 URL map mc-um"}, nil},
		{"weak SSL policy", func(f *fakeCompute) {
			f.objs[lb.KindSSLPolicy]["mc-ssl"].(*computepb.SslPolicy).MinTlsVersion = proto.String("TLS_1_0")
		}, []string{"MC0233 SSL policy mc-ssl"}, nil},
		{"certificate not visible", func(f *fakeCompute) {
			f.objs[lb.KindCertificate]["mc-cert"].(*computepb.SslCertificate).Managed.DomainStatus["cart.example.com"] = "FAILED_NOT_VISIBLE"
		}, []string{"MC0232 target HTTPS proxy mc-https"}, nil},
		{"a replacement provisions beside the ACTIVE certificate", func(f *fakeCompute) {
			f.put(lb.KindCertificate, "mc-cert-2", newCert("mc-cert-2", "PROVISIONING", "cart.example.com", "shop.example.com"))
			p := f.objs[lb.KindHTTPSProxy]["mc-https"].(*computepb.TargetHttpsProxy)
			p.SslCertificates = append(p.SslCertificates, base+"global/sslCertificates/mc-cert-2")
		}, nil, nil},
		{"a routed host no certificate covers", func(f *fakeCompute) {
			um := f.objs[lb.KindURLMap]["mc-um"].(*computepb.UrlMap)
			um.HostRules[0].Hosts = append(um.HostRules[0].Hosts, "new.example.com")
		}, []string{"MC0240 target HTTPS proxy mc-https"}, nil},
		{"a certificate of meshctl's left over", func(f *fakeCompute) {
			f.put(lb.KindCertificate, "mc-old", newCert("mc-old", "ACTIVE", "old.example.com"))
		}, []string{"MC0241 certificate mc-old"}, nil},
		{"an empty zone with fewer replicas than zones", func(f *fakeCompute) {
			f.health[negA].HealthStatus = nil
		}, []string{"MC0242 backend service " + bsName}, func(f *fixture) {
			f.without("Deployment", "shop", "cart-gateway").with(deployment("shop", "cart-gateway", mesh.OwnerLabels("shop", "cart"), 1, 1))
		}},
		{"no Cloud Armor, by choice", func(f *fakeCompute) {
			bs := f.objs[lb.KindBackendService][bsName].(*computepb.BackendService)
			bs.SecurityPolicy = nil
			bs.Description = proto.String(mesh.ResourceOwner{ManagedBy: "meshctl", LB: "c/shop/cart", Services: []string{"shop/cart"}, Choices: []string{mesh.ChoiceNoArmor}}.String())
		}, []string{"MC0243 backend service " + bsName}, nil},
		{"a NEG zone missing from the backends", func(f *fakeCompute) {
			bs := f.objs[lb.KindBackendService][bsName].(*computepb.BackendService)
			bs.Backends = bs.Backends[:1]
		}, []string{"MC0244 backend service " + bsName}, nil},
		{"backend service gone", func(f *fakeCompute) {
			delete(f.objs[lb.KindBackendService], bsName)
		}, []string{"MC0230 Service shop/cart"}, nil},
		{"API error", func(f *fakeCompute) {
			f.listErr = &googleapi.Error{Code: 403, Message: "compute.backendServices.list denied"}
		}, []string{"MC0100 Service shop/cart"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := healthyLB(t)
			tt.break_(fc)
			fx := healthy(t)
			if tt.kube != nil {
				tt.kube(fx)
			}
			c, _ := fx.clients(t)
			c.Compute = fc
			r := run(t, c, Options{})
			if got := codes(r); !slices.Equal(sorted(got), sorted(tt.want)) {
				t.Errorf("findings = %v, want %v", got, tt.want)
			}
			if tt.name == "healthy" {
				var lbCases int
				for _, cs := range r.Cases {
					if cs.Group == GroupLB {
						lbCases++
					}
				}
				if lbCases != 5 {
					t.Errorf("%d load balancer cases, want 5 (wiring, health, armor, firewall, tls)", lbCases)
				}
			}
		})
	}
}

func TestUnhealthyEndpointsAreNamed(t *testing.T) {
	fc := healthyLB(t)
	fc.health[negB].HealthStatus[0].HealthState = proto.String("UNHEALTHY")
	c, _ := healthy(t).clients(t)
	c.Compute = fc
	r := run(t, c, Options{})
	if len(r.Findings) != 1 {
		t.Fatalf("findings %v", codes(r))
	}
	want := "NEG cart-neg in us-central1-b: 1 of 1 endpoints not healthy: 10.0.1.7:8443 UNHEALTHY"
	if r.Findings[0].Message != want {
		t.Errorf("message %q, want %q", r.Findings[0].Message, want)
	}
}

// newCert is a Google-managed certificate meshctl made for shop/cart.
func newCert(name, status string, domains ...string) *computepb.SslCertificate {
	ds := map[string]string{}
	for _, d := range domains {
		ds[d] = status
	}
	return &computepb.SslCertificate{Name: proto.String(name), Type: proto.String("MANAGED"),
		Description: proto.String(mesh.ResourceOwner{ManagedBy: "meshctl", LB: "c/shop/cart", Services: []string{"shop/cart"}}.String()),
		Managed:     &computepb.SslCertificateManagedSslCertificate{Domains: domains, Status: proto.String(status), DomainStatus: ds}}
}
