package fakegcp

import (
	"errors"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/meshctl/meshctl/sim/scenario"
)

func TestNEGControllerHooks(t *testing.T) {
	e := newEnv(t)
	sc := e.srv.Scenario()
	if err := e.srv.EnsureNEG(negZone, "k8s1-neg", "first"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.EnsureNEG(negZone, "k8s1-neg", "second"); err != nil {
		t.Fatalf("EnsureNEG of an existing NEG: %v", err)
	}
	neg, err := e.neg.Get(e.ctx, &computepb.GetNetworkEndpointGroupRequest{Project: project, Zone: negZone, NetworkEndpointGroup: "k8s1-neg"})
	if err != nil {
		t.Fatal(err)
	}
	if neg.GetDescription() != "second" || neg.GetNetwork() != globalLink("networks", sc.Network) ||
		neg.GetSubnetwork() != computeBase+"projects/"+project+"/regions/"+sc.Region+"/subnetworks/"+sc.Subnetwork ||
		neg.GetNetworkEndpointType() != "GCE_VM_IP_PORT" || neg.GetZone() != computeBase+"projects/"+project+"/zones/"+negZone {
		t.Errorf("NEG as the API shows it: %v", neg)
	}

	eps := []Endpoint{
		{Instance: e.nodeIn(t, negZone), IPAddress: "10.112.0.10", Port: 8443, Ready: true, ServedPorts: []int{8443}},
		{Instance: e.nodeIn(t, negZone), IPAddress: "10.112.0.11", Port: 8443},
	}
	if err := e.srv.SetNEGEndpoints(negZone, "k8s1-neg", eps); err != nil {
		t.Fatal(err)
	}
	eps[0].ServedPorts[0] = 1 // the server must have kept its own copy
	neg, _ = e.neg.Get(e.ctx, &computepb.GetNetworkEndpointGroupRequest{Project: project, Zone: negZone, NetworkEndpointGroup: "k8s1-neg"})
	infos := e.srv.NEGs()
	if neg.GetSize() != 2 || len(infos) != 1 || infos[0].Endpoints[0].ServedPorts[0] != 8443 || infos[0].Description != "second" {
		t.Errorf("size %d, NEGs() %+v", neg.GetSize(), infos)
	}

	var apiErr *APIError
	if err := e.srv.EnsureNEG("mars-north1-a", "k8s1-neg", ""); !errors.As(err, &apiErr) || apiErr.Code != 404 {
		t.Errorf("EnsureNEG in an unknown zone: %v", err)
	}
	if err := e.srv.EnsureNEG(negZone, "Not_Valid", ""); !errors.As(err, &apiErr) || apiErr.Reason != "invalid" {
		t.Errorf("EnsureNEG with a bad name: %v", err)
	}
	if err := e.srv.SetNEGEndpoints(negZone, "missing", nil); !errors.As(err, &apiErr) || apiErr.Code != 404 {
		t.Errorf("SetNEGEndpoints of a missing NEG: %v", err)
	}
	if err := e.srv.DeleteNEG(negZone, "k8s1-neg"); err != nil {
		t.Fatal(err)
	}
	if len(e.srv.NEGs()) != 0 {
		t.Error("NEG still listed after DeleteNEG")
	}
}

// On a Shared VPC GKE's NEGs are on the host project's network and
// subnetwork (the NEG itself stays in the cluster's project).
func TestNEGOnASharedVPCIsOnTheHostsNetwork(t *testing.T) {
	sc := scenario.Default()
	sc.SharedVPCHost = "net-host"
	e := newEnvWith(t, sc, Options{})
	if err := e.srv.EnsureNEG(negZone, "k8s1-neg", "d"); err != nil {
		t.Fatal(err)
	}
	neg, err := e.neg.Get(e.ctx, &computepb.GetNetworkEndpointGroupRequest{Project: project, Zone: negZone, NetworkEndpointGroup: "k8s1-neg"})
	if err != nil {
		t.Fatal(err)
	}
	if neg.GetNetwork() != computeBase+"projects/net-host/global/networks/"+sc.Network ||
		neg.GetSubnetwork() != computeBase+"projects/net-host/regions/"+sc.Region+"/subnetworks/"+sc.Subnetwork {
		t.Errorf("NEG on %s / %s, want the host project's", neg.GetNetwork(), neg.GetSubnetwork())
	}
}
