package scenario

import (
	"strings"
	"testing"
)

func TestClustersOnTwoNetworks(t *testing.T) {
	sc := Default()
	sc.Private = true
	cs, err := sc.Clusters(3, []string{"us-central1", "europe-west1"})
	if err != nil {
		t.Fatal(err)
	}
	cs, err = sc.OnNetworks(cs, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ network, subnetwork, subnet string }{
		{"meshsim-net-1", "meshsim-net-1-us-central1", "10.128.0.0/20"},
		{"meshsim-net-2", "meshsim-net-2-europe-west1", "10.132.16.0/20"},
		{"meshsim-net-1", "meshsim-net-1-us-central1", "10.128.0.0/20"},
	}
	for i, w := range want {
		c := cs[i]
		if c.Network != w.network || c.Subnetwork != w.subnetwork || c.SubnetRange().String() != w.subnet {
			t.Errorf("cluster %s on %s/%s %s, want %+v", c.Cluster, c.Network, c.Subnetwork, c.SubnetRange(), w)
		}
		// A private cluster's own subnet stays its authorized network.
		if len(c.AuthorizedNetworks) != 1 || c.AuthorizedNetworks[0] != w.subnet {
			t.Errorf("cluster %s authorizes %v, want its subnet %s", c.Cluster, c.AuthorizedNetworks, w.subnet)
		}
	}
	// No two networks' ranges meet: they can be peered.
	if cs[0].SubnetRange().Overlaps(cs[1].SubnetRange()) {
		t.Errorf("the networks' subnets overlap")
	}
	// Two networks in one region get different ranges too.
	same, _ := sc.Clusters(2, nil)
	same, _ = sc.OnNetworks(same, 2)
	if same[0].SubnetRange().Overlaps(same[1].SubnetRange()) || same[1].SubnetRange().String() != "10.128.16.0/20" {
		t.Errorf("one region, two networks: %s and %s", same[0].SubnetRange(), same[1].SubnetRange())
	}
	one, _ := sc.OnNetworks(cs[:2], 1)
	if one[0].Network != cs[0].Network {
		t.Errorf("--networks 1 moved the clusters")
	}
	for _, n := range []int{0, 4} {
		if _, err := sc.OnNetworks(cs, n); err == nil || !strings.Contains(err.Error(), "between 1 and the number of clusters (3)") {
			t.Errorf("OnNetworks(%d) = %v", n, err)
		}
	}
}
