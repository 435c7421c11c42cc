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
		users: func(s *Server, r *resource) []string {
			var paths []string
			for _, link := range s.addressUsers(r, true) {
				if ref, ok := parseRef(link, s.project, "global"); ok {
					paths = append(paths, ref.Path())
				}
			}
			return paths
		},
		verbs: map[string]verb{"setLabels": setLabelsVerb()},
	}
}

// addressUsers lists the forwarding rules serving on the address's IP;
// withPending counts those still being created, as a delete must.
func (s *Server) addressUsers(addr *resource, withPending bool) []string {
	ip := str(addr.obj, "address")
	var users []string
	for _, path := range sortedKeys(s.resources) {
		r := s.resources[path]
		if r.kind.collection != "forwardingRules" {
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
