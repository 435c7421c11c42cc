package fakegcp

import (
	"net/netip"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/sim/scenario"
)

// twoNetworks is a fake with two clusters on their own VPC networks
// (meshsim up --clusters 2 --regions us-central1,europe-west1 --networks 2).
func twoNetworks(t *testing.T) (*env, []scenario.Scenario) {
	t.Helper()
	base := scenario.Default()
	cs, err := base.Clusters(2, []string{"us-central1", "europe-west1"})
	if err == nil {
		cs, err = base.OnNetworks(cs, 2)
	}
	if err != nil {
		t.Fatal(err)
	}
	return newEnvWith(t, cs[0], Options{MoreClusters: []SimulatedCluster{{Scenario: cs[1]}}}), cs
}

func TestEachClusterNetworkIsSeeded(t *testing.T) {
	e, cs := twoNetworks(t)
	for _, c := range cs {
		e.wantFields(globalLink("networks", c.Network), map[string]any{"autoCreateSubnetworks": false,
			"subnetworks": []any{computeBase + "projects/" + project + "/regions/" + c.Region + "/subnetworks/" + c.Subnetwork}})
		e.wantFields(computeBase+"projects/"+project+"/regions/"+c.Region+"/subnetworks/"+c.Subnetwork,
			map[string]any{"ipCidrRange": c.SubnetRange().String()})
	}
	// GKE describes each cluster on its network.
	for _, c := range e.srv.SimulatedClusters() {
		if !strings.HasPrefix(c.Network, "meshsim-net-") {
			t.Errorf("cluster %s on %s", c.Cluster, c.Network)
		}
	}
}

func TestNetworkPeeringIsActiveFromBothSides(t *testing.T) {
	e, cs := twoNetworks(t)
	a, b := cs[0].Network, cs[1].Network
	peer := func(name, from, to string) error {
		op, err := e.nets.AddPeering(e.ctx, &computepb.AddPeeringNetworkRequest{Project: project, Network: from,
			NetworksAddPeeringRequestResource: &computepb.NetworksAddPeeringRequest{NetworkPeering: &computepb.NetworkPeering{
				Name: proto.String(name), Network: proto.String("projects/" + project + "/global/networks/" + to), ExchangeSubnetRoutes: proto.Bool(true)}}})
		if err == nil {
			err = op.Wait(e.ctx)
		}
		return err
	}
	state := func(network string) string {
		n, err := e.nets.Get(e.ctx, &computepb.GetNetworkRequest{Project: project, Network: network})
		if err != nil || len(n.GetPeerings()) != 1 {
			t.Fatalf("network %s: %v peerings %v", network, err, n.GetPeerings())
		}
		return n.GetPeerings()[0].GetState()
	}
	if err := peer("a-to-b", a, b); err != nil {
		t.Fatal(err)
	}
	if got := state(a); got != "INACTIVE" || e.srv.NetworksPeered(a, b) {
		t.Errorf("one side only: %s, peered %v; want INACTIVE", got, e.srv.NetworksPeered(a, b))
	}
	wantAPIError(t, peer("again", a, b), 400, "invalid")
	wantAPIError(t, peer("self", a, a), 400, "invalid")
	wantAPIError(t, peer("nowhere", a, "no-such-net"), 404, "notFound")
	if err := peer("b-to-a", b, a); err != nil {
		t.Fatal(err)
	}
	if state(a) != "ACTIVE" || state(b) != "ACTIVE" || !e.srv.NetworksPeered(a, b) || !e.srv.NetworksPeered(b, a) {
		t.Errorf("both sides: %s and %s, want ACTIVE", state(a), state(b))
	}
	// The default network's us-central1 subnet is the first cluster's range: no peering.
	err := peer("overlap", "default", a)
	if gerr := apiError(t, err, 400, "invalid"); !strings.Contains(gerr.Message, "overlaps with an IP range in the local network") {
		t.Errorf("overlapping peering: %s", gerr.Message)
	}
	e.done(t)(e.nets.RemovePeering(e.ctx, &computepb.RemovePeeringNetworkRequest{Project: project, Network: b,
		NetworksRemovePeeringRequestResource: &computepb.NetworksRemovePeeringRequest{Name: proto.String("b-to-a")}}))
	if state(a) != "INACTIVE" || e.srv.NetworksPeered(a, b) {
		t.Errorf("after one side removed its peering: %s, want INACTIVE", state(a))
	}
}

func TestInstanceGetsAnAddressOfItsSubnetwork(t *testing.T) {
	e, cs := twoNetworks(t)
	c := cs[1] // europe-west1, on meshsim-net-2
	zone := c.Zones()[0]
	insert := func(name string, nic *computepb.NetworkInterface) error {
		_, err := e.inst.Insert(e.ctx, &computepb.InsertInstanceRequest{Project: project, Zone: zone, InstanceResource: &computepb.Instance{
			Name: proto.String(name), MachineType: proto.String("zones/" + zone + "/machineTypes/e2-small"),
			Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), InitializeParams: &computepb.AttachedDiskInitializeParams{
				SourceImage: proto.String("projects/debian-cloud/global/images/family/debian-12")}}},
			Tags:              &computepb.Tags{Items: []string{"mesh-vm"}},
			NetworkInterfaces: []*computepb.NetworkInterface{nic},
		}})
		return err
	}
	if err := insert("vm-1", &computepb.NetworkInterface{Network: proto.String("global/networks/" + c.Network)}); err != nil {
		t.Fatal(err)
	}
	e.waitVisible(t, zonalLink(zone, "instances", "vm-1"))
	vm, err := e.inst.Get(e.ctx, &computepb.GetInstanceRequest{Project: project, Zone: zone, Instance: "vm-1"})
	if err != nil {
		t.Fatal(err)
	}
	nic := vm.GetNetworkInterfaces()[0]
	ip, _ := netip.ParseAddr(nic.GetNetworkIP())
	if nic.GetName() != "nic0" || !c.SubnetRange().Contains(ip) || !strings.HasSuffix(nic.GetSubnetwork(), "/subnetworks/"+c.Subnetwork) ||
		len(vm.GetTags().GetItems()) != 1 {
		t.Errorf("vm-1: nic %s address %s subnetwork %s tags %v", nic.GetName(), nic.GetNetworkIP(), nic.GetSubnetwork(), vm.GetTags().GetItems())
	}
	// The next VM gets the next free address; one outside the subnet is refused.
	if err := insert("vm-2", &computepb.NetworkInterface{Network: proto.String("global/networks/" + c.Network)}); err != nil {
		t.Fatal(err)
	}
	e.waitVisible(t, zonalLink(zone, "instances", "vm-2"))
	vm2, _ := e.inst.Get(e.ctx, &computepb.GetInstanceRequest{Project: project, Zone: zone, Instance: "vm-2"})
	if vm2.GetNetworkInterfaces()[0].GetNetworkIP() == nic.GetNetworkIP() {
		t.Errorf("two VMs on %s", nic.GetNetworkIP())
	}
	wantAPIError(t, insert("vm-3", &computepb.NetworkInterface{Network: proto.String("global/networks/" + c.Network), NetworkIP: proto.String("10.0.0.9")}), 400, "invalid")
	// The first cluster's network has no subnetwork in europe-west1.
	err = insert("vm-4", &computepb.NetworkInterface{Network: proto.String("global/networks/" + cs[0].Network)})
	if gerr := apiError(t, err, 400, "invalid"); !strings.Contains(gerr.Message, "has no subnetwork in region europe-west1") {
		t.Errorf("no subnetwork: %s", gerr.Message)
	}
}

// TestGcloudVMOnAClusterNetworkAndPeering: gcloud makes a VM on the second
// cluster's network and peers the two clusters' networks, as a user
// bringing a VM into a multi-network mesh would.
func TestGcloudVMOnAClusterNetworkAndPeering(t *testing.T) {
	t.Parallel()
	e, cs := twoNetworks(t)
	g := newGcloud(t, e)
	c := cs[1]
	zone := c.Zones()[0]
	g.must("compute", "instances", "create", "db-vm", "--zone", zone, "--machine-type", "e2-small", "--network", c.Network,
		"--subnet", c.Subnetwork, "--tags", "mesh-vm,mysql", "--image-family", "debian-12", "--image-project", "debian-cloud", "--no-address")
	vm := g.describe([]string{"compute", "instances", "describe", "db-vm", "--zone", zone}, map[string]any{"status": "RUNNING"})
	nic, _ := list(vm, "networkInterfaces")[0].(map[string]any)
	ip := str(nic, "networkIP")
	if addr, err := netip.ParseAddr(ip); err != nil || !c.SubnetRange().Contains(addr) || str(nic, "name") != "nic0" ||
		str(nic, "network") != globalLink("networks", c.Network) {
		t.Errorf("db-vm's interface %v: want nic0 on %s with an address in %s", nic, c.Network, c.SubnetRange())
	}
	if tags := strList(obj(vm, "tags"), "items"); len(tags) != 2 || tags[1] != "mysql" {
		t.Errorf("db-vm's tags %v", tags)
	}
	if out := g.must("compute", "instances", "list", "--filter", "name=db-vm", "--format", "value(networkInterfaces[0].networkIP)"); strings.TrimSpace(out) != ip {
		t.Errorf("instances list: %q, want %v", out, ip)
	}
	a, b := cs[0].Network, c.Network
	g.must("compute", "networks", "peerings", "create", "a-b", "--network", a, "--peer-network", b)
	g.must("compute", "networks", "peerings", "create", "b-a", "--network", b, "--peer-network", a)
	if out := g.must("compute", "networks", "peerings", "list", "--network", a, "--format", "value(peerings[0].state)"); strings.TrimSpace(out) != "ACTIVE" {
		t.Errorf("peerings list: %q, want ACTIVE", out)
	}
	g.must("compute", "networks", "peerings", "delete", "b-a", "--network", b)
	if e.srv.NetworksPeered(a, b) {
		t.Error("still peered after one side was deleted")
	}
	g.must("compute", "instances", "delete", "db-vm", "--zone", zone)
}
