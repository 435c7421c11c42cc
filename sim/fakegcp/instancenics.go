package fakegcp

import "fmt"

// prepareInstanceNICs completes an instance's network interfaces as
// Compute does: each is nicN on a network (the project's default when none
// is named) and a subnetwork of that network in the instance's region (the
// network's own there when none is named; a custom-mode network without
// one refuses), with an internal address from the subnetwork unless one was
// asked for, which must lie in it; an access config gets an external
// address. The VM's address, network and tags are what the reachability
// model and `meshsim vm` read. The wording of the refusals is a guess in
// Google's style.
func (s *Server) prepareInstanceNICs(c *change) *APIError {
	scope := "regions/" + regionOfZone(zoneOf(c.r.ref.Scope))
	for i, e := range list(c.next, "networkInterfaces") {
		nic, ok := e.(map[string]any)
		field := fmt.Sprintf("resource.networkInterfaces[%d]", i)
		if !ok {
			return errInvalidField(field, e, "A network interface is an object.")
		}
		setDefault(nic, "kind", "compute#networkInterface")
		setDefault(nic, "name", fmt.Sprintf("nic%d", i))
		setDefault(nic, "stackType", "IPV4_ONLY")
		setDefault(nic, "network", "projects/"+s.project+"/global/networks/default")
		var sub *resource
		if link := str(nic, "subnetwork"); link != "" {
			if sub = s.subnetworkAt(link); sub == nil {
				return errNotFound(link)
			}
			if !sameNetwork(s, str(sub.obj, "network"), str(nic, "network")) {
				return errInvalidField(field+".subnetwork", link, "The subnetwork must belong to the network "+str(nic, "network")+".")
			}
		} else if sub = s.subnetworkOf(str(nic, "network"), scope); sub == nil {
			return errInvalidField(field+".subnetwork", "", "The network has no subnetwork in "+scopeWords(scope)+"; name one.")
		} else {
			nic["subnetwork"] = sub.ref.Link()
		}
		if ip := str(nic, "networkIP"); ip == "" {
			nic["networkIP"] = s.allocateInternal(sub)
		} else if !inSubnet(sub, ip) {
			return errInvalidField(field+".networkIP", ip, "The IP address must be in the range "+str(sub.obj, "ipCidrRange")+" of subnetwork '"+sub.ref.Path()+"'.")
		}
		for _, ac := range list(nic, "accessConfigs") {
			if access, ok := ac.(map[string]any); ok {
				setDefault(access, "kind", "compute#accessConfig")
				setDefault(access, "type", "ONE_TO_ONE_NAT")
				setDefault(access, "networkTier", "PREMIUM")
				setDefault(access, "natIP", s.allocateRegionalExternal())
			}
		}
	}
	return nil
}
