package simcmd

import (
	"slices"
	"testing"

	"github.com/meshctl/meshctl/sim/scenario"
)

func TestClusterShapes(t *testing.T) {
	private := scenario.Default()
	private.Private = true
	shapes, err := clusterShapes(private, 2, []string{"us-central1", "europe-west1"}, false)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"10.128.0.0/20", "10.132.0.0/20"} {
		if sc := shapes[i]; !slices.Equal(sc.AuthorizedNetworks, []string{want}) || sc.MasterGlobalAccess {
			t.Errorf("cluster %s: authorized %v, global access %v; want only its subnet %s, no global access",
				sc.Cluster, sc.AuthorizedNetworks, sc.MasterGlobalAccess, want)
		}
	}
	// One private cluster stays as before; given networks are kept.
	one, _ := clusterShapes(private, 1, nil, false)
	if len(one[0].AuthorizedNetworks) != 0 {
		t.Errorf("one private cluster got authorized networks %v", one[0].AuthorizedNetworks)
	}
	private.AuthorizedNetworks = []string{"203.0.113.0/24"}
	given, _ := clusterShapes(private, 2, nil, true)
	if !slices.Equal(given[1].AuthorizedNetworks, []string{"203.0.113.0/24"}) {
		t.Errorf("--authorized-network replaced: %v", given[1].AuthorizedNetworks)
	}
}
