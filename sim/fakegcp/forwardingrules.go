package fakegcp

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

func forwardingRuleKind() *kind {
	return &kind{
		collection: "forwardingRules", method: "globalForwardingRules", apiKind: "compute#forwardingRule",
		typeName: "forwarding_rule", quota: "FORWARDING_RULES",
		patch: true, fingerprint: true, labels: true,
		// Recorded: labels sent with the insert of a global forwarding rule
		// are not kept; they are set with setLabels afterwards.
		insertDropsLabels: true,
		refs: []refField{
			{path: "target", collections: []string{"targetHttpsProxies", "targetHttpProxies"}},
		},
		prepare: prepareForwardingRule,
		verbs: map[string]verb{
			"setLabels": setLabelsVerb(),
			"setTarget": {opType: "SetTarget", edit: setTarget},
		},
	}
}

// prepareForwardingRule fills Google's defaults, normalises the port range
// ("443" becomes "443-443") and resolves the IP: an address reference
// becomes the address's IP, and no IP gets an ephemeral one.
func prepareForwardingRule(s *Server, c *change) *APIError {
	fr := c.next
	if str(fr, "target") == "" {
		return errRequired("resource.target")
	}
	setDefault(fr, "IPProtocol", "TCP")
	setDefault(fr, "networkTier", "PREMIUM")
	setDefault(fr, "loadBalancingScheme", "EXTERNAL")
	if err := normalisePortRange(fr); err != nil {
		return err
	}
	ip := str(fr, "IPAddress")
	if _, err := netip.ParseAddr(ip); err == nil {
		return nil
	}
	if ip == "" {
		fr["IPAddress"] = s.allocateAddress()
		return nil
	}
	ref, ok := parseRef(ip, s.project, "global", "addresses")
	if !ok {
		return errInvalidField("resource.IPAddress", ip, "The IP address or address URL is malformed.")
	}
	addr, err := s.visible(s.canonicalRef(ref))
	if err != nil {
		return err
	}
	if addr.pending != nil && addr.pending.opType == "delete" {
		return errNotReady(addr.ref.Path())
	}
	fr["IPAddress"] = str(addr.obj, "address")
	return nil
}

func setTarget(_ *Server, c *change) *APIError {
	target := str(c.call.body, "target")
	if target == "" {
		return errRequired("target")
	}
	c.next["target"] = target
	return nil
}

// regionForwardingRuleKind is the front end of the regional load
// balancers: the internal passthrough one (INTERNAL, to a backend service,
// optionally reachable from every region with allowGlobalAccess), the
// regional application load balancers (INTERNAL_MANAGED, EXTERNAL_MANAGED,
// to a regional target proxy) and the external passthrough one (EXTERNAL,
// to a backend service).
func regionForwardingRuleKind() *kind {
	return &kind{
		collection: "forwardingRules", method: "forwardingRules", apiKind: "compute#forwardingRule",
		typeName: "forwarding_rule", scope: regionalScope,
		patch: true, fingerprint: true, labels: true,
		// Recorded: as for global ones, labels sent with the insert are not kept.
		insertDropsLabels: true,
		refs: []refField{
			{path: "target", collections: []string{"targetHttpProxies", "targetHttpsProxies"}, sameScope: true},
			{path: "backendService", collections: []string{"backendServices"}, sameScope: true},
			{path: "network", collections: []string{"networks"}},
			{path: "subnetwork", collections: []string{"subnetworks"}, sameScope: true},
		},
		prepare: prepareRegionForwardingRule,
		// Routes whose next hop is the rule (by link or by its IP) use it.
		users: func(s *Server, r *resource) []string {
			var users []string
			for _, rt := range s.allOf(kindOf("routes")) {
				if hop := str(rt.obj, "nextHopIlb"); hop == r.ref.Link() || (hop != "" && hop == str(r.obj, "IPAddress")) {
					users = append(users, rt.ref.Path())
				}
			}
			return users
		},
		// Recorded: regional forwarding rules carry selfLinkWithId.
		render: func(_ *Server, r *resource, out map[string]any) {
			out["selfLinkWithId"] = computeBase + "projects/" + r.ref.Project + "/" + r.ref.Scope + "/forwardingRules/" + strconv.FormatUint(r.id, 10)
		},
		verbs: map[string]verb{
			"setLabels": setLabelsVerb(),
			"setTarget": {opType: "SetTarget", edit: setTarget},
		},
	}
}

var regionalSchemes = []string{"EXTERNAL", "EXTERNAL_MANAGED", "INTERNAL", "INTERNAL_MANAGED"}

// prepareRegionForwardingRule fills Google's defaults and checks the rule
// against its scheme. The wording of errors the recordings do not show is
// a guess in Google's style.
func prepareRegionForwardingRule(s *Server, c *change) *APIError {
	fr := c.next
	setDefault(fr, "IPProtocol", "TCP")
	setDefault(fr, "networkTier", "PREMIUM")
	setDefault(fr, "loadBalancingScheme", "EXTERNAL")
	scheme := str(fr, "loadBalancingScheme")
	if !slices.Contains(regionalSchemes, scheme) {
		return errInvalidField("resource.loadBalancingScheme", scheme, "Regional forwarding rules support EXTERNAL, EXTERNAL_MANAGED, INTERNAL and INTERNAL_MANAGED.")
	}
	proxied := strings.HasSuffix(scheme, "_MANAGED")
	switch {
	case proxied && str(fr, "target") == "":
		return errRequired("resource.target")
	case !proxied && str(fr, "backendService") == "":
		return errRequired("resource.backendService")
	case !proxied && str(fr, "target") != "":
		return errInvalidField("resource.target", str(fr, "target"), "A forwarding rule with load balancing scheme "+scheme+" sends traffic to a backend service, not a target.")
	}
	if err := prepareRegionPorts(fr, proxied); err != nil {
		return err
	}
	if err := prepareGlobalAccess(fr, scheme); err != nil {
		return err
	}
	internal := strings.HasPrefix(scheme, "INTERNAL")
	if internal {
		setDefault(fr, "network", "projects/"+s.project+"/global/networks/default")
		if str(fr, "subnetwork") == "" {
			sub := s.subnetworkOf(str(fr, "network"), c.r.ref.Scope)
			if sub == nil {
				return errInvalidField("resource.subnetwork", "", "The network has no subnetwork in "+scopeWords(c.r.ref.Scope)+"; name one.")
			}
			fr["subnetwork"] = sub.ref.Link()
		}
		if label := str(fr, "serviceLabel"); label != "" {
			layer := "il4" // the internal passthrough (layer 4) load balancer
			if proxied {
				layer = "il7"
			}
			fr["serviceName"] = label + "." + c.r.ref.Name + "." + layer + "." + strings.TrimPrefix(c.r.ref.Scope, "regions/") + ".lb." + s.project + ".internal"
		}
	}
	if proxied {
		if err := s.requireProxyOnlySubnet(c.r.ref.Scope, str(fr, "network"), scheme); err != nil {
			return err
		}
	}
	if c.prev != nil && str(c.prev, "IPAddress") == str(fr, "IPAddress") {
		return nil // the address does not change
	}
	return s.regionForwardingRuleIP(c, internal)
}

// prepareRegionPorts: a passthrough rule forwards allPorts or up to five
// ports; a proxy's rule listens on a port range ("80" becomes "80-80").
func prepareRegionPorts(fr map[string]any, proxied bool) *APIError {
	if proxied {
		return normalisePortRange(fr)
	}
	ports := strList(fr, "ports")
	switch {
	case boolean(fr, "allPorts") && len(ports) > 0:
		return errInvalidField("resource.ports", ports, "ports cannot be set together with allPorts.")
	case len(ports) > 5:
		return errInvalidField("resource.ports", ports, "At most 5 ports may be specified.")
	case !boolean(fr, "allPorts") && len(ports) == 0 && str(fr, "portRange") == "":
		return errInvalidField("resource.ports", "", "Specify ports, a port range or allPorts.")
	}
	return normalisePortRange(fr)
}

// prepareGlobalAccess: only internal rules can be reached from other
// regions; Google leaves the field out when it is false (recorded).
func prepareGlobalAccess(fr map[string]any, scheme string) *APIError {
	v, set := fr["allowGlobalAccess"]
	if !set {
		return nil
	}
	if b, _ := v.(bool); !b {
		delete(fr, "allowGlobalAccess")
		return nil
	}
	if !strings.HasPrefix(scheme, "INTERNAL") {
		return errInvalidField("resource.allowGlobalAccess", true, "allowGlobalAccess is only supported for INTERNAL and INTERNAL_MANAGED forwarding rules.")
	}
	return nil
}

// requireProxyOnlySubnet: a regional managed load balancer's proxies run in
// the region's proxy-only subnetwork, which must exist in its network.
func (s *Server) requireProxyOnlySubnet(scope, network, scheme string) *APIError {
	if network == "" {
		network = "projects/" + s.project + "/global/networks/default"
	}
	netRef, _ := parseRef(network, s.project, "global", "networks")
	for _, sub := range s.inScope(kindAt(scope, "subnetworks"), scope) {
		ref, ok := parseRef(str(sub.obj, "network"), s.project, "global", "networks")
		if ok && ref.Name == netRef.Name && str(sub.obj, "purpose") == "REGIONAL_MANAGED_PROXY" && str(sub.obj, "role") == "ACTIVE" {
			return nil
		}
	}
	return errInvalid("An active proxy-only subnetwork is required in the same region and VPC network as the forwarding rule (load balancing scheme %s). Create a subnetwork with purpose REGIONAL_MANAGED_PROXY and role ACTIVE in %s.", scheme, scopeWords(scope))
}

// regionForwardingRuleIP settles the rule's address: a regional address
// reference becomes its IP, none gets one from the subnetwork (internal) or
// Google's pool (external), and an internal IP must lie in the subnetwork.
func (s *Server) regionForwardingRuleIP(c *change, internal bool) *APIError {
	fr := c.next
	ip := str(fr, "IPAddress")
	var sub *resource
	if internal {
		sub = s.subnetworkAt(str(fr, "subnetwork"))
	}
	switch {
	case ip == "" && internal && sub != nil:
		fr["IPAddress"] = s.allocateInternal(sub)
	case ip == "":
		fr["IPAddress"] = s.allocateRegionalExternal()
	default:
		if _, err := netip.ParseAddr(ip); err != nil {
			ref, ok := parseRef(ip, s.project, c.r.ref.Scope, "addresses")
			if !ok || ref.Scope != c.r.ref.Scope {
				return errInvalidField("resource.IPAddress", ip, "The IP address or address URL is malformed.")
			}
			addr, aerr := s.visible(s.canonicalRef(ref))
			if aerr != nil {
				return aerr
			}
			ip = str(addr.obj, "address")
			fr["IPAddress"] = ip
		}
		if internal && sub != nil && !s.knobs.AcceptNormalisedAddresses && !inSubnet(sub, ip) {
			return errInvalidField("resource.IPAddress", ip, "The IP address must be in the range "+str(sub.obj, "ipCidrRange")+" of subnetwork '"+sub.ref.Path()+"'.")
		}
	}
	return nil
}

// normalisePortRange turns "443" into "443-443", as Google answers.
func normalisePortRange(fr map[string]any) *APIError {
	pr := str(fr, "portRange")
	if pr == "" {
		return nil
	}
	lo, hi, found := strings.Cut(pr, "-")
	if !found {
		hi = lo
	}
	l, lerr := strconv.Atoi(lo)
	h, herr := strconv.Atoi(hi)
	if lerr != nil || herr != nil || l < 1 || h > 65535 || l > h {
		return errInvalidField("resource.portRange", pr, "The port range is invalid.")
	}
	fr["portRange"] = lo + "-" + hi
	return nil
}
