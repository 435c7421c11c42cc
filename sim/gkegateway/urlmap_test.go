package gkegateway

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

var testLinks = linker{
	backend:  func(k backendKey) string { return "bs/" + k.String() },
	serve404: "bs/serve404",
	serve500: "bs/serve500",
}

func prefix(v string) gwv1.HTTPRouteMatch {
	return gwv1.HTTPRouteMatch{Path: &gwv1.HTTPPathMatch{Type: ptrTo(gwv1.PathMatchPathPrefix), Value: ptrTo(v)}}
}

func exact(v string) gwv1.HTTPRouteMatch {
	return gwv1.HTTPRouteMatch{Path: &gwv1.HTTPPathMatch{Type: ptrTo(gwv1.PathMatchExact), Value: ptrTo(v)}}
}

// to is a rule sending matches to one valid backend.
func to(svc string, matches ...gwv1.HTTPRouteMatch) rulePlan {
	return rulePlan{rule: gwv1.HTTPRouteRule{Matches: matches},
		backends: []weightedBackend{{key: backendKey{"ns", svc, 443}, valid: true, weight: 1}}}
}

func route(name string, age time.Duration, hosts []string, rules ...rulePlan) routePlan {
	for i := range rules {
		rules[i].index = i
	}
	r := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, CreationTimestamp: metav1.NewTime(time.Unix(1e9, 0).Add(-age))}}
	return routePlan{route: r, hostnames: hosts, rules: rules}
}

// rule is the JSON of one routeRule, for comparison.
type rule = map[string]any

func jsonOf(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func TestURLMapExpandsRoutesAsGKEDoes(t *testing.T) {
	star := "host" + md5hex("*")
	cases := []struct {
		name   string
		routes []routePlan
		// want: path matcher name → its routeRules' JSON.
		want map[string][]rule
	}{{
		name:   "PathPrefix / is one prefix match",
		routes: []routePlan{route("r", 0, []string{"*"}, to("gw", prefix("/")))},
		want: map[string][]rule{star: {{"priority": 1.0, "matchRules": []any{map[string]any{"prefixMatch": "/"}},
			"routeAction": map[string]any{"weightedBackendServices": []any{map[string]any{"backendService": "bs/ns/gw:443", "weight": 1.0}}}}}},
	}, {
		name:   "PathPrefix /west is prefixMatch /west/ plus fullPathMatch /west",
		routes: []routePlan{route("r", 0, []string{"*"}, to("west", prefix("/west")))},
		want: map[string][]rule{star: {{"priority": 1.0, "matchRules": []any{map[string]any{"prefixMatch": "/west/"}, map[string]any{"fullPathMatch": "/west"}},
			"routeAction": map[string]any{"weightedBackendServices": []any{map[string]any{"backendService": "bs/ns/west:443", "weight": 1.0}}}}}},
	}, {
		name:   "a trailing slash on a prefix changes nothing",
		routes: []routePlan{route("r", 0, []string{"*"}, to("west", prefix("/west/")))},
		want: map[string][]rule{star: {{"priority": 1.0, "matchRules": []any{map[string]any{"prefixMatch": "/west/"}, map[string]any{"fullPathMatch": "/west"}},
			"routeAction": map[string]any{"weightedBackendServices": []any{map[string]any{"backendService": "bs/ns/west:443", "weight": 1.0}}}}}},
	}, {
		name: "a redirect is a urlRedirect and no route action",
		routes: []routePlan{route("r", 0, []string{"*"}, rulePlan{rule: gwv1.HTTPRouteRule{Filters: []gwv1.HTTPRouteFilter{{
			Type: gwv1.HTTPRouteFilterRequestRedirect, RequestRedirect: &gwv1.HTTPRequestRedirectFilter{Scheme: ptrTo("https"), StatusCode: ptrTo(301)}}}}})},
		want: map[string][]rule{star: {{"priority": 1.0, "matchRules": []any{map[string]any{"prefixMatch": "/"}},
			"urlRedirect": map[string]any{"httpsRedirect": true, "redirectResponseCode": "MOVED_PERMANENTLY_DEFAULT", "stripQuery": false}}}},
	}, {
		name:   "an unresolved backend answers through gw-serve500",
		routes: []routePlan{route("r", 0, []string{"*"}, rulePlan{rule: gwv1.HTTPRouteRule{}, backends: []weightedBackend{{weight: 1}}})},
		want: map[string][]rule{star: {{"priority": 1.0, "matchRules": []any{map[string]any{"prefixMatch": "/"}},
			"routeAction": map[string]any{"weightedBackendServices": []any{map[string]any{"backendService": "bs/serve500", "weight": 1.0}}}}}},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			um := buildURLMap("um", "desc", c.routes, testLinks)
			if um.DefaultService != "bs/serve404" {
				t.Errorf("defaultService = %s, want serve404", um.DefaultService)
			}
			got := map[string][]rule{}
			for _, pm := range um.PathMatchers {
				if pm.DefaultService != "bs/serve404" {
					t.Errorf("path matcher %s: defaultService = %s, want serve404", pm.Name, pm.DefaultService)
				}
				for _, rr := range pm.RouteRules {
					got[pm.Name] = append(got[pm.Name], jsonOf(rr).(map[string]any))
				}
			}
			if g, w := jsonOf(got), jsonOf(c.want); !equalJSON(g, w) {
				t.Errorf("route rules:\n got %v\nwant %v", g, w)
			}
		})
	}
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func equalJSON(a, b any) bool { return jsonSubset(a, b) && jsonSubset(b, a) }

// paths lists a path matcher's rules as "priority:firstMatch".
func paths(um map[string]any, matcher string) []string {
	var out []string
	for _, pm := range um["pathMatchers"].([]any) {
		m := pm.(map[string]any)
		if m["name"] != matcher {
			continue
		}
		for _, rr := range m["routeRules"].([]any) {
			r := rr.(map[string]any)
			first := r["matchRules"].([]any)[0].(map[string]any)
			p, _ := first["prefixMatch"].(string)
			if p == "" {
				p = "=" + first["fullPathMatch"].(string)
			}
			out = append(out, p)
		}
	}
	return out
}

func TestURLMapOrdersRulesByPrecedence(t *testing.T) {
	routes := []routePlan{
		// Rule order that would shadow: "/" first, then more specific paths.
		route("old", time.Hour, []string{"*"}, to("root", prefix("/")), to("api", prefix("/api")), to("v1", prefix("/api/v1"))),
		route("exact", 0, []string{"*"}, to("health", exact("/api"))),
		route("shop", 0, []string{"shop.example.com"}, to("shop", prefix("/"))),
	}
	um := jsonOf(buildURLMap("um", "", routes, testLinks)).(map[string]any)
	// Host rules: one per hostname, each with its own path matcher.
	hosts := jsonOf(um["hostRules"])
	wantHosts := jsonOf([]map[string]any{
		{"hosts": []string{"*"}, "pathMatcher": "host" + md5hex("*")},
		{"hosts": []string{"shop.example.com"}, "pathMatcher": "host" + md5hex("shop.example.com")},
	})
	if !equalJSON(hosts, wantHosts) {
		t.Errorf("hostRules = %v, want %v", hosts, wantHosts)
	}
	// Exact before prefix, then longer prefixes first.
	if got, want := paths(um, "host"+md5hex("*")), []string{"=/api", "/api/v1/", "/api/", "/"}; !equalJSON(jsonOf(got), jsonOf(want)) {
		t.Errorf("rules for *: %v, want %v", got, want)
	}
	// A specific host gets its own route's rules first, then the routes
	// for "*" (which would otherwise never see requests for that host).
	if got, want := paths(um, "host"+md5hex("shop.example.com")), []string{"/", "=/api", "/api/v1/", "/api/", "/"}; !equalJSON(jsonOf(got), jsonOf(want)) {
		t.Errorf("rules for shop.example.com: %v, want %v", got, want)
	}
	for _, pm := range um["pathMatchers"].([]any) {
		for i, rr := range pm.(map[string]any)["routeRules"].([]any) {
			if p := rr.(map[string]any)["priority"]; p != float64(i+1) {
				t.Errorf("%s rule %d has priority %v, want %d", pm.(map[string]any)["name"], i, p, i+1)
			}
		}
	}
}

func TestURLMapHeaderMatchesAndWeights(t *testing.T) {
	m := prefix("/cart")
	m.Headers = []gwv1.HTTPHeaderMatch{{Name: "x-canary", Value: "1"}}
	r := rulePlan{rule: gwv1.HTTPRouteRule{Matches: []gwv1.HTTPRouteMatch{m}}, backends: []weightedBackend{
		{key: backendKey{"ns", "a", 80}, valid: true, weight: 9000}, {key: backendKey{"ns", "b", 80}, valid: true, weight: 1000}, {key: backendKey{"ns", "c", 80}, valid: true, weight: 0},
	}}
	um := buildURLMap("um", "", []routePlan{route("r", 0, []string{"*"}, r)}, testLinks)
	rr := um.PathMatchers[0].RouteRules[0]
	if len(rr.MatchRules) != 2 {
		t.Fatalf("match rules = %d, want the prefix and the full path", len(rr.MatchRules))
	}
	for _, mr := range rr.MatchRules {
		if len(mr.HeaderMatches) != 1 || mr.HeaderMatches[0].HeaderName != "x-canary" || mr.HeaderMatches[0].ExactMatch != "1" {
			t.Errorf("match rule %+v lost the header match", mr)
		}
	}
	ws := rr.RouteAction.WeightedBackendServices
	// Gateway API weights above Compute's 1000 are scaled; weight 0 drops out.
	if len(ws) != 2 || ws[0].Weight != 1000 || ws[1].Weight != 111 {
		t.Errorf("weights = %v", jsonOf(ws))
	}
}
