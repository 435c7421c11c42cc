package check

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// webhookPort is where istiod's injection and validation webhooks listen
// (its Service's port 443 targets it). On a private cluster GKE's own
// -master rule opens only tcp:443 and tcp:10250 from the control plane.
const webhookPort = mesh.IstiodWebhookPort

func checkPrivateCluster(f *facts) outcome {
	cl, err := f.cluster()
	if err != nil {
		return unavailable(err)
	}
	var parts []string
	if privateNodes(cl) {
		parts = append(parts, "private nodes")
	} else {
		parts = append(parts, "public nodes")
	}
	if privateEndpointOnly(cl) {
		parts = append(parts, "private endpoint only ("+privateEndpoint(cl)+")")
	} else {
		parts = append(parts, "public endpoint")
	}
	if cidr := masterCIDR(cl); cidr != "" {
		parts = append(parts, "control plane range "+cidr)
	}
	if on, cidrs := authorizedNetworks(cl); on {
		if len(cidrs) == 0 {
			parts = append(parts, "authorized networks: none (only Google Cloud addresses)")
		} else {
			parts = append(parts, "authorized networks "+strings.Join(cidrs, ", "))
		}
	} else {
		parts = append(parts, "no authorized networks")
	}
	return outcome{status: StatusInfo, message: strings.Join(parts, ", ")}
}

// webhookState is what the 15017 check and its fix both need.
type webhookState struct {
	skip       string // non-empty: the check does not apply, and why
	cidr       netip.Prefix
	netProject string
	network    string
	tag        string              // the nodes' network tag, from GKE's rules
	gkeMaster  *computepb.Firewall // GKE's gke-<cluster>-<hash>-master rule
	allowedBy  *computepb.Firewall
	deniedBy   *computepb.Firewall
}

func (f *facts) webhookState() (webhookState, error) {
	var st webhookState
	cl, err := f.cluster()
	if err != nil {
		return st, err
	}
	if !privateNodes(cl) {
		st.skip = "public nodes: GKE's rules admit the control plane"
		return st, nil
	}
	raw := masterCIDR(cl)
	if raw == "" {
		st.skip = "no control plane range (Private Service Connect): the control plane reaches nodes from the subnet"
		return st, nil
	}
	st.cidr, err = netip.ParsePrefix(raw)
	if err != nil {
		return st, fmt.Errorf("control plane range %q: %w", raw, err)
	}
	st.netProject, st.network = clusterNetwork(cl, f.opts.Project)
	rules, err := f.firewallRules(st.netProject)
	if err != nil {
		return st, err
	}
	gkeRule := regexp.MustCompile(`^gke-` + regexp.QuoteMeta(f.opts.Cluster) + `-[0-9a-z]+-(master|vms|all)$`)
	for _, r := range rules {
		if !sameNetwork(r.GetNetwork(), st.netProject, st.network) {
			continue
		}
		m := gkeRule.FindStringSubmatch(r.GetName())
		if m == nil {
			continue
		}
		if m[1] == "master" {
			st.gkeMaster = r
		}
		if st.tag == "" || m[1] == "master" {
			if tags := r.GetTargetTags(); len(tags) > 0 {
				st.tag = tags[0]
			} else {
				st.tag = strings.TrimSuffix(r.GetName(), "-"+m[1]) + "-node"
			}
		}
	}
	sas, err := f.poolServiceAccounts(cl, rules)
	if err != nil {
		return st, err
	}
	var allow, deny *computepb.Firewall
	for _, r := range rules {
		if r.GetDisabled() || (r.GetDirection() != "" && r.GetDirection() != "INGRESS") || !sameNetwork(r.GetNetwork(), st.netProject, st.network) {
			continue
		}
		if !targetsNodes(r, st.tag, sas) {
			continue
		}
		if len(r.GetAllowed()) > 0 && coversPort(r.GetAllowed()) && sourcesCover(r, st.cidr) {
			if allow == nil || r.GetPriority() < allow.GetPriority() {
				allow = r
			}
		}
		if len(r.GetDenied()) > 0 && coversDeniedPort(r.GetDenied()) && sourcesOverlap(r, st.cidr) {
			if deny == nil || r.GetPriority() < deny.GetPriority() {
				deny = r
			}
		}
	}
	// A deny rule wins over an allow rule of the same priority.
	if deny != nil && (allow == nil || deny.GetPriority() <= allow.GetPriority()) {
		st.deniedBy = deny
	} else {
		st.allowedBy = allow
	}
	return st, nil
}

// poolServiceAccounts returns the node service accounts, resolving
// "default" through the project; only read when a rule targets accounts.
func (f *facts) poolServiceAccounts(cl *containerpb.Cluster, rules []*computepb.Firewall) ([]string, error) {
	if !slices.ContainsFunc(rules, func(r *computepb.Firewall) bool { return len(r.GetTargetServiceAccounts()) > 0 }) {
		return nil, nil
	}
	var out []string
	for _, p := range cl.GetNodePools() {
		sa := p.GetConfig().GetServiceAccount()
		if sa == "" || sa == "default" {
			proj, err := f.project()
			if err != nil {
				return nil, err
			}
			sa = proj.GetDefaultServiceAccount()
		}
		out = append(out, sa)
	}
	return out, nil
}

// targetsNodes: a rule with no targets applies to every instance.
func targetsNodes(r *computepb.Firewall, tag string, sas []string) bool {
	tags, accounts := r.GetTargetTags(), r.GetTargetServiceAccounts()
	switch {
	case len(tags) == 0 && len(accounts) == 0:
		return true
	case len(tags) > 0:
		return tag != "" && slices.Contains(tags, tag)
	default:
		if len(sas) == 0 {
			return false
		}
		for _, sa := range sas {
			if !slices.Contains(accounts, sa) {
				return false
			}
		}
		return true
	}
}

func coversPort(allowed []*computepb.Allowed) bool {
	for _, a := range allowed {
		if protoPortCovers(a.GetIPProtocol(), a.GetPorts()) {
			return true
		}
	}
	return false
}

func coversDeniedPort(denied []*computepb.Denied) bool {
	for _, d := range denied {
		if protoPortCovers(d.GetIPProtocol(), d.GetPorts()) {
			return true
		}
	}
	return false
}

func protoPortCovers(protocol string, ports []string) bool {
	if p := strings.ToLower(protocol); p != "tcp" && p != "all" && p != "6" {
		return false
	}
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		lo, hi, isRange := strings.Cut(p, "-")
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err1 == nil && err2 == nil && l <= webhookPort && webhookPort <= h {
			return true
		}
	}
	return false
}

// sourcePrefixes are a rule's source ranges; an ingress rule without any
// source (no ranges, tags or accounts) admits every address.
func sourcePrefixes(r *computepb.Firewall) []netip.Prefix {
	ranges := r.GetSourceRanges()
	if len(ranges) == 0 && len(r.GetSourceTags()) == 0 && len(r.GetSourceServiceAccounts()) == 0 {
		ranges = []string{"0.0.0.0/0"}
	}
	var out []netip.Prefix
	for _, s := range ranges {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out
}

// sourcesCover: one source range holds the whole control plane range.
func sourcesCover(r *computepb.Firewall, cidr netip.Prefix) bool {
	for _, p := range sourcePrefixes(r) {
		if p.Bits() <= cidr.Bits() && p.Contains(cidr.Masked().Addr()) {
			return true
		}
	}
	return false
}

// sourcesOverlap: a deny rule blocks the control plane if it blocks any of
// its addresses.
func sourcesOverlap(r *computepb.Firewall, cidr netip.Prefix) bool {
	for _, p := range sourcePrefixes(r) {
		if p.Overlaps(cidr) {
			return true
		}
	}
	return false
}

func describeAllowed(r *computepb.Firewall) string {
	var parts []string
	for _, a := range r.GetAllowed() {
		if len(a.GetPorts()) == 0 {
			parts = append(parts, a.GetIPProtocol())
			continue
		}
		for _, p := range a.GetPorts() {
			parts = append(parts, a.GetIPProtocol()+":"+p)
		}
	}
	return strings.Join(parts, ",")
}

// webhookRuleName is the name of the rule meshctl creates: deterministic
// per cluster (the hash tells apart same-named clusters in other
// locations), RFC 1035, at most 63 characters.
func webhookRuleName(project, location, cluster string) string {
	h := fnv.New32a()
	h.Write([]byte(project + "/" + location + "/" + cluster))
	suffix := fmt.Sprintf("-%08x", h.Sum32())
	const prefix = "meshctl-webhook-"
	room := 63 - len(prefix) - len(suffix)
	name := cluster
	if len(name) > room {
		name = strings.TrimRight(name[:room], "-")
	}
	return prefix + name + suffix
}

func (f *facts) webhookRule(st webhookState) *computepb.Firewall {
	priority := int32(1000)
	if st.deniedBy != nil && st.deniedBy.GetPriority() <= priority {
		priority = st.deniedBy.GetPriority() - 1
	}
	return &computepb.Firewall{
		Name: proto.String(webhookRuleName(f.opts.Project, f.opts.Location, f.opts.Cluster)),
		Description: proto.String(fmt.Sprintf("Created by meshctl for GKE cluster %s: lets the control plane (%s) reach the istiod webhooks on tcp:%d.",
			f.opts.ClusterName(), st.cidr, webhookPort)),
		Network:      proto.String("projects/" + st.netProject + "/global/networks/" + st.network),
		Direction:    proto.String("INGRESS"),
		Priority:     proto.Int32(priority),
		SourceRanges: []string{st.cidr.String()},
		TargetTags:   []string{st.tag},
		Allowed:      []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{strconv.Itoa(webhookPort)}}},
	}
}

// gcloudCreate is the gcloud command that creates rule.
func gcloudCreate(project string, rule *computepb.Firewall) string {
	_, network, _ := parseNetworkLink(rule.GetNetwork())
	cmd := fmt.Sprintf("gcloud compute firewall-rules create %s --project %s --network %s --direction INGRESS --action ALLOW --rules tcp:%d --source-ranges %s --target-tags %s",
		rule.GetName(), project, network, webhookPort, strings.Join(rule.GetSourceRanges(), ","), strings.Join(rule.GetTargetTags(), ","))
	if rule.GetPriority() != 1000 {
		cmd += fmt.Sprintf(" --priority %d", rule.GetPriority())
	}
	return cmd + " --description '" + strings.ReplaceAll(rule.GetDescription(), "'", `'\''`) + "'"
}

func checkWebhookFirewall(f *facts) outcome {
	st, err := f.webhookState()
	if err != nil {
		return unavailable(err)
	}
	if st.skip != "" {
		return outcome{status: StatusSkipped, message: st.skip}
	}
	if st.allowedBy != nil {
		return outcome{message: fmt.Sprintf("tcp:%d from the control plane (%s) is allowed by firewall rule %s", webhookPort, st.cidr, st.allowedBy.GetName())}
	}
	msg := fmt.Sprintf("no firewall rule admits tcp:%d from the control plane (%s) to the nodes", webhookPort, st.cidr)
	if st.deniedBy != nil {
		msg = fmt.Sprintf("firewall rule %s (priority %d) denies tcp:%d from the control plane (%s) to the nodes", st.deniedBy.GetName(), st.deniedBy.GetPriority(), webhookPort, st.cidr)
	} else if st.gkeMaster != nil {
		msg += fmt.Sprintf("; GKE's %s allows only %s", st.gkeMaster.GetName(), describeAllowed(st.gkeMaster))
	}
	msg += ": istiod's injection and validation webhooks will time out"
	if st.tag == "" {
		hint := fmt.Sprintf("GKE's firewall rules for the cluster (gke-%s-*-master) were not found in project %s; find the nodes' network tag with `gcloud compute instances list --project %s --filter 'name~^gke-%s' --format 'value(tags.items)'` and create a rule allowing tcp:%d from %s to it",
			f.opts.Cluster, st.netProject, f.opts.Project, f.opts.Cluster, webhookPort, st.cidr)
		return outcome{findings: []findings.Finding{findings.WebhookPortBlocked.New(f.clusterObject(), msg, hint)}}
	}
	rule := f.webhookRule(st)
	// The hint is the bare command, for people and scripts alike; the
	// report's footer and the check's fixable flag point at --fix.
	hint := gcloudCreate(st.netProject, rule)
	return outcome{findings: []findings.Finding{findings.WebhookPortBlocked.New(f.clusterObject(), msg, hint)}}
}

func fixWebhookFirewall(f *facts, dryRun bool) (string, error) {
	st, err := f.webhookState()
	if err != nil {
		return "", err
	}
	if st.skip != "" || st.allowedBy != nil {
		return "nothing to do", nil
	}
	if st.tag == "" {
		return "", fmt.Errorf("cannot tell the nodes' network tag: GKE's firewall rules for cluster %s were not found", f.opts.Cluster)
	}
	rule := f.webhookRule(st)
	action := fmt.Sprintf("create firewall rule %s in project %s: tcp:%d from %s to tag %s", rule.GetName(), st.netProject, webhookPort, st.cidr, st.tag)
	if dryRun {
		return action, nil
	}
	if f.clients.Compute == nil {
		return "", clientMissing(f.clients.ComputeErr)
	}
	err = f.clients.Compute.InsertFirewall(f.ctx, st.netProject, rule)
	f.forgetFirewalls(st.netProject)
	if err != nil {
		msg, hint := f.explain(&APIFailure{call: call{"Compute", "firewalls.insert", st.netProject, "compute.firewalls.create", "compute.googleapis.com"}, Err: err})
		if hint != "" {
			msg += "; " + hint
		}
		return action, fmt.Errorf("create firewall rule %s: %s", rule.GetName(), msg)
	}
	return action, nil
}
