package check

import (
	"context"
	"fmt"

	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/meshctl/meshctl/pkg/findings"
)

// ManagedChecks are what the fleet requires of a cluster before it provisions
// Google's managed control plane. Without them it reports, minutes into an
// install, the conditions WORKLOAD_IDENTITY_REQUIRED,
// NODEPOOL_WORKLOAD_IDENTITY_FEDERATION_REQUIRED and CLUSTER_HAS_ZERO_NODES.
var ManagedChecks = []checkDef{
	{typ: findings.WorkloadIdentity, group: GroupFeatures, title: "Workload identity", run: checkWorkloadIdentity},
	{typ: findings.ManagedNodeMetadata, group: GroupFeatures, title: "GKE metadata server", run: checkManagedNodeMetadata},
	{typ: findings.ClusterWithoutNodes, group: GroupCapacity, title: "Nodes", run: checkHasNodes},
}

// Managed runs ManagedChecks on a cluster already read from the GKE API; it
// calls no API. opts names the cluster the fixes refer to.
func Managed(cl *containerpb.Cluster, opts Options) []findings.Finding {
	f := newFacts(context.Background(), Clients{}, opts, Release{})
	f.cluster = func() (*containerpb.Cluster, error) { return cl, nil }
	var out []findings.Finding
	for _, r := range runChecks(f, ManagedChecks) {
		out = append(out, r.out.findings...)
	}
	findings.Sort(out)
	return out
}

// checkManagedNodeMetadata: every node pool runs the GKE metadata server.
// Unlike MC0141, every pool is named whether or not workload identity is on
// yet: turning it on leaves existing pools on the GCE metadata server.
func checkManagedNodeMetadata(f *facts) outcome {
	cl, err := f.cluster()
	if err != nil {
		return unavailable(err)
	}
	if cl.GetAutopilot().GetEnabled() {
		return outcome{status: StatusSkipped, message: "Autopilot always uses the GKE metadata server"}
	}
	return nodeMetadata(f, cl, findings.ManagedNodeMetadata, "the fleet refuses the managed control plane (NODEPOOL_WORKLOAD_IDENTITY_FEDERATION_REQUIRED)")
}

// checkHasNodes: the cluster has nodes, or a pool that autoscales from one.
func checkHasNodes(f *facts) outcome {
	cl, err := f.cluster()
	if err != nil {
		return unavailable(err)
	}
	if cl.GetAutopilot().GetEnabled() {
		return outcome{status: StatusSkipped, message: "Autopilot adds nodes for the pods it runs"}
	}
	if n := nodeCount(cl); n > 0 || autoscales(cl) {
		return outcome{message: fmt.Sprintf("%s now", plural(int(n), "node", "nodes"))}
	}
	return outcome{findings: []findings.Finding{findings.ClusterWithoutNodes.New(f.clusterObject(),
		"the cluster has no nodes to run the mesh's components on, and no node pool autoscales from one or more: the fleet refuses it (CLUSTER_HAS_ZERO_NODES)",
		fmt.Sprintf("gcloud container clusters resize %s --node-pool POOL --num-nodes 1 %s", f.opts.Cluster, f.gcloudScope()))}}
}

// nodeCount is the cluster's current number of nodes. The field is
// deprecated but still the only current count GKE reports (node pools only
// have their initial count).
func nodeCount(cl *containerpb.Cluster) int32 {
	return cl.GetCurrentNodeCount() //nolint:staticcheck // see above
}

// autoscales reports whether a node pool autoscales from one node or more.
func autoscales(cl *containerpb.Cluster) bool {
	for _, p := range cl.GetNodePools() {
		if p.GetAutoscaling().GetEnabled() && p.GetAutoscaling().GetMinNodeCount() > 0 {
			return true
		}
	}
	return false
}
