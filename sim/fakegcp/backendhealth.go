package fakegcp

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// healthCheckSourceRanges are the ranges Google's health checkers (and the
// external Application Load Balancer's proxies) connect from; a firewall rule
// must let both in for a backend to be healthy.
var healthCheckSourceRanges = []netip.Prefix{
	netip.MustParsePrefix("35.191.0.0/16"),
	netip.MustParsePrefix("130.211.0.0/22"),
}

// backendServiceHealth is backendServices.getHealth for one backend group.
//
// As at Google, a backend service is only health checked once it serves:
// until a forwarding rule leads to it (forwarding rule → target proxy → URL
// map → backend service) the answer carries no healthStatus. An endpoint is
// HEALTHY when its pod is ready, the pod serves the port the health check
// probes, and the project's firewall lets the health checkers reach that
// port on the nodes; otherwise it is UNHEALTHY.
func backendServiceHealth(s *Server, c *apiCall, bs *resource) (any, *APIError) {
	group := str(c.body, "group")
	ref, ok := parseRef(group, s.project, "", "networkEndpointGroups", "instanceGroups")
	if !ok {
		return nil, errInvalidField("resource.group", group, "The URL is malformed.")
	}
	ref = s.canonicalRef(ref)
	if !slices.Contains(s.refsIn(bs.kind, bs.obj), ref.Path()) {
		return nil, errInvalidField("resource.group", group, "The backend service '"+bs.ref.Path()+"' does not contain this group.")
	}
	resp := map[string]any{"kind": "compute#backendServiceGroupHealth"}
	fr := s.frontendOf(bs)
	neg := s.resources[ref.Path()]
	if fr == nil || neg == nil || neg.obj == nil {
		return resp, nil
	}
	var hc map[string]any
	if links := strList(bs.obj, "healthChecks"); len(links) > 0 {
		if hcRef, ok := parseRef(links[0], s.project, "global", "healthChecks"); ok {
			if r := s.resources[s.canonicalRef(hcRef).Path()]; r != nil {
				hc = r.obj
			}
		}
	}
	var statuses []any
	for _, ep := range neg.endpoints {
		state := "UNHEALTHY"
		if s.endpointHealthy(hc, ep) {
			state = "HEALTHY"
		}
		statuses = append(statuses, map[string]any{
			"ipAddress":        ep.IPAddress,
			"port":             ep.Port,
			"instance":         instanceLink(s.project, ref.Scope, ep.Instance),
			"healthState":      state,
			"forwardingRule":   str(fr.obj, "selfLink"),
			"forwardingRuleIp": str(fr.obj, "IPAddress"),
		})
	}
	if len(statuses) > 0 {
		resp["healthStatus"] = statuses
	}
	return resp, nil
}

func (s *Server) endpointHealthy(hc map[string]any, ep Endpoint) bool {
	if hc == nil || !ep.Ready {
		return false
	}
	port := int(healthCheckPort(hc))
	if port == 0 {
		port = ep.Port
	}
	return slices.Contains(ep.ServedPorts, port) && s.healthCheckersAllowed(port)
}

// frontendOf finds a forwarding rule whose traffic reaches the backend
// service, by name order; nil when none does.
func (s *Server) frontendOf(bs *resource) *resource {
	for _, fr := range s.allOf(kindOf("forwardingRules")) {
		proxyRef, ok := parseRef(str(fr.obj, "target"), s.project, "global", "targetHttpsProxies", "targetHttpProxies")
		if !ok {
			continue
		}
		proxy := s.resources[s.canonicalRef(proxyRef).Path()]
		if proxy == nil || proxy.obj == nil {
			continue
		}
		mapRef, ok := parseRef(str(proxy.obj, "urlMap"), s.project, "global", "urlMaps")
		if !ok {
			continue
		}
		urlMap := s.resources[s.canonicalRef(mapRef).Path()]
		if urlMap != nil && urlMap.obj != nil && slices.Contains(s.refsIn(urlMap.kind, urlMap.obj), bs.ref.Path()) {
			return fr
		}
	}
	return nil
}

// healthCheckersAllowed evaluates the VPC firewall as Google does for
// traffic from each health-check range to port on the cluster's nodes: the
// matching rule with the best (lowest) priority decides, a deny wins a tie,
// and with no matching rule the implied deny applies.
func (s *Server) healthCheckersAllowed(port int) bool {
	for _, source := range healthCheckSourceRanges {
		if !s.ingressAllowed(source, port) {
			return false
		}
	}
	return true
}

func (s *Server) ingressAllowed(source netip.Prefix, port int) bool {
	return s.ingressAllowedTo(s.sc.NetworkProject(), s.sc.Network, s.targetsNodes, source, port)
}

// ingressAllowedTo evaluates the ingress rules of project's network that
// targets accepts, for TCP from source to port. On a Shared VPC only the
// host project's rules are the network's: a rule on a network of the same
// name in the cluster's own project is another network's. Called with
// s.mu held.
func (s *Server) ingressAllowedTo(project, network string, targets func(map[string]any) bool, source netip.Prefix, port int) bool {
	best, allowed := int64(1<<31), false
	for _, fw := range s.allOf(kindOf("firewalls")) {
		f := fw.obj
		if boolean(f, "disabled") || (str(f, "direction") != "" && str(f, "direction") != "INGRESS") {
			continue
		}
		netRef, ok := parseRef(str(f, "network"), fw.ref.Project, "global", "networks")
		if !ok || netRef.Name != network || s.canonicalRef(netRef).Project != project {
			continue
		}
		if !targets(f) || !sourceCovers(f, source) {
			continue
		}
		allows, denies := rulesCover(list(f, "allowed"), port), rulesCover(list(f, "denied"), port)
		if !allows && !denies {
			continue
		}
		priority, ok := num(f, "priority")
		if !ok {
			priority = 1000
		}
		if priority < best || (priority == best && denies) {
			best, allowed = priority, allows
		}
	}
	return allowed
}

// targetsNodes: a rule applies to the cluster's nodes when it names their
// network tag or service account, or targets every instance.
func (s *Server) targetsNodes(f map[string]any) bool {
	tags, accounts := strList(f, "targetTags"), strList(f, "targetServiceAccounts")
	if len(tags) == 0 && len(accounts) == 0 {
		return true
	}
	return slices.Contains(tags, s.sc.NodeTag()) || slices.Contains(accounts, s.sc.NodeServiceAccount())
}

// sourceCovers: a rule with no source at all admits every address.
func sourceCovers(f map[string]any, source netip.Prefix) bool {
	ranges := strList(f, "sourceRanges")
	if len(ranges) == 0 && len(strList(f, "sourceTags")) == 0 && len(strList(f, "sourceServiceAccounts")) == 0 {
		ranges = []string{"0.0.0.0/0"}
	}
	for _, r := range ranges {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			if a, aerr := netip.ParseAddr(r); aerr == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				continue
			}
		}
		if p.Bits() <= source.Bits() && p.Contains(source.Addr()) {
			return true
		}
	}
	return false
}

// rulesCover reports whether allowed/denied entries match TCP on port.
func rulesCover(entries []any, port int) bool {
	for _, e := range entries {
		entry, ok := e.(map[string]any)
		if !ok {
			continue
		}
		proto := strings.ToLower(str(entry, "IPProtocol"))
		if proto != "tcp" && proto != "all" && proto != "6" {
			continue
		}
		ports := strList(entry, "ports")
		if len(ports) == 0 {
			return true
		}
		for _, p := range ports {
			lo, hi, _ := strings.Cut(p, "-")
			if hi == "" {
				hi = lo
			}
			l, lerr := strconv.Atoi(lo)
			h, herr := strconv.Atoi(hi)
			if lerr == nil && herr == nil && port >= l && port <= h {
				return true
			}
		}
	}
	return false
}

func instanceLink(project, scope, instance string) string {
	if strings.Contains(instance, "/") {
		if ref, ok := parseRef(instance, project, scope, "instances"); ok {
			return ref.Link()
		}
	}
	return computeBase + "projects/" + project + "/" + scope + "/instances/" + instance
}
