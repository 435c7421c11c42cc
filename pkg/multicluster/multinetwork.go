package multicluster

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/eastwest"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/gkecluster"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/validate"
)

// A multi-network mesh (Istio's multi-primary on different networks):
// the clusters' Pods do not reach each other directly, so each cluster has
// an east-west gateway on GKE's internal load balancer with global access,
// istio-system carries the cluster's network name, and istiod routes a
// remote network's endpoints through that network's gateway address. The
// pod-to-pod firewall rule of one network is replaced by one rule per
// gateway: the other clusters' Pod ranges to the gateway's ports only.

// MultiNetworkOptions are connect's choices for a multi-network mesh.
type MultiNetworkOptions struct {
	Enabled bool
	// PerCluster names a network per cluster (its installed name) instead
	// of one per VPC (PROJECT-VPC, asmcli's name).
	PerCluster bool
	// ExposeIstiod adds Istio's expose-istiod Gateway (VMs reach istiod
	// through the gateway) and opens 15012 and 15017 to the other ranges.
	ExposeIstiod bool
	// GatewayTimeout bounds the wait for the gateways' addresses and every
	// istiod's view of the other networks' gateways.
	GatewayTimeout time.Duration
}

// gatewayPort is where istiod routes a remote network's traffic.
const gatewayPort = 15443

// ewRulePurpose marks meshctl's rule for one cluster's gateway.
const ewRulePurpose = "mesh connect --multi-network: other clusters' Pods reach this cluster's east-west gateway"

// networkName is the cluster's network: asmcli's PROJECT-VPC, or with
// perCluster the installed cluster name.
func networkName(m *member, perCluster bool) string {
	if perCluster {
		return m.clusterID
	}
	p, n := gkecluster.Network(m.gke, m.Project)
	return p + "-" + n
}

// region is the cluster's region (a zonal cluster's zone without its letter).
func region(m *member) string {
	if parts := strings.Split(m.Location, "-"); len(parts) == 3 {
		return parts[0] + "-" + parts[1]
	}
	return m.Location
}

// spansRegions reports whether the clusters are in more than one region:
// an internal load balancer answers other regions only with global access.
func spansRegions(ms []*member) bool {
	for _, m := range ms {
		if region(m) != region(ms[0]) {
			return true
		}
	}
	return false
}

// gatewayLink is one cluster's east-west gateway and its firewall rule.
type gatewayLink struct {
	m       *member
	objects kube.Objects
	gw      *eastwest.Plan
	fw      gatewayRule
}

// gatewayRule is meshctl's firewall rule for one gateway, in the gateway's
// network's project.
type gatewayRule struct {
	project, network string
	want, have       *computepb.Firewall
	// noTag is set when the gateway cluster's node tag was not found.
	noTag bool
}

func gatewayPorts(exposeIstiod bool) []string {
	if exposeIstiod {
		return []string{"15443", "15012", "15017"}
	}
	return []string{"15443"}
}

func gatewayRuleName(m *member) string {
	h := fnv.New32a()
	h.Write([]byte(m.ResourceName()))
	return fmt.Sprintf("meshctl-ew-%08x", h.Sum32())
}

// planGateways plans, per cluster, the network label, the gateway and its
// firewall rule.
func planGateways(ctx context.Context, c Clients, ms []*member, o MultiNetworkOptions) ([]gatewayLink, error) {
	global := spansRegions(ms)
	rulesOf := map[string][]*computepb.Firewall{}
	links := make([]gatewayLink, len(ms))
	for i, m := range ms {
		project, network := gkecluster.Network(m.gke, m.Project)
		if _, ok := rulesOf[project]; !ok {
			rules, err := c.Firewalls.ListFirewalls(ctx, project)
			if err != nil {
				return nil, fmt.Errorf("list the firewall rules of project %s: %w", project, err)
			}
			rulesOf[project] = rules
		}
		links[i] = gatewayLink{m: m, fw: planGatewayRule(m, ms, project, network, rulesOf[project], o.ExposeIstiod)}
	}
	err := forEach(ms, func(i int, m *member) error {
		objs, err := c.Objects(m.Ref)
		if err != nil {
			return fmt.Errorf("cluster %s: %w", m.Name, err)
		}
		spec := eastwest.Spec{Network: networkName(m, o.PerCluster), Revision: m.gatewayRevision(), GlobalAccess: global, ExposeIstiod: o.ExposeIstiod}
		gw, err := eastwest.PlanGateway(ctx, objs, spec)
		if err != nil {
			return fmt.Errorf("cluster %s: %w", m.Name, err)
		}
		links[i].objects, links[i].gw = objs, gw
		return nil
	})
	return links, err
}

// gatewayRevision is the in-cluster revision the gateway is injected by:
// the first one installed.
func (m *member) gatewayRevision() string {
	for _, p := range m.planes {
		if !p.Managed {
			return p.Revision
		}
	}
	return mesh.DefaultRevision
}

func planGatewayRule(m *member, ms []*member, project, network string, rules []*computepb.Firewall, exposeIstiod bool) gatewayRule {
	r := gatewayRule{project: project, network: network}
	var inNet []*computepb.Firewall
	for _, f := range rules {
		if gkecluster.SameNetwork(f.GetNetwork(), project, network) {
			inNet = append(inNet, f)
		}
	}
	name := gatewayRuleName(m)
	for _, f := range inNet {
		if f.GetName() == name {
			r.have = f
		}
	}
	tag := nodeTag(m, inNet)
	if tag == "" {
		r.noTag = true
		return r
	}
	var ranges []string
	for _, o := range ms {
		if pr, ok := o.podRange(); ok && o != m && !slices.Contains(ranges, pr.String()) {
			ranges = append(ranges, pr.String())
		}
	}
	sort.Strings(ranges)
	owner, _ := json.Marshal(ruleOwner{ManagedBy: mesh.ManagedBy, Purpose: ewRulePurpose, Clusters: []string{m.ResourceName()}})
	r.want = &computepb.Firewall{
		Name:         proto.String(name),
		Description:  proto.String(string(owner)),
		Network:      proto.String("projects/" + project + "/global/networks/" + network),
		Direction:    proto.String("INGRESS"),
		Priority:     proto.Int32(podRulePriority),
		SourceRanges: ranges,
		TargetTags:   []string{tag},
		Allowed:      []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: gatewayPorts(exposeIstiod)}},
	}
	return r
}

func (r gatewayRule) change() plan.Change {
	ch := plan.Change{Kind: "firewalls", Name: "meshctl-ew", Action: plan.Skip, Note: "no network tag found for the gateway cluster's nodes"}
	if r.want == nil {
		return ch
	}
	ch.Name = r.want.GetName()
	switch {
	case r.have == nil:
		ch.Action, ch.Note = plan.Create, r.describe()
	default:
		ch.Action, ch.Note = plan.Keep, r.describe()
		if f := gatewayRuleDiff(r.have, r.want); len(f) > 0 {
			ch.Action, ch.Fields = plan.Update, f
		}
	}
	return firewallChange(ch, r.project, r.want)
}

func (r gatewayRule) describe() string {
	return fmt.Sprintf("allow tcp:%s from %s to tags %s, network %s/%s", strings.Join(r.want.GetAllowed()[0].GetPorts(), ","),
		strings.Join(r.want.GetSourceRanges(), ","), strings.Join(r.want.GetTargetTags(), ","), r.project, r.network)
}

func gatewayRuleDiff(have, want *computepb.Firewall) []string {
	var out []string
	if !slices.Equal(sorted(have.GetSourceRanges()), want.GetSourceRanges()) {
		out = append(out, "sourceRanges")
	}
	if !slices.Equal(sorted(have.GetTargetTags()), want.GetTargetTags()) {
		out = append(out, "targetTags")
	}
	if len(have.GetAllowed()) != 1 || have.GetAllowed()[0].GetIPProtocol() != "tcp" || !slices.Equal(have.GetAllowed()[0].GetPorts(), want.GetAllowed()[0].GetPorts()) {
		out = append(out, "allowed")
	}
	if have.GetDisabled() {
		out = append(out, "disabled")
	}
	if have.GetDescription() != want.GetDescription() {
		out = append(out, "description")
	}
	return out
}

// applyGateways writes the firewall rules and the gateways of every cluster
// at once.
func applyGateways(ctx context.Context, c Clients, rep ui.Reporter, links []gatewayLink) error {
	var tasks []func() error
	for _, l := range links {
		if ch := l.fw.change(); ch.Action.Changes() {
			tasks = append(tasks, func() error {
				step := rep.Step(fmt.Sprintf("%s firewall rule %s (%s)", ch.Action, ch.Name, ch.Note))
				var err error
				if ch.Action == plan.Create {
					err = c.Firewalls.InsertFirewall(ctx, l.fw.project, l.fw.want)
				} else {
					err = c.Firewalls.UpdateFirewall(ctx, l.fw.project, l.fw.want)
				}
				return done(step, err, "firewall rule "+ch.Name)
			})
		}
		if l.gw.Pending() {
			tasks = append(tasks, func() error {
				step := rep.Step(fmt.Sprintf("east-west gateway of %s (network %s, revision %s)", l.m.Name, l.gw.Spec.Network, l.gw.Spec.Revision))
				return done(step, eastwest.Apply(ctx, l.objects, l.m.kube.CoreV1().Namespaces(), l.gw), "cluster "+l.m.Name)
			})
		}
	}
	return runAll(tasks)
}

// GatewayView is one cluster's gateway as connect left it, and what its
// istiods list of the networks' gateways (/debug/networkz).
type GatewayView struct {
	Cluster      string `json:"cluster"`
	Network      string `json:"network"`
	Address      string `json:"address,omitempty"`
	GlobalAccess bool   `json:"globalAccess"`
	// Istiods are the network gateways each istiod lists, by revision,
	// as NETWORK=ADDRESS:PORT.
	Istiods map[string][]string `json:"istiods,omitempty"`
	// Missing are the other networks' gateways an istiod does not list.
	Missing []string `json:"missing,omitempty"`
}

// waitGateways waits until every gateway Service has an address and every
// istiod lists every other network's gateway at it, and reports what each
// istiod listed last.
func waitGateways(ctx context.Context, c Clients, rep ui.Reporter, links []gatewayLink, timeout time.Duration) ([]GatewayView, []findings.Finding, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	views := make([]GatewayView, len(links))
	step := rep.Step(fmt.Sprintf("waiting for %d internal load balancer addresses", len(links)))
	err := forEach(gatewayMembers(links), func(i int, m *member) error {
		views[i] = GatewayView{Cluster: m.Name, Network: links[i].gw.Spec.Network, GlobalAccess: links[i].gw.Spec.GlobalAccess}
		for {
			st, err := eastwest.Read(ctx, links[i].objects)
			if err == nil && st.Address != "" {
				views[i].Address = st.Address
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("cluster %s: the east-west gateway's internal load balancer has no address after %s (kubectl --context %s -n %s describe service %s shows GKE's events)",
					m.Name, timeout, m.Context, mesh.IstioSystem, eastwest.Name)
			case <-time.After(time.Second):
			}
		}
	})
	if err != nil {
		step.Fail(err)
		return views, nil, err
	}
	step.Done()
	step = rep.Step("waiting for every istiod to list the other networks' gateways (/debug/networkz)")
	var fs []findings.Finding
	var mu sync.Mutex
	err = forEach(gatewayMembers(links), func(i int, m *member) error {
		var want []string
		for j, v := range views {
			if j != i && v.Network != views[i].Network {
				want = append(want, fmt.Sprintf("%s=%s:%d", v.Network, v.Address, gatewayPort))
			}
		}
		eps, err := c.Istiods.Istiods(ctx, m.Ref, m.revisions())
		if err != nil {
			return fmt.Errorf("cluster %s: reach istiod: %w", m.Name, err)
		}
		defer func() {
			for _, e := range eps {
				if e.Close != nil {
					e.Close()
				}
			}
		}()
		views[i].Istiods = map[string][]string{}
		for {
			var missing []string
			for _, e := range eps {
				got, err := NetworkGateways(ctx, e.DebugURL)
				if err != nil {
					missing = append(missing, e.Revision+": "+err.Error())
					continue
				}
				views[i].Istiods[e.Revision] = got
				for _, w := range want {
					if !slices.Contains(got, w) {
						missing = append(missing, e.Revision+": "+w)
					}
				}
			}
			views[i].Missing = missing
			if len(missing) == 0 {
				return nil
			}
			select {
			case <-ctx.Done():
				mu.Lock()
				fs = append(fs, findings.GatewayNotListed.New("cluster "+m.Name, "after "+timeout.String()+" istiod does not list "+strings.Join(missing, ", ")+" in /debug/networkz",
					"check the gateway Services' network labels and addresses: meshctl validate --cluster ... --cluster ..."))
				mu.Unlock()
				return nil
			case <-time.After(time.Second):
			}
		}
	})
	if err != nil {
		step.Fail(err)
		return views, fs, err
	}
	step.Done()
	return views, fs, nil
}

func gatewayMembers(links []gatewayLink) []*member {
	out := make([]*member, len(links))
	for i, l := range links {
		out[i] = l.m
	}
	return out
}

// NetworkGateways reads an istiod's /debug/networkz: the gateways of every
// network it knows, as NETWORK=ADDRESS:PORT, sorted. debugURL is the base
// of istiod's debug endpoints (…/debug).
func NetworkGateways(ctx context.Context, debugURL string) ([]string, error) {
	var gws []struct {
		Network string `json:"Network"`
		Addr    string `json:"Addr"`
		Port    uint32 `json:"Port"`
	}
	if err := getJSON(ctx, debugURL+"/networkz", &gws); err != nil {
		return nil, err
	}
	out := []string{}
	for _, g := range gws {
		out = append(out, fmt.Sprintf("%s=%s:%d", g.Network, g.Addr, g.Port))
	}
	sort.Strings(out)
	return out, nil
}

// multiNetworkUsable refuses a multi-network mesh that would have one
// network only: every gateway would be idle.
func multiNetworkUsable(ms []*member, o MultiNetworkOptions) error {
	if o.PerCluster {
		return nil
	}
	nets := map[string]bool{}
	for _, m := range ms {
		if m.gke == nil {
			return nil
		}
		nets[networkName(m, false)] = true
	}
	if len(nets) < 2 {
		return failure.Usagef("--multi-network: the clusters are in one VPC network, so one mesh network; add --network-per-cluster for a network (and gateway) per cluster, or leave --multi-network out")
	}
	return nil
}

// gateway plans the removal of meshctl's east-west gateway and
// network label in m, and of meshctl's firewall rule for it.
func (d *disconnectPlan) gateway(ctx context.Context, c Clients, m *member, rulesOf map[string][]*computepb.Firewall) error {
	project, _ := gkecluster.Network(m.gke, m.Project)
	if _, ok := rulesOf[project]; !ok {
		rules, err := c.Firewalls.ListFirewalls(ctx, project)
		if err != nil {
			return fmt.Errorf("list the firewall rules of project %s: %w", project, err)
		}
		rulesOf[project] = rules
	}
	for _, r := range rulesOf[project] {
		owner, ok := parseEWRuleOwner(r.GetDescription())
		if !ok || !slices.Contains(owner.Clusters, m.ResourceName()) {
			continue
		}
		name := r.GetName()
		d.add(firewallChange(plan.Change{Kind: "firewalls", Name: name, Action: plan.Delete, Note: "project " + project + ": the east-west gateway of " + m.Name}, project, nil),
			func() error { return c.Firewalls.DeleteFirewall(ctx, project, name) })
	}
	objs, err := c.Objects(m.Ref)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", m.Name, err)
	}
	rm, err := eastwest.PlanRemove(ctx, objs, m.kube.CoreV1().Namespaces())
	if err != nil {
		return fmt.Errorf("cluster %s: %w", m.Name, err)
	}
	for i, ch := range rm.Changes {
		ch.Note = strings.TrimSpace("in " + m.Name + " " + ch.Note)
		ch.Cluster = m.Context
		var task func() error
		if i == 0 {
			// One task removes them all, in order: the Service (and so
			// the load balancer) before the Deployment it sends to.
			task = func() error { return rm.Apply(ctx) }
		}
		d.add(ch, task)
	}
	return nil
}

func parseEWRuleOwner(description string) (ruleOwner, bool) {
	var o ruleOwner
	if err := json.Unmarshal([]byte(description), &o); err != nil || o.ManagedBy != mesh.ManagedBy || o.Purpose != ewRulePurpose {
		return ruleOwner{}, false
	}
	return o, true
}

// gatewayState is one cluster's network as validate reads it.
type gatewayState struct {
	m       *member
	network string
	gw      eastwest.Status
	err     error
}

// gatewayCases are validate's checks of a multi-network mesh: each
// cluster's network label, a gateway with an address in each network,
// global access where the clusters span regions, and each istiod's view of
// the networks' gateways (/debug/networkz), which the case names. multi is
// false, with no cases, for a mesh on one network without gateways.
func gatewayCases(ctx context.Context, c Clients, ms []*member) (cases []validate.Case, multi bool) {
	states := make([]gatewayState, len(ms))
	_ = forEach(ms, func(i int, m *member) error {
		states[i].m = m
		objs, err := c.Objects(m.Ref)
		if err != nil {
			states[i].err = err
			return nil
		}
		if states[i].network, err = eastwest.NetworkOf(ctx, objs); err != nil {
			states[i].err = err
			return nil
		}
		states[i].gw, states[i].err = eastwest.Read(ctx, objs)
		return nil
	})
	vpcs := map[string]bool{}
	labels := map[string]bool{}
	for _, s := range states {
		vpcs[networkName(s.m, false)] = true
		if s.network != "" {
			labels[s.network] = true
		}
		multi = multi || s.gw.Exists
	}
	multi = multi || len(vpcs) > 1 || len(labels) > 1
	if !multi {
		return nil, false
	}
	global := spansRegions(ms)
	addrs := map[string][]string{}
	for _, s := range states {
		if s.network != "" && s.gw.Address != "" && s.gw.Network == s.network {
			addrs[s.network] = append(addrs[s.network], fmt.Sprintf("%s=%s:%d", s.network, s.gw.Address, gatewayPort))
		}
	}
	for _, s := range states {
		obj := object(s.m)
		label := validate.Case{Group: GroupAcross, Check: "network label", Object: obj}
		gw := validate.Case{Group: GroupAcross, Check: "east-west gateway", Object: obj + ": Service " + mesh.IstioSystem + "/" + eastwest.Name}
		fix := "meshctl mesh connect --multi-network --fix " + clusterArgs(ms)
		switch {
		case s.err != nil:
			label.Findings = append(label.Findings, findings.APIUnavailable.New(obj, s.err.Error(), apiHint(s.err)))
		case s.network == "":
			label.Findings = append(label.Findings, findings.NetworkLabelMissing.New(obj, "namespace istio-system has no "+eastwest.LabelNetwork+" label: istiod cannot tell this cluster's network from the others'", fix))
		default:
			label.Object += ": network " + s.network
		}
		switch {
		case s.err != nil:
		case !s.gw.Exists:
			gw.Findings = append(gw.Findings, findings.GatewayNoAddress.New(obj, "no east-west gateway Service: the other networks cannot reach this cluster's Pods", fix))
		case s.gw.Address == "":
			gw.Findings = append(gw.Findings, findings.GatewayNoAddress.New(gw.Object, "the gateway's load balancer has no address yet (status.loadBalancer.ingress is empty): istiod ignores a gateway without one",
				"kubectl --context "+s.m.Context+" -n "+mesh.IstioSystem+" describe service "+eastwest.Name+" shows GKE's events"))
		case s.gw.Network != s.network:
			gw.Findings = append(gw.Findings, findings.GatewayNoAddress.New(gw.Object, fmt.Sprintf("the gateway Service is labelled network %q, istio-system %q: istiod lists it for the wrong network", s.gw.Network, s.network), fix))
		case global && s.gw.Internal && !s.gw.GlobalAccess:
			gw.Findings = append(gw.Findings, findings.GatewayNoGlobalAccess.New(gw.Object,
				"the internal load balancer at "+s.gw.Address+" answers only clients in "+region(s.m)+" ("+eastwest.AnnotationGlobalAccess+" is not \"true\") and the clusters span regions: the other regions' Pods cannot reach it", fix))
		default:
			gw.Object += " at " + s.gw.Address
		}
		cases = append(cases, label, gw)
	}
	for _, s := range states {
		if s.err != nil || s.network == "" {
			continue
		}
		eps, err := c.Istiods.Istiods(ctx, s.m.Ref, s.m.revisions())
		if err != nil {
			cases = append(cases, validate.Case{Group: GroupAcross, Check: "istiod's network view", Object: object(s.m),
				Findings: []findings.Finding{findings.APIUnavailable.New(object(s.m), "reach istiod: "+err.Error(), "")}})
			continue
		}
		for _, e := range eps {
			cs := validate.Case{Group: GroupAcross, Check: "istiod's network view", Object: object(s.m) + " istiod " + e.Revision}
			got, err := NetworkGateways(ctx, e.DebugURL)
			if err != nil {
				cs.Findings = append(cs.Findings, findings.APIUnavailable.New(cs.Object, "/debug/networkz: "+err.Error(), ""))
			} else {
				cs.Object += ": " + strings.Join(got, ", ")
				if len(got) == 0 {
					cs.Object += "no gateways"
				}
			}
			for _, o := range states {
				if o.network == "" || o.network == s.network || err != nil {
					continue
				}
				for _, w := range addrs[o.network] {
					if !slices.Contains(got, w) {
						cs.Findings = append(cs.Findings, findings.GatewayNotListed.New(object(s.m)+" istiod "+e.Revision,
							"/debug/networkz does not list "+w+": istiod does not route network "+o.network+"'s endpoints through its gateway",
							"check "+o.m.Name+"'s remote secret in "+s.m.Name+" and the gateway Service's network label"))
					}
				}
			}
			if e.Close != nil {
				e.Close()
			}
			cases = append(cases, cs)
		}
	}
	return cases, true
}

func clusterArgs(ms []*member) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.String())
	}
	return strings.Join(out, " ")
}
