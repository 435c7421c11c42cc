package fakegcp

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// What the reachability model reads of the project, at the moment it
// decides: the internal passthrough load balancers, the VMs, and the
// firewall. Read under the lock, so an update through the API counts at
// once.

// InternalLB is an INTERNAL regional forwarding rule and the instances
// behind it.
type InternalLB struct {
	Name, Region string
	// Network and Subnetwork are names in the project.
	Network, Subnetwork string
	IP                  netip.Addr
	Ports               []string
	AllPorts            bool
	GlobalAccess        bool
	Description         string
	BackendService      string
	// Backends are the instances of the backend service's groups and
	// BackendTags their network tags, which firewall rules target.
	Backends    []string
	BackendTags []string
}

// InternalLoadBalancers lists the project's internal passthrough load
// balancers.
func (s *Server) InternalLoadBalancers() []InternalLB {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	var out []InternalLB
	for _, fr := range s.allOf(kinds[regionalScope]["forwardingRules"]) {
		if str(fr.obj, "loadBalancingScheme") != "INTERNAL" {
			continue
		}
		ip, err := netip.ParseAddr(str(fr.obj, "IPAddress"))
		if err != nil {
			continue
		}
		lb := InternalLB{Name: fr.ref.Name, Region: strings.TrimPrefix(fr.ref.Scope, "regions/"),
			Network: lastSegment(str(fr.obj, "network")), Subnetwork: lastSegment(str(fr.obj, "subnetwork")), IP: ip,
			Ports: strList(fr.obj, "ports"), AllPorts: boolean(fr.obj, "allPorts"), GlobalAccess: boolean(fr.obj, "allowGlobalAccess"),
			Description: str(fr.obj, "description"), BackendService: lastSegment(str(fr.obj, "backendService"))}
		lb.Backends, lb.BackendTags = s.backendInstances(str(fr.obj, "backendService"), fr.ref.Scope)
		out = append(out, lb)
	}
	return out
}

// backendInstances are the instances in a backend service's instance
// groups, and their tags. Called with s.mu held.
func (s *Server) backendInstances(link, scope string) (names, tags []string) {
	ref, ok := parseRef(link, s.project, scope, "backendServices")
	if !ok {
		return nil, nil
	}
	bs := s.resources[s.canonicalRef(ref).Path()]
	if bs == nil || bs.obj == nil {
		return nil, nil
	}
	for _, b := range list(bs.obj, "backends") {
		gref, ok := parseRef(str(b.(map[string]any), "group"), s.project, "", "instanceGroups")
		g := s.resources[s.canonicalRef(gref).Path()]
		if !ok || g == nil || g.obj == nil {
			continue
		}
		for _, path := range s.groupMembers(g) {
			iref, _ := parseRef(path, s.project, "", "instances")
			names = append(names, iref.Name)
			for _, t := range s.instanceTags(iref) {
				if !slices.Contains(tags, t) {
					tags = append(tags, t)
				}
			}
		}
	}
	return names, tags
}

// instanceTags reads a created instance's or a node's network tags.
// Called with s.mu held.
func (s *Server) instanceTags(ref resourceRef) []string {
	if r := s.resources[s.canonicalRef(ref).Path()]; r != nil && r.obj != nil {
		return strList(obj(r.obj, "tags"), "items")
	}
	if k := kindAt(ref.Scope, ref.Collection); k != nil {
		if o := s.computedObject(k, ref.Scope, ref.Name); o != nil {
			return strList(obj(o, "tags"), "items")
		}
	}
	return nil
}

// VM is an instance made through the API (not a cluster's node), as the
// reachability model and `meshsim vm` place it.
type VM struct {
	Name, Zone, Region  string
	Network, Subnetwork string
	IP                  netip.Addr
	Tags                []string
}

// VMs lists the instances made through the API, by zone and name.
func (s *Server) VMs() []VM {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	var out []VM
	for _, r := range s.allOf(kinds[zonalScope]["instances"]) {
		nics := list(r.obj, "networkInterfaces")
		if len(nics) == 0 {
			continue
		}
		nic, _ := nics[0].(map[string]any)
		ip, _ := netip.ParseAddr(str(nic, "networkIP"))
		zone := zoneOf(r.ref.Scope)
		out = append(out, VM{Name: r.ref.Name, Zone: zone, Region: regionOfZone(zone), Network: lastSegment(str(nic, "network")),
			Subnetwork: lastSegment(str(nic, "subnetwork")), IP: ip, Tags: strList(obj(r.obj, "tags"), "items")})
	}
	return out
}

// IngressAllowed evaluates the VPC firewall of a network, as Google does,
// for TCP traffic from source to port on instances with one of tags: the
// matching rule with the best (lowest) priority decides, a deny wins a
// tie, and with none the implied deny applies.
func (s *Server) IngressAllowed(network string, tags []string, source netip.Prefix, port int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	project := s.project
	if network == s.sc.Network {
		project = s.sc.NetworkProject()
	}
	return s.ingressAllowedTo(project, network, func(f map[string]any) bool {
		targets := strList(f, "targetTags")
		if len(targets) == 0 && len(strList(f, "targetServiceAccounts")) == 0 {
			return true
		}
		for _, t := range tags {
			if slices.Contains(targets, t) {
				return true
			}
		}
		return false
	}, source, port)
}
