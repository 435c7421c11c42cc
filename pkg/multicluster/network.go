package multicluster

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/gkecluster"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
)

// podProtocols are what Istio's multi-cluster guide opens between the
// clusters' Pods and nodes (its istio-multicluster-pods rule): Pods talk
// to Pods of other clusters directly on one network, on any port.
var podProtocols = []string{"tcp", "udp", "icmp", "esp", "ah", "sctp"}

// podRulePriority is the guide's: ahead of the default 1000.
const podRulePriority = 900

// ruleOwner is the description meshctl writes on the firewall rule it
// makes, as JSON: disconnect finds its rules, and the clusters each admits,
// by it.
type ruleOwner struct {
	ManagedBy string   `json:"managedBy"`
	Purpose   string   `json:"purpose"`
	Clusters  []string `json:"clusters"`
}

const rulePurpose = "mesh connect: Pods of these clusters reach each other's nodes"

func parseRuleOwner(description string) (ruleOwner, bool) {
	var o ruleOwner
	if err := json.Unmarshal([]byte(description), &o); err != nil || o.ManagedBy != mesh.ManagedBy || o.Purpose != rulePurpose {
		return ruleOwner{}, false
	}
	return o, true
}

// podRuleName is deterministic for a set of clusters: RFC 1035, with a
// hash of the clusters' resource names.
func podRuleName(ms []*member) string {
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ResourceName())
	}
	sort.Strings(ids)
	h := fnv.New32a()
	h.Write([]byte(strings.Join(ids, ",")))
	return fmt.Sprintf("meshctl-mc-pods-%08x", h.Sum32())
}

// firewallState is the firewall rules of the clusters' network and what
// the mesh needs of them.
type firewallState struct {
	project, network string
	rules            []*computepb.Firewall
	// want is meshctl's rule for the clusters; nil when a node tag is unknown.
	want *computepb.Firewall
	// have is that rule as it exists; nil when it does not.
	have *computepb.Firewall
	// gaps are the cluster pairs no enabled rule admits, "a → b".
	gaps []string
	// noTag lists clusters whose nodes' network tag was not found.
	noTag []string
}

// nodeTag is the network tag GKE puts on the cluster's nodes.
func nodeTag(m *member, rules []*computepb.Firewall) string {
	return gkecluster.NodeTag(m.Name, rules)
}

// readFirewall works out, from the network's rules, what the clusters'
// Pods may not reach and the rule that would let them.
func readFirewall(ms []*member, project, network string, rules []*computepb.Firewall) firewallState {
	st := firewallState{project: project, network: network}
	for _, r := range rules {
		if gkecluster.SameNetwork(r.GetNetwork(), project, network) {
			st.rules = append(st.rules, r)
		}
	}
	tags := map[string]string{}
	for _, m := range ms {
		if t := nodeTag(m, st.rules); t != "" {
			tags[m.Name] = t
		} else {
			st.noTag = append(st.noTag, m.Name)
		}
	}
	name := podRuleName(ms)
	for _, r := range st.rules {
		if r.GetName() == name {
			st.have = r
		}
	}
	for _, from := range ms {
		src, ok := from.podRange()
		if !ok {
			continue
		}
		for _, to := range ms {
			if from != to && !admitted(st.rules, src, tags[to.Name]) {
				st.gaps = append(st.gaps, from.Name+" → "+to.Name)
			}
		}
	}
	if len(st.noTag) == 0 {
		st.want = podRule(ms, name, project, network, tags)
	}
	return st
}

func podRule(ms []*member, name, project, network string, tags map[string]string) *computepb.Firewall {
	var ranges, targets, clusters []string
	for _, m := range ms {
		if r, ok := m.podRange(); ok {
			ranges = append(ranges, r.String())
		}
		targets = append(targets, tags[m.Name])
		clusters = append(clusters, m.ResourceName())
	}
	sort.Strings(ranges)
	sort.Strings(targets)
	sort.Strings(clusters)
	owner, _ := json.Marshal(ruleOwner{ManagedBy: mesh.ManagedBy, Purpose: rulePurpose, Clusters: clusters})
	var allowed []*computepb.Allowed
	for _, p := range podProtocols {
		allowed = append(allowed, &computepb.Allowed{IPProtocol: proto.String(p)})
	}
	return &computepb.Firewall{
		Name:         proto.String(name),
		Description:  proto.String(string(owner)),
		Network:      proto.String("projects/" + project + "/global/networks/" + network),
		Direction:    proto.String("INGRESS"),
		Priority:     proto.Int32(podRulePriority),
		SourceRanges: ranges,
		TargetTags:   targets,
		Allowed:      allowed,
	}
}

// admitted reports whether enabled allow rules let every protocol Istio
// needs through from src to nodes tagged tag. Deny rules and firewall
// policies are not read.
func admitted(rules []*computepb.Firewall, src netip.Prefix, tag string) bool {
	for _, p := range podProtocols {
		if !slices.ContainsFunc(rules, func(r *computepb.Firewall) bool { return allows(r, src, tag, p) }) {
			return false
		}
	}
	return true
}

func allows(r *computepb.Firewall, src netip.Prefix, tag, protocol string) bool {
	if r.GetDisabled() || (r.GetDirection() != "" && r.GetDirection() != "INGRESS") || len(r.GetAllowed()) == 0 {
		return false
	}
	if len(r.GetTargetServiceAccounts()) > 0 || (len(r.GetTargetTags()) > 0 && !slices.Contains(r.GetTargetTags(), tag)) {
		return false
	}
	covered := false
	for _, s := range r.GetSourceRanges() {
		if p, err := netip.ParsePrefix(s); err == nil && p.Bits() <= src.Bits() && p.Masked().Contains(src.Addr()) {
			covered = true
		}
	}
	if !covered {
		return false
	}
	for _, a := range r.GetAllowed() {
		proto := strings.ToLower(a.GetIPProtocol())
		if (proto == "all" || proto == protocol) && allPorts(a.GetPorts()) {
			return true
		}
	}
	return false
}

func allPorts(ports []string) bool {
	return len(ports) == 0 || slices.Contains(ports, "0-65535") || slices.Contains(ports, "1-65535")
}

// change is the plan's entry for meshctl's rule.
func (st firewallState) change() plan.Change {
	c := plan.Change{Kind: "firewalls", Name: "meshctl-mc-pods", Action: plan.Skip}
	if st.want != nil {
		c.Name = st.want.GetName()
	}
	switch {
	case st.want == nil && len(st.gaps) > 0:
		c.Note = "no network tag found for the nodes of " + strings.Join(st.noTag, ", ")
	case st.have != nil && len(ruleDiff(st.have, st.want)) > 0:
		c.Action, c.Fields = plan.Update, ruleDiff(st.have, st.want)
	case st.have != nil:
		c.Action, c.Note = plan.Keep, "admits the clusters' Pod ranges"
	case len(st.gaps) == 0:
		c.Note = "other rules already admit every cluster's Pods"
	default:
		c.Action, c.Note = plan.Create, fmt.Sprintf("%s from %s to tags %s, in project %s",
			strings.Join(podProtocols, ","), strings.Join(st.want.GetSourceRanges(), ","), strings.Join(st.want.GetTargetTags(), ","), st.project)
	}
	return firewallChange(c, st.project, st.want)
}

func ruleDiff(have, want *computepb.Firewall) []string {
	if want == nil {
		return nil
	}
	var fields []string
	if !slices.Equal(sorted(have.GetSourceRanges()), want.GetSourceRanges()) {
		fields = append(fields, "sourceRanges")
	}
	if !slices.Equal(sorted(have.GetTargetTags()), want.GetTargetTags()) {
		fields = append(fields, "targetTags")
	}
	var protos []string
	for _, a := range have.GetAllowed() {
		protos = append(protos, a.GetIPProtocol())
	}
	if !slices.Equal(protos, podProtocols) {
		fields = append(fields, "allowed")
	}
	if have.GetDisabled() {
		fields = append(fields, "disabled")
	}
	if have.GetPriority() != want.GetPriority() {
		fields = append(fields, "priority")
	}
	if have.GetDescription() != want.GetDescription() {
		fields = append(fields, "description")
	}
	return fields
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

// finding is MC0311 when a pair of clusters is not admitted, or meshctl's
// rule no longer matches the clusters.
func (st firewallState) finding() []findings.Finding {
	c := st.change()
	object := "network " + st.project + "/" + st.network
	switch {
	case c.Action == plan.Update:
		return []findings.Finding{findings.PodFirewallMissing.New(object, "firewall rule "+c.Name+" differs from what the clusters need: "+strings.Join(c.Fields, ", "),
			"meshctl mesh connect --fix updates it")}
	case len(st.gaps) == 0:
		return nil
	case st.want == nil:
		return []findings.Finding{findings.PodFirewallMissing.New(object, "no firewall rule admits "+strings.Join(podProtocols, ",")+" for "+strings.Join(st.gaps, ", ")+
			", and the network tag of the nodes of "+strings.Join(st.noTag, ", ")+" was not found",
			"find the nodes' network tags with `gcloud compute instances list --format 'value(tags.items)'` and create a rule as Istio's guide shows (istio-multicluster-pods)")}
	}
	return []findings.Finding{findings.PodFirewallMissing.New(object, "no firewall rule admits "+strings.Join(podProtocols, ",")+" for "+strings.Join(st.gaps, ", "),
		"meshctl mesh connect --fix creates "+c.Name+" ("+c.Note+")")}
}
