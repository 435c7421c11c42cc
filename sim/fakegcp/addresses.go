package fakegcp

import (
	"fmt"
	"net/netip"
)

func addressKind() *kind {
	return &kind{
		collection: "addresses", method: "globalAddresses", apiKind: "compute#address",
		typeName: "address", labels: true,
		outputOnly: []string{"users", "status"},
		refs:       []refField{{path: "network", collections: []string{"networks"}, keepRelative: true}},
		prepare: func(s *Server, c *change) *APIError {
			ip := str(c.next, "address")
			if ip == "" {
				c.next["address"] = s.allocateAddress()
			} else if _, err := netip.ParseAddr(ip); err != nil {
				return errInvalidField("resource.address", ip, "The IP address is invalid.")
			}
			return nil
		},
		// The recordings show no status on an address nobody uses; one in
		// use lists its users and is IN_USE.
		render: func(s *Server, r *resource, out map[string]any) {
			if users := s.addressUsers(r, false); len(users) > 0 {
				out["users"] = toAnyList(users)
				out["status"] = "IN_USE"
			}
		},
		users: addressUserPaths,
		verbs: map[string]verb{"setLabels": setLabelsVerb()},
	}
}

// addressUserPaths lists (by path) the forwarding rules using an address,
// those being created included, as a delete must count them.
func addressUserPaths(s *Server, r *resource) []string {
	var paths []string
	for _, link := range s.addressUsers(r, true) {
		if ref, ok := parseRef(link, s.project, r.ref.Scope); ok {
			paths = append(paths, ref.Path())
		}
	}
	return paths
}

// addressUsers lists the forwarding rules (of the address's scope) serving
// on the address's IP;
// withPending counts those still being created, as a delete must.
func (s *Server) addressUsers(addr *resource, withPending bool) []string {
	ip := str(addr.obj, "address")
	var users []string
	for _, path := range sortedKeys(s.resources) {
		r := s.resources[path]
		if r.kind.collection != "forwardingRules" || r.ref.Scope != addr.ref.Scope {
			continue
		}
		state := r.obj
		if state == nil && withPending && r.pending != nil {
			state = r.pending.next
		}
		if state != nil && str(state, "IPAddress") == ip {
			users = append(users, r.ref.Link())
		}
	}
	return users
}

// allocateAddress hands out a global anycast-looking IPv4 address.
func (s *Server) allocateAddress() string {
	s.addrSeq++
	return fmt.Sprintf("34.120.%d.%d", s.addrSeq/250, s.addrSeq%250+1)
}

// regionAddressKind: regional addresses, external or INTERNAL (taken from a
// subnetwork's range, for an internal load balancer's forwarding rule).
// Recorded: an address nobody uses is RESERVED, its subnetwork link stays as
// it was sent, and an internal address has purpose GCE_ENDPOINT.
func regionAddressKind() *kind {
	return &kind{
		collection: "addresses", method: "addresses", apiKind: "compute#address",
		typeName: "address", labels: true, scope: regionalScope,
		outputOnly: []string{"users", "status"},
		refs: []refField{
			{path: "subnetwork", collections: []string{"subnetworks"}, keepRelative: true, sameScope: true},
			{path: "network", collections: []string{"networks"}, keepRelative: true},
		},
		prepare: prepareRegionAddress,
		render: func(s *Server, r *resource, out map[string]any) {
			out["status"] = "RESERVED"
			if users := s.addressUsers(r, false); len(users) > 0 {
				out["users"] = toAnyList(users)
				out["status"] = "IN_USE"
			}
		},
		users: addressUserPaths,
		verbs: map[string]verb{"setLabels": setLabelsVerb()},
	}
}

func prepareRegionAddress(s *Server, c *change) *APIError {
	a := c.next
	setDefault(a, "addressType", "EXTERNAL")
	setDefault(a, "networkTier", "PREMIUM")
	switch str(a, "addressType") {
	case "EXTERNAL":
		if str(a, "subnetwork") != "" {
			return errInvalidField("resource.subnetwork", str(a, "subnetwork"), "An EXTERNAL address cannot have a subnetwork.")
		}
		return allocateOrCheck(a, func() string { return s.allocateRegionalExternal() })
	case "INTERNAL":
	default:
		return errInvalidField("resource.addressType", str(a, "addressType"), "Must be INTERNAL or EXTERNAL.")
	}
	setDefault(a, "purpose", "GCE_ENDPOINT")
	if str(a, "subnetwork") == "" {
		sub := s.subnetworkOf("projects/"+s.project+"/global/networks/default", c.r.ref.Scope)
		if sub == nil {
			return errRequired("resource.subnetwork")
		}
		a["subnetwork"] = sub.ref.Link()
	}
	sub := s.subnetworkAt(str(a, "subnetwork"))
	if sub == nil {
		return nil // resolving the reference answers 404
	}
	if ip := str(a, "address"); ip != "" && !s.knobs.AcceptNormalisedAddresses && !inSubnet(sub, ip) {
		return errInvalidField("resource.address", ip, "The IP address must be in the range "+str(sub.obj, "ipCidrRange")+" of subnetwork '"+sub.ref.Path()+"'.")
	}
	return allocateOrCheck(a, func() string { return s.allocateInternal(sub) })
}

// allocateOrCheck gives an address without one an IP, and checks one given.
func allocateOrCheck(a map[string]any, allocate func() string) *APIError {
	ip := str(a, "address")
	if ip == "" {
		a["address"] = allocate()
		return nil
	}
	if _, err := netip.ParseAddr(ip); err != nil {
		return errInvalidField("resource.address", ip, "The IP address is invalid.")
	}
	return nil
}

// allocateRegionalExternal hands out a regional external IPv4 address.
func (s *Server) allocateRegionalExternal() string {
	s.addrSeq++
	return fmt.Sprintf("35.202.%d.%d", s.addrSeq/250, s.addrSeq%250+1)
}

// allocateInternal hands out the lowest free address of a subnetwork's
// range, after the gateway, as Google does: not a node's, an address's or a
// forwarding rule's. Called with s.mu held.
func (s *Server) allocateInternal(sub *resource) string {
	prefix, err := netip.ParsePrefix(str(sub.obj, "ipCidrRange"))
	if err != nil {
		return ""
	}
	used := map[string]bool{}
	for _, n := range s.nodes() {
		used[n.ip] = true
	}
	for _, r := range s.resources {
		for _, state := range []map[string]any{r.obj, pendingState(r)} {
			used[str(state, "address")], used[str(state, "IPAddress")] = true, true
			for _, nic := range list(state, "networkInterfaces") { // VMs
				if m, ok := nic.(map[string]any); ok {
					used[str(m, "networkIP")] = true
				}
			}
		}
	}
	for ip := prefix.Addr().Next().Next(); prefix.Contains(ip); ip = ip.Next() {
		if !used[ip.String()] {
			return ip.String()
		}
	}
	return ""
}

func pendingState(r *resource) map[string]any {
	if r.pending != nil {
		return r.pending.next
	}
	return nil
}

func inSubnet(sub *resource, ip string) bool {
	prefix, perr := netip.ParsePrefix(str(sub.obj, "ipCidrRange"))
	addr, aerr := netip.ParseAddr(ip)
	return perr == nil && aerr == nil && prefix.Contains(addr)
}
