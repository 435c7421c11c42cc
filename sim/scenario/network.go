package scenario

import (
	"fmt"
	"hash/fnv"
	"net/netip"
)

// The address plan of a cluster, as GKE lays it out: nodes take addresses
// from their region's subnet, Pods from the cluster's Pod range (each node a
// /24 of it), the control plane sits in the master range and answers on its
// second address.
const (
	defaultPodCIDR    = "10.112.0.0/14"
	defaultSubnetCIDR = "10.128.0.0/20"
	defaultPrivateIP  = "10.128.0.2"
)

// region is what the simulator needs to know of a Compute region.
type region struct {
	subnet string   // the auto-mode default network's subnet range there
	zones  []string // zone suffixes, in order
}

// regions are the auto-mode VPC ranges Google assigns per region (the
// default network's subnets), and each region's zones. Regions not listed
// get a range past these and zones a, b and c.
var regions = map[string]region{
	"us-central1":             {"10.128.0.0/20", []string{"a", "b", "c", "f"}},
	"europe-west1":            {"10.132.0.0/20", []string{"b", "c", "d"}},
	"us-west1":                {"10.138.0.0/20", []string{"a", "b", "c"}},
	"asia-east1":              {"10.140.0.0/20", []string{"a", "b", "c"}},
	"us-east1":                {"10.142.0.0/20", []string{"b", "c", "d"}},
	"asia-northeast1":         {"10.146.0.0/20", []string{"a", "b", "c"}},
	"asia-southeast1":         {"10.148.0.0/20", []string{"a", "b", "c"}},
	"us-east4":                {"10.150.0.0/20", []string{"a", "b", "c"}},
	"australia-southeast1":    {"10.152.0.0/20", []string{"a", "b", "c"}},
	"europe-west2":            {"10.154.0.0/20", []string{"a", "b", "c"}},
	"europe-west3":            {"10.156.0.0/20", []string{"a", "b", "c"}},
	"southamerica-east1":      {"10.158.0.0/20", []string{"a", "b", "c"}},
	"asia-south1":             {"10.160.0.0/20", []string{"a", "b", "c"}},
	"northamerica-northeast1": {"10.162.0.0/20", []string{"a", "b", "c"}},
	"europe-west4":            {"10.164.0.0/20", []string{"a", "b", "c"}},
	"europe-north1":           {"10.166.0.0/20", []string{"a", "b", "c"}},
	"us-west2":                {"10.168.0.0/20", []string{"a", "b", "c"}},
	"asia-east2":              {"10.170.0.0/20", []string{"a", "b", "c"}},
	"europe-west6":            {"10.172.0.0/20", []string{"a", "b", "c"}},
	"asia-northeast2":         {"10.174.0.0/20", []string{"a", "b", "c"}},
}

// RegionSubnet is the primary range of the default network's subnet in a
// region.
func RegionSubnet(name string) string {
	if r, ok := regions[name]; ok {
		return r.subnet
	}
	// Past the documented ones (which end at 10.184), stable per name.
	h := fnv.New32a()
	h.Write([]byte(name))
	return fmt.Sprintf("10.%d.0.0/20", 190+h.Sum32()%30*2)
}

// RegionZones lists a region's zones.
func RegionZones(name string) []string {
	suffixes := []string{"a", "b", "c"}
	if r, ok := regions[name]; ok {
		suffixes = r.zones
	}
	zones := make([]string, len(suffixes))
	for i, s := range suffixes {
		zones[i] = name + "-" + s
	}
	return zones
}

func prefixOr(cidr, fallback string) netip.Prefix {
	if p, err := netip.ParsePrefix(cidr); err == nil {
		return p.Masked()
	}
	return netip.MustParsePrefix(fallback)
}

// PodRange is the cluster's Pod range (GKE's clusterIpv4Cidr).
func (s Scenario) PodRange() netip.Prefix { return prefixOr(s.PodCIDR, defaultPodCIDR) }

// SubnetRange is the primary range of the nodes' subnet.
func (s Scenario) SubnetRange() netip.Prefix { return prefixOr(s.SubnetCIDR, defaultSubnetCIDR) }

// NodePodCIDR is the /24 of the Pod range GKE gives the i-th node (GKE's
// default of 110 Pods per node takes a /24).
func (s Scenario) NodePodCIDR(i int) string {
	base := s.PodRange().Addr().As4()
	n := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	n += uint32(i) << 8
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), 0}).String() + "/24"
}

// NodeIP is the i-th node's internal address in the subnet; the first two
// addresses are the network's and the gateway's.
func (s Scenario) NodeIP(i int) string {
	base := s.SubnetRange().Addr().As4()
	n := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	n += uint32(i/250)<<8 + uint32(i%250+2)
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}).String()
}

// PrivateEndpointIP is the control plane's internal address: the second
// address of the master range, as GKE's VPC-peering private clusters have it.
func (s Scenario) PrivateEndpointIP() string {
	if p, err := netip.ParsePrefix(s.MasterCIDR); err == nil {
		return p.Masked().Addr().Next().Next().String()
	}
	return defaultPrivateIP
}

// PublicEndpointIP is the control plane's external address, invented but
// stable per cluster.
func (s Scenario) PublicEndpointIP() string {
	hash := shortHash(s.Project + "/" + s.Location + "/" + s.Cluster)
	return fmt.Sprintf("34.%d.%d.%d", 28+int(hash[0])%100, int(hash[1])*3%250, int(hash[2])*5%250+1)
}

// AuthorizedNetworksOn reports whether master authorized networks are
// enabled: explicitly, or by listing blocks.
func (s Scenario) AuthorizedNetworksOn() bool {
	return s.AuthorizedNetworksEnabled || len(s.AuthorizedNetworks) > 0
}

// MeshClusterID is the cluster name an in-cluster control plane installed
// by asmcli registers itself under (values.global.multiCluster.clusterName,
// istiod's CLUSTER_ID): cn-PROJECT-LOCATION-CLUSTER.
func (s Scenario) MeshClusterID() string {
	return fmt.Sprintf("cn-%s-%s-%s", s.Project, s.Location, s.Cluster)
}
