package fakegcp

import (
	"fmt"
	"strings"
	"time"

	"github.com/meshctl/meshctl/sim/scenario"
)

func firewallKind() *kind {
	return &kind{
		collection: "firewalls", method: "firewalls", apiKind: "compute#firewall",
		typeName: "firewall", quota: "FIREWALLS",
		update: true, patch: true,
		refs:    []refField{{path: "network", collections: []string{"networks"}, keepRelative: true}},
		prepare: prepareFirewall,
	}
}

// prepareFirewall fills Google's defaults (INGRESS, priority 1000, the
// default network) and checks the rule is well formed.
func prepareFirewall(s *Server, c *change) *APIError {
	fw := c.next
	setDefault(fw, "direction", "INGRESS")
	setDefault(fw, "priority", 1000)
	setDefault(fw, "network", "global/networks/default")
	// A rule is in its network's project: a Shared VPC's rules are made in
	// the host project, not by naming its network from a service project.
	if ref, ok := parseRef(str(fw, "network"), c.r.ref.Project, "global", "networks"); ok && s.canonicalRef(ref).Project != c.r.ref.Project {
		return errInvalidField("resource.network", str(fw, "network"), "Cross-project references for this resource are not allowed.")
	}
	if d := str(fw, "direction"); d != "INGRESS" && d != "EGRESS" {
		return errInvalidField("resource.direction", d, "Must be INGRESS or EGRESS.")
	}
	if p, _ := num(fw, "priority"); p < 0 || p > 65535 {
		return errInvalidField("resource.priority", p, "The priority must be between 0 and 65535.")
	}
	allowed, denied := list(fw, "allowed"), list(fw, "denied")
	if len(allowed) == 0 && len(denied) == 0 {
		return errInvalid("Invalid value for field 'resource': a firewall rule must specify allowed or denied.")
	}
	if len(allowed) > 0 && len(denied) > 0 {
		return errInvalid("Invalid value for field 'resource': a firewall rule cannot both allow and deny.")
	}
	for i, e := range append(allowed, denied...) {
		entry, _ := e.(map[string]any)
		if str(entry, "IPProtocol") == "" {
			return errRequired(fmt.Sprintf("resource.allowed[%d].IPProtocol", i))
		}
	}
	return nil
}

// seedGKEFirewalls creates the rules GKE makes for a cluster's nodes, named
// after the node tag's hash: -all (pods), -vms (the subnet) and, for a
// private cluster, -master (the control plane to the kubelet and webhooks).
// None of them admits Google's health checkers.
func (s *Server) seedGKEFirewalls(sc scenario.Scenario, now time.Time) {
	prefix := strings.TrimSuffix(sc.NodeTag(), "-node")
	// GKE makes them where the network is: a Shared VPC's host project.
	network := computeBase + "projects/" + sc.NetworkProject() + "/global/networks/" + sc.Network
	tcpUDPICMP := []any{
		map[string]any{"IPProtocol": "icmp"},
		map[string]any{"IPProtocol": "tcp", "ports": []any{"1-65535"}},
		map[string]any{"IPProtocol": "udp", "ports": []any{"1-65535"}},
	}
	rules := map[string]map[string]any{
		prefix + "-all": {"sourceRanges": []any{sc.PodRange().String()}, "allowed": []any{
			map[string]any{"IPProtocol": "tcp"}, map[string]any{"IPProtocol": "udp"}, map[string]any{"IPProtocol": "icmp"},
			map[string]any{"IPProtocol": "esp"}, map[string]any{"IPProtocol": "ah"}, map[string]any{"IPProtocol": "sctp"},
		}},
		prefix + "-vms": {"sourceRanges": []any{"10.128.0.0/9"}, "allowed": tcpUDPICMP},
	}
	if sc.Private {
		rules[prefix+"-master"] = map[string]any{"sourceRanges": []any{sc.MasterCIDR}, "allowed": []any{
			map[string]any{"IPProtocol": "tcp", "ports": []any{"10250", "443"}},
		}}
	}
	k := kindOf("firewalls")
	for name, rule := range rules {
		rule["network"] = network
		rule["targetTags"] = []any{sc.NodeTag()}
		rule["description"] = ""
		s.seedIn(sc.NetworkProject(), k, "global", name, rule, now)
	}
}
