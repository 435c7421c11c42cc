package scenario

import (
	"fmt"
	"net/netip"
	"slices"
)

// MaxClusters bounds `meshsim up --clusters`: each cluster is a whole
// control plane (etcd, kube-apiserver, controller manager, scheduler, kwok).
const MaxClusters = 8

// Clusters shapes n clusters like s in s's project and network: named
// NAME-1 ... NAME-n (s itself when n is 1), in regions taken in turn from
// regions (s's region when none are given), each with its own master range,
// Pod range and its region's subnet, so ranges never overlap. Several
// private clusters with no authorized networks of their own get each its
// own subnet (the usual Terraform setup): no cluster reaches another's
// control plane until someone adds the callers' ranges, and master global
// access across regions.
func (s Scenario) Clusters(n int, regions []string) ([]Scenario, error) {
	if n < 1 || n > MaxClusters {
		return nil, fmt.Errorf("--clusters %d: between 1 and %d clusters", n, MaxClusters)
	}
	for _, r := range regions {
		if !rfc1035.MatchString(r) || isZoneName(r) {
			return nil, fmt.Errorf("--regions: %q is not a region (e.g. us-central1, europe-west1)", r)
		}
	}
	out := make([]Scenario, n)
	for i := range out {
		c := s.clone()
		if n > 1 {
			c.Cluster = fmt.Sprintf("%s-%d", s.Cluster, i+1)
			c.MasterCIDR = nthMasterRange(s.MasterCIDR, i)
			c.PodCIDR = nthPodRange(s.PodRange(), i)
		}
		if len(regions) > 0 {
			c.moveTo(regions[i%len(regions)])
		}
		if n > 1 && c.Private && !c.AuthorizedNetworksOn() {
			c.AuthorizedNetworks = []string{c.SubnetRange().String()}
		}
		if err := c.Validate(); err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// clone copies s deeply enough that changing the copy leaves s alone.
func (s Scenario) clone() Scenario {
	c := s
	c.AuthorizedNetworks = slices.Clone(s.AuthorizedNetworks)
	c.NodePools = make([]NodePool, len(s.NodePools))
	for i, p := range s.NodePools {
		p.Zones = slices.Clone(p.Zones)
		c.NodePools[i] = p
	}
	c.ResourceLabels = make(map[string]string, len(s.ResourceLabels))
	for k, v := range s.ResourceLabels {
		c.ResourceLabels[k] = v
	}
	return c
}

// moveTo makes the cluster a regional one in another region: the node
// pools keep their number of zones, taken from the new region's, and the
// nodes move to that region's subnet.
func (s *Scenario) moveTo(region string) {
	if region == s.Region {
		return
	}
	zones := RegionZones(region)
	for i := range s.NodePools {
		p := &s.NodePools[i]
		for j := range p.Zones {
			p.Zones[j] = zones[j%len(zones)]
		}
	}
	s.Region, s.Location = region, region
	s.SubnetCIDR = RegionSubnet(region)
}

// nthMasterRange is the i-th /28 after the first cluster's master range
// (172.16.0.0/28, 172.16.0.16/28, ...): GKE requires every private
// cluster's master range to be unique in the network.
func nthMasterRange(first string, i int) string {
	return nthPrefix(prefixOr(first, "172.16.0.0/28"), i).String()
}

// nthPrefix is the i-th prefix of p's size after p.
func nthPrefix(p netip.Prefix, i int) netip.Prefix {
	a := p.Addr().As4()
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n += uint32(i) << (32 - p.Bits())
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), p.Bits())
}

// nthPodRange keeps the first cluster's Pod range and gives the others the
// /14s GKE itself allocates from 10.0.0.0/8 (10.4.0.0/14, 10.8.0.0/14, ...),
// below the default network's subnets at 10.128.0.0/9.
func nthPodRange(first netip.Prefix, i int) string {
	if i == 0 {
		return first.String()
	}
	return fmt.Sprintf("10.%d.0.0/14", 4*i)
}

func isZoneName(s string) bool {
	return len(s) > 2 && s[len(s)-2] == '-' && s[len(s)-1] >= 'a' && s[len(s)-1] <= 'z'
}
