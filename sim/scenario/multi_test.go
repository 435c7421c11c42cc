package scenario

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestClustersInTwoRegions(t *testing.T) {
	cs, err := Default().Clusters(3, []string{"us-central1", "europe-west1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ name, region, master, pods, subnet, endpoint string }{
		{"meshsim-1", "us-central1", "172.16.0.0/28", "10.112.0.0/14", "10.128.0.0/20", "172.16.0.2"},
		{"meshsim-2", "europe-west1", "172.16.0.16/28", "10.4.0.0/14", "10.132.0.0/20", "172.16.0.18"},
		{"meshsim-3", "us-central1", "172.16.0.32/28", "10.8.0.0/14", "10.128.0.0/20", "172.16.0.34"},
	}
	for i, w := range want {
		c := cs[i]
		if c.Cluster != w.name || c.Region != w.region || c.Location != w.region || c.MasterCIDR != w.master ||
			c.PodRange().String() != w.pods || c.SubnetRange().String() != w.subnet || c.PrivateEndpointIP() != w.endpoint {
			t.Errorf("cluster %d: %s in %s, master %s, pods %s, subnet %s, endpoint %s; want %+v",
				i, c.Cluster, c.Region, c.MasterCIDR, c.PodRange(), c.SubnetRange(), c.PrivateEndpointIP(), w)
		}
		if c.Project != "meshsim-project" || c.Network != "default" {
			t.Errorf("cluster %d in %s/%s, want the one project and network", i, c.Project, c.Network)
		}
	}
	if got := cs[1].Zones(); !slices.Equal(got, []string{"europe-west1-b", "europe-west1-c", "europe-west1-d"}) {
		t.Errorf("europe-west1 zones %v", got)
	}
	// Node names, tags and Pod ranges never collide.
	seen := map[string]bool{}
	for _, c := range cs {
		for _, n := range c.Nodes() {
			if seen[n.Name] {
				t.Errorf("node %s in two clusters", n.Name)
			}
			seen[n.Name] = true
		}
		if seen[c.NodeTag()] {
			t.Errorf("node tag %s twice", c.NodeTag())
		}
		seen[c.NodeTag()] = true
		for _, other := range cs {
			if other.Cluster != c.Cluster && c.PodRange().Overlaps(other.PodRange()) {
				t.Errorf("Pod ranges of %s and %s overlap", c.Cluster, other.Cluster)
			}
		}
	}
	// Changing one cluster leaves the others alone.
	cs[0].NodePools[0].Zones[0] = "us-central1-f"
	cs[0].ResourceLabels["x"] = "y"
	if cs[2].NodePools[0].Zones[0] == "us-central1-f" || cs[2].ResourceLabels["x"] != "" {
		t.Error("clusters share node pools or labels")
	}
}

func TestOneClusterIsTheScenario(t *testing.T) {
	sc := Default()
	cs, err := sc.Clusters(1, nil)
	if err != nil || len(cs) != 1 || cs[0].Cluster != "meshsim" || cs[0].MasterCIDR != sc.MasterCIDR || cs[0].PodCIDR != sc.PodCIDR {
		t.Errorf("Clusters(1) = %+v, %v", cs, err)
	}
}

func TestClustersRefusals(t *testing.T) {
	for _, tt := range []struct {
		n       int
		regions []string
		want    string
	}{
		{0, nil, "between 1 and 8"},
		{9, nil, "between 1 and 8"},
		{2, []string{"us-central1-a"}, `"us-central1-a" is not a region`},
	} {
		if _, err := Default().Clusters(tt.n, tt.regions); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Clusters(%d, %v) = %v, want %q", tt.n, tt.regions, err, tt.want)
		}
	}
}

func TestNodeAddresses(t *testing.T) {
	sc := Default()
	// As the fake Compute reports the nodes: 10.128.0.2 onwards, and the
	// i-th /24 of the Pod range.
	if sc.NodeIP(0) != "10.128.0.2" || sc.NodeIP(251) != "10.128.1.3" || sc.NodePodCIDR(0) != "10.112.0.0/24" || sc.NodePodCIDR(5) != "10.112.5.0/24" {
		t.Errorf("NodeIP(0) %s, NodeIP(251) %s, NodePodCIDR(0) %s, NodePodCIDR(5) %s", sc.NodeIP(0), sc.NodeIP(251), sc.NodePodCIDR(0), sc.NodePodCIDR(5))
	}
	for i := range sc.Nodes() {
		if !sc.PodRange().Contains(netip.MustParsePrefix(sc.NodePodCIDR(i)).Addr()) {
			t.Errorf("node %d's Pod CIDR %s is outside %s", i, sc.NodePodCIDR(i), sc.PodRange())
		}
	}
	if RegionSubnet("europe-west1") != "10.132.0.0/20" || RegionSubnet("mars-north1") == RegionSubnet("us-central1") {
		t.Errorf("region subnets: %s, %s", RegionSubnet("europe-west1"), RegionSubnet("mars-north1"))
	}
}

func TestSeveralPrivateClustersAdmitOnlyTheirSubnet(t *testing.T) {
	private := Default()
	private.Private = true
	cs, err := private.Clusters(2, []string{"us-central1", "europe-west1"})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"10.128.0.0/20", "10.132.0.0/20"} {
		if c := cs[i]; !slices.Equal(c.AuthorizedNetworks, []string{want}) || c.MasterGlobalAccess {
			t.Errorf("cluster %s: authorized %v, global access %v; want only its subnet %s, no global access",
				c.Cluster, c.AuthorizedNetworks, c.MasterGlobalAccess, want)
		}
	}
	// One private cluster stays as before; given networks are kept.
	if one, _ := private.Clusters(1, nil); len(one[0].AuthorizedNetworks) != 0 {
		t.Errorf("one private cluster got authorized networks %v", one[0].AuthorizedNetworks)
	}
	private.AuthorizedNetworks = []string{"203.0.113.0/24"}
	if given, _ := private.Clusters(2, nil); !slices.Equal(given[1].AuthorizedNetworks, []string{"203.0.113.0/24"}) {
		t.Errorf("--authorized-network replaced: %v", given[1].AuthorizedNetworks)
	}
}
