package scenario

import "fmt"

// OnNetworks puts clusters shaped by Clusters on n VPC networks of their
// project, taken in turn (meshsim up --networks N): with n > 1 each network
// is a custom-mode one named <cluster>-net-<i> (s's cluster name, before
// numbering) with one subnetwork per region it has clusters in, named
// <network>-<region>. Its range in a region is the region's auto-mode range
// moved by one /20 per network, so no two networks overlap and they can be
// peered, as VPC Network Peering requires. With n = 1 the clusters stay on
// s's network.
//
// Different networks are what Istio calls a multi-network mesh: Pods of one
// cluster cannot reach Pods of another, and each cluster's istiod sends
// traffic for the other network through that network's east-west gateway.
func (s Scenario) OnNetworks(clusters []Scenario, n int) ([]Scenario, error) {
	if n < 1 || n > len(clusters) {
		return nil, fmt.Errorf("--networks %d: between 1 and the number of clusters (%d)", n, len(clusters))
	}
	if n == 1 {
		return clusters, nil
	}
	out := make([]Scenario, len(clusters))
	for i, c := range clusters {
		c = c.clone()
		k := i % n
		c.Network = fmt.Sprintf("%s-net-%d", s.Cluster, k+1)
		c.Subnetwork = c.Network + "-" + c.Region
		c.SubnetCIDR = nthNetworkSubnet(RegionSubnet(c.Region), k)
		if c.Private && len(c.AuthorizedNetworks) == 1 && c.AuthorizedNetworks[0] == clusters[i].SubnetCIDR {
			// Clusters gave a private cluster its own subnet as its only
			// authorized network: the subnet it now has.
			c.AuthorizedNetworks = []string{c.SubnetCIDR}
		}
		if err := c.Validate(); err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// nthNetworkSubnet is the k-th /20 from a region's auto-mode range
// (10.128.0.0/20, 10.128.16.0/20, ...): the auto-mode ranges are /20s
// spaced at least a /16 apart, so these never meet another region's.
func nthNetworkSubnet(regionRange string, k int) string {
	return nthPrefix(prefixOr(regionRange, defaultSubnetCIDR), k).String()
}
