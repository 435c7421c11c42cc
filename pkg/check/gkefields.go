package check

import "cloud.google.com/go/container/apiv1/containerpb"

// GKE moved the private-cluster settings from privateClusterConfig and
// masterAuthorizedNetworksConfig to controlPlaneEndpointsConfig and
// networkConfig, and still returns both. These helpers read the new
// fields and fall back to the old ones, which older clusters and API
// answers carry alone; the deprecated reads are kept here only.

// privateNodes reports whether the cluster's nodes have no public address.
func privateNodes(cl *containerpb.Cluster) bool {
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

// privateEndpointOnly reports whether the control plane has no public
// endpoint.
func privateEndpointOnly(cl *containerpb.Cluster) bool {
	if ip := cl.GetControlPlaneEndpointsConfig().GetIpEndpointsConfig(); ip != nil && ip.EnablePublicEndpoint != nil {
		return !ip.GetEnablePublicEndpoint()
	}
	return cl.GetPrivateClusterConfig().GetEnablePrivateEndpoint() //nolint:staticcheck // the legacy field, still returned
}

// privateEndpoint is the control plane's private address.
func privateEndpoint(cl *containerpb.Cluster) string {
	if ep := cl.GetControlPlaneEndpointsConfig().GetIpEndpointsConfig().GetPrivateEndpoint(); ep != "" {
		return ep
	}
	return cl.GetPrivateClusterConfig().GetPrivateEndpoint() //nolint:staticcheck // the legacy field, still returned
}

// authorizedNetworks returns whether master authorized networks are on,
// and their CIDR blocks.
func authorizedNetworks(cl *containerpb.Cluster) (bool, []string) {
	man := cl.GetControlPlaneEndpointsConfig().GetIpEndpointsConfig().GetAuthorizedNetworksConfig()
	if man == nil {
		man = cl.GetMasterAuthorizedNetworksConfig() //nolint:staticcheck // the legacy field, still returned
	}
	var cidrs []string
	for _, b := range man.GetCidrBlocks() {
		cidrs = append(cidrs, b.GetCidrBlock())
	}
	return man.GetEnabled(), cidrs
}

// masterCIDR is the control plane's range on a VPC-peering private
// cluster; empty for Private Service Connect clusters.
func masterCIDR(cl *containerpb.Cluster) string {
	return cl.GetPrivateClusterConfig().GetMasterIpv4CidrBlock()
}
