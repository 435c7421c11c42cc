package fakegcp

import (
	"strconv"
	"time"

	"github.com/meshctl/meshctl/sim/scenario"
)

func networkKind() *kind {
	return &kind{
		collection: "networks", method: "networks", apiKind: "compute#network",
		typeName: "network", quota: "NETWORKS",
		patch:      true,
		outputOnly: []string{"subnetworks", "selfLinkWithId"},
		prepare: func(_ *Server, c *change) *APIError {
			setDefault(c.next, "networkFirewallPolicyEnforcementOrder", "AFTER_CLASSIC_FIREWALL")
			return nil
		},
		render: func(_ *Server, r *resource, out map[string]any) {
			out["selfLinkWithId"] = computeBase + "projects/" + r.ref.Project + "/global/networks/" + strconv.FormatUint(r.id, 10)
		},
	}
}

// seedNetwork makes a network that exists before the simulation starts: the
// project's auto-mode "default" network, or the scenario's custom-mode one
// with the cluster's subnetwork. Called with s.mu held (or before serving).
func (s *Server) seedNetwork(name string, now time.Time) {
	if name == "" {
		return
	}
	network := map[string]any{"autoCreateSubnetworks": false}
	if name == "default" {
		network = map[string]any{"autoCreateSubnetworks": true, "description": "Default network for the project"}
	}
	// One subnet per region that a simulated cluster is in.
	var subnets []any
	seen := map[string]bool{}
	scenarios := []scenario.Scenario{s.sc}
	for _, more := range s.opts.MoreClusters {
		scenarios = append(scenarios, more.Scenario)
	}
	for _, sc := range scenarios {
		subnet := sc.Subnetwork
		if name == "default" || subnet == "" {
			subnet = "default"
		}
		link := computeBase + "projects/" + s.project + "/regions/" + sc.Region + "/subnetworks/" + subnet
		if (name == "default" || name == sc.Network) && !seen[link] {
			seen[link] = true
			subnets = append(subnets, link)
		}
	}
	if len(subnets) > 0 {
		network["subnetworks"] = subnets
	}
	s.seed(kindOf("networks"), "global", name, network, now)
}

// seed stores an object that exists from the start, with no operation.
func (s *Server) seed(k *kind, scope, name string, state map[string]any, now time.Time) {
	ref := resourceRef{Project: s.project, Scope: scope, Collection: k.collection, Name: name}
	if s.resources[ref.Path()] != nil {
		return
	}
	r := &resource{kind: k, ref: ref, id: s.newID()}
	if err := s.completeChange(&change{call: &apiCall{}, r: r, next: state}); err != nil {
		panic("fakegcp: seeding " + ref.Path() + ": " + err.Message)
	}
	state["creationTimestamp"] = googleTime(now)
	r.obj = state
	s.resources[ref.Path()] = r
}
