package fakegcp

import (
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/sim/scenario"
)

// newMultiEnv is meshsim's --clusters 2 --regions us-central1,europe-west1
// --private project: the second cluster is in Options.MoreClusters.
func newMultiEnv(t *testing.T) (*env, []scenario.Scenario) {
	t.Helper()
	sc := scenario.Default()
	sc.Private = true
	cs, err := sc.Clusters(2, []string{"us-central1", "europe-west1"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, cs[0], Options{ClusterEndpoint: "https://127.0.0.1:1001", ClusterCACertificate: "Q0Ex",
		MoreClusters: []SimulatedCluster{{Scenario: cs[1], Endpoint: "https://127.0.0.1:1002", CACertificate: "Q0Ey"}}})
	return e, cs
}

const secondCluster = "projects/" + project + "/locations/europe-west1/clusters/meshsim-2"

func TestSeveralSimulatedClusters(t *testing.T) {
	e, cs := newMultiEnv(t)
	list, err := e.gke.ListClusters(e.ctx, &containerpb.ListClustersRequest{Parent: "projects/" + project + "/locations/-"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range list.GetClusters() {
		names = append(names, c.GetName())
	}
	if !slices.Equal(names, []string{"meshsim-1", "meshsim-2"}) {
		t.Fatalf("clusters %v, want meshsim-1 and meshsim-2 in order", names)
	}
	c2 := list.GetClusters()[1]
	if c2.GetLocation() != "europe-west1" || c2.GetEndpoint() != "https://127.0.0.1:1002" || c2.GetMasterAuth().GetClusterCaCertificate() != "Q0Ey" ||
		c2.GetClusterIpv4Cidr() != "10.4.0.0/14" || c2.GetIpAllocationPolicy().GetClusterIpv4CidrBlock() != "10.4.0.0/14" ||
		c2.GetNodePools()[0].GetNetworkConfig().GetPodIpv4CidrBlock() != "10.4.0.0/14" ||
		!slices.Equal(c2.GetLocations(), []string{"europe-west1-b", "europe-west1-c", "europe-west1-d"}) {
		t.Errorf("second cluster: %v", c2)
	}
	pc := c2.GetPrivateClusterConfig()
	ip := c2.GetControlPlaneEndpointsConfig().GetIpEndpointsConfig()
	if !pc.GetEnablePrivateNodes() || pc.GetMasterIpv4CidrBlock() != "172.16.0.16/28" || pc.GetPrivateEndpoint() != "172.16.0.18" ||
		ip.GetPrivateEndpoint() != "172.16.0.18" || ip.GetGlobalAccess() || pc.GetMasterGlobalAccessConfig().GetEnabled() {
		t.Errorf("second cluster's endpoints: %v / %v", pc, ip)
	}
	if an := ip.GetAuthorizedNetworksConfig(); !an.GetEnabled() || len(an.GetCidrBlocks()) != 1 || an.GetCidrBlocks()[0].GetCidrBlock() != "10.132.0.0/20" {
		t.Errorf("authorized networks: %v", an)
	}

	// The nodes are Compute instances in their region's subnet, with their
	// cluster's node tag and a /24 of its Pod range.
	insts, err := e.inst.List(e.ctx, &computepb.ListInstancesRequest{Project: project, Zone: "europe-west1-c"}).Next()
	if err != nil {
		t.Fatal(err)
	}
	tag := cs[1].NodeTag()
	if !strings.HasPrefix(tag, "gke-meshsim-2-") || !strings.HasSuffix(tag, "-node") || len(tag) != len("gke-meshsim-2-")+8+len("-node") {
		t.Errorf("node tag %q", tag)
	}
	nic := insts.GetNetworkInterfaces()[0]
	if !slices.Equal(insts.GetTags().GetItems(), []string{tag}) || !netip.MustParsePrefix("10.132.0.0/20").Contains(netip.MustParseAddr(nic.GetNetworkIP())) ||
		!strings.HasPrefix(nic.GetAliasIpRanges()[0].GetIpCidrRange(), "10.4.") || !strings.HasSuffix(nic.GetSubnetwork(), "/regions/europe-west1/subnetworks/default") {
		t.Errorf("instance %s: tags %v, nic %v", insts.GetName(), insts.GetTags().GetItems(), nic)
	}
	zones, err := e.zones.List(e.ctx, &computepb.ListZonesRequest{Project: project}).Next()
	if err != nil || zones.GetName() == "" {
		t.Fatalf("zones: %v", err)
	}
	if _, err := e.fw.Get(e.ctx, &computepb.GetFirewallRequest{Project: project, Firewall: strings.TrimSuffix(tag, "-node") + "-all"}); err != nil {
		t.Errorf("GKE's firewall rule for the second cluster's Pods: %v", err)
	}
	net, err := e.nets.Get(e.ctx, &computepb.GetNetworkRequest{Project: project, Network: "default"})
	if err != nil || len(net.GetSubnetworks()) != 2 {
		t.Errorf("network subnetworks: %v %v", net.GetSubnetworks(), err)
	}
}

// gcloud 528 sends --enable-master-global-access and the authorized
// networks as desiredControlPlaneEndpointsConfig.ipEndpointsConfig.
func TestUpdateControlPlaneAccess(t *testing.T) {
	e, _ := newMultiEnv(t)
	op, err := e.gke.UpdateCluster(e.ctx, &containerpb.UpdateClusterRequest{Name: secondCluster, Update: &containerpb.ClusterUpdate{
		DesiredControlPlaneEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig{IpEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig_IPEndpointsConfig{
			GlobalAccess: proto.Bool(true),
			AuthorizedNetworksConfig: &containerpb.MasterAuthorizedNetworksConfig{Enabled: true, CidrBlocks: []*containerpb.MasterAuthorizedNetworksConfig_CidrBlock{
				{CidrBlock: "10.132.0.0/20"}, {CidrBlock: "10.112.0.0/14", DisplayName: "meshsim-1 pods"}}},
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	if before := e.srv.SimulatedClusters()[1]; before.MasterGlobalAccess {
		t.Error("the change showed before its operation was DONE")
	}
	if final := e.waitCluster(t, "europe-west1", op.GetName()); final.GetError() != nil || final.GetStatusMessage() != "" {
		t.Fatalf("update failed: %v", final)
	}
	after := e.srv.SimulatedClusters()[1]
	if !after.MasterGlobalAccess || !slices.Equal(after.AuthorizedNetworks, []string{"10.132.0.0/20", "10.112.0.0/14"}) {
		t.Errorf("scenario after the update: global access %v, networks %v", after.MasterGlobalAccess, after.AuthorizedNetworks)
	}
	c, err := e.gke.GetCluster(e.ctx, &containerpb.GetClusterRequest{Name: secondCluster})
	if err != nil {
		t.Fatal(err)
	}
	if !c.GetPrivateClusterConfig().GetMasterGlobalAccessConfig().GetEnabled() || !c.GetControlPlaneEndpointsConfig().GetIpEndpointsConfig().GetGlobalAccess() ||
		len(c.GetMasterAuthorizedNetworksConfig().GetCidrBlocks()) != 2 {
		t.Errorf("cluster after the update: %v", c)
	}
	// GKE keeps the name a block was given, in both fields that show it.
	for _, an := range []*containerpb.MasterAuthorizedNetworksConfig{c.GetMasterAuthorizedNetworksConfig(), c.GetControlPlaneEndpointsConfig().GetIpEndpointsConfig().GetAuthorizedNetworksConfig()} {
		if b := an.GetCidrBlocks(); len(b) != 2 || b[0].GetDisplayName() != "" || b[1].GetDisplayName() != "meshsim-1 pods" {
			t.Errorf("block names: %v", b)
		}
	}
	if first := e.srv.SimulatedClusters()[0]; first.MasterGlobalAccess || len(first.AuthorizedNetworks) != 1 {
		t.Errorf("the first cluster changed too: %+v", first)
	}

	// The older field turns it off again.
	op, err = e.gke.UpdateCluster(e.ctx, &containerpb.UpdateClusterRequest{Name: secondCluster, Update: &containerpb.ClusterUpdate{
		DesiredPrivateClusterConfig: &containerpb.PrivateClusterConfig{MasterGlobalAccessConfig: &containerpb.PrivateClusterMasterGlobalAccessConfig{Enabled: false}}}})
	if err != nil {
		t.Fatal(err)
	}
	e.waitCluster(t, "europe-west1", op.GetName())
	if e.srv.SimulatedClusters()[1].MasterGlobalAccess {
		t.Error("desiredPrivateClusterConfig did not turn global access off")
	}
}

func TestUpdateControlPlaneAccessRefusals(t *testing.T) {
	e, _ := newMultiEnv(t)
	both := &containerpb.ClusterUpdate{
		DesiredMasterAuthorizedNetworksConfig: &containerpb.MasterAuthorizedNetworksConfig{Enabled: true},
		DesiredControlPlaneEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig{IpEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig_IPEndpointsConfig{
			AuthorizedNetworksConfig: &containerpb.MasterAuthorizedNetworksConfig{Enabled: true}}},
	}
	_, err := e.gke.UpdateCluster(e.ctx, &containerpb.UpdateClusterRequest{Name: secondCluster, Update: both})
	if gerr := apiError(t, err, 400, "badRequest"); !strings.Contains(gerr.Message, "Cannot specify both") {
		t.Errorf("message %q", gerr.Message)
	}
	_, err = e.gke.UpdateCluster(e.ctx, &containerpb.UpdateClusterRequest{Name: secondCluster, Update: &containerpb.ClusterUpdate{
		DesiredMasterAuthorizedNetworksConfig: &containerpb.MasterAuthorizedNetworksConfig{Enabled: true,
			CidrBlocks: []*containerpb.MasterAuthorizedNetworksConfig_CidrBlock{{CidrBlock: "10.112.0.0/99"}}}}})
	if gerr := apiError(t, err, 400, "badRequest"); !strings.Contains(gerr.Message, `"10.112.0.0/99" is not a valid CIDR block`) {
		t.Errorf("message %q", gerr.Message)
	}

	// A private-endpoint-only cluster takes internal ranges only; GKE says
	// so when the operation ends, and changes nothing.
	op, err := e.gke.UpdateCluster(e.ctx, &containerpb.UpdateClusterRequest{Name: secondCluster, Update: &containerpb.ClusterUpdate{
		DesiredControlPlaneEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig{IpEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig_IPEndpointsConfig{
			EnablePublicEndpoint: proto.Bool(false),
			AuthorizedNetworksConfig: &containerpb.MasterAuthorizedNetworksConfig{Enabled: true, CidrBlocks: []*containerpb.MasterAuthorizedNetworksConfig_CidrBlock{
				{CidrBlock: "203.0.113.7/32"}}},
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	final := e.waitCluster(t, "europe-west1", op.GetName())
	want := `Invalid master authorized networks: network "203.0.113.7/32" is not a reserved network, which is required for private endpoints.`
	if final.GetStatusMessage() != want || final.GetError().GetMessage() != want {
		t.Errorf("operation: %v", final)
	}
	if sc := e.srv.SimulatedClusters()[1]; sc.PrivateEndpoint || !slices.Equal(sc.AuthorizedNetworks, []string{"10.132.0.0/20"}) {
		t.Errorf("a failed update changed the cluster: %+v", sc)
	}
}

// TestGcloudUpdatesControlPlaneAccess drives the flags a multi-cluster
// private mesh needs through the real gcloud.
func TestGcloudUpdatesControlPlaneAccess(t *testing.T) {
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		t.Skip("gcloud is not on PATH")
	}
	e, _ := newMultiEnv(t)
	config := t.TempDir()
	run := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.CommandContext(e.ctx, gcloud, args...)
		cmd.Env = append(os.Environ(), "CLOUDSDK_CONFIG="+config, "CLOUDSDK_CORE_DISABLE_PROMPTS=1",
			"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true", "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true",
			"CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER="+e.url+"/", "CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true",
			"CLOUDSDK_CORE_PROJECT="+project)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, args := range [][]string{
		{"--enable-master-global-access"},
		{"--enable-master-authorized-networks", "--master-authorized-networks", "10.132.0.0/20,10.112.0.0/14"},
	} {
		if out, err := run(append([]string{"container", "clusters", "update", "meshsim-2", "--location", "europe-west1"}, args...)...); err != nil {
			t.Fatalf("gcloud update %v: %v\n%s", args, err, out)
		}
	}
	out, err := run("container", "clusters", "describe", "meshsim-2", "--location", "europe-west1",
		"--format", "value(privateClusterConfig.masterGlobalAccessConfig.enabled,masterAuthorizedNetworksConfig.cidrBlocks.cidrBlock)")
	if err != nil || strings.Join(strings.Fields(out), " ") != "True 10.132.0.0/20;10.112.0.0/14" {
		t.Errorf("describe: %q %v", out, err)
	}
	if sc := e.srv.SimulatedClusters()[1]; !sc.MasterGlobalAccess || len(sc.AuthorizedNetworks) != 2 {
		t.Errorf("scenario: %+v", sc)
	}
	out, err = run("container", "clusters", "update", "meshsim-2", "--location", "europe-west1", "--enable-private-endpoint",
		"--enable-master-authorized-networks", "--master-authorized-networks", "203.0.113.7/32")
	if err == nil || !strings.Contains(out, "finished with error: Invalid master authorized networks: network \"203.0.113.7/32\" is not a reserved network") {
		t.Errorf("a public block on a private endpoint: %v\n%s", err, out)
	}
}
