package findings

// `meshctl mesh connect`, `meshctl check` and `meshctl validate` over several
// clusters: MC030x the clusters and their control planes, MC031x the
// network between them (firewall, private endpoints, authorized networks),
// MC031x-MC032x the links (remote secrets, istiod's view of the remote
// clusters) and the root of trust.
var (
	NoControlPlane       = define("MC0300", Error, "No mesh control plane in the cluster (no istiod revision, no managed revision)")
	FleetsDiffer         = define("MC0301", Error, "Clusters registered to different fleets")
	FleetUnregistered    = define("MC0302", Warning, "Cluster not registered to a fleet")
	MeshVersionsDiffer   = define("MC0303", Warning, "Clusters run different mesh versions")
	ControlPlaneKindsMix = define("MC0304", Error, "Clusters mix managed and in-cluster control planes")
	NoCommonRevision     = define("MC0305", Warning, "No control-plane revision common to all clusters")
	MCWorkloadIdentity   = define("MC0306", Error, "Workload identity not enabled on a cluster of the mesh")
	TrustDomainsDiffer   = define("MC0307", Warning, "Clusters use different trust domains without each other's as trustDomainAliases")
	ClusterNameTaken     = define("MC0308", Error, "Two clusters installed with the same cluster name (CLUSTER_ID)")
	PodRangesOverlap     = define("MC0309", Error, "Pod ranges of two clusters overlap")
	NetworksDiffer       = define("MC0310", Error, "Clusters in different VPC networks (a multi-network mesh needs east-west gateways)")

	PodFirewallMissing   = define("MC0311", Error, "No firewall rule lets the other clusters' Pod ranges reach a cluster's nodes")
	GlobalAccessOff      = define("MC0312", Error, "A remote private endpoint is out of reach: master global access is off and the regions differ")
	AuthorizedNetworkGap = define("MC0313", Error, "A remote control plane's authorized networks do not admit a calling cluster's Pod range")

	RemoteSecretMissing = define("MC0314", Error, "No remote secret for another cluster of the mesh")
	RemoteSecretStale   = define("MC0315", Error, "Remote secret names another server, cluster name or credentials than the cluster's")
	RemoteNotSynced     = define("MC0316", Error, "istiod has not synced a remote cluster (/debug/clusterz)")
	RemoteEndpointsGone = define("MC0317", Error, "istiod does not hold a remote cluster's endpoints (/debug/endpointShardz)")
	RootsDiffer         = define("MC0318", Error, "Clusters do not share a root of trust (istio-ca-root-cert differs)")
	CACertsInvalid      = define("MC0319", Error, "Shared CA: the cacerts Secret is incomplete or does not chain to the shared root")
	ChainNotShared      = define("MC0320", Error, "Shared CA: istiod's serving chain or a namespace's istio-ca-root-cert does not lead to the shared root")
	CACertsForeign      = define("MC0321", Error, "A cacerts Secret with another root is in place (meshctl does not replace a CA)")
	ManagedDiscoveryOff = define("MC0322", Error, "Managed mesh: multi-cluster endpoint discovery is off (asm-options multicluster_mode)")

	// MC033x: a multi-network mesh (east-west gateways).
	NetworkLabelMissing   = define("MC0330", Error, "Multi-network mesh: istio-system has no topology.istio.io/network label")
	GatewayNoAddress      = define("MC0331", Error, "Multi-network mesh: a network has no east-west gateway with an address")
	GatewayNoGlobalAccess = define("MC0332", Error, "Multi-network mesh: an east-west gateway's internal load balancer has no global access while the clusters span regions")
	GatewayNotListed      = define("MC0333", Error, "Multi-network mesh: istiod does not list another network's gateway (/debug/networkz)")
)
