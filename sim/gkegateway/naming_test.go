package gkegateway

import (
	"regexp"
	"strings"
	"testing"
)

func TestNamesFollowGKEShapes(t *testing.T) {
	n := namer{token: ClusterToken("0d7c6d0e-6f3b-4c2b-9a43-7e0f7c1d5a11"), network: "default"}
	if !regexp.MustCompile(`^[a-z0-9]{4}$`).MatchString(n.token) {
		t.Fatalf("cluster token %q is not four characters of [a-z0-9]", n.token)
	}
	if ClusterToken("another-cluster") == n.token {
		t.Error("two clusters share a token")
	}
	tok := regexp.QuoteMeta(n.token)
	cases := []struct {
		what, name, pattern string
	}{
		{"URL map", n.gatewayName("ingress-gateway", "external-http", roleTLSFrontend), `^gkegw1-` + tok + `-ingress-gateway-external-http-[a-z0-9]{12}$`},
		{"address", n.gatewayName("ingress-gateway", "external-http", roleAddress), `^gkegw1-` + tok + `-ingress-gateway-external-http-[a-z0-9]{12}$`},
		{"forwarding rule", n.forwardingRuleName("ingress-gateway", "external-http", 443), `^gkegw1-` + tok + `-ingress-gateway-external-http-[a-z0-9]{12}$`},
		{"backend", n.backendName("ingress-gateway", "asm-ingressgateway", 443), `^gkegw1-` + tok + `-ingress-gateway-asm-ingressgateway-443-[a-z0-9]{12}$`},
		{"default backend", n.defaultBackendName("ingress-gateway", "serve404"), `^gkegw1-` + tok + `-ingress-gateway-gw-serve404-80-[a-z0-9]{12}$`},
		{"firewall", n.firewallName(), `^gkegw1-` + tok + `-l7-default-global$`},
	}
	for _, c := range cases {
		if !regexp.MustCompile(c.pattern).MatchString(c.name) {
			t.Errorf("%s: %q does not match %s", c.what, c.name, c.pattern)
		}
	}
	// The URL map and its proxy share a name (one role); the address and
	// each forwarding rule have their own suffix.
	seen := map[string]string{}
	for what, name := range map[string]string{
		"https frontend": n.gatewayName("ns", "gw", roleTLSFrontend),
		"http frontend":  n.gatewayName("ns", "gw", roleHTTPFrontend),
		"address":        n.gatewayName("ns", "gw", roleAddress),
		"rule 80":        n.forwardingRuleName("ns", "gw", 80),
		"rule 443":       n.forwardingRuleName("ns", "gw", 443),
	} {
		if other, dup := seen[name]; dup {
			t.Errorf("%s and %s share the name %s", what, other, name)
		}
		seen[name] = what
	}
	if n.backendName("ns", "svc", 443) == n.backendName("ns", "svc", 8443) {
		t.Error("backends of two ports share a name")
	}
	if n.certificateName("ns", "tls", []byte("a")) == n.certificateName("ns", "tls", []byte("b")) {
		t.Error("a Secret's new content keeps the old certificate's name")
	}
}

func TestNamesAreTrimmedEvenlyToSixtyThree(t *testing.T) {
	// The observed name fits exactly: nothing is trimmed.
	n := namer{token: "jgyx"}
	got := n.backendName("kalchem", "access-advisor-middleware", 8000)
	if len(got) != 63 || !strings.HasPrefix(got, "gkegw1-jgyx-kalchem-access-advisor-middleware-8000-") {
		t.Errorf("backendName = %q (%d), want the observed shape gkegw1-jgyx-kalchem-access-advisor-middleware-8000-<h12>", got, len(got))
	}
	long := n.backendName(strings.Repeat("n", 40), strings.Repeat("s", 20), 8443)
	if len(long) != 63 {
		t.Fatalf("long backendName = %q (%d chars)", long, len(long))
	}
	fields := strings.Split(strings.TrimPrefix(long, "gkegw1-jgyx-"), "-")
	ns, svc, port := fields[0], fields[1], fields[2]
	// 64 characters of fields into 36: the longer field loses more.
	if len(ns)+len(svc)+len(port) != 36 || len(ns) <= len(svc) || 40-len(ns) <= 20-len(svc) || port == "" {
		t.Errorf("fields trimmed to %q %q %q, want proportional cuts that keep the port", ns, svc, port)
	}
	if n.backendName(strings.Repeat("n", 40), strings.Repeat("s", 20), 8443) != long {
		t.Error("names are not deterministic")
	}
}
