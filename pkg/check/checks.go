package check

import (
	"fmt"
	"sort"
	"strings"

	"github.com/meshctl/meshctl/pkg/findings"
)

// Groups, in the order the report shows them.
const (
	GroupVersions = "Versions"
	GroupCapacity = "Capacity"
	GroupPrivate  = "Private cluster"
	GroupFeatures = "Cluster features"
	GroupCluster  = "In the cluster"
)

// Checks is every check, in report order. Each runs concurrently with the
// others.
var Checks = []checkDef{
	{typ: findings.MasterVersionUnsupported, group: GroupVersions, title: "Control plane version", run: checkMasterVersion},
	{typ: findings.NodeVersionUnsupported, group: GroupVersions, title: "Node versions", run: checkNodeVersions},
	{typ: findings.NodeVersionBehind, group: GroupVersions, title: "Node pools up to date", run: checkNodeVersionLag},
	{typ: findings.ReleaseChannel, group: GroupVersions, title: "Release channel", run: checkReleaseChannel},

	{typ: findings.Autopilot, group: GroupCapacity, title: "Standard cluster", run: checkAutopilot},
	{typ: findings.NodeSize, group: GroupCapacity, title: "Nodes of 4+ vCPUs", run: checkNodeSize},
	{typ: findings.PoolCapacity, group: GroupCapacity, title: "Pool of 8+ vCPUs", run: checkPoolCapacity},

	{typ: findings.PrivateCluster, group: GroupPrivate, title: "Endpoint and nodes", run: checkPrivateCluster},
	{typ: findings.WebhookPortBlocked, group: GroupPrivate, title: "Webhook port 15017", run: checkWebhookFirewall, fix: fixWebhookFirewall, changes: webhookFixChanges},

	{typ: findings.WorkloadIdentity, group: GroupFeatures, title: "Workload identity", run: checkWorkloadIdentity},
	{typ: findings.NodeMetadataServer, group: GroupFeatures, title: "GKE metadata server", run: checkNodeMetadata},
	{typ: findings.CloudOperations, group: GroupFeatures, title: "Cloud Operations", run: checkCloudOperations},
	{typ: findings.MeshIDLabel, group: GroupFeatures, title: "Label mesh_id", run: checkMeshID},
	{typ: findings.Network, group: GroupFeatures, title: "Network", run: checkNetwork},

	{typ: findings.ServerVersion, group: GroupCluster, title: "Kubernetes API", run: checkServerVersion},
	{typ: findings.ClusterAdmin, group: GroupCluster, title: "cluster-admin", run: checkClusterAdmin},
	{typ: findings.IstioSystemNamespace, group: GroupCluster, title: "Namespace istio-system", run: checkIstioSystem},
	{typ: findings.ControlPlaneRevisions, group: GroupCluster, title: "Control-plane revisions", run: checkRevisions},
	{typ: findings.IstiodOutsideSystem, group: GroupCluster, title: "istiod location", run: checkIstiodNamespace},
	{typ: findings.LegacyIngressGateway, group: GroupCluster, title: "Legacy ingress gateway", run: checkLegacyGateway},
	{typ: findings.PortNaming, group: GroupCluster, title: "Service port protocols", run: checkPortNames},
	{typ: findings.DoubleInjectionLabels, group: GroupCluster, title: "Injection labels", run: checkInjectionLabels},
}

// gcloudScope is the flags that place a gcloud container command.
func (f *facts) gcloudScope() string {
	return fmt.Sprintf("--location %s --project %s", f.opts.Location, f.opts.Project)
}

// clusterObject names the cluster in findings.
func (f *facts) clusterObject() string { return "cluster " + f.opts.Cluster }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// joinKeys lists a set's members, sorted, comma-separated.
func joinKeys(m map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}
