// Package scenario describes the shape of the simulated GKE cluster: its
// identity, its control-plane facts and its node pools. The cluster half of
// meshsim turns it into kwok nodes with GKE's labels; the Google Cloud half
// answers the GKE and Compute APIs from the same description, so both halves
// always agree on what the cluster looks like.
package scenario

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"
	"time"
)

// Scenario is one simulated cluster and the project it lives in.
type Scenario struct {
	Project       string `json:"project"`
	ProjectNumber int64  `json:"projectNumber"`
	Region        string `json:"region"`
	// Location is the cluster's location: the region for a regional cluster.
	Location string `json:"location"`
	Cluster  string `json:"cluster"`

	// MasterVersion is the GKE version the API reports, e.g. "1.34.4-gke.1000".
	MasterVersion  string `json:"masterVersion"`
	ReleaseChannel string `json:"releaseChannel"` // RAPID, REGULAR, STABLE or UNSPECIFIED

	Private            bool     `json:"private"`
	PrivateEndpoint    bool     `json:"privateEndpoint"`
	MasterCIDR         string   `json:"masterCidr"`
	AuthorizedNetworks []string `json:"authorizedNetworks"`
	// AuthorizedNetworksEnabled turns master authorized networks on even
	// with no block listed (then only Google's own addresses get in).
	AuthorizedNetworksEnabled bool `json:"authorizedNetworksEnabled,omitempty"`
	// MasterGlobalAccess lets callers in other regions reach the private
	// endpoint; without it GKE's internal load balancer is regional.
	MasterGlobalAccess bool `json:"masterGlobalAccess,omitempty"`

	WorkloadIdentity  bool   `json:"workloadIdentity"`
	LoggingService    string `json:"loggingService"`
	MonitoringService string `json:"monitoringService"`
	Autopilot         bool   `json:"autopilot"`

	Network    string `json:"network"`
	Subnetwork string `json:"subnetwork"`
	// SharedVPCHost, when set, is the Shared VPC host project that owns
	// Network and Subnetwork (meshsim up --shared-vpc): the cluster's
	// networkConfig names them there, and only that project's firewall
	// rules apply to the nodes.
	SharedVPCHost string `json:"sharedVpcHost,omitempty"`
	// SubnetCIDR is the primary range of the nodes' subnet in Region.
	SubnetCIDR string `json:"subnetCidr,omitempty"`
	// PodCIDR is the cluster's Pod range (clusterIpv4Cidr); kwok gives Pods
	// addresses from the nodes' /24s of it, as GKE does.
	PodCIDR        string            `json:"podCidr,omitempty"`
	ResourceLabels map[string]string `json:"resourceLabels"`

	NodePools []NodePool `json:"nodePools"`

	// PodStartup is how long a scheduled pod takes to turn Running and
	// Ready: the kubelet starting the containers (Istio's native sidecar
	// first, then the app) and the readiness probes passing.
	PodStartup PodDelay `json:"podStartup"`
	// PodShutdown is how long a deleted pod stays Terminating: the
	// containers stopping, Envoy draining first (5 s by default).
	PodShutdown PodDelay `json:"podShutdown"`
}

// PodDelay is a time a pod takes: a random one between MinMillis and
// MaxMillis. With a kubelet that is seconds, not the nothing of kwok's
// default stages.
type PodDelay struct {
	MinMillis int64 `json:"minMillis"`
	MaxMillis int64 `json:"maxMillis"`
}

// Min is the shortest delay.
func (d PodDelay) Min() time.Duration { return time.Duration(d.MinMillis) * time.Millisecond }

// Max is the longest delay.
func (d PodDelay) Max() time.Duration { return time.Duration(d.MaxMillis) * time.Millisecond }

func (d PodDelay) validate(what string) error {
	if d.MinMillis < 0 || d.MaxMillis < d.MinMillis {
		return fmt.Errorf("pod %s time %dms-%dms: the minimum must be at least 0 and at most the maximum", what, d.MinMillis, d.MaxMillis)
	}
	return nil
}

// NodePool is one GKE node pool: NodesPerZone nodes in each of Zones.
type NodePool struct {
	Name         string   `json:"name"`
	MachineType  string   `json:"machineType"`
	NodesPerZone int      `json:"nodesPerZone"`
	Zones        []string `json:"zones"`
	// Autoscaling limits per zone; zero means autoscaling is off.
	MinNodesPerZone int `json:"minNodesPerZone,omitempty"`
	MaxNodesPerZone int `json:"maxNodesPerZone,omitempty"`
	// WorkloadMetadata is GKE_METADATA when the pool serves workload identity.
	WorkloadMetadata string `json:"workloadMetadata"`
	// Version is the pool's node version; empty means the master's.
	Version string `json:"version,omitempty"`
}

// Node is one simulated node, derived from a pool.
type Node struct {
	Name        string `json:"name"`
	Pool        string `json:"pool"`
	Zone        string `json:"zone"`
	MachineType string `json:"machineType"`
}

// Default returns the default shape: a public regional cluster in
// us-central1 with two pools of e2-standard-4 nodes over three zones.
func Default() Scenario {
	zones := []string{"us-central1-a", "us-central1-b", "us-central1-c"}
	return Scenario{
		Project:           "meshsim-project",
		ProjectNumber:     123456789012,
		Region:            "us-central1",
		Location:          "us-central1",
		Cluster:           "meshsim",
		MasterVersion:     "1.34.4-gke.1000",
		ReleaseChannel:    "REGULAR",
		MasterCIDR:        "172.16.0.0/28",
		WorkloadIdentity:  true,
		LoggingService:    "logging.googleapis.com/kubernetes",
		MonitoringService: "monitoring.googleapis.com/kubernetes",
		Network:           "default",
		Subnetwork:        "default",
		SubnetCIDR:        defaultSubnetCIDR,
		PodCIDR:           defaultPodCIDR,
		ResourceLabels:    map[string]string{"mesh_id": "proj-123456789012"},
		NodePools: []NodePool{
			{Name: "default-pool", MachineType: "e2-standard-4", NodesPerZone: 1, Zones: zones, WorkloadMetadata: "GKE_METADATA"},
			{Name: "pool-2", MachineType: "e2-standard-4", NodesPerZone: 1, Zones: zones, WorkloadMetadata: "GKE_METADATA",
				MinNodesPerZone: 1, MaxNodesPerZone: 3},
		},
		// kwok's own "general" pod stages model a 1-5 s start-up; the low end
		// keeps the simulator quick while rollouts still take time.
		PodStartup:  PodDelay{MinMillis: 1000, MaxMillis: 2000},
		PodShutdown: PodDelay{MinMillis: 2000, MaxMillis: 5000},
	}
}

var rfc1035 = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// NetworkProject is the project that owns the cluster's network: the
// Shared VPC host project, else the cluster's own.
func (s Scenario) NetworkProject() string {
	if s.SharedVPCHost != "" {
		return s.SharedVPCHost
	}
	return s.Project
}

// SharedVPCHostNumber is the host project's number: the simulator gives it
// the number after the cluster project's.
func (s Scenario) SharedVPCHostNumber() int64 { return s.ProjectNumber + 1 }

// Validate rejects a shape the simulator cannot build.
func (s Scenario) Validate() error {
	if !rfc1035.MatchString(s.Cluster) || len(s.Cluster) > 40 {
		return fmt.Errorf("cluster name %q: must be lower-case letters, digits and dashes, at most 40 characters", s.Cluster)
	}
	if s.Project == "" || s.Location == "" {
		return fmt.Errorf("project and location are required")
	}
	if s.SharedVPCHost == s.Project {
		return fmt.Errorf("--shared-vpc %s: the host project must differ from the cluster's project", s.SharedVPCHost)
	}
	if err := s.PodStartup.validate("start-up"); err != nil {
		return err
	}
	if err := s.PodShutdown.validate("shutdown"); err != nil {
		return err
	}
	if len(s.NodePools) == 0 {
		return fmt.Errorf("at least one node pool is required")
	}
	for _, p := range s.NodePools {
		if !rfc1035.MatchString(p.Name) {
			return fmt.Errorf("node pool name %q is not a valid name", p.Name)
		}
		if len(p.Zones) == 0 {
			return fmt.Errorf("node pool %s has no zones", p.Name)
		}
		for _, z := range p.Zones {
			if !strings.HasPrefix(z, s.Region+"-") {
				return fmt.Errorf("node pool %s: zone %s is not in region %s", p.Name, z, s.Region)
			}
		}
		if p.NodesPerZone < 0 {
			return fmt.Errorf("node pool %s: negative node count", p.Name)
		}
	}
	return nil
}

// Nodes lists every node of every pool, named as GKE names them:
// gke-<cluster>-<pool>-<hash>-<suffix>.
func (s Scenario) Nodes() []Node {
	var nodes []Node
	for _, p := range s.NodePools {
		for _, zone := range p.Zones {
			group := shortHash(s.Cluster + "/" + p.Name + "/" + zone)
			for i := 0; i < p.NodesPerZone; i++ {
				name := fmt.Sprintf("gke-%s-%s-%s-%s", s.Cluster, p.Name, group, shortHash(fmt.Sprint(group, i))[:4])
				if len(name) > 63 {
					name = name[:63]
				}
				nodes = append(nodes, Node{Name: name, Pool: p.Name, Zone: zone, MachineType: p.MachineType})
			}
		}
	}
	return nodes
}

// NodeTag is the network tag GKE puts on the cluster's node VMs; firewall
// rules for the cluster's nodes target it.
func (s Scenario) NodeTag() string {
	return fmt.Sprintf("gke-%s-%s-node", s.Cluster, shortHash(s.Project+"/"+s.Location+"/"+s.Cluster))
}

// NodeServiceAccount is the service account of the node VMs.
func (s Scenario) NodeServiceAccount() string {
	return fmt.Sprintf("%d-compute@developer.gserviceaccount.com", s.ProjectNumber)
}

// WorkloadPool is the cluster's workload identity pool, empty when off.
func (s Scenario) WorkloadPool() string {
	if !s.WorkloadIdentity {
		return ""
	}
	return s.Project + ".svc.id.goog"
}

// Zones lists the zones that hold at least one node, in order.
func (s Scenario) Zones() []string {
	seen := map[string]bool{}
	var zones []string
	for _, n := range s.Nodes() {
		if !seen[n.Zone] {
			seen[n.Zone] = true
			zones = append(zones, n.Zone)
		}
	}
	return zones
}

// KubeContext is the kubeconfig context name gcloud writes for the cluster.
func (s Scenario) KubeContext() string {
	return fmt.Sprintf("gke_%s_%s_%s", s.Project, s.Location, s.Cluster)
}

func shortHash(s string) string {
	h := fnv.New32a()
	h.Write([]byte(s))
	return fmt.Sprintf("%08x", h.Sum32())
}
