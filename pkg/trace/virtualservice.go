package trace

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
	istionet "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshctl/meshctl/pkg/findings"
)

// routeSel is the VirtualService route the gateway picks for the request.
type routeSel struct {
	// bound are the VirtualServices bound to the Gateway for the host,
	// in the order Istio merges their routes (oldest first).
	bound []*istionet.VirtualService
	host  string
	vs    *istionet.VirtualService
	route *networking.HTTPRoute
	index int
	why   string
	// skipped notes routes a plain request does not match for want of a
	// header or query parameter.
	skipped []string
	dests   []dest
	err     error
}

// dest is one destination of the route.
type dest struct {
	host, fqdn, subset string
	port               uint32
	weight             int32
	// namespace and name of the Kubernetes Service the host names; empty
	// for a host outside the cluster's services.
	namespace, name string
}

// selectRoute finds the VirtualServices bound to the server for the
// request's host, as istiod builds the gateway's routes (the most specific
// host, the routes of every VirtualService for it merged oldest first),
// and the first route that matches a plain GET of the path.
func (t *tracer) selectRoute(ctx context.Context, b *backend, g *gatewayCtx, sel serverSel) routeSel {
	var rs routeSel
	vss, err := t.r.virtualServices(ctx)
	if err != nil {
		rs.err = err
		return rs
	}
	bestScore := -1
	for _, vs := range vss {
		if !boundTo(vs, sel) {
			continue
		}
		for _, h := range vs.Spec.GetHosts() {
			score := hostScore(h, b.req.host)
			if score < 0 || !serverAllows(sel, vs.Namespace, h) {
				continue
			}
			switch {
			case score > bestScore:
				bestScore, rs.host, rs.bound = score, h, []*istionet.VirtualService{vs}
			case score == bestScore && h == rs.host && !slices.Contains(rs.bound, vs):
				rs.bound = append(rs.bound, vs)
			}
		}
	}
	sort.SliceStable(rs.bound, func(i, j int) bool {
		a, c := rs.bound[i].CreationTimestamp, rs.bound[j].CreationTimestamp
		if !a.Equal(&c) {
			return a.Before(&c)
		}
		return rs.bound[i].Namespace+"/"+rs.bound[i].Name < rs.bound[j].Namespace+"/"+rs.bound[j].Name
	})
	for _, vs := range rs.bound {
		for i, r := range vs.Spec.GetHttp() {
			ok, why, needs := matchHTTPRoute(r, b.req, g, sel)
			if needs != "" {
				rs.skipped = append(rs.skipped, fmt.Sprintf("route %s needs %s", routeName(r, i), needs))
			}
			if ok {
				rs.vs, rs.route, rs.index, rs.why = vs, r, i, why
				rs.dests = destinations(r, vs.Namespace)
				return rs
			}
		}
	}
	return rs
}

// boundTo reports whether a VirtualService binds to the server's Gateway
// and is visible to it.
func boundTo(vs *istionet.VirtualService, sel serverSel) bool {
	ref, gwNS := sel.gatewayRef(), sel.gw.Namespace
	named := slices.ContainsFunc(vs.Spec.GetGateways(), func(g string) bool {
		return g == ref || (!strings.Contains(g, "/") && vs.Namespace+"/"+g == ref)
	})
	if !named {
		return false
	}
	exp := vs.Spec.GetExportTo()
	return len(exp) == 0 || slices.Contains(exp, "*") || slices.Contains(exp, gwNS) || (slices.Contains(exp, ".") && vs.Namespace == gwNS)
}

// serverAllows reports whether the server's hosts let a VirtualService of
// namespace ns bind host ("./*" only the Gateway's namespace, "ns/*" that
// one, "*/*" or "*" any).
func serverAllows(sel serverSel, ns, host string) bool {
	for _, h := range sel.server.GetHosts() {
		hns, hh, ok := strings.Cut(h, "/")
		if !ok {
			hns, hh = "*", h
		}
		if hns == "." {
			hns = sel.gw.Namespace
		}
		if (hns == "*" || hns == ns) && (hostAdmits(hh, host) || hostAdmits(host, hh)) {
			return true
		}
	}
	return false
}

// hostScore ranks a VirtualService host for the request host: -1 when it
// does not match, higher for more specific.
func hostScore(pattern, host string) int {
	switch {
	case strings.EqualFold(pattern, host):
		return 1 << 20
	case pattern == "*":
		return 0
	case strings.HasPrefix(pattern, "*") && strings.HasSuffix(host, pattern[1:]):
		return len(pattern)
	}
	return -1
}

func routeName(r *networking.HTTPRoute, i int) string {
	if r.GetName() != "" {
		return fmt.Sprintf("%d (%s)", i+1, r.GetName())
	}
	return fmt.Sprint(i + 1)
}

// matchHTTPRoute reports whether a plain GET of the request matches one of
// a route's match blocks (a route without any matches everything).
func matchHTTPRoute(r *networking.HTTPRoute, req request, g *gatewayCtx, sel serverSel) (ok bool, why, needs string) {
	if len(r.GetMatch()) == 0 {
		return true, "matches every request", ""
	}
	for _, m := range r.GetMatch() {
		if !stringMatches(m.GetUri(), req.path, m.GetIgnoreUriCase()) || !stringMatches(m.GetMethod(), "GET", false) || !stringMatches(m.GetAuthority(), req.host, true) {
			continue
		}
		if m.GetPort() != 0 && m.GetPort() != sel.server.GetPort().GetNumber() {
			continue
		}
		if len(m.GetGateways()) > 0 && !slices.ContainsFunc(m.GetGateways(), func(gw string) bool { return gw == sel.gatewayRef() || gw == sel.gw.Name }) {
			continue
		}
		if len(m.GetSourceLabels()) > 0 && !selectsAny(m.GetSourceLabels(), g.pods) {
			continue
		}
		if ns := m.GetSourceNamespace(); ns != "" && ns != g.svc.Namespace {
			continue
		}
		if n := routeNeeds(m); n != "" {
			needs = n
			continue
		}
		return true, describeMatch(m), ""
	}
	return false, "", needs
}

// routeNeeds names a header or query parameter a match block requires of
// the request, which a plain request lacks.
func routeNeeds(m *networking.HTTPMatchRequest) string {
	for name := range m.GetHeaders() {
		return "header " + name
	}
	for name := range m.GetQueryParams() {
		return "query parameter " + name
	}
	if m.GetScheme() != nil {
		return "a scheme match"
	}
	return ""
}

func describeMatch(m *networking.HTTPMatchRequest) string {
	u := m.GetUri()
	switch {
	case u == nil:
		return "matches every path"
	case u.GetExact() != "":
		return "uri exact " + u.GetExact()
	case u.GetPrefix() != "":
		return "uri prefix " + u.GetPrefix()
	case u.GetRegex() != "":
		return "uri regex " + u.GetRegex()
	}
	return "matches every path"
}

// stringMatches applies an Istio StringMatch; nil matches anything.
func stringMatches(m *networking.StringMatch, s string, ignoreCase bool) bool {
	if m == nil {
		return true
	}
	if ignoreCase {
		s = strings.ToLower(s)
	}
	fold := func(v string) string {
		if ignoreCase {
			return strings.ToLower(v)
		}
		return v
	}
	switch {
	case m.GetExact() != "":
		return s == fold(m.GetExact())
	case m.GetPrefix() != "":
		return strings.HasPrefix(s, fold(m.GetPrefix()))
	case m.GetRegex() != "":
		re, err := regexp.Compile("^(?:" + m.GetRegex() + ")$")
		return err == nil && re.MatchString(s)
	}
	return true
}

// destinations are a route's destinations with the Service each names.
func destinations(r *networking.HTTPRoute, vsNamespace string) []dest {
	var out []dest
	for _, d := range r.GetRoute() {
		x := dest{host: d.GetDestination().GetHost(), subset: d.GetDestination().GetSubset(), port: d.GetDestination().GetPort().GetNumber(), weight: d.GetWeight()}
		x.fqdn, x.namespace, x.name = serviceFQDN(x.host, vsNamespace)
		out = append(out, x)
	}
	return out
}

// serviceFQDN resolves a host as Istio does for Kubernetes Services:
// "web" in the referring namespace, "web.shop", "web.shop.svc",
// "web.shop.svc.cluster.local"; a host of any other form is not a
// Kubernetes Service (a ServiceEntry or an outside name).
func serviceFQDN(host, ns string) (fqdn, namespace, name string) {
	parts := strings.Split(strings.TrimSuffix(host, "."), ".")
	switch {
	case len(parts) == 1:
		return host + "." + ns + ".svc.cluster.local", ns, host
	case len(parts) == 2:
		return host + ".svc.cluster.local", parts[1], parts[0]
	case len(parts) == 3 && parts[2] == "svc":
		return host + ".cluster.local", parts[1], parts[0]
	case len(parts) == 5 && strings.Join(parts[2:], ".") == "svc.cluster.local":
		return host, parts[1], parts[0]
	}
	return host, "", ""
}

// prefetchDestinations starts the reads of the destinations' pods.
func (t *tracer) prefetchDestinations(ctx context.Context, rs routeSel) {
	for _, d := range rs.dests {
		if svc, ok := t.findService(ctx, d.namespace, d.name); ok && len(svc.Spec.Selector) > 0 {
			t.r.podsOf(svc.Namespace, svc.Spec.Selector)
		}
	}
}

// findService finds a Service in the list every trace makes.
func (t *tracer) findService(ctx context.Context, ns, name string) (corev1.Service, bool) {
	if name == "" {
		return corev1.Service{}, false
	}
	svcs, err := t.r.allServices().wait(ctx)
	if err != nil {
		return corev1.Service{}, false
	}
	i := slices.IndexFunc(svcs, func(s corev1.Service) bool { return s.Namespace == ns && s.Name == name })
	if i < 0 {
		return corev1.Service{}, false
	}
	return svcs[i], true
}

// virtualServiceHop shows the route the gateway picks, or why there is
// none; end says why the path stops here without a problem (a redirect, a
// direct response).
func (t *tracer) virtualServiceHop(b *backend, sel serverSel, rs routeSel) (h Hop, end string) {
	if rs.err != nil {
		return unknownHop(HopVirtualService, "?", "list the VirtualServices", rs.err), ""
	}
	gwObj := "Gateway " + sel.gatewayRef()
	if len(rs.bound) == 0 {
		h = newHop(HopVirtualService, "none")
		h.add(Broken, findings.TraceNoVirtualService.New(gwObj,
			fmt.Sprintf("no VirtualService bound to the Gateway (and allowed by its server hosts %s) routes host %s: the gateway answers 404", strings.Join(sel.server.GetHosts(), ", "), b.req.host),
			fmt.Sprintf("bind one: a VirtualService with hosts [%s] and gateways [%s] in a namespace the server's hosts allow", b.req.host, sel.gatewayRef())))
		return h, ""
	}
	var names []string
	for _, vs := range rs.bound {
		names = append(names, vs.Namespace+"/"+vs.Name)
	}
	if rs.vs == nil {
		h = newHop(HopVirtualService, names[0])
		h.see("host %s bound by %s", rs.host, strings.Join(names, ", "))
		for _, s := range rs.skipped {
			h.see("%s, which a plain request does not carry", s)
		}
		h.add(Broken, findings.TraceNoRoute.New("VirtualService "+names[0],
			fmt.Sprintf("no route matches %s%s (routes: %s): the gateway answers 404", b.req.host, b.req.path, routeSummary(rs.bound)),
			fmt.Sprintf("add a route for %s (a match on uri prefix, or a last route without a match) to VirtualService %s", b.req.path, names[0])))
		return h, ""
	}
	h = newHop(HopVirtualService, rs.vs.Namespace+"/"+rs.vs.Name)
	h.see("host %s bound by %s; route %s: %s", rs.host, strings.Join(names, ", "), routeName(rs.route, rs.index), rs.why)
	for _, s := range rs.skipped {
		h.see("%s, which a plain request does not carry", s)
	}
	r := rs.route
	switch {
	case r.GetRedirect() != nil:
		rd := r.GetRedirect()
		h.see("redirects (%d) to %s%s", orCode(rd.GetRedirectCode(), 301), orText(rd.GetAuthority(), b.req.host), orText(rd.GetUri(), b.req.path))
		return h, "redirect by the VirtualService"
	case r.GetDirectResponse() != nil:
		h.see("answers %d itself (directResponse)", r.GetDirectResponse().GetStatus())
		return h, fmt.Sprintf("direct response %d", r.GetDirectResponse().GetStatus())
	case r.GetDelegate() != nil:
		h.add(Warning, findings.TraceNotFollowed.New("VirtualService "+h.Name, fmt.Sprintf("the route delegates to VirtualService %s/%s, which trace does not follow", orText(r.GetDelegate().GetNamespace(), rs.vs.Namespace), r.GetDelegate().GetName()), ""))
		return h, ""
	case len(rs.dests) == 0:
		h.add(Broken, findings.TraceNoRoute.New("VirtualService "+h.Name, "the matching route has no destination", "give the route a destination"))
	}
	for _, d := range rs.dests {
		port := ""
		if d.port != 0 {
			port = fmt.Sprintf(":%d", d.port)
		}
		weight := ""
		if len(rs.dests) > 1 {
			weight = fmt.Sprintf(" (weight %d)", d.weight)
		}
		h.see("→ %s%s%s", d.host, port, weight)
	}
	return h, ""
}

func routeSummary(vss []*istionet.VirtualService) string {
	var parts []string
	for _, vs := range vss {
		for i, r := range vs.Spec.GetHttp() {
			m := "every request"
			if len(r.GetMatch()) > 0 {
				var ms []string
				for _, x := range r.GetMatch() {
					ms = append(ms, describeMatch(x))
				}
				m = strings.Join(ms, " or ")
			}
			parts = append(parts, routeName(r, i)+": "+m)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

func orCode(c, fallback uint32) uint32 {
	if c == 0 {
		return fallback
	}
	return c
}

// podsMatching keeps the pods a label set selects.
func podsMatching(pods []corev1.Pod, sel map[string]string) []corev1.Pod {
	s := labels.SelectorFromSet(sel)
	var out []corev1.Pod
	for _, p := range pods {
		if s.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out
}
