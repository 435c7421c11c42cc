// Package gkecluster reads a GKE Cluster's settings one way for every
// capability: private nodes and endpoints, authorized networks, master
// global access, the network and the Pod range.
//
// GKE moved the private-cluster settings from privateClusterConfig and
// masterAuthorizedNetworksConfig to controlPlaneEndpointsConfig and
// networkConfig, and still returns both. These functions read the new
// fields and fall back to the old ones, which older clusters and API
// answers carry alone; the deprecated reads are kept here only.
package gkecluster

import (
	"net/netip"
	"regexp"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
)

// PrivateNodes reports whether the cluster's nodes have no public address.
func PrivateNodes(cl *containerpb.Cluster) bool {
	if cl.GetNetworkConfig().GetDefaultEnablePrivateNodes() {
		return true
	}
	for _, p := range cl.GetNodePools() {
		if p.GetNetworkConfig().GetEnablePrivateNodes() {
			return true
		}
	}
	return cl.GetPrivateClusterConfig().GetEnablePrivateNodes() //nolint:staticcheck // the legacy field, still returned
}

// PrivateEndpointOnly reports whether the control plane has no public
// endpoint.
func PrivateEndpointOnly(cl *containerpb.Cluster) bool {
	if ip := cl.GetControlPlaneEndpointsConfig().GetIpEndpointsConfig(); ip != nil && ip.EnablePublicEndpoint != nil {
		return !ip.GetEnablePublicEndpoint()
	}
	return cl.GetPrivateClusterConfig().GetEnablePrivateEndpoint() //nolint:staticcheck // the legacy field, still returned
}

// PrivateEndpoint is the control plane's private address.
func PrivateEndpoint(cl *containerpb.Cluster) string {
	if ep := cl.GetControlPlaneEndpointsConfig().GetIpEndpointsConfig().GetPrivateEndpoint(); ep != "" {
		return ep
	}
	return cl.GetPrivateClusterConfig().GetPrivateEndpoint() //nolint:staticcheck // the legacy field, still returned
}

// AuthorizedNetworksConfig is the master authorized networks' setting.
func AuthorizedNetworksConfig(cl *containerpb.Cluster) *containerpb.MasterAuthorizedNetworksConfig {
	if man := cl.GetControlPlaneEndpointsConfig().GetIpEndpointsConfig().GetAuthorizedNetworksConfig(); man != nil {
		return man
	}
	return cl.GetMasterAuthorizedNetworksConfig() //nolint:staticcheck // the legacy field, still returned
}

// AuthorizedNetworks returns whether master authorized networks are on,
// and their CIDR blocks.
func AuthorizedNetworks(cl *containerpb.Cluster) (bool, []string) {
	man := AuthorizedNetworksConfig(cl)
	var cidrs []string
	for _, b := range man.GetCidrBlocks() {
		cidrs = append(cidrs, b.GetCidrBlock())
	}
	return man.GetEnabled(), cidrs
}

// GlobalAccess reports whether the private endpoint admits callers from
// every region of the network (master global access).
func GlobalAccess(cl *containerpb.Cluster) bool {
	if ip := cl.GetControlPlaneEndpointsConfig().GetIpEndpointsConfig(); ip != nil && ip.GlobalAccess != nil {
		return ip.GetGlobalAccess()
	}
	return cl.GetPrivateClusterConfig().GetMasterGlobalAccessConfig().GetEnabled() //nolint:staticcheck // the legacy field, still returned
}

// MasterCIDR is the control plane's range on a VPC-peering private
// cluster; empty for Private Service Connect clusters.
func MasterCIDR(cl *containerpb.Cluster) string {
	return cl.GetPrivateClusterConfig().GetMasterIpv4CidrBlock()
}

// PodRange is the cluster's Pod range (VPC-native:
// ipAllocationPolicy.clusterIpv4CidrBlock; routes-based: clusterIpv4Cidr).
func PodRange(cl *containerpb.Cluster) (netip.Prefix, bool) {
	raw := cl.GetIpAllocationPolicy().GetClusterIpv4CidrBlock()
	if raw == "" {
		raw = cl.GetClusterIpv4Cidr()
	}
	p, err := netip.ParsePrefix(raw)
	if err != nil {
		return netip.Prefix{}, false
	}
	return p.Masked(), true
}

// Network returns the project holding the cluster's VPC (the host project
// for a Shared VPC) and the network's name.
func Network(cl *containerpb.Cluster, project string) (string, string) {
	if p, n, ok := ParseNetworkLink(cl.GetNetworkConfig().GetNetwork()); ok {
		return p, n
	}
	if n := cl.GetNetwork(); n != "" {
		return project, n
	}
	return project, "default"
}

// ParseNetworkLink reads ".../projects/P/global/networks/N".
func ParseNetworkLink(link string) (project, network string, ok bool) {
	segs := strings.Split(strings.Trim(link, "/"), "/")
	for i := 0; i+4 < len(segs); i++ {
		if segs[i] == "projects" && segs[i+2] == "global" && segs[i+3] == "networks" {
			return segs[i+1], segs[i+4], true
		}
	}
	return "", "", false
}

// SameNetwork reports whether a firewall rule's network link names
// project's network.
func SameNetwork(link, project, network string) bool {
	p, n, ok := ParseNetworkLink(link)
	if !ok {
		// A bare name or "global/networks/N" is in the rule's own project.
		return link == network || strings.HasSuffix(link, "/networks/"+network)
	}
	return p == project && n == network
}

// NodeTag is the network tag GKE puts on the cluster's nodes, read from
// GKE's own firewall rules for the cluster (gke-NAME-HASH-all, -vms,
// -master), which target it; "" when none of rules is one of them.
func NodeTag(cluster string, rules []*computepb.Firewall) string {
	re := regexp.MustCompile(`^gke-` + regexp.QuoteMeta(cluster) + `-[0-9a-z]+-(all|vms|master)$`)
	for _, r := range rules {
		if re.MatchString(r.GetName()) && len(r.GetTargetTags()) > 0 {
			return r.GetTargetTags()[0]
		}
	}
	return ""
}

// IsEndpoint reports whether host is one of the cluster's control-plane
// addresses (a remote secret's server names one): endpoint (the private
// one when the public is off), or the public and private endpoints GKE
// lists apart.
func IsEndpoint(cl *containerpb.Cluster, host string) bool {
	if host == "" {
		return false
	}
	public := cl.GetControlPlaneEndpointsConfig().GetIpEndpointsConfig().GetPublicEndpoint()
	if public == "" {
		public = cl.GetPrivateClusterConfig().GetPublicEndpoint() //nolint:staticcheck // the legacy field, still returned
	}
	return host == strings.TrimPrefix(cl.GetEndpoint(), "https://") || host == public || host == PrivateEndpoint(cl)
}

// Region is a location's region: a zone without its letter, a region as
// it is.
func Region(location string) string {
	n := len(location)
	if n > 2 && location[n-2] == '-' && location[n-1] >= 'a' && location[n-1] <= 'z' {
		return location[:n-2]
	}
	return location
}
