package gkegateway

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	compute "google.golang.org/api/compute/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// routePlan is one HTTPRoute as a frontend serves it: the hostnames it
// answers for there (after intersecting with its listeners' hostnames;
// "*" when neither names one) and its rules with their backends resolved.
type routePlan struct {
	route     *gwv1.HTTPRoute
	hostnames []string
	rules     []rulePlan
}

// rulePlan is one rule of a route.
type rulePlan struct {
	index    int
	rule     gwv1.HTTPRouteRule
	backends []weightedBackend
}

// weightedBackend is one backendRef: a resolved (Service, port), or an
// unresolved one, which Gateway API answers with HTTP 500.
type weightedBackend struct {
	key    backendKey
	valid  bool
	weight int32
}

// backendKey is a backend as GKE builds it: one backend service per
// (Service, port).
type backendKey struct {
	Namespace, Service string
	Port               int32
}

func (k backendKey) String() string { return fmt.Sprintf("%s/%s:%d", k.Namespace, k.Service, k.Port) }

// linker gives the links a URL map refers to.
type linker struct {
	backend  func(backendKey) string
	serve404 string
	serve500 string
}

// pathMatcherName is GKE's path matcher name for a host: "host" and 32
// characters (the MD5 of the hostname is meshsim's choice for them).
func pathMatcherName(host string) string {
	sum := md5.Sum([]byte(host))
	return "host" + hex.EncodeToString(sum[:])
}

// matchEntry is one match of one rule, the unit Gateway API orders by
// precedence and the unit a Compute routeRule carries.
type matchEntry struct {
	plan     *routePlan
	rule     *rulePlan
	match    gwv1.HTTPRouteMatch
	matchIdx int
	// exactChars and hostChars rank the route's hostname for the host.
	exactChars, hostChars int
}

// buildURLMap expands routes into a URL map as GKE does (reference §2,
// from an exported GKE URL map): serve404 as the default service; one host
// rule per hostname, with its own path matcher named host<32 characters>;
// one routeRule per match, prioritised 1..n in Gateway API's precedence
// order (the most specific route hostname, then exact before prefix,
// longer paths first, more header then query matches first, then older
// routes, then rule order; the order is meshsim's reading of the spec,
// GKE's is not visible beyond one route); a PathPrefix /x
// becomes prefixMatch /x/ and fullPathMatch /x, PathPrefix / becomes
// prefixMatch /. Routes must have passed checkRouteSupported.
func buildURLMap(name, description string, routes []routePlan, links linker) *compute.UrlMap {
	um := &compute.UrlMap{Name: name, Description: description, DefaultService: links.serve404}
	var hosts []string
	for _, p := range routes {
		for _, h := range p.hostnames {
			if !contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		entries := hostEntries(routes, h)
		sort.SliceStable(entries, func(i, j int) bool { return precedes(entries[i], entries[j]) })
		pm := &compute.PathMatcher{Name: pathMatcherName(h), DefaultService: links.serve404}
		for i, e := range entries {
			rr := routeRule(e, links)
			rr.Priority = int64(i + 1)
			pm.RouteRules = append(pm.RouteRules, rr)
		}
		um.HostRules = append(um.HostRules, &compute.HostRule{Hosts: []string{h}, PathMatcher: pm.Name})
		um.PathMatchers = append(um.PathMatchers, pm)
	}
	return um
}

// hostEntries are the matches that apply to requests for host: those of
// every route with a hostname that admits it, each marked with how
// specific that hostname is. A request for a host only reaches that
// host's path matcher, so a route for "*" or "*.example.com" is repeated
// there, after the routes naming the host (Gateway API: rules of the
// route with the most specific matching hostname come first).
func hostEntries(routes []routePlan, host string) []matchEntry {
	var out []matchEntry
	for ri := range routes {
		p := &routes[ri]
		exact, chars, ok := specificity(p.hostnames, host)
		if !ok {
			continue
		}
		for qi := range p.rules {
			r := &p.rules[qi]
			matches := r.rule.Matches
			if len(matches) == 0 {
				// No match means every request: a PathPrefix "/".
				matches = []gwv1.HTTPRouteMatch{{}}
			}
			for mi, m := range matches {
				out = append(out, matchEntry{plan: p, rule: r, match: m, matchIdx: mi, exactChars: exact, hostChars: chars})
			}
		}
	}
	return out
}

// specificity finds the route hostname that best admits host: the
// characters it matches without a wildcard, and in all.
func specificity(hostnames []string, host string) (exact, chars int, ok bool) {
	for _, h := range hostnames {
		e, c := 0, len(h)
		switch {
		case h == host && !strings.HasPrefix(h, "*"):
			e = len(h)
		case h == host, h == "*", strings.HasPrefix(h, "*.") && strings.HasSuffix(host, h[1:]):
		default:
			continue
		}
		if !ok || e > exact || e == exact && c > chars {
			exact, chars, ok = e, c, true
		}
	}
	return exact, chars, ok
}

// pathOf is a match's path type and value; a match without a path is
// PathPrefix "/". A prefix's trailing slash does not count (Gateway API
// matches prefixes by path element).
func pathOf(m gwv1.HTTPRouteMatch) (gwv1.PathMatchType, string) {
	typ, value := gwv1.PathMatchPathPrefix, "/"
	if m.Path != nil {
		if m.Path.Type != nil {
			typ = *m.Path.Type
		}
		if m.Path.Value != nil {
			value = *m.Path.Value
		}
	}
	if typ == gwv1.PathMatchPathPrefix && value != "/" {
		value = strings.TrimRight(value, "/")
		if value == "" {
			value = "/"
		}
	}
	return typ, value
}

// precedes orders matches as Gateway API asks implementations to.
func precedes(a, b matchEntry) bool {
	if a.exactChars != b.exactChars {
		return a.exactChars > b.exactChars
	}
	if a.hostChars != b.hostChars {
		return a.hostChars > b.hostChars
	}
	at, av := pathOf(a.match)
	bt, bv := pathOf(b.match)
	if (at == gwv1.PathMatchExact) != (bt == gwv1.PathMatchExact) {
		return at == gwv1.PathMatchExact
	}
	if len(av) != len(bv) {
		return len(av) > len(bv)
	}
	if len(a.match.Headers) != len(b.match.Headers) {
		return len(a.match.Headers) > len(b.match.Headers)
	}
	if len(a.match.QueryParams) != len(b.match.QueryParams) {
		return len(a.match.QueryParams) > len(b.match.QueryParams)
	}
	ar, br := a.plan.route, b.plan.route
	if !ar.CreationTimestamp.Equal(&br.CreationTimestamp) {
		return ar.CreationTimestamp.Before(&br.CreationTimestamp)
	}
	if ak, bk := ar.Namespace+"/"+ar.Name, br.Namespace+"/"+br.Name; ak != bk {
		return ak < bk
	}
	if a.rule.index != b.rule.index {
		return a.rule.index < b.rule.index
	}
	return a.matchIdx < b.matchIdx
}

// matchRules expands one Gateway API match into Compute match rules.
func matchRules(m gwv1.HTTPRouteMatch) []*compute.HttpRouteRuleMatch {
	var headers []*compute.HttpHeaderMatch
	for _, h := range m.Headers {
		headers = append(headers, &compute.HttpHeaderMatch{HeaderName: string(h.Name), ExactMatch: h.Value})
	}
	var params []*compute.HttpQueryParameterMatch
	for _, q := range m.QueryParams {
		params = append(params, &compute.HttpQueryParameterMatch{Name: string(q.Name), ExactMatch: q.Value})
	}
	with := func(mr *compute.HttpRouteRuleMatch) *compute.HttpRouteRuleMatch {
		mr.HeaderMatches, mr.QueryParameterMatches = headers, params
		return mr
	}
	typ, value := pathOf(m)
	switch {
	case typ == gwv1.PathMatchExact:
		return []*compute.HttpRouteRuleMatch{with(&compute.HttpRouteRuleMatch{FullPathMatch: value})}
	case value == "/":
		return []*compute.HttpRouteRuleMatch{with(&compute.HttpRouteRuleMatch{PrefixMatch: "/"})}
	default:
		return []*compute.HttpRouteRuleMatch{
			with(&compute.HttpRouteRuleMatch{PrefixMatch: value + "/"}),
			with(&compute.HttpRouteRuleMatch{FullPathMatch: value}),
		}
	}
}

// routeRule is one match's Compute rule: a redirect, or the rule's
// backends with their weights, plus header changes and rewrites.
func routeRule(e matchEntry, links linker) *compute.HttpRouteRule {
	rr := &compute.HttpRouteRule{MatchRules: matchRules(e.match)}
	var action compute.HttpRouteAction
	for _, f := range e.rule.rule.Filters {
		switch f.Type {
		case gwv1.HTTPRouteFilterRequestRedirect:
			rr.UrlRedirect = urlRedirect(f.RequestRedirect)
		case gwv1.HTTPRouteFilterRequestHeaderModifier:
			rr.HeaderAction = headerAction(rr.HeaderAction, f.RequestHeaderModifier, true)
		case gwv1.HTTPRouteFilterResponseHeaderModifier:
			rr.HeaderAction = headerAction(rr.HeaderAction, f.ResponseHeaderModifier, false)
		case gwv1.HTTPRouteFilterURLRewrite:
			action.UrlRewrite = urlRewrite(f.URLRewrite)
		}
	}
	if rr.UrlRedirect != nil {
		return rr
	}
	action.WeightedBackendServices = weightedServices(e.rule.backends, links)
	rr.RouteAction = &action
	return rr
}

// weightedServices lists a rule's backends with Compute weights (0-1000,
// scaled down when Gateway API's, up to 1,000,000, exceed that). A rule
// with no usable backend answers 500 through gw-serve500.
func weightedServices(backends []weightedBackend, links linker) []*compute.WeightedBackendService {
	var total, largest int64
	for _, b := range backends {
		total += int64(b.weight)
		largest = max(largest, int64(b.weight))
	}
	if total == 0 {
		return []*compute.WeightedBackendService{{BackendService: links.serve500, Weight: 1}}
	}
	var out []*compute.WeightedBackendService
	for _, b := range backends {
		if b.weight == 0 {
			continue
		}
		w := int64(b.weight)
		if largest > 1000 {
			w = max(1, w*1000/largest)
		}
		link := links.serve500
		if b.valid {
			link = links.backend(b.key)
		}
		out = append(out, &compute.WeightedBackendService{BackendService: link, Weight: w, ForceSendFields: []string{"Weight"}})
	}
	return out
}

// redirectCodes maps Gateway API status codes to Compute's names.
var redirectCodes = map[int]string{
	301: "MOVED_PERMANENTLY_DEFAULT", 302: "FOUND", 303: "SEE_OTHER", 307: "TEMPORARY_REDIRECT", 308: "PERMANENT_REDIRECT",
}

// urlRedirect maps a RequestRedirect (reference: "RequestRedirect becomes
// urlRedirect", low confidence for the details). Gateway API's default
// status code is 302.
func urlRedirect(r *gwv1.HTTPRequestRedirectFilter) *compute.HttpRedirectAction {
	out := &compute.HttpRedirectAction{RedirectResponseCode: redirectCodes[302], ForceSendFields: []string{"StripQuery"}}
	if r == nil {
		return out
	}
	if r.StatusCode != nil {
		out.RedirectResponseCode = redirectCodes[*r.StatusCode]
	}
	if r.Scheme != nil && *r.Scheme == "https" {
		out.HttpsRedirect = true
	}
	if r.Hostname != nil {
		out.HostRedirect = string(*r.Hostname)
	}
	if r.Path != nil {
		switch r.Path.Type {
		case gwv1.FullPathHTTPPathModifier:
			if r.Path.ReplaceFullPath != nil {
				out.PathRedirect = *r.Path.ReplaceFullPath
			}
		case gwv1.PrefixMatchHTTPPathModifier:
			if r.Path.ReplacePrefixMatch != nil {
				out.PrefixRedirect = *r.Path.ReplacePrefixMatch
			}
		}
	}
	return out
}

func headerAction(cur *compute.HttpHeaderAction, m *gwv1.HTTPHeaderFilter, request bool) *compute.HttpHeaderAction {
	if m == nil {
		return cur
	}
	if cur == nil {
		cur = &compute.HttpHeaderAction{}
	}
	var add []*compute.HttpHeaderOption
	for _, h := range m.Set {
		add = append(add, &compute.HttpHeaderOption{HeaderName: string(h.Name), HeaderValue: h.Value, Replace: true})
	}
	for _, h := range m.Add {
		add = append(add, &compute.HttpHeaderOption{HeaderName: string(h.Name), HeaderValue: h.Value})
	}
	if request {
		cur.RequestHeadersToAdd = append(cur.RequestHeadersToAdd, add...)
		cur.RequestHeadersToRemove = append(cur.RequestHeadersToRemove, m.Remove...)
	} else {
		cur.ResponseHeadersToAdd = append(cur.ResponseHeadersToAdd, add...)
		cur.ResponseHeadersToRemove = append(cur.ResponseHeadersToRemove, m.Remove...)
	}
	return cur
}

// urlRewrite maps URLRewrite; a full-path replacement becomes a prefix
// rewrite (exact for the fullPathMatch it comes with; a guess otherwise).
func urlRewrite(r *gwv1.HTTPURLRewriteFilter) *compute.UrlRewrite {
	if r == nil {
		return nil
	}
	out := &compute.UrlRewrite{}
	if r.Hostname != nil {
		out.HostRewrite = string(*r.Hostname)
	}
	if r.Path != nil {
		if r.Path.ReplacePrefixMatch != nil {
			out.PathPrefixRewrite = *r.Path.ReplacePrefixMatch
		}
		if r.Path.ReplaceFullPath != nil {
			out.PathPrefixRewrite = *r.Path.ReplaceFullPath
		}
	}
	return out
}
