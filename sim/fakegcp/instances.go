package fakegcp

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/meshctl/meshctl/sim/scenario"
)

// The cluster's nodes are Compute instances, as on GKE: instances.get and
// instances.list show them, derived from the scenario. This is also where the node
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

// instanceKind: the project's VMs. The cluster's nodes are among them,
// derived from the scenario (get and list show them; the API does not change
// them); other instances are created and deleted through the API.
//
// Recorded: Google answers a created instance with the fields it was sent
// (links as they were sent), its zone, status RUNNING and labels.
func instanceKind() *kind {
	return &kind{
		collection: "instances", method: "instances", apiKind: "compute#instance",
		typeName: "instance", scope: zonalScope, quota: "INSTANCES", labels: true,
		outputOnly: []string{"status", "cpuPlatform"},
		refs: []refField{
			{path: "networkInterfaces[].network", collections: []string{"networks"}, keepRelative: true},
			{path: "networkInterfaces[].subnetwork", collections: []string{"subnetworks"}, keepRelative: true},
		},
		prepare: prepareInstance,
		computed: func(s *Server, scope string) map[string]map[string]any {
			out := map[string]map[string]any{}
			for _, n := range s.nodes() {
				if "zones/"+n.zone == scope {
					out[n.name] = s.renderInstance(n)
				}
			}
			return out
		},
		verbs: map[string]verb{"setLabels": setLabelsVerb()},
		deletable: func(_ *Server, r *resource) *APIError {
			if boolean(r.obj, "deletionProtection") {
				return errInvalid("Invalid resource usage: 'Resource cannot be deleted if it's protected against deletion.'.")
			}
			return nil
		},
	}
}

// prepareInstance checks what an instance needs: a machine type of its
// zone, a boot disk from an image that exists, and a network interface.
func prepareInstance(s *Server, c *change) *APIError {
	inst := c.next
	zone := zoneOf(c.r.ref.Scope)
	mt := str(inst, "machineType")
	if mt == "" {
		return errRequired("resource.machineType")
	}
	if _, ok := lookupMachineType(lastSegment(mt)); !ok {
		return errInvalidField("resource.machineType", mt, "Machine type with name '"+lastSegment(mt)+"' does not exist in zone '"+zone+"'.")
	}
	disks := list(inst, "disks")
	if len(disks) == 0 {
		return errRequired("resource.disks")
	}
	for i, d := range disks {
		disk, _ := d.(map[string]any)
		image := str(obj(disk, "initializeParams"), "sourceImage")
		if image == "" && str(disk, "source") == "" {
			return errRequired(fmt.Sprintf("resource.disks[%d].initializeParams.sourceImage", i))
		}
		if image != "" && s.lookupImage(image) == nil {
			return errInvalidField(fmt.Sprintf("resource.disks[%d].initializeParams.sourceImage", i), image, "The referenced image resource cannot be found.")
		}
	}
	if len(list(inst, "networkInterfaces")) == 0 {
		return errRequired("resource.networkInterfaces")
	}
	if err := s.prepareInstanceNICs(c); err != nil {
		return err
	}
	inst["status"] = "RUNNING"
	return nil
}

// nameID derives a stable numeric id from a name.
func nameID(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()>>1 | 1<<62
}

func lastSegment(link string) string { return link[strings.LastIndex(link, "/")+1:] }
