package fakegcp

import (
	"fmt"
	"hash/fnv"

	"github.com/meshctl/meshctl/sim/scenario"
)

// The cluster's nodes are Compute instances, as on GKE: instances.get and
// instances.list answer from the scenario. This is also where the node
// network tag is discoverable, in tags.items, exactly where GKE puts it (GKE
// does not list it in nodePools[].config.tags, which holds only the tags a
// user asked for); GKE's own firewall rules (gke-<cluster>-<hash>-all, -vms
// and, for private clusters, -master) target the same tag.

type nodeInfo struct {
	name, zone, pool, machineType, ip string
	index                             int               // within its cluster
	sc                                scenario.Scenario // its cluster
}

// nodes lists the simulated clusters' nodes with their internal addresses.
// Called with s.mu held.
func (s *Server) nodes() []nodeInfo {
	var out []nodeInfo
	for _, sc := range s.simulatedScenarios() {
		for i, n := range sc.Nodes() {
			out = append(out, nodeInfo{name: n.Name, zone: n.Zone, pool: n.Pool, machineType: n.MachineType, index: i,
				ip: sc.NodeIP(i), sc: sc})
		}
	}
	return out
}

func (s *Server) renderInstance(n nodeInfo) map[string]any {
	sc := n.sc
	scope := "zones/" + n.zone
	link := computeBase + "projects/" + s.project + "/" + scope + "/instances/" + n.name
	nic := map[string]any{
		"kind":       "compute#networkInterface",
		"name":       "nic0",
		"network":    computeBase + "projects/" + s.project + "/global/networks/" + sc.Network,
		"subnetwork": computeBase + "projects/" + s.project + "/regions/" + sc.Region + "/subnetworks/" + sc.Subnetwork,
		"networkIP":  n.ip,
		"stackType":  "IPV4_ONLY",
		"aliasIpRanges": []any{map[string]any{
			"ipCidrRange":         sc.NodePodCIDR(n.index),
			"subnetworkRangeName": n.pool + "-pods-" + fnvHex(sc.Cluster+"/pods"),
		}},
	}
	if !sc.Private {
		nic["accessConfigs"] = []any{map[string]any{
			"kind": "compute#accessConfig", "type": "ONE_TO_ONE_NAT", "name": "external-nat",
			"natIP": fmt.Sprintf("34.66.%d.%d", n.index/250, n.index%250+2), "networkTier": "PREMIUM",
		}}
	}
	return map[string]any{
		"kind":              "compute#instance",
		"id":                fmt.Sprint(nameID(n.name)),
		"creationTimestamp": googleTime(s.started),
		"name":              n.name,
		"description":       "",
		"tags":              map[string]any{"items": []any{sc.NodeTag()}, "fingerprint": labelFingerprint(map[string]any{"tag": sc.NodeTag()})},
		"machineType":       computeBase + "projects/" + s.project + "/" + scope + "/machineTypes/" + n.machineType,
		"status":            "RUNNING",
		"zone":              scopeLink(s.project, scope),
		"canIpForward":      true,
		"networkInterfaces": []any{nic},
		"labels": map[string]any{
			"goog-gke-node":             "",
			"goog-k8s-cluster-name":     sc.Cluster,
			"goog-k8s-cluster-location": sc.Location,
			"goog-k8s-node-pool-name":   n.pool,
		},
		"serviceAccounts": []any{map[string]any{
			"email":  sc.NodeServiceAccount(),
			"scopes": []any{"https://www.googleapis.com/auth/cloud-platform"},
		}},
		"selfLink": link,
	}
}

func (s *Server) getInstance(c *apiCall) (any, *APIError) {
	for _, n := range s.nodes() {
		if n.name == c.name && "zones/"+n.zone == c.scope {
			return s.renderInstance(n), nil
		}
	}
	return nil, errNotFound("projects/" + s.project + "/" + c.scope + "/instances/" + c.name)
}

func (s *Server) listInstances(c *apiCall) (any, *APIError) {
	var items []map[string]any
	for _, n := range s.nodes() {
		if "zones/"+n.zone == c.scope {
			items = append(items, s.renderInstance(n))
		}
	}
	return s.listResponse(c, "compute#instanceList", "projects/"+s.project+"/"+c.scope+"/instances", items, true)
}

// nameID derives a stable numeric id from a name.
func nameID(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()>>1 | 1<<62
}
