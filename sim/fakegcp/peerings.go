package fakegcp

import (
	"net/netip"
	"slices"
	"time"
)

// VPC Network Peering: networks.addPeering and networks.removePeering. Each
// side is set up on its own network; a peering is ACTIVE only while the
// peer network has a peering back, INACTIVE otherwise, and the network
// shows its peerings with that state. Peered networks exchange their subnet
// routes, so their subnetworks must not overlap: Google refuses such a
// peering when it is added.
//
// Not recorded: the wording of the refusals and of stateDetails follows
// Google's documentation and style; the field set is the API reference's.

func peeringVerbs() map[string]verb {
	return map[string]verb{
		"addPeering":    {opType: "addPeering", edit: addPeering},
		"removePeering": {opType: "removePeering", edit: removePeering},
	}
}

// addPeering takes networkPeering {name, network, exchangeSubnetRoutes,
// export/importCustomRoutes, ...} as gcloud sends it, or the older
// top-level name, peerNetwork and autoCreateRoutes.
func addPeering(s *Server, c *change) *APIError {
	p := copyObject(obj(c.call.body, "networkPeering"))
	if p == nil {
		p = map[string]any{"name": str(c.call.body, "name"), "network": str(c.call.body, "peerNetwork"),
			"exchangeSubnetRoutes": boolean(c.call.body, "autoCreateRoutes")}
	}
	name, peer := str(p, "name"), str(p, "network")
	if name == "" {
		return errRequired("networkPeering.name")
	}
	if !nameRE.MatchString(name) {
		return errInvalidField("networkPeering.name", name, "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
	}
	if peer == "" {
		return errRequired("networkPeering.network")
	}
	peerRef, ok := parseRef(peer, s.project, "global", "networks")
	if !ok {
		return errInvalidField("networkPeering.network", peer, "The URL is malformed.")
	}
	peerRef = s.canonicalRef(peerRef)
	if peerRef.Path() == c.r.ref.Path() {
		return errInvalid("Invalid value for field 'networkPeering.network': '%s'. A network cannot be peered with itself.", peer)
	}
	peerNet, err := s.visible(peerRef)
	if err != nil {
		return err
	}
	for _, e := range list(c.next, "peerings") {
		existing, _ := e.(map[string]any)
		if str(existing, "name") == name {
			return errInvalid("There is already a peering named '%s' on network '%s'.", name, c.r.ref.Name)
		}
		if ref, ok := parseRef(str(existing, "network"), s.project, "global", "networks"); ok && s.canonicalRef(ref).Path() == peerRef.Path() {
			return errInvalid("There is already a peering '%s' between network '%s' and network '%s'.", str(existing, "name"), c.r.ref.Name, peerRef.Name)
		}
	}
	if err := s.checkPeeringOverlap(c.r, peerNet); err != nil {
		return err
	}
	p["network"] = peerRef.Link()
	setDefault(p, "exchangeSubnetRoutes", true)
	setDefault(p, "autoCreateRoutes", true)
	setDefault(p, "exportCustomRoutes", false)
	setDefault(p, "importCustomRoutes", false)
	setDefault(p, "exportSubnetRoutesWithPublicIp", true)
	setDefault(p, "importSubnetRoutesWithPublicIp", false)
	setDefault(p, "stackType", "IPV4_ONLY")
	p["peerMtu"] = 1460
	p["connectedSince"] = googleTime(time.Now())
	c.next["peerings"] = append(slices.Clone(list(c.next, "peerings")), p)
	return nil
}

// removePeering takes {name}.
func removePeering(_ *Server, c *change) *APIError {
	name := str(c.call.body, "name")
	if name == "" {
		return errRequired("name")
	}
	peerings := list(c.next, "peerings")
	i := slices.IndexFunc(peerings, func(e any) bool { m, _ := e.(map[string]any); return str(m, "name") == name })
	if i < 0 {
		return errInvalid("There is no peering named '%s' on network '%s'.", name, c.r.ref.Name)
	}
	c.next["peerings"] = slices.Delete(slices.Clone(peerings), i, i+1)
	if len(list(c.next, "peerings")) == 0 {
		delete(c.next, "peerings")
	}
	return nil
}

// checkPeeringOverlap refuses peering networks whose subnetworks overlap.
func (s *Server) checkPeeringOverlap(local, peer *resource) *APIError {
	subnets := s.allOf(kinds[regionalScope]["subnetworks"])
	for _, mine := range subnets {
		if !sameNetwork(s, str(mine.obj, "network"), local.ref.Link()) {
			continue
		}
		mp, err := netip.ParsePrefix(str(mine.obj, "ipCidrRange"))
		if err != nil {
			continue
		}
		for _, theirs := range subnets {
			if !sameNetwork(s, str(theirs.obj, "network"), peer.ref.Link()) {
				continue
			}
			if tp, err := netip.ParsePrefix(str(theirs.obj, "ipCidrRange")); err == nil && tp.Overlaps(mp) {
				return errInvalid("An IP range in the peer network (%s) overlaps with an IP range in the local network (%s) allocated by resource (%s).",
					tp, mp, mine.ref.Path())
			}
		}
	}
	return nil
}

// renderPeerings adds each peering's state as the network is read: ACTIVE
// when the peer network has a peering back to this one.
func (s *Server) renderPeerings(r *resource, out map[string]any) {
	peerings := list(out, "peerings")
	for i, e := range peerings {
		p, _ := e.(map[string]any)
		p = copyObject(p)
		since := str(p, "connectedSince")
		delete(p, "connectedSince")
		if s.peered(r, str(p, "network")) {
			p["state"], p["stateDetails"] = "ACTIVE", "["+since+"]: Connected."
		} else {
			p["state"], p["stateDetails"] = "INACTIVE", "["+since+"]: Waiting for peer network to connect."
		}
		peerings[i] = p
	}
}

// peered reports whether the network at peerLink has a peering back to r.
// Called with s.mu held.
func (s *Server) peered(r *resource, peerLink string) bool {
	ref, ok := parseRef(peerLink, s.project, "global", "networks")
	if !ok {
		return false
	}
	peer := s.resources[s.canonicalRef(ref).Path()]
	if peer == nil || peer.obj == nil {
		return false
	}
	for _, e := range list(peer.obj, "peerings") {
		back, _ := e.(map[string]any)
		if sameNetwork(s, str(back, "network"), r.ref.Link()) {
			return true
		}
	}
	return false
}

// NetworksPeered reports whether two networks of the project (by name or
// link) are connected by an ACTIVE peering: a peering on each side naming
// the other. The reachability model asks it.
func (s *Server) NetworksPeered(a, b string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	ra, ok := parseRef(a, s.project, "global", "networks")
	if !ok {
		return false
	}
	local := s.resources[s.canonicalRef(ra).Path()]
	if local == nil || local.obj == nil {
		return false
	}
	for _, e := range list(local.obj, "peerings") {
		p, _ := e.(map[string]any)
		if sameNetwork(s, str(p, "network"), b) && s.peered(local, str(p, "network")) {
			return true
		}
	}
	return false
}
