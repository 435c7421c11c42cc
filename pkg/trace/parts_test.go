package trace

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/pkg/lb"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in, url, host, path string
		port                int
		ip                  bool
		err                 string
	}{
		{in: "shop.example.com", url: "https://shop.example.com/", host: "shop.example.com", path: "/", port: 443},
		{in: "Shop.Example.com/cart/x", url: "https://shop.example.com/cart/x", host: "shop.example.com", path: "/cart/x", port: 443},
		{in: "http://shop.example.com/cart?x=1", url: "http://shop.example.com/cart", host: "shop.example.com", path: "/cart", port: 80},
		{in: "https://shop.example.com:8443/", url: "https://shop.example.com:8443/", host: "shop.example.com", path: "/", port: 8443},
		{in: "34.120.0.2/healthz", url: "https://34.120.0.2/healthz", host: "34.120.0.2", path: "/healthz", port: 443, ip: true},
		{in: "", err: "nothing to trace"},
		{in: "ftp://shop.example.com", err: "scheme ftp"},
		{in: "shop_example.com", err: "not a host name"},
		{in: "https://shop.example.com:99999/", err: "port"},
	}
	for _, tc := range tests {
		got, err := ParseTarget(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseTarget(%q) = %+v, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got.URL != tc.url || got.Host != tc.host || got.Path != tc.path || got.Port != tc.port || got.IsIP != tc.ip {
			t.Errorf("ParseTarget(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

func urlMap(t *testing.T, js string) *computepb.UrlMap {
	t.Helper()
	um := &computepb.UrlMap{}
	if err := protojson.Unmarshal([]byte(js), um); err != nil {
		t.Fatal(err)
	}
	return um
}

// The URL map is applied as Google's front ends do: the most specific host
// rule, route rules by priority (skipping those a plain request cannot
// match), else the longest path rule, else the defaults.
func TestRoute(t *testing.T) {
	um := urlMap(t, `{"name":"um","defaultService":"bs/default",
		"hostRules":[{"hosts":["*"],"pathMatcher":"any"},{"hosts":["*.example.com"],"pathMatcher":"wild"},{"hosts":["shop.example.com"],"pathMatcher":"shop"}],
		"pathMatchers":[
			{"name":"any","defaultService":"bs/any"},
			{"name":"wild","defaultUrlRedirect":{"hostRedirect":"www.example.com","redirectResponseCode":"FOUND"}},
			{"name":"shop","defaultService":"bs/shop","pathRules":[{"paths":["/cart/*"],"service":"bs/cart"},{"paths":["/cart/checkout"],"service":"bs/checkout"}]},
			{"name":"api","defaultService":"bs/api-default","routeRules":[
				{"priority":10,"matchRules":[{"prefixMatch":"/v1/"}],"service":"bs/v1"},
				{"priority":1,"matchRules":[{"prefixMatch":"/v1/","headerMatches":[{"headerName":"x-canary","exactMatch":"yes"}]}],"service":"bs/canary"},
				{"priority":5,"matchRules":[{"fullPathMatch":"/v1/health"}],"routeAction":{"weightedBackendServices":[{"backendService":"bs/a","weight":70},{"backendService":"bs/b","weight":30}]}},
				{"priority":7,"matchRules":[{"pathTemplateMatch":"/users/{id}/orders/**"}],"service":"bs/orders"}]}]}`)
	um.HostRules = append(um.HostRules, &computepb.HostRule{Hosts: []string{"api.example.com"}, PathMatcher: proto.String("api")})
	tests := []struct {
		host, path string
		want       string
	}{
		{"shop.example.com", "/", "bs/shop"},
		{"shop.example.com", "/cart/", "bs/cart"},
		{"shop.example.com", "/cart/items", "bs/cart"},
		{"shop.example.com", "/cart/checkout", "bs/checkout"},
		{"shop.example.com", "/cart", "bs/shop"},
		{"other.example.com", "/", "redirect 302 https://www.example.com/"},
		{"elsewhere.org", "/x", "bs/any"},
		{"api.example.com", "/v1/users", "bs/v1"},
		{"api.example.com", "/v1/health", "bs/a:70 bs/b:30"},
		{"api.example.com", "/users/7/orders/1/lines", "bs/orders"},
		{"api.example.com", "/v2/", "bs/api-default"},
	}
	tg := Target{Scheme: "https", Host: "x"}
	for _, tc := range tests {
		r := route(um, tc.host, tc.path)
		var got string
		switch {
		case r.redirect != nil:
			tg.Host = tc.host
			to, code := redirectURL(r.redirect, tg, tc.path)
			got = "redirect " + strconv.Itoa(code) + " " + to
		case len(r.backends) == 1:
			got = r.backends[0].link
		default:
			var parts []string
			for _, b := range r.backends {
				parts = append(parts, b.link+":"+strconv.Itoa(b.weight))
			}
			got = strings.Join(parts, " ")
		}
		if got != tc.want {
			t.Errorf("%s%s → %q (%s), want %q", tc.host, tc.path, got, r.via, tc.want)
		}
	}
	if r := route(um, "api.example.com", "/v1/x"); len(r.skipped) != 1 || !strings.Contains(r.skipped[0], "header x-canary") {
		t.Errorf("the canary rule a plain request cannot match is not noted: %v", r.skipped)
	}
}

func armorPolicy(t *testing.T, js string) *computepb.SecurityPolicy {
	t.Helper()
	p := &computepb.SecurityPolicy{}
	if err := protojson.Unmarshal([]byte(js), p); err != nil {
		t.Fatal(err)
	}
	return p
}

// A plain request meets the first rule (by priority) that matches every
// source; WAF rules and named ranges do not match it, preview rules do
// nothing.
func TestJudgeArmor(t *testing.T) {
	const def = `{"priority":2147483647,"action":"%s","match":{"versionedExpr":"SRC_IPS_V1","config":{"srcIpRanges":["*"]}}}`
	rule := func(prio, action, match string, preview bool) string {
		p := "false"
		if preview {
			p = "true"
		}
		return `{"priority":` + prio + `,"action":"` + action + `","preview":` + p + `,"match":` + match + `}`
	}
	waf := `{"expr":{"expression":"evaluatePreconfiguredExpr('sqli-v33-stable')"}}`
	office := `{"versionedExpr":"SRC_IPS_V1","config":{"srcIpRanges":["203.0.113.0/24"]}}`
	everyone := `{"versionedExpr":"SRC_IPS_V1","config":{"srcIpRanges":["*"]}}`
	tests := []struct {
		name, rules, action string
		allowed             int
		unsure              int
	}{
		{"default allow", strings.Replace(def, "%s", "allow", 1), "allow", 0, 0},
		{"default deny", strings.Replace(def, "%s", "deny(403)", 1), "deny(403)", 0, 0},
		{"WAF then allow", rule("1000", "deny(403)", waf, false) + "," + strings.Replace(def, "%s", "allow", 1), "allow", 0, 0},
		{"allowlist", rule("3000", "allow", office, false) + "," + strings.Replace(def, "%s", "deny(404)", 1), "deny(404)", 1, 0},
		{"deny all in preview", rule("10", "deny(403)", everyone, true) + "," + strings.Replace(def, "%s", "allow", 1), "allow", 0, 0},
		{"deny all early", rule("10", "deny(502)", everyone, false) + "," + strings.Replace(def, "%s", "allow", 1), "deny(502)", 0, 0},
		{"custom expression", rule("20", "deny(403)", `{"expr":{"expression":"origin.region_code == 'CN'"}}`, false) + "," + strings.Replace(def, "%s", "allow", 1), "allow", 0, 1},
	}
	for _, tc := range tests {
		v := judgeArmor(armorPolicy(t, `{"name":"p","rules":[`+tc.rules+`]}`))
		if v.action != tc.action || len(v.allowedFrom) != tc.allowed || len(v.unsure) != tc.unsure {
			t.Errorf("%s: action %s, allowed from %v, unsure %v", tc.name, v.action, v.allowedFrom, v.unsure)
		}
	}
}

// The firewall is evaluated as Google does: the rule of lowest priority
// number that matches decides, a deny wins a tie, and rules for other
// networks, targets or sources do not count.
func TestIngressAllowed(t *testing.T) {
	node := &computepb.Instance{Name: proto.String("n"), Tags: &computepb.Tags{Items: []string{"gke-node"}},
		NetworkInterfaces: []*computepb.NetworkInterface{{Network: proto.String(link + "global/networks/vpc")}}}
	fw := func(js string) *computepb.Firewall {
		f := &computepb.Firewall{}
		if err := protojson.Unmarshal([]byte(js), f); err != nil {
			t.Fatal(err)
		}
		return f
	}
	allow := fw(`{"network":"vpc","sourceRanges":["35.191.0.0/16","130.211.0.0/22"],"allowed":[{"IPProtocol":"tcp","ports":["8000-9000"]}],"targetTags":["gke-node"]}`)
	tests := []struct {
		name  string
		rules []*computepb.Firewall
		port  int
		want  bool
	}{
		{"no rule: implied deny", nil, 8443, false},
		{"allowed", []*computepb.Firewall{allow}, 8443, true},
		{"port outside the range", []*computepb.Firewall{allow}, 15021, false},
		{"other network", []*computepb.Firewall{fw(`{"network":"other","sourceRanges":["0.0.0.0/0"],"allowed":[{"IPProtocol":"all"}]}`)}, 8443, false},
		{"other tag", []*computepb.Firewall{fw(`{"network":"vpc","sourceRanges":["0.0.0.0/0"],"allowed":[{"IPProtocol":"tcp"}],"targetTags":["web"]}`)}, 8443, false},
		{"source tags only", []*computepb.Firewall{fw(`{"network":"vpc","sourceTags":["x"],"allowed":[{"IPProtocol":"tcp"}]}`)}, 8443, false},
		{"a deny of higher priority", []*computepb.Firewall{allow, fw(`{"network":"vpc","priority":100,"sourceRanges":["35.191.0.0/16"],"denied":[{"IPProtocol":"tcp"}]}`)}, 8443, false},
		{"a deny of lower priority", []*computepb.Firewall{allow, fw(`{"network":"vpc","priority":2000,"sourceRanges":["0.0.0.0/0"],"denied":[{"IPProtocol":"all"}]}`)}, 8443, true},
		{"a deny at the same priority wins", []*computepb.Firewall{allow, fw(`{"network":"vpc","sourceRanges":["35.191.0.0/16"],"denied":[{"IPProtocol":"tcp","ports":["8443"]}]}`)}, 8443, false},
		{"disabled", []*computepb.Firewall{fw(`{"network":"vpc","disabled":true,"sourceRanges":["0.0.0.0/0"],"allowed":[{"IPProtocol":"tcp"}]}`)}, 8443, false},
	}
	for _, tc := range tests {
		if got := ingressAllowed(tc.rules, node, "35.191.0.0/16", tc.port); got != tc.want {
			t.Errorf("%s: allowed %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestChanges(t *testing.T) {
	w := newWorld(t)
	for _, c := range negCalls {
		w.reg.Stub(c)
	}
	healthy := w.run()
	w.compute.get(lb.KindCertificate, "cert").(*computepb.SslCertificate).Managed.DomainStatus[host] = "PROVISIONING"
	converging := w.run()
	got := Changes(converging, healthy)
	want := []string{"target proxy https: converging → ok", "overall: converging → ok"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if first := Changes(nil, converging); len(first) != 1 || !strings.HasPrefix(first[0], "traced: converging (target proxy https: PROVISIONING") {
		t.Errorf("first trace: %v", first)
	}
	if len(Changes(healthy, healthy)) != 0 {
		t.Errorf("no change reported as %v", Changes(healthy, healthy))
	}
}

// Watch traces again until the request is served, telling what changed.
func TestWatch(t *testing.T) {
	w := newWorld(t)
	for _, c := range negCalls {
		w.reg.Stub(c)
	}
	cert := w.compute.get(lb.KindCertificate, "cert").(*computepb.SslCertificate)
	cert.Managed.DomainStatus[host] = "PROVISIONING"
	var seen [][]string
	c := w.clients()
	res, err := Watch(t.Context(), c, w.opts, WatchOptions{Interval: time.Millisecond, Timeout: time.Minute, Changed: func(ch []string) {
		seen = append(seen, ch)
		// Google issues the certificate between two traces.
		w.compute.mu.Lock()
		cert.Managed.DomainStatus[host] = "ACTIVE"
		w.compute.mu.Unlock()
	}})
	if err != nil || res.State != OK {
		t.Fatalf("watch: %v, state %v", err, res.State)
	}
	if len(seen) != 2 || !strings.HasPrefix(seen[0][0], "traced: converging") || seen[1][0] != "target proxy https: converging → ok" {
		t.Errorf("changes told: %q", seen)
	}

	// A trace that never serves ends with the timeout and the last result.
	cert.Managed.DomainStatus[host] = "FAILED_NOT_VISIBLE"
	res, err = Watch(t.Context(), c, w.opts, WatchOptions{Interval: time.Millisecond, Timeout: 30 * time.Millisecond})
	if !errors.Is(err, ErrWatchTimeout) || res == nil || res.State != Broken {
		t.Errorf("watch of a broken trace: %v, %+v", err, res)
	}
}
