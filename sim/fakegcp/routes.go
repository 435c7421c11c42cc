package fakegcp

import (
	"net/netip"
	"strings"
)

// nextHops are the fields a route may name its next hop in; exactly one
// must be set.
var nextHops = []string{"nextHopGateway", "nextHopIp", "nextHopInstance", "nextHopIlb", "nextHopVpnTunnel", "nextHopNetwork"}

// routeKind: static routes of a VPC network. A route cannot be changed,
// only deleted and made anew. Google's own routes (default-route-*, to the
// internet and to each subnetwork) come and go with their network and
// subnetworks.
func routeKind() *kind {
	return &kind{
		collection: "routes", method: "routes", apiKind: "compute#route",
		typeName: "route", quota: "ROUTES",
		refs: []refField{
			{path: "network", collections: []string{"networks"}},
			{path: "nextHopInstance", collections: []string{"instances"}},
		},
		prepare: prepareRoute,
	}
}

func prepareRoute(s *Server, c *change) *APIError {
	rt := c.next
	if str(rt, "network") == "" {
		return errRequired("resource.network")
	}
	dest := str(rt, "destRange")
	if dest == "" {
		return errRequired("resource.destRange")
	}
	if p, err := netip.ParsePrefix(dest); err != nil || p.Masked() != p {
		return errInvalidField("resource.destRange", dest, "The destination range must be a network in CIDR form.")
	}
	setDefault(rt, "priority", 1000)
	if p, _ := num(rt, "priority"); p < 0 || p > 65535 {
		return errInvalidField("resource.priority", p, "The priority must be between 0 and 65535.")
	}
	var set []string
	for _, h := range nextHops {
		if _, ok := rt[h]; ok {
			set = append(set, h)
		}
	}
	if len(set) != 1 {
		return errInvalid("Invalid value for field 'resource': a route must have exactly one next hop (one of %s); it has %d.", strings.Join(nextHops[:5], ", "), len(set))
	}
	return s.resolveNextHop(rt, set[0])
}

// resolveNextHop checks the hops that are not plain references: the
// internet gateway by name, an IP, or an internal passthrough forwarding
// rule (by link or by its IP).
func (s *Server) resolveNextHop(rt map[string]any, hop string) *APIError {
	v := str(rt, hop)
	switch hop {
	case "nextHopGateway":
		if !strings.HasSuffix(v, "global/gateways/default-internet-gateway") {
			return errInvalidField("resource.nextHopGateway", v, "The only gateway is global/gateways/default-internet-gateway.")
		}
		rt[hop] = computeBase + "projects/" + s.project + "/global/gateways/default-internet-gateway"
	case "nextHopIp":
		if _, err := netip.ParseAddr(v); err != nil {
			return errInvalidField("resource.nextHopIp", v, "The next hop must be an IP address.")
		}
	case "nextHopIlb":
		if _, err := netip.ParseAddr(v); err == nil {
			return nil
		}
		ref, ok := parseRef(v, s.project, "regions/"+s.sc.Region, "forwardingRules")
		if !ok || scopeTypeOf(ref.Scope) != regionalScope {
			return errInvalidField("resource.nextHopIlb", v, "The next hop must be an internal passthrough forwarding rule or its IP address.")
		}
		fr, err := s.visible(s.canonicalRef(ref))
		if err != nil {
			return err
		}
		if str(fr.obj, "loadBalancingScheme") != "INTERNAL" {
			return errInvalidField("resource.nextHopIlb", v, "The forwarding rule must have load balancing scheme INTERNAL.")
		}
		rt[hop] = fr.ref.Link()
	}
	return nil
}
