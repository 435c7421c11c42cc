package fakegcp

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/meshctl/meshctl/sim/scenario"
)

const clusterName = "projects/" + project + "/locations/us-central1/clusters/meshsim"

func privateScenario() scenario.Scenario {
	sc := scenario.Default()
	sc.Private, sc.PrivateEndpoint = true, true
	sc.AuthorizedNetworks = []string{"203.0.113.0/24"}
	return sc
}

func TestClusterFromTheScenario(t *testing.T) {
	e := newEnvWith(t, privateScenario(), Options{ClusterEndpoint: "127.0.0.1:6443", ClusterCACertificate: "Q0E="})
	c, err := e.gke.GetCluster(e.ctx, &containerpb.GetClusterRequest{Name: clusterName})
	if err != nil {
		t.Fatal(err)
	}
	sc := e.srv.Scenario()
	if c.GetName() != "meshsim" || c.GetLocation() != "us-central1" || c.GetStatus() != containerpb.Cluster_RUNNING ||
		c.GetCurrentMasterVersion() != sc.MasterVersion || c.GetCurrentNodeVersion() != sc.MasterVersion ||
		c.GetReleaseChannel().GetChannel() != containerpb.ReleaseChannel_REGULAR ||
		c.GetWorkloadIdentityConfig().GetWorkloadPool() != project+".svc.id.goog" ||
		c.GetLoggingService() != sc.LoggingService || c.GetMonitoringService() != sc.MonitoringService ||
		c.GetNetwork() != "default" || c.GetSubnetwork() != "default" || c.GetResourceLabels()["mesh_id"] != "proj-123456789012" ||
		c.GetAutopilot().GetEnabled() || c.GetEndpoint() != "127.0.0.1:6443" || c.GetMasterAuth().GetClusterCaCertificate() != "Q0E=" ||
		!slices.Equal(c.GetLocations(), sc.Zones()) || c.GetCurrentNodeCount() != int32(len(sc.Nodes())) {
		t.Errorf("cluster: %v", c)
	}
	pc := c.GetPrivateClusterConfig()
	if !pc.GetEnablePrivateNodes() || !pc.GetEnablePrivateEndpoint() || pc.GetMasterIpv4CidrBlock() != "172.16.0.0/28" || pc.GetPrivateEndpoint() != "172.16.0.2" {
		t.Errorf("private cluster config: %v", pc)
	}
	man := c.GetMasterAuthorizedNetworksConfig()
	if !man.GetEnabled() || man.GetCidrBlocks()[0].GetCidrBlock() != "203.0.113.0/24" {
		t.Errorf("authorized networks: %v", man)
	}
	pool := c.GetNodePools()[1]
	if pool.GetName() != "pool-2" || pool.GetConfig().GetMachineType() != "e2-standard-4" ||
		pool.GetConfig().GetWorkloadMetadataConfig().GetMode() != containerpb.WorkloadMetadataConfig_GKE_METADATA ||
		!slices.Equal(pool.GetLocations(), sc.NodePools[1].Zones) || pool.GetInitialNodeCount() != 1 ||
		!pool.GetAutoscaling().GetEnabled() || pool.GetAutoscaling().GetMaxNodeCount() != 3 || pool.GetStatus() != containerpb.NodePool_RUNNING {
		t.Errorf("node pool: %v", pool)
	}

	list, err := e.gke.ListClusters(e.ctx, &containerpb.ListClustersRequest{Parent: "projects/" + project + "/locations/-"})
	if err != nil || len(list.GetClusters()) != 1 {
		t.Errorf("list: %v %v", list, err)
	}
	pools, err := e.gke.ListNodePools(e.ctx, &containerpb.ListNodePoolsRequest{Parent: clusterName})
	if err != nil || len(pools.GetNodePools()) != 2 {
		t.Errorf("node pools: %v %v", pools, err)
	}
	np, err := e.gke.GetNodePool(e.ctx, &containerpb.GetNodePoolRequest{Name: clusterName + "/nodePools/default-pool"})
	if err != nil || np.GetName() != "default-pool" {
		t.Errorf("node pool: %v %v", np, err)
	}
	resp, err := http.Get(e.url + "/v1/projects/" + project + "/zones/us-central1/clusters/meshsim")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("zones form: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestOtherClustersAreNotFound(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{
		"projects/" + project + "/locations/us-central1/clusters/other",
		"projects/" + project + "/locations/europe-west1/clusters/meshsim",
	} {
		_, err := e.gke.GetCluster(e.ctx, &containerpb.GetClusterRequest{Name: name})
		gerr := apiError(t, err, 404, "notFound")
		if gerr.Message != "Not found: "+name+"." {
			t.Errorf("message %q", gerr.Message)
		}
	}
}

func TestScenarioChangesShowAtOnce(t *testing.T) {
	e := newEnv(t)
	err := e.srv.UpdateScenario(func(sc *scenario.Scenario) {
		sc.MasterVersion = "1.35.1-gke.200"
		sc.NodePools = append(sc.NodePools, scenario.NodePool{Name: "gateways", MachineType: "n2-standard-8", NodesPerZone: 2, Zones: []string{"us-central1-a"}})
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.gke.GetCluster(e.ctx, &containerpb.GetClusterRequest{Name: clusterName})
	if err != nil {
		t.Fatal(err)
	}
	if c.GetCurrentMasterVersion() != "1.35.1-gke.200" || len(c.GetNodePools()) != 3 || c.GetNodePools()[2].GetConfig().GetMachineType() != "n2-standard-8" {
		t.Errorf("cluster after UpdateScenario: %v", c)
	}
	if err := e.srv.UpdateScenario(func(sc *scenario.Scenario) { sc.NodePools = nil }); err == nil {
		t.Error("UpdateScenario accepted a scenario without node pools")
	}
}

// TestClusterOperations: an update through the API lands in the scenario
// when its operation is DONE; a created cluster provisions, a deleted one
// stops and disappears.
func TestClusterOperations(t *testing.T) {
	sc := scenario.Default()
	sc.WorkloadIdentity = false
	e := newEnvWith(t, sc, Options{}, func(k *Knobs) { k.ClusterOperationDuration = Duration(300 * time.Millisecond) })
	op, err := e.gke.UpdateCluster(e.ctx, &containerpb.UpdateClusterRequest{Name: clusterName, Update: &containerpb.ClusterUpdate{
		DesiredWorkloadIdentityConfig: &containerpb.WorkloadIdentityConfig{WorkloadPool: project + ".svc.id.goog"}}})
	if err != nil {
		t.Fatal(err)
	}
	if op.GetOperationType() != containerpb.Operation_UPDATE_CLUSTER || op.GetStatus() != containerpb.Operation_RUNNING {
		t.Fatalf("update operation: %v", op)
	}
	e.waitCluster(t, "us-central1", op.GetName())
	if !e.srv.Scenario().WorkloadIdentity {
		t.Error("workload identity not enabled in the scenario")
	}

	parent := "projects/" + project + "/locations/us-central1-a"
	op, err = e.gke.CreateCluster(e.ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: "scratch", InitialNodeCount: 1}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.gke.GetCluster(e.ctx, &containerpb.GetClusterRequest{Name: parent + "/clusters/scratch"})
	if err != nil || c.GetStatus() != containerpb.Cluster_PROVISIONING {
		t.Errorf("new cluster: %v %v", c.GetStatus(), err)
	}
	e.waitCluster(t, "us-central1-a", op.GetName())
	c, _ = e.gke.GetCluster(e.ctx, &containerpb.GetClusterRequest{Name: parent + "/clusters/scratch"})
	if c.GetStatus() != containerpb.Cluster_RUNNING || c.GetCurrentNodeCount() != 1 || c.GetNodePools()[0].GetConfig().GetMachineType() != "e2-medium" {
		t.Errorf("created cluster: %v", c)
	}
	op, err = e.gke.DeleteCluster(e.ctx, &containerpb.DeleteClusterRequest{Name: parent + "/clusters/scratch"})
	if err != nil {
		t.Fatal(err)
	}
	e.waitCluster(t, "us-central1-a", op.GetName())
	_, err = e.gke.GetCluster(e.ctx, &containerpb.GetClusterRequest{Name: parent + "/clusters/scratch"})
	wantAPIError(t, err, 404, "notFound")
}

// waitCluster waits for a GKE operation to be DONE and returns it.
func (e *env) waitCluster(t *testing.T, location, name string) *containerpb.Operation {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		op, err := e.gke.GetOperation(e.ctx, &containerpb.GetOperationRequest{Name: "projects/" + project + "/locations/" + location + "/operations/" + name})
		if err != nil {
			t.Fatal(err)
		}
		if op.GetStatus() == containerpb.Operation_DONE {
			return op
		}
	}
	t.Fatalf("operation %s not DONE", name)
	return nil
}
