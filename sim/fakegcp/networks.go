package fakegcp

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/meshctl/meshctl/sim/scenario"
)

func networkKind() *kind {
	return &kind{
		collection: "networks", method: "networks", apiKind: "compute#network",
		typeName: "network", quota: "NETWORKS",
		patch:      true,
		outputOnly: []string{"subnetworks", "selfLinkWithId", "peerings"},
		verbs:      peeringVerbs(),
		prepare: func(_ *Server, c *change) *APIError {
			setDefault(c.next, "networkFirewallPolicyEnforcementOrder", "AFTER_CLASSIC_FIREWALL")
			// Google makes a legacy network when the field is absent; the
			// simulator, which has none, makes a custom-mode one.
			setDefault(c.next, "autoCreateSubnetworks", false)
			if c.prev != nil && c.prev["autoCreateSubnetworks"] != c.next["autoCreateSubnetworks"] {
				return errInvalidField("resource.autoCreateSubnetworks", c.next["autoCreateSubnetworks"], "The subnet mode of a network cannot be changed by a patch.")
			}
			return nil
		},
		// The network lists its subnetworks, as they are now.
		render: func(s *Server, r *resource, out map[string]any) {
			out["selfLinkWithId"] = computeBase + "projects/" + r.ref.Project + "/global/networks/" + strconv.FormatUint(r.id, 10)
			var subs []any
			for _, sub := range s.allOf(kinds[regionalScope]["subnetworks"]) {
				if ref, ok := parseRef(str(sub.obj, "network"), s.project, "global", "networks"); ok && s.canonicalRef(ref).Path() == r.ref.Path() {
					subs = append(subs, sub.ref.Link())
				}
			}
			if len(subs) > 0 {
				out["subnetworks"] = subs
			}
			s.renderPeerings(r, out)
		},
		// A new network has Google's default route to the internet and, in
		// auto mode, a subnetwork in the region; they go with it.
		created: func(s *Server, r *resource, at time.Time) {
			s.seedSystemRoute(r, "0.0.0.0/0", map[string]any{
				"nextHopGateway": computeBase + "projects/" + s.project + "/global/gateways/default-internet-gateway",
				"description":    "Default route to the Internet.",
			}, at)
			if boolean(r.obj, "autoCreateSubnetworks") {
				// Google makes one in every region; the fake in the regions
				// its clusters are in, with Google's ranges.
				seen := map[string]bool{}
				for _, sc := range s.seededScenarios() {
					if !seen[sc.Region] {
						seen[sc.Region] = true
						s.seedSubnetwork(r, r.ref.Name, sc.Region, scenario.RegionSubnet(sc.Region), at)
					}
				}
			}
		},
	}
}

func subnetworkKind() *kind {
	return &kind{
		collection: "subnetworks", method: "subnetworks", apiKind: "compute#subnetwork",
		typeName: "subnetwork", scope: regionalScope, quota: "SUBNETWORKS",
		patch: true, fingerprint: true,
		outputOnly: []string{"gatewayAddress", "state"},
		refs:       []refField{{path: "network", collections: []string{"networks"}}},
		prepare:    prepareSubnetwork,
		verbs: map[string]verb{
			"setPrivateIpGoogleAccess": {opType: "setPrivateIpGoogleAccess", edit: setPrivateIPGoogleAccess},
			"expandIpCidrRange":        {opType: "expandIpCidrRange", edit: expandIPCidrRange},
		},
		// A subnetwork has Google's local route to its range; it goes with it.
		created: func(s *Server, r *resource, at time.Time) {
			s.seedSystemRoute(r, str(r.obj, "ipCidrRange"), map[string]any{
				"nextHopNetwork": str(r.obj, "network"),
				"priority":       0,
				"description":    "Default local route to the subnetwork " + str(r.obj, "ipCidrRange") + ".",
			}, at)
		},
	}
}

// prepareSubnetwork fills the defaults the recordings show and checks the
// range: a valid CIDR that overlaps no other subnetwork of the network,
// changed only by expanding it (not by a patch).
func prepareSubnetwork(s *Server, c *change) *APIError {
	sub := c.next
	if str(sub, "network") == "" {
		return errRequired("resource.network")
	}
	cidr := str(sub, "ipCidrRange")
	if cidr == "" {
		return errRequired("resource.ipCidrRange")
	}
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil || !prefix.Addr().Is4() || prefix.Masked() != prefix || prefix.Bits() > 29 {
		return errInvalidField("resource.ipCidrRange", cidr, "The range must be an IPv4 network in CIDR form, at most /29.")
	}
	if c.prev != nil {
		if cidr != str(c.prev, "ipCidrRange") {
			return errInvalidField("resource.ipCidrRange", cidr, "The range of a subnetwork is changed with expandIpCidrRange, not patch.")
		}
		if !sameNetwork(s, str(c.prev, "network"), str(sub, "network")) {
			return errInvalidField("resource.network", str(sub, "network"), "The network of a subnetwork cannot be changed.")
		}
	} else if err := s.checkSubnetOverlap(c.r, str(sub, "network"), prefix); err != nil {
		return err
	}
	setDefault(sub, "purpose", "PRIVATE")
	if p := str(sub, "purpose"); p == "REGIONAL_MANAGED_PROXY" || p == "GLOBAL_MANAGED_PROXY" {
		setDefault(sub, "role", "ACTIVE")
	}
	setDefault(sub, "privateIpGoogleAccess", false)
	setDefault(sub, "privateIpv6GoogleAccess", "DISABLE_GOOGLE_ACCESS")
	setDefault(sub, "stackType", "IPV4_ONLY")
	sub["state"] = "READY"
	sub["gatewayAddress"] = prefix.Addr().Next().String()
	return nil
}

func setPrivateIPGoogleAccess(_ *Server, c *change) *APIError {
	v, ok := c.call.body["privateIpGoogleAccess"].(bool)
	if !ok {
		return errRequired("privateIpGoogleAccess")
	}
	c.next["privateIpGoogleAccess"] = v
	return nil
}

// expandIpCidrRange widens a subnetwork's range; the new range must contain
// the old one and overlap no other subnetwork of the network.
func expandIPCidrRange(s *Server, c *change) *APIError {
	cidr := str(c.call.body, "ipCidrRange")
	wider, err := netip.ParsePrefix(cidr)
	old, _ := netip.ParsePrefix(str(c.prev, "ipCidrRange"))
	if err != nil || wider.Masked() != wider || wider.Bits() >= old.Bits() || !wider.Contains(old.Addr()) {
		return errInvalidField("ipCidrRange", cidr, "The new range must be a wider network containing "+old.String()+".")
	}
	if err := s.checkSubnetOverlap(c.r, str(c.prev, "network"), wider); err != nil {
		return err
	}
	// The range changes here, not through a patch, so prepareSubnetwork
	// must see it as the previous range too.
	c.next["ipCidrRange"] = cidr
	c.prev = copyObject(c.prev)
	c.prev["ipCidrRange"] = cidr
	return nil
}

// checkSubnetOverlap refuses a range overlapping another subnetwork of the
// same network, in Google's words.
func (s *Server) checkSubnetOverlap(self *resource, network string, prefix netip.Prefix) *APIError {
	for _, other := range s.allOf(kinds[regionalScope]["subnetworks"]) {
		if other == self || !sameNetwork(s, str(other.obj, "network"), network) {
			continue
		}
		if op, err := netip.ParsePrefix(str(other.obj, "ipCidrRange")); err == nil && op.Overlaps(prefix) {
			return errInvalid("Invalid IPCidrRange: %s conflicts with existing subnetwork '%s' in region '%s'.",
				prefix, other.ref.Name, strings.TrimPrefix(other.ref.Scope, "regions/"))
		}
	}
	return nil
}

func sameNetwork(s *Server, a, b string) bool {
	ra, oka := parseRef(a, s.project, "global", "networks")
	rb, okb := parseRef(b, s.project, "global", "networks")
	return oka && okb && s.canonicalRef(ra).Path() == s.canonicalRef(rb).Path()
}

// subnetworkAt finds a visible subnetwork by link. Called with s.mu held.
func (s *Server) subnetworkAt(link string) *resource {
	ref, ok := parseRef(link, s.project, "", "subnetworks")
	if !ok {
		return nil
	}
	r := s.resources[s.canonicalRef(ref).Path()]
	if r == nil || r.obj == nil {
		return nil
	}
	return r
}

// subnetworkOf is the network's subnetwork in a region when it has one
// (the first by name when it has several), for requests that leave the
// subnetwork out.
func (s *Server) subnetworkOf(network, scope string) *resource {
	for _, sub := range s.inScope(kindAt(scope, "subnetworks"), scope) {
		if sameNetwork(s, str(sub.obj, "network"), network) && str(sub.obj, "purpose") == "PRIVATE" {
			return sub
		}
	}
	return nil
}

// seedNetwork makes a network that exists before the simulation starts: the
// project's auto-mode "default" network, or the scenario's custom-mode one
// with the cluster's subnetwork. Called with s.mu held (or before serving).
func (s *Server) seedNetwork(name string, now time.Time) {
	s.seedNetworkIn(s.project, name, now)
}

// seedNetworkIn is seedNetwork in project: the scenario's network is in
// its Shared VPC host project.
func (s *Server) seedNetworkIn(project, name string, now time.Time) {
	if name == "" {
		return
	}
	network := map[string]any{"autoCreateSubnetworks": false}
	if name == "default" {
		network = map[string]any{"autoCreateSubnetworks": true, "description": "Default network for the project"}
	}
	net := s.seedIn(project, kindOf("networks"), "global", name, network, now)
	if net == nil || name == "default" {
		return // an auto-mode network's subnetworks come with it (created)
	}
	// The subnetwork of each simulated cluster on this network, in its region.
	for _, sc := range s.seededScenarios() {
		if sc.Network != name {
			continue
		}
		subnet := sc.Subnetwork
		if subnet == "" {
			subnet = "default"
		}
		s.seedSubnetwork(net, subnet, sc.Region, sc.SubnetRange().String(), now)
	}
}

// seededScenarios are the shapes of the simulated clusters, the scenario's
// first, from the options (so they are known before the clusters are seeded).
func (s *Server) seededScenarios() []scenario.Scenario {
	out := []scenario.Scenario{s.sc}
	for _, more := range s.opts.MoreClusters {
		out = append(out, more.Scenario)
	}
	return out
}

// seedSubnetwork makes a subnetwork of a network that comes with it (an
// auto-mode network's, or the scenario's own). Called with s.mu held.
func (s *Server) seedSubnetwork(network *resource, name, region, cidr string, now time.Time) {
	sub := s.seedIn(network.ref.Project, kindAt("regions/"+region, "subnetworks"), "regions/"+region, name,
		map[string]any{"network": network.ref.Link(), "ipCidrRange": cidr}, now)
	if sub != nil && network.kind.collection == "networks" && boolean(network.obj, "autoCreateSubnetworks") {
		sub.ownedBy = network.ref.Path()
	}
}

// seedSystemRoute makes one of the routes Google keeps for a network or a
// subnetwork, named default-route-<hash> and deleted with its owner.
func (s *Server) seedSystemRoute(owner *resource, destRange string, hop map[string]any, now time.Time) {
	network := owner.ref.Link()
	if owner.kind.collection == "subnetworks" {
		network = str(owner.obj, "network")
	}
	route := map[string]any{"network": network, "destRange": destRange, "priority": 1000}
	for k, v := range hop {
		route[k] = v
	}
	r := s.seedIn(owner.ref.Project, kindOf("routes"), "global", "default-route-"+fnvHex(owner.ref.Path())+fnvHex(destRange), route, now)
	if r != nil {
		r.ownedBy = owner.ref.Path()
	}
}

// seed stores an object that exists from the start, with no operation, and
// returns it (nil when it already exists).
func (s *Server) seed(k *kind, scope, name string, state map[string]any, now time.Time) *resource {
	return s.seedIn(s.project, k, scope, name, state, now)
}

// seedIn is seed in project (a Shared VPC's host project, or the server's).
func (s *Server) seedIn(project string, k *kind, scope, name string, state map[string]any, now time.Time) *resource {
	ref := resourceRef{Project: project, Scope: scope, Collection: k.collection, Name: name}
	if s.resources[ref.Path()] != nil {
		return nil
	}
	r := &resource{kind: k, ref: ref, id: s.newID()}
	if err := s.completeChange(&change{call: &apiCall{}, r: r, next: state}); err != nil {
		panic("fakegcp: seeding " + ref.Path() + ": " + err.Message)
	}
	state["creationTimestamp"] = googleTime(now)
	r.obj = state
	s.resources[ref.Path()] = r
	if k.created != nil {
		k.created(s, r, now)
	}
	return r
}
