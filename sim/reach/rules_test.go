package reach

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/meshctl/meshctl/sim/scenario"
)

// twoClusters is meshsim's --clusters 2 --regions us-central1,europe-west1
// --private shape: each cluster's authorized networks hold only its own
// subnet, global access is off.
func twoClusters(t *testing.T) (a, b scenario.Scenario) {
	t.Helper()
	sc := scenario.Default()
	sc.Private = true
	cs, err := sc.Clusters(2, []string{"us-central1", "europe-west1"})
	if err != nil {
		t.Fatal(err)
	}
	return cs[0], cs[1]
}

func TestDecide(t *testing.T) {
	a, b := twoClusters(t)
	// a: us-central1, Pods 10.112.0.0/14; b: europe-west1, Pods 10.4.0.0/14.
	type change func(caller, target *scenario.Scenario)
	tests := []struct {
		name   string
		change change
		addr   string // default: the target's private endpoint
		port   int    // default: 443
		allow  bool
		reason string
	}{
		{name: "as meshsim starts: other region, no global access", reason: "master global access is off"},
		{name: "global access alone: the Pod range is not authorized",
			change: func(_, t *scenario.Scenario) { t.MasterGlobalAccess = true },
			reason: "Pod range 10.112.0.0/14 is not in meshsim-2's authorized networks [10.132.0.0/20]"},
		{name: "authorized Pod range alone: still another region",
			change: func(_, t *scenario.Scenario) { t.AuthorizedNetworks = append(t.AuthorizedNetworks, "10.112.0.0/14") },
			reason: "reachable only from europe-west1"},
		{name: "global access and the Pod range authorized", allow: true,
			change: func(_, t *scenario.Scenario) {
				t.MasterGlobalAccess = true
				t.AuthorizedNetworks = append(t.AuthorizedNetworks, "10.112.0.0/14")
			},
			reason: "in meshsim-2's authorized network 10.112.0.0/14"},
		{name: "a wider block covers the Pod range", allow: true,
			change: func(_, t *scenario.Scenario) {
				t.MasterGlobalAccess, t.AuthorizedNetworks = true, []string{"10.0.0.0/8"}
			}},
		{name: "a block covering part of the Pod range does not do",
			change: func(_, t *scenario.Scenario) {
				t.MasterGlobalAccess, t.AuthorizedNetworks = true, []string{"10.112.0.0/16"}
			},
			reason: "not in meshsim-2's authorized networks"},
		{name: "the caller's node subnet is not where istiod connects from",
			change: func(c, t *scenario.Scenario) {
				t.MasterGlobalAccess, t.AuthorizedNetworks = true, []string{c.SubnetCIDR}
			},
			reason: "Pod range 10.112.0.0/14 is not in"},
		{name: "authorized networks off: the whole network gets in", allow: true,
			change: func(_, t *scenario.Scenario) { t.MasterGlobalAccess, t.AuthorizedNetworks = true, nil }},
		{name: "authorized networks on with no block: nothing from the VPC",
			change: func(_, t *scenario.Scenario) {
				t.MasterGlobalAccess, t.AuthorizedNetworks, t.AuthorizedNetworksEnabled = true, nil, true
			},
			reason: "not in meshsim-2's authorized networks []"},
		{name: "same region needs no global access", allow: true,
			change: func(c, t *scenario.Scenario) {
				t.Region, t.Location = c.Region, c.Region
				t.AuthorizedNetworks = nil
			}},
		{name: "another VPC network has no route",
			change: func(_, t *scenario.Scenario) {
				t.Network, t.MasterGlobalAccess, t.AuthorizedNetworks = "other", true, nil
			},
			reason: "no route to the private endpoint"},
		{name: "only port 443 answers", port: 6443,
			change: func(_, t *scenario.Scenario) { t.MasterGlobalAccess, t.AuthorizedNetworks = true, nil },
			reason: "only on port 443"},
		{name: "an address that is no endpoint", addr: "172.16.0.99", reason: "not an endpoint"},
		{name: "public endpoint from private nodes", addr: "public", reason: "private nodes"},
		{name: "public endpoint from public nodes", addr: "public", allow: true,
			change: func(c, _ *scenario.Scenario) { c.Private = false }},
		{name: "public endpoint disabled", addr: "public",
			change: func(c, t *scenario.Scenario) { c.Private, t.PrivateEndpoint = false, true },
			reason: "public endpoint is disabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caller, target := a, b
			caller.AuthorizedNetworks = append([]string(nil), a.AuthorizedNetworks...)
			target.AuthorizedNetworks = append([]string(nil), b.AuthorizedNetworks...)
			if tt.change != nil {
				tt.change(&caller, &target)
			}
			addr := target.PrivateEndpointIP()
			switch tt.addr {
			case "":
			case "public":
				addr = target.PublicEndpointIP()
			default:
				addr = tt.addr
			}
			port := tt.port
			if port == 0 {
				port = 443
			}
			v := Decide(caller, target, netip.MustParseAddr(addr), port)
			if v.Allowed != tt.allow || !strings.Contains(v.Reason, tt.reason) {
				t.Errorf("Decide = %+v, want allowed %v with reason containing %q", v, tt.allow, tt.reason)
			}
		})
	}
}

func TestDecideOwnControlPlane(t *testing.T) {
	a, _ := twoClusters(t)
	if v := Decide(a, a, netip.MustParseAddr(a.PrivateEndpointIP()), 443); !v.Allowed {
		t.Errorf("own private endpoint: %+v", v)
	}
}

func TestEndpointAddressesAreDistinct(t *testing.T) {
	a, b := twoClusters(t)
	if a.PrivateEndpointIP() != "172.16.0.2" || b.PrivateEndpointIP() != "172.16.0.18" {
		t.Errorf("private endpoints %s, %s; want 172.16.0.2 and 172.16.0.18", a.PrivateEndpointIP(), b.PrivateEndpointIP())
	}
	if a.PublicEndpointIP() == b.PublicEndpointIP() {
		t.Errorf("both clusters have public endpoint %s", a.PublicEndpointIP())
	}
}
