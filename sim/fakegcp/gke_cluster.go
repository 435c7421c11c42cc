package fakegcp

import (
	"encoding/base64"
	"fmt"
	"hash/fnv"

	"github.com/meshctl/meshctl/sim/scenario"
)

// clusterServicesCIDR is the Service range GKE gives every cluster (not
// routable outside it, so clusters may share it).
const clusterServicesCIDR = "34.118.224.0/20"

var defaultOAuthScopes = []any{
	"https://www.googleapis.com/auth/devstorage.read_only",
	"https://www.googleapis.com/auth/logging.write",
	"https://www.googleapis.com/auth/monitoring",
	"https://www.googleapis.com/auth/service.management.readonly",
	"https://www.googleapis.com/auth/servicecontrol",
	"https://www.googleapis.com/auth/trace.append",
}

// fakeCACertificate stands in for the cluster CA when the simulator has not
// provided its API server's (Options.ClusterCACertificate).
var fakeCACertificate = base64.StdEncoding.EncodeToString([]byte(
	"-----BEGIN CERTIFICATE-----\nTUVTSFNJTS1GQUtFLUNMVVNURVItQ0E=\n-----END CERTIFICATE-----\n"))

func fnvHex(s string) string {
	h := fnv.New32a()
	h.Write([]byte(s))
	return fmt.Sprintf("%08x", h.Sum32())
}

// renderCluster builds the Cluster object GKE returns, in the shape the
// recording shows, from a scenario.
func (s *Server) renderCluster(cl *gkeCluster) map[string]any {
	sc := cl.shape(s)
	loc := sc.Location
	project := sc.Project
	hash := fnvHex(project + "/" + loc + "/" + sc.Cluster)
	public, private := sc.PublicEndpointIP(), sc.PrivateEndpointIP()
	endpoint := public
	if sc.PrivateEndpoint {
		endpoint = private
	}
	ca := fakeCACertificate
	if cl.endpoint != "" {
		endpoint = cl.endpoint
	}
	if cl.caCert != "" {
		ca = cl.caCert
	}
	podCIDR := sc.PodRange().String()
	subnetwork := "projects/" + project + "/regions/" + regionOfZone(loc) + "/subnetworks/" + sc.Subnetwork
	// As recorded, networkConfig.network is the bare name in the cluster's
	// own project; on a Shared VPC GKE names the host project's network
	// and subnetwork in full (the top-level fields keep the bare names).
	network := sc.Network
	if sc.SharedVPCHost != "" {
		network = "projects/" + sc.SharedVPCHost + "/global/networks/" + sc.Network
		subnetwork = "projects/" + sc.SharedVPCHost + "/regions/" + regionOfZone(loc) + "/subnetworks/" + sc.Subnetwork
	}

	authorized := map[string]any{"gcpPublicCidrsAccessEnabled": true}
	if sc.AuthorizedNetworksOn() {
		authorized["enabled"] = true
	}
	if len(sc.AuthorizedNetworks) > 0 {
		var blocks []any
		for _, cidr := range sc.AuthorizedNetworks {
			block := map[string]any{"cidrBlock": cidr}
			if name := cl.blockNames[cidr]; name != "" {
				block["displayName"] = name
			}
			blocks = append(blocks, block)
		}
		authorized["cidrBlocks"] = blocks
	}
	privateConfig := map[string]any{"privateEndpoint": private, "publicEndpoint": public}
	if sc.Private {
		privateConfig["enablePrivateNodes"] = true
		privateConfig["masterIpv4CidrBlock"] = sc.MasterCIDR
		privateConfig["peeringName"] = "gke-n" + hash + "-" + fnvHex(hash)[:4] + "-peer"
		if sc.PrivateEndpoint {
			privateConfig["enablePrivateEndpoint"] = true
		}
	}
	// Proto3 JSON leaves false out: the fields show only when on.
	ipEndpoints := map[string]any{
		"authorizedNetworksConfig": deepCopy(authorized),
		"enablePublicEndpoint":     !sc.PrivateEndpoint,
		"enabled":                  true,
		"privateEndpoint":          private,
		"publicEndpoint":           public,
	}
	if sc.MasterGlobalAccess {
		privateConfig["masterGlobalAccessConfig"] = map[string]any{"enabled": true}
		ipEndpoints["globalAccess"] = true
	}

	var pools []any
	var groups []any
	for _, p := range sc.NodePools {
		pool := s.renderNodePool(sc, p, subnetwork)
		pools = append(pools, pool)
		groups = append(groups, pool["instanceGroupUrls"].([]any)...)
	}
	var nodeConfig any = map[string]any{}
	if len(pools) > 0 {
		nodeConfig = deepCopy(pools[0].(map[string]any)["config"])
	}
	version := sc.MasterVersion

	c := map[string]any{
		"name":       sc.Cluster,
		"nodeConfig": nodeConfig,
		"nodePools":  pools,
		"addonsConfig": map[string]any{
			"gcePersistentDiskCsiDriverConfig": map[string]any{"enabled": true},
			"kubernetesDashboard":              map[string]any{"disabled": true},
			"networkPolicyConfig":              map[string]any{"disabled": true},
		},
		"anonymousAuthenticationConfig": map[string]any{"mode": "ENABLED"},
		"autopilot":                     map[string]any{},
		"autoscaling": map[string]any{
			"autoprovisioningNodePoolDefaults": map[string]any{
				"imageType":      "COS_CONTAINERD",
				"management":     map[string]any{"autoRepair": true, "autoUpgrade": true},
				"oauthScopes":    deepCopy(defaultOAuthScopes),
				"serviceAccount": "default",
			},
			"autoscalingProfile": "BALANCED",
		},
		"clusterIpv4Cidr":  podCIDR,
		"clusterTelemetry": map[string]any{"type": "ENABLED"},
		"controlPlaneEndpointsConfig": map[string]any{
			"dnsEndpointConfig": map[string]any{
				"allowExternalTraffic":  false,
				"enableK8sTokensViaDns": false,
				"endpoint":              "gke-" + hash + fnvHex(hash) + "-" + itoa(sc.ProjectNumber) + "." + loc + ".gke.goog",
			},
			"ipEndpointsConfig": ipEndpoints,
		},
		"createTime":               cl.created.UTC().Format("2006-01-02T15:04:05+00:00"),
		"currentMasterVersion":     version,
		"currentNodeCount":         len(sc.Nodes()),
		"currentNodeVersion":       version,
		"databaseEncryption":       map[string]any{"currentState": "CURRENT_STATE_DECRYPTED", "state": "DECRYPTED"},
		"defaultMaxPodsConstraint": map[string]any{"maxPodsPerNode": "110"},
		"endpoint":                 endpoint,
		"enterpriseConfig":         map[string]any{"clusterTier": "STANDARD"},
		"etag":                     fnvHex(fmt.Sprint(cl.generation, sc.Cluster)),
		"id":                       hash + fnvHex(hash) + fnvHex(hash+"2") + fnvHex(hash+"3"),
		"initialClusterVersion":    version,
		"instanceGroupUrls":        groups,
		"ipAllocationPolicy": map[string]any{
			"clusterIpv4Cidr":            podCIDR,
			"clusterIpv4CidrBlock":       podCIDR,
			"podCidrOverprovisionConfig": map[string]any{},
			"servicesIpv4Cidr":           clusterServicesCIDR,
			"servicesIpv4CidrBlock":      clusterServicesCIDR,
			"stackType":                  "IPV4",
			"useIpAliases":               true,
		},
		"labelFingerprint": fnvHex(fmt.Sprint(sc.ResourceLabels)),
		"legacyAbac":       map[string]any{},
		"location":         loc,
		"locations":        toAnyList(sc.Zones()),
		"loggingConfig": map[string]any{"componentConfig": map[string]any{
			"enableComponents": []any{"SYSTEM_COMPONENTS", "WORKLOADS"},
		}},
		"loggingService":    sc.LoggingService,
		"maintenancePolicy": map[string]any{"resourceVersion": fnvHex(sc.Cluster + "/maintenance")},
		"masterAuth": map[string]any{
			"clientCertificateConfig": map[string]any{},
			"clusterCaCertificate":    ca,
		},
		"masterAuthorizedNetworksConfig": authorized,
		"monitoringConfig": map[string]any{
			"advancedDatapathObservabilityConfig": map[string]any{},
			"componentConfig": map[string]any{"enableComponents": []any{
				"SYSTEM_COMPONENTS", "DAEMONSET", "DEPLOYMENT", "STATEFULSET", "JOBSET", "STORAGE", "HPA", "POD", "CADVISOR", "KUBELET", "DCGM",
			}},
			"managedPrometheusConfig": map[string]any{"enabled": true},
		},
		"monitoringService": sc.MonitoringService,
		"network":           sc.Network,
		"networkConfig": map[string]any{
			"network":                  network,
			"serviceExternalIpsConfig": map[string]any{},
			"subnetwork":               subnetwork,
		},
		"nodePoolAutoConfig": map[string]any{"nodeKubeletConfig": map[string]any{"insecureKubeletReadonlyPortEnabled": false}},
		"nodePoolDefaults": map[string]any{"nodeConfigDefaults": map[string]any{
			"loggingConfig":     map[string]any{"variantConfig": map[string]any{"variant": "DEFAULT"}},
			"nodeKubeletConfig": map[string]any{"insecureKubeletReadonlyPortEnabled": false},
		}},
		"notificationConfig":   map[string]any{"pubsub": map[string]any{}},
		"podAutoscaling":       map[string]any{"hpaProfile": "PERFORMANCE"},
		"privateClusterConfig": privateConfig,
		"protectConfig": map[string]any{
			"workloadConfig":            map[string]any{"auditMode": "BASIC"},
			"workloadVulnerabilityMode": "WORKLOAD_VULNERABILITY_MODE_UNSPECIFIED",
		},
		"rbacBindingConfig": map[string]any{
			"enableInsecureBindingSystemAuthenticated":   true,
			"enableInsecureBindingSystemUnauthenticated": true,
		},
		"releaseChannel":        map[string]any{"channel": sc.ReleaseChannel},
		"securityPostureConfig": map[string]any{"mode": "BASIC", "vulnerabilityMode": "VULNERABILITY_MODE_UNSPECIFIED"},
		"selfLink":              gkeLink(project, loc, "clusters/"+sc.Cluster),
		"servicesIpv4Cidr":      clusterServicesCIDR,
		"shieldedNodes":         map[string]any{"enabled": true},
		"status":                cl.status,
		"subnetwork":            sc.Subnetwork,
		"userManagedKeysConfig": map[string]any{},
		"zone":                  loc,
	}
	if sc.Autopilot {
		c["autopilot"] = map[string]any{"enabled": true}
	}
	if pool := sc.WorkloadPool(); pool != "" {
		c["workloadIdentityConfig"] = map[string]any{"workloadPool": pool}
	}
	if len(sc.ResourceLabels) > 0 {
		labels := map[string]any{}
		for k, v := range sc.ResourceLabels {
			labels[k] = v
		}
		c["resourceLabels"] = labels
	}
	return mergePatch(c, copyObject(cl.overlay))
}

// renderNodePool is one entry of nodePools[]. The pool's zones are in
// locations; its instance groups follow GKE's naming and match the node
// names the scenario gives.
func (s *Server) renderNodePool(sc scenario.Scenario, p scenario.NodePool, subnetwork string) map[string]any {
	config := map[string]any{
		"bootDisk":               map[string]any{"diskType": "pd-balanced", "sizeGb": "100"},
		"diskSizeGb":             100,
		"diskType":               "pd-balanced",
		"effectiveCgroupMode":    "EFFECTIVE_CGROUP_MODE_V2",
		"imageType":              "COS_CONTAINERD",
		"kubeletConfig":          map[string]any{"insecureKubeletReadonlyPortEnabled": false, "maxParallelImagePulls": 2},
		"machineType":            p.MachineType,
		"metadata":               map[string]any{"disable-legacy-endpoints": "true"},
		"oauthScopes":            deepCopy(defaultOAuthScopes),
		"resourceLabels":         map[string]any{"goog-gke-node-pool-provisioning-model": "on-demand"},
		"serviceAccount":         "default",
		"shieldedInstanceConfig": map[string]any{"enableIntegrityMonitoring": true},
		"windowsNodeConfig":      map[string]any{},
	}
	if p.WorkloadMetadata != "" {
		config["workloadMetadataConfig"] = map[string]any{"mode": p.WorkloadMetadata}
	}
	var groups []any
	for _, z := range p.Zones {
		group := fnvHex(sc.Cluster + "/" + p.Name + "/" + z)
		groups = append(groups, computeBase+"projects/"+sc.Project+"/zones/"+z+"/instanceGroupManagers/gke-"+sc.Cluster+"-"+p.Name+"-"+group+"-grp")
	}
	version := p.Version
	if version == "" {
		version = sc.MasterVersion
	}
	pool := map[string]any{
		"config":            config,
		"initialNodeCount":  p.NodesPerZone,
		"instanceGroupUrls": groups,
		"locations":         toAnyList(p.Zones),
		"management":        map[string]any{"autoRepair": true, "autoUpgrade": true},
		"maxPodsConstraint": map[string]any{"maxPodsPerNode": "110"},
		"name":              p.Name,
		"networkConfig": map[string]any{
			"podIpv4CidrBlock":        sc.PodRange().String(),
			"podIpv4RangeUtilization": 0.001,
			"podRange":                p.Name + "-pods-" + fnvHex(sc.Cluster+"/pods"),
			"subnetwork":              subnetwork,
		},
		"podIpv4CidrSize": 24,
		"status":          "RUNNING",
		"upgradeSettings": map[string]any{"maxSurge": 1},
		"version":         version,
	}
	if p.MaxNodesPerZone > 0 {
		pool["autoscaling"] = map[string]any{
			"enabled": true, "minNodeCount": p.MinNodesPerZone, "maxNodeCount": p.MaxNodesPerZone, "locationPolicy": "BALANCED",
		}
	}
	return pool
}

// gkeLink is a GKE selfLink. Zonal clusters are addressed through the
// older zones form, as the recording shows.
func gkeLink(project, location, rest string) string {
	form := "locations"
	if isZone(location) {
		form = "zones"
	}
	return "https://container.googleapis.com/v1/projects/" + project + "/" + form + "/" + location + "/" + rest
}
