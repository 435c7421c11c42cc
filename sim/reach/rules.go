// Package reach models which Kubernetes control planes a simulated
// cluster's workloads (istiod, above all) can open a connection to, as GKE's
// settings decide it, and enforces that model with a CONNECT proxy that each
// locally running istiod uses for everything but its own API server.
//
// The model, from GKE's and Cloud Service Mesh's documentation:
//   - A caller inside a cluster connects from a Pod address: VPC-native Pod
//     addresses are routable and GKE's ip-masq-agent does not masquerade
//     traffic to private ranges, so the control plane sees the Pod range.
//     This is why Cloud Service Mesh's multi-cluster guide adds each calling
//     cluster's ipAllocationPolicy.clusterIpv4CidrBlock to the remote
//     cluster's authorized networks.
//   - The private endpoint is an internal passthrough load balancer: only
//     callers in the same VPC network reach it, only from its own region
//     unless master global access is on, and, with master authorized
//     networks on, only from the listed blocks. An istiod Pod may get any
//     address of its Pod range, so a block counts only when it covers the
//     whole range.
//   - The public endpoint, when enabled, is reached from an external address:
//     public nodes have one, private nodes do not (Cloud NAT is not
//     modelled). The simulator reports gcpPublicCidrsAccessEnabled, so with
//     authorized networks on, Compute Engine addresses are still admitted.
//   - A refused connection is dropped, not reset: the caller sees a
//     connection timeout, as with a real private endpoint out of reach.
package reach

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/meshctl/meshctl/sim/scenario"
)

// HTTPSPort is the only port GKE's control-plane endpoints answer on.
const HTTPSPort = 443

// Endpoint kinds a destination address can be.
const (
	PrivateEndpoint = "private"
	PublicEndpoint  = "public"
)

// Verdict is the outcome of one connection attempt under the model.
type Verdict struct {
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason"`
}

func allow(format string, a ...any) Verdict {
	return Verdict{Allowed: true, Reason: fmt.Sprintf(format, a...)}
}

func deny(format string, a ...any) Verdict {
	return Verdict{Reason: fmt.Sprintf(format, a...)}
}

// EndpointKind says which of target's endpoints addr is, if any.
func EndpointKind(target scenario.Scenario, addr netip.Addr) string {
	switch addr.String() {
	case target.PrivateEndpointIP():
		return PrivateEndpoint
	case target.PublicEndpointIP():
		return PublicEndpoint
	}
	return ""
}

// Decide says whether a workload in caller's Pods can connect to target's
// control plane at addr:port.
func Decide(caller, target scenario.Scenario, addr netip.Addr, port int) Verdict {
	kind := EndpointKind(target, addr)
	if kind == "" {
		return deny("%s is not an endpoint of %s", addr, name(target))
	}
	if port != HTTPSPort {
		return deny("%s's %s endpoint answers only on port %d, not %d", name(target), kind, HTTPSPort, port)
	}
	if kind == PublicEndpoint {
		return decidePublic(caller, target)
	}
	return decidePrivate(caller, target)
}

func decidePrivate(caller, target scenario.Scenario) Verdict {
	if same(caller, target) {
		return allow("%s's own control plane", name(target))
	}
	if caller.Project != target.Project || caller.Network != target.Network {
		return deny("%s is in network %s/%s, %s in %s/%s: no route to the private endpoint",
			name(caller), caller.Project, caller.Network, name(target), target.Project, target.Network)
	}
	if caller.Region != target.Region && !target.MasterGlobalAccess {
		return deny("%s's private endpoint is reachable only from %s (master global access is off) and %s is in %s",
			name(target), target.Region, name(caller), caller.Region)
	}
	if target.AuthorizedNetworksOn() {
		if block, ok := covering(target.AuthorizedNetworks, caller.PodRange()); ok {
			return allow("%s's Pod range %s is in %s's authorized network %s", name(caller), caller.PodRange(), name(target), block)
		}
		return deny("%s's Pod range %s is not in %s's authorized networks [%s]",
			name(caller), caller.PodRange(), name(target), strings.Join(target.AuthorizedNetworks, ", "))
	}
	return allow("%s's private endpoint admits the whole network (no authorized networks)", name(target))
}

func decidePublic(caller, target scenario.Scenario) Verdict {
	if target.PrivateEndpoint {
		return deny("%s's public endpoint is disabled (private endpoint only)", name(target))
	}
	if caller.Private {
		return deny("%s has private nodes: no external address to reach %s's public endpoint from (Cloud NAT is not simulated)",
			name(caller), name(target))
	}
	if target.AuthorizedNetworksOn() {
		return allow("%s's nodes have Compute Engine external addresses, which %s admits (gcpPublicCidrsAccessEnabled)", name(caller), name(target))
	}
	return allow("%s's public endpoint admits every address", name(target))
}

// covering finds the authorized block that holds all of r.
func covering(blocks []string, r netip.Prefix) (string, bool) {
	for _, b := range blocks {
		p, err := netip.ParsePrefix(b)
		if err != nil {
			continue
		}
		p = p.Masked()
		if p.Bits() <= r.Bits() && p.Contains(r.Addr()) {
			return b, true
		}
	}
	return "", false
}

func same(a, b scenario.Scenario) bool {
	return a.Project == b.Project && a.Location == b.Location && a.Cluster == b.Cluster
}

func name(s scenario.Scenario) string { return s.Cluster }
