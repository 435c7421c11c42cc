package reach

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/scenario"
)

// The model for internal passthrough load balancers (an east-west gateway
// behind GKE's internal LoadBalancer Service), from Google's documentation
// of internal passthrough Network Load Balancers:
//   - clients in the load balancer's VPC network reach it, and clients in a
//     network connected to it by VPC Network Peering (an ACTIVE peering:
//     both sides made it); any other network has no route to its address;
//   - without global access only clients in the load balancer's region
//     reach it, peered ones included; with it (allowGlobalAccess, GKE's
//     networking.gke.io/internal-load-balancer-allow-global-access) clients
//     in every region do;
//   - it forwards only its forwarding rule's ports (or all, with allPorts);
//   - traffic arrives at the backends with the client's address kept, so
//     the VPC firewall of the load balancer's network must admit the
//     client's range to the port on the backends (GKE's k8s-fw-a<UID> rule
//     admits spec.loadBalancerSourceRanges, 0.0.0.0/0 by default);
//   - a client in a cluster connects from its Pod address (VPC-native, not
//     masqueraded to private ranges), a VM from its internal address.
//
// Cloud VPN, Interconnect and Private Service Connect are not modelled.

// LoadBalancerEndpoint is the endpoint kind of an internal load balancer.
const LoadBalancerEndpoint = "internal-lb"

// Network is what the model reads of the project beyond the clusters:
// the fake Compute API (*fakegcp.Server), at the moment it decides.
type Network interface {
	InternalLoadBalancers() []fakegcp.InternalLB
	VMs() []fakegcp.VM
	NetworksPeered(a, b string) bool
	IngressAllowed(network string, tags []string, source netip.Prefix, port int) bool
}

// Caller is where a connection comes from: a cluster's Pods or a VM.
type Caller struct {
	Name    string       `json:"name"`
	Kind    string       `json:"kind"` // "cluster" or "vm"
	Network string       `json:"network"`
	Region  string       `json:"region"`
	Source  netip.Prefix `json:"source"`
}

// ClusterCaller is a cluster's Pods as a caller.
func ClusterCaller(sc scenario.Scenario) Caller {
	return Caller{Name: sc.Cluster, Kind: "cluster", Network: sc.Network, Region: sc.Region, Source: sc.PodRange()}
}

// VMCaller is a VM as a caller.
func VMCaller(vm fakegcp.VM) Caller {
	return Caller{Name: vm.Name, Kind: "vm", Network: vm.Network, Region: vm.Region, Source: netip.PrefixFrom(vm.IP, 32)}
}

// DecideLoadBalancer says whether caller can open a connection to an
// internal load balancer's port.
func DecideLoadBalancer(net Network, caller Caller, lb fakegcp.InternalLB, port int) Verdict {
	if !lb.AllPorts && !slices.Contains(lb.Ports, strconv.Itoa(port)) {
		return deny("forwarding rule %s forwards ports [%s], not %d", lb.Name, strings.Join(lb.Ports, ", "), port)
	}
	how := "in its network " + lb.Network
	if caller.Network != lb.Network {
		if !net.NetworksPeered(caller.Network, lb.Network) {
			return deny("%s is on network %s and forwarding rule %s on %s: no route between them (no active VPC Network Peering)",
				caller.Name, caller.Network, lb.Name, lb.Network)
		}
		how = "over the peering of " + caller.Network + " with " + lb.Network
	}
	where := "in its region " + lb.Region
	if caller.Region != lb.Region {
		if !lb.GlobalAccess {
			return deny("forwarding rule %s answers only clients in %s (global access is off) and %s is in %s",
				lb.Name, lb.Region, caller.Name, caller.Region)
		}
		where = "from " + caller.Region + " with global access"
	}
	if len(lb.Backends) == 0 {
		return deny("forwarding rule %s's backend service %s has no instances behind it", lb.Name, lb.BackendService)
	}
	if !net.IngressAllowed(lb.Network, lb.BackendTags, caller.Source, port) {
		return deny("no firewall rule of network %s admits %s to port %d on the backends (tags %s)",
			lb.Network, caller.Source, port, strings.Join(lb.BackendTags, ", "))
	}
	return allow("%s reaches %s:%d (%s) %s, %s", caller.Name, lb.IP, port, lb.Name, how, where)
}

// LBPath is one caller to one port of an internal load balancer under the
// model.
type LBPath struct {
	From string `json:"from"`
	// FromKind is "cluster" or "vm".
	FromKind string `json:"fromKind"`
	To       string `json:"to"` // the forwarding rule
	// Service is the Kubernetes Service GKE made it for, from the
	// rule's description ("NS/NAME"), when it was.
	Service string `json:"service,omitempty"`
	Address string `json:"address"` // IP:PORT
	Verdict
}

// loadBalancerPaths is the model applied now to every caller (each
// cluster's Pods, each VM) and every port of every internal load balancer.
func loadBalancerPaths(net Network, clusters []scenario.Scenario) []LBPath {
	if net == nil {
		return nil
	}
	var callers []Caller
	for _, c := range clusters {
		callers = append(callers, ClusterCaller(c))
	}
	for _, vm := range net.VMs() {
		callers = append(callers, VMCaller(vm))
	}
	var out []LBPath
	for _, lb := range net.InternalLoadBalancers() {
		for _, port := range lb.Ports {
			p, _ := strconv.Atoi(port)
			for _, caller := range callers {
				out = append(out, LBPath{From: caller.Name, FromKind: caller.Kind, To: lb.Name, Service: serviceOf(lb.Description),
					Address: lb.IP.String() + ":" + port, Verdict: DecideLoadBalancer(net, caller, lb, p)})
			}
		}
	}
	return out
}

// serviceOf reads GKE's {"kubernetes.io/service-name":"NS/NAME"}.
func serviceOf(description string) string {
	const key = `"kubernetes.io/service-name":"`
	_, rest, ok := strings.Cut(description, key)
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, `"`)
	return name
}
