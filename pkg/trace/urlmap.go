package trace

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/meshctl/meshctl/pkg/findings"
)

// routing is what a URL map does with one request.
type routing struct {
	// via says which part of the URL map decided, for people.
	via string
	// backends are where it goes (backend service or bucket links) with
	// their weights; one with weight 0 when there is no split.
	backends []weighted
	redirect *computepb.HttpRedirectAction
	// rewrite is the routeAction's URL rewrite, applied before the backend
	// sees the request.
	rewrite *computepb.UrlRewrite
	// skipped notes route rules a plain request does not match for want
	// of a header or query parameter.
	skipped []string
}

type weighted struct {
	link   string
	weight int
}

// matchHostRule finds the host rule for host: an exact host first, then
// the longest wildcard ("*.example.com", "*-dev.example.com"), then "*".
func matchHostRule(um *computepb.UrlMap, host string) (*computepb.HostRule, string) {
	var best *computepb.HostRule
	bestPattern, bestScore := "", -1
	for _, hr := range um.GetHostRules() {
		for _, pattern := range hr.GetHosts() {
			p := strings.ToLower(pattern)
			if h, _, hasPort := strings.Cut(p, ":"); hasPort {
				p = h
			}
			score := -1
			switch {
			case p == host:
				score = 1 << 20
			case p == "*":
				score = 0
			case strings.HasPrefix(p, "*") && strings.HasSuffix(host, p[1:]) && len(host) > len(p)-1:
				score = len(p)
			}
			if score > bestScore {
				best, bestPattern, bestScore = hr, pattern, score
			}
		}
	}
	return best, bestPattern
}

// route applies the URL map to host and path, as Google's front ends do.
func route(um *computepb.UrlMap, host, path string) routing {
	hr, pattern := matchHostRule(um, host)
	if hr == nil {
		r := actionOf(um.GetDefaultService(), um.GetDefaultRouteAction(), um.GetDefaultUrlRedirect())
		r.via = "no host rule matches " + host + ": the URL map's default"
		return r
	}
	i := slices.IndexFunc(um.GetPathMatchers(), func(pm *computepb.PathMatcher) bool { return pm.GetName() == hr.GetPathMatcher() })
	if i < 0 {
		return routing{via: fmt.Sprintf("host rule %s names path matcher %s, which does not exist", pattern, hr.GetPathMatcher())}
	}
	pm := um.GetPathMatchers()[i]
	prefix := fmt.Sprintf("host rule %s → path matcher %s: ", pattern, pm.GetName())
	r := matchPath(pm, path)
	r.via = prefix + r.via
	return r
}

// matchPath applies a path matcher: its route rules by priority, else the
// longest matching path rule, else its default.
func matchPath(pm *computepb.PathMatcher, path string) routing {
	var skipped []string
	if rules := pm.GetRouteRules(); len(rules) > 0 {
		sorted := slices.Clone(rules)
		sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].GetPriority() < sorted[j].GetPriority() })
		for _, rr := range sorted {
			ok, why, needs := matchRouteRule(rr, path)
			if needs != "" {
				skipped = append(skipped, fmt.Sprintf("route rule %d needs %s", rr.GetPriority(), needs))
			}
			if ok {
				r := actionOf(rr.GetService(), rr.GetRouteAction(), rr.GetUrlRedirect())
				r.via, r.skipped = fmt.Sprintf("route rule %d (%s)", rr.GetPriority(), why), skipped
				return r
			}
		}
	}
	best, bestLen := (*computepb.PathRule)(nil), -1
	for _, pr := range pm.GetPathRules() {
		for _, p := range pr.GetPaths() {
			if n := pathRuleMatch(p, path); n > bestLen {
				best, bestLen = pr, n
			}
		}
	}
	if best != nil {
		r := actionOf(best.GetService(), best.GetRouteAction(), best.GetUrlRedirect())
		r.via = "path rule " + strings.Join(best.GetPaths(), ", ")
		return r
	}
	r := actionOf(pm.GetDefaultService(), pm.GetDefaultRouteAction(), pm.GetDefaultUrlRedirect())
	r.via, r.skipped = "no rule matches "+path+": the path matcher's default", skipped
	return r
}

// pathRuleMatch scores a path rule's path against the request path: -1
// for no match, else the matched length (an exact path beats a prefix of
// the same length).
func pathRuleMatch(rule, path string) int {
	if prefix, ok := strings.CutSuffix(rule, "*"); ok {
		if strings.HasPrefix(path, prefix) {
			return 2 * len(prefix)
		}
		return -1
	}
	if rule == path {
		return 2*len(rule) + 1
	}
	return -1
}

// matchRouteRule reports whether a plain GET for path matches one of the
// rule's match rules; needs names what a rule asks for that a plain
// request lacks.
func matchRouteRule(rr *computepb.HttpRouteRule, path string) (ok bool, why, needs string) {
	if len(rr.GetMatchRules()) == 0 {
		return true, "matches every request", ""
	}
	for _, m := range rr.GetMatchRules() {
		p := path
		if m.GetIgnoreCase() {
			p = strings.ToLower(path)
		}
		lower := func(s string) string {
			if m.GetIgnoreCase() {
				return strings.ToLower(s)
			}
			return s
		}
		var pathOK bool
		switch {
		case m.PrefixMatch != nil:
			pathOK, why = strings.HasPrefix(p, lower(m.GetPrefixMatch())), "prefixMatch "+m.GetPrefixMatch()
		case m.FullPathMatch != nil:
			pathOK, why = p == lower(m.GetFullPathMatch()), "fullPathMatch "+m.GetFullPathMatch()
		case m.RegexMatch != nil:
			re, err := regexp.Compile("^(?:" + m.GetRegexMatch() + ")$")
			pathOK, why = err == nil && re.MatchString(path), "regexMatch "+m.GetRegexMatch()
		case m.PathTemplateMatch != nil:
			pathOK, why = templateMatches(m.GetPathTemplateMatch(), path), "pathTemplateMatch "+m.GetPathTemplateMatch()
		default:
			pathOK, why = true, "any path"
		}
		if !pathOK {
			continue
		}
		if n := plainRequestLacks(m); n != "" {
			needs = n
			continue
		}
		return true, why, ""
	}
	return false, "", needs
}

// plainRequestLacks names a header or query parameter a match rule
// requires that a plain request (a browser's GET, no custom headers, no
// query) does not carry; "" when a plain request passes.
func plainRequestLacks(m *computepb.HttpRouteRuleMatch) string {
	for _, h := range m.GetHeaderMatches() {
		name := strings.ToLower(h.GetHeaderName())
		if name == ":authority" || name == "host" || name == ":method" || name == ":scheme" {
			continue
		}
		absentPasses := (h.PresentMatch != nil && !h.GetPresentMatch()) != h.GetInvertMatch()
		if !absentPasses {
			return "header " + h.GetHeaderName()
		}
	}
	for _, q := range m.GetQueryParameterMatches() {
		if !(q.PresentMatch != nil && !q.GetPresentMatch()) {
			return "query parameter " + q.GetName()
		}
	}
	return ""
}

// templateMatches applies a pathTemplateMatch: "*" is one path segment,
// "**" any number, "{name=...}" binds either.
func templateMatches(template, path string) bool {
	var b strings.Builder
	b.WriteString("^")
	for _, seg := range strings.Split(strings.TrimPrefix(template, "/"), "/") {
		b.WriteString("/")
		inner := seg
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			inner = "*"
			if _, v, ok := strings.Cut(strings.Trim(seg, "{}"), "="); ok {
				inner = v
			}
		}
		switch inner {
		case "**":
			b.WriteString(".*")
		case "*":
			b.WriteString("[^/]+")
		default:
			b.WriteString(regexp.QuoteMeta(inner))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	return err == nil && re.MatchString(path)
}

// actionOf is what a service, route action or redirect does.
func actionOf(service string, ra *computepb.HttpRouteAction, redirect *computepb.HttpRedirectAction) routing {
	switch {
	case redirect != nil:
		return routing{redirect: redirect}
	case ra != nil && len(ra.GetWeightedBackendServices()) > 0:
		r := routing{rewrite: ra.GetUrlRewrite()}
		for _, w := range ra.GetWeightedBackendServices() {
			r.backends = append(r.backends, weighted{link: w.GetBackendService(), weight: int(w.GetWeight())})
		}
		return r
	case service != "":
		r := routing{backends: []weighted{{link: service}}}
		if ra != nil {
			r.rewrite = ra.GetUrlRewrite()
		}
		return r
	}
	return routing{}
}

// redirectURL is where a redirect sends the request, with its status code.
func redirectURL(rd *computepb.HttpRedirectAction, t Target, path string) (string, int) {
	scheme, host := t.Scheme, t.Host
	if rd.GetHttpsRedirect() {
		scheme = "https"
	}
	if rd.GetHostRedirect() != "" {
		host = rd.GetHostRedirect()
	}
	switch {
	case rd.GetPathRedirect() != "":
		path = rd.GetPathRedirect()
	case rd.GetPrefixRedirect() != "":
		path = rd.GetPrefixRedirect()
	}
	code := map[string]int{"FOUND": 302, "SEE_OTHER": 303, "TEMPORARY_REDIRECT": 307, "PERMANENT_REDIRECT": 308}[rd.GetRedirectResponseCode()]
	if code == 0 {
		code = 301
	}
	return scheme + "://" + host + path, code
}

// throughURLMap routes the request with the URL map and follows each
// backend it may reach.
func (t *tracer) throughURLMap(ctx context.Context, p Path, um *computepb.UrlMap) []Path {
	h := newHop(HopURLMap, um.GetName())
	r := route(um, t.target.Host, t.target.Path)
	h.see("%s", r.via)
	for _, s := range r.skipped {
		h.see("%s, which a plain request does not carry", s)
	}
	switch {
	case r.redirect != nil:
		to, code := redirectURL(r.redirect, t.target, t.target.Path)
		h.see("redirects (%d) to %s", code, to)
		h.add(OK, findings.TraceRedirect.New("URL map "+um.GetName(), fmt.Sprintf("%s is redirected (%d) to %s", t.target.URL, code, to), "meshctl trace "+to))
		p.End = fmt.Sprintf("redirect (%d) to %s", code, to)
		p.Hops = append(p.Hops, h)
		return []Path{p}
	case len(r.backends) == 0:
		h.add(Broken, findings.TraceURLMapNowhere.New("URL map "+um.GetName(), fmt.Sprintf("%s%s leads nowhere: %s", t.target.Host, t.target.Path, r.via), "add a default service to the URL map"))
		p.Hops = append(p.Hops, h)
		return []Path{p}
	}
	host, path := t.target.Host, t.target.Path
	if rw := r.rewrite; rw != nil {
		if rw.GetHostRewrite() != "" {
			host = rw.GetHostRewrite()
		}
		if rw.GetPathPrefixRewrite() != "" {
			path = rw.GetPathPrefixRewrite() + strings.TrimPrefix(path, "/")
		}
		h.see("rewrites the request to %s%s before the backend sees it", host, path)
	}
	var out []Path
	for _, b := range r.backends {
		q := p
		q.Hops = append(slices.Clone(p.Hops), h)
		if len(r.backends) > 1 {
			q.Weight = b.weight
			q.Hops[len(q.Hops)-1].see("%d%% (weight %d) to %s", percent(b.weight, r.backends), b.weight, linkName(b.link))
		}
		out = append(out, t.toBackend(ctx, q, b.link, request{host: host, path: path})...)
	}
	return out
}

func percent(w int, all []weighted) int {
	total := 0
	for _, b := range all {
		total += b.weight
	}
	if total == 0 {
		return 0
	}
	return w * 100 / total
}
