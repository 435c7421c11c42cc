package vm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/api/googleapi"
	"google.golang.org/protobuf/proto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/eastwest"
	"github.com/meshctl/meshctl/pkg/gkecluster"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// The VPC firewall a VM needs (Istio's VM guide leaves it to the reader):
//   - the VM to istiod: tcp:15012 from the VM's address (or --vm-range) to
//     the east-west gateway's internal load balancer address, on the
//     cluster's nodes (the load balancer's backends: a passthrough load
//     balancer keeps the VM's source and the gateway's destination);
//     A VM on another mesh network also reaches istiod's webhook (15017)
//     and the mesh's services (15443, mTLS) through the gateway;
//   - the mesh's Pods to the VM: tcp on the group's --ports from every
//     mesh cluster's Pod range (the cluster's, and those of the clusters
//     its remote secrets name) to the VM's address (or --vm-range), on
//     instances with the VM's network tags when it has some.
// The first lives in the project of the cluster's network (a Shared VPC's
// host project), the second in the project of the VM's network. Both
// carry a JSON owner marker in their description, so remove deletes
// exactly these and never a rule meshctl did not make.

// Firewalls is what the VM's rules need of Compute: the network's rules,
// in the network's project. Writes wait for their operation.
// (multicluster.FirewallClient implements it.)
type Firewalls interface {
	ListFirewalls(ctx context.Context, project string) ([]*computepb.Firewall, error)
	InsertFirewall(ctx context.Context, project string, rule *computepb.Firewall) error
	UpdateFirewall(ctx context.Context, project string, rule *computepb.Firewall) error
	DeleteFirewall(ctx context.Context, project, name string) error
}

// Instances reads a Compute instance.
type Instances interface {
	GetInstance(ctx context.Context, project, zone, name string) (*computepb.Instance, error)
}

// GKE reads the cluster (its network and Pod range) and the project's
// clusters (the mesh's other clusters' Pod ranges).
type GKE interface {
	GetCluster(ctx context.Context, name string) (*containerpb.Cluster, error)
	ListClusters(ctx context.Context, parent string) ([]*containerpb.Cluster, error)
}

// Networks reads a VPC network: its peerings say whether a VM on another
// network has a route to the east-west gateway's internal address.
type Networks interface {
	GetNetwork(ctx context.Context, project, name string) (*computepb.Network, error)
}

// NetworkClient adapts Compute's networks client.
type NetworkClient struct {
	Client *compute.NetworksClient
}

// GetNetwork reads one network.
func (c NetworkClient) GetNetwork(ctx context.Context, project, name string) (*computepb.Network, error) {
	return c.Client.Get(ctx, &computepb.GetNetworkRequest{Project: project, Network: name})
}

// Cloud is the Google side of the kube context's cluster: built only when
// a command needs it (--instance, --vm-range, or a group with rules).
type Cloud struct {
	GKE       GKE
	Firewalls Firewalls
	Instances Instances
	Networks  Networks
	// Project, Location and Cluster name the kube context's GKE cluster.
	Project, Location, Cluster string
}

// ClusterName is the cluster's resource name.
func (c Cloud) ClusterName() string {
	return "projects/" + c.Project + "/locations/" + c.Location + "/clusters/" + c.Cluster
}

// InstanceClient adapts Compute's instances client.
type InstanceClient struct {
	Client *compute.InstancesClient
}

// GetInstance reads one instance.
func (c InstanceClient) GetInstance(ctx context.Context, project, zone, name string) (*computepb.Instance, error) {
	return c.Client.Get(ctx, &computepb.GetInstanceRequest{Project: project, Zone: zone, Instance: name})
}

// The ports the VM's proxy opens through the east-west gateway: xDS and
// certificates (15012); a VM on another mesh network also the webhook
// port expose-istiod.yaml routes (15017) and the gateway's mTLS port
// (15443), where its calls to the mesh's services cross networks.
var (
	istiodPorts       = []string{"15012"}
	crossNetworkPorts = []string{"15012", "15017", "15443"}
)

// gatewayPorts are the ports a VM reaches through the gateway.
func gatewayPorts(crossNetwork bool) []string {
	if crossNetwork {
		return crossNetworkPorts
	}
	return istiodPorts
}

// AnnotationFirewallProject, on a group, is the project add made the
// group's firewall rules in: remove deletes them there.
const AnnotationFirewallProject = "meshctl.io/vm-firewall-project"

const rulePurpose = "vm add: the VM reaches istiod and the mesh's Pods reach the VM"

// ruleOwner is the description meshctl writes on a VM's rule, as JSON.
type ruleOwner struct {
	ManagedBy string `json:"managedBy"`
	Purpose   string `json:"purpose"`
	Cluster   string `json:"cluster"`
	Group     string `json:"group"` // NAMESPACE/NAME
}

// ownsRule reports whether the rule is meshctl's for the group of the
// cluster.
func ownsRule(r *computepb.Firewall, cluster, namespace, group string) bool {
	var o ruleOwner
	return json.Unmarshal([]byte(r.GetDescription()), &o) == nil && o.ManagedBy == mesh.ManagedBy &&
		o.Purpose == rulePurpose && o.Cluster == cluster && o.Group == namespace+"/"+group
}

// ruleName is deterministic per cluster, namespace and group: RFC 1035,
// at most 63 characters, the group's name cut to fit (the hash tells
// apart groups of the same name elsewhere).
func ruleName(cluster, namespace, group, role string) string {
	h := fnv.New32a()
	h.Write([]byte(cluster + "/" + namespace + "/" + group))
	suffix := fmt.Sprintf("-%08x-%s", h.Sum32(), role)
	const prefix = "meshctl-vm-"
	name := strings.ReplaceAll(group, ".", "-")
	if room := 63 - len(prefix) - len(suffix); len(name) > room {
		name = name[:room]
	}
	return prefix + strings.TrimRight(name, "-") + suffix
}

// vmSide is what the rules know of the VM: its address (or range) and
// network tags, and where that came from.
type vmSide struct {
	ranges []string
	tags   []string
	from   string
	// network and networkProject are the instance's VPC (empty for
	// --vm-range, which is taken to be on the cluster's).
	network, networkProject string
	// region is the instance's (empty for --vm-range).
	region string
}

// readInstance reads the VM's address, VPC network and tags. A missing
// instance or zone and a missing compute.instances.get are refusals.
func readInstance(ctx context.Context, c Instances, project, zone, name string) (vmSide, error) {
	inst, err := c.GetInstance(ctx, project, zone, name)
	where := fmt.Sprintf("instance %s in zone %s of project %s", name, zone, project)
	var g *googleapi.Error
	switch {
	case errors.As(err, &g) && g.Code == http.StatusNotFound:
		return vmSide{}, failure.WithHint(fmt.Errorf("no %s (Compute answered 404: %s); nothing was changed", where, g.Message),
			fmt.Sprintf("check the name and zone: gcloud compute instances list --project %s --filter name=%s", project, name))
	case errors.As(err, &g) && g.Code == http.StatusForbidden:
		return vmSide{}, failure.WithHint(fmt.Errorf("missing permission compute.instances.get in project %s, to read %s; nothing was changed", project, where),
			fmt.Sprintf("grant Compute Viewer: gcloud projects add-iam-policy-binding %s --member=%s --role=roles/compute.viewer; or leave --instance out and pass --vm-range CIDR", project, preflight.Principal))
	case err != nil:
		return vmSide{}, fmt.Errorf("read %s: %w", where, err)
	}
	nics := inst.GetNetworkInterfaces()
	if len(nics) == 0 || nics[0].GetNetworkIP() == "" {
		return vmSide{}, failure.WithHint(fmt.Errorf("%s has no internal address", where), "give the VM a network interface on the cluster's VPC network")
	}
	addr, err := netip.ParseAddr(nics[0].GetNetworkIP())
	if err != nil {
		return vmSide{}, fmt.Errorf("%s: internal address %q: %w", where, nics[0].GetNetworkIP(), err)
	}
	v := vmSide{ranges: []string{netip.PrefixFrom(addr, addr.BitLen()).String()}, tags: slices.Sorted(slices.Values(inst.GetTags().GetItems())),
		from: "instance zones/" + zone + "/instances/" + name, region: gkecluster.Region(zone)}
	v.networkProject, v.network, _ = gkecluster.ParseNetworkLink(nics[0].GetNetwork())
	if v.network == "" {
		v.networkProject, v.network = project, nics[0].GetNetwork()[strings.LastIndex(nics[0].GetNetwork(), "/")+1:]
	}
	return v, nil
}

// address is the VM's one address, for the bundle (ISTIO_SVC_IP).
func (v vmSide) address() string {
	if p, err := netip.ParsePrefix(v.ranges[0]); err == nil && p.IsSingleIP() {
		return p.Addr().String()
	}
	return ""
}

// ParseVMRange reads --vm-range: an IPv4 CIDR the group's VMs have their
// addresses in.
func ParseVMRange(s string) (string, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return "", failure.Usagef("--vm-range %q: want an IPv4 CIDR holding the VMs' internal addresses, e.g. 10.128.0.5/32 or 10.20.0.0/24", s)
	}
	if p.Bits() == 0 {
		return "", failure.Usagef("--vm-range %s would open the mesh's Pods to every address and istiod to the world: give the VMs' range", s)
	}
	return p.Masked().String(), nil
}

// vmRule is one of the group's rules, in its network's project: what add
// wants and what exists.
type vmRule struct {
	project, network string
	want, have       *computepb.Firewall
}

// firewallPlan is the group's rules.
type firewallPlan struct {
	rules []vmRule
}

// projects are the projects of the rules, for the group's annotation.
func (fp *firewallPlan) projects() string {
	var ps []string
	for _, r := range fp.rules {
		ps = append(ps, r.project)
	}
	slices.Sort(ps)
	return strings.Join(slices.Compact(ps), ",")
}

// gatewaySide is what the rules know of the east-west gateway.
type gatewaySide struct {
	ip string
	// global is GKE's global access on its internal load balancer.
	global bool
}

// clusterSide is the cluster's GKE view: its VPC network and the mesh's
// Pod ranges.
type clusterSide struct {
	cluster          *containerpb.Cluster
	project, network string
}

// readCluster reads the cluster's network.
func readCluster(ctx context.Context, cloud Cloud) (clusterSide, error) {
	cl, err := cloud.GKE.GetCluster(ctx, cloud.ClusterName())
	if err != nil {
		return clusterSide{}, fmt.Errorf("read GKE cluster %s (for its network and Pod range): %w", cloud.ClusterName(), err)
	}
	project, network := gkecluster.Network(cl, cloud.Project)
	return clusterSide{cluster: cl, project: project, network: network}, nil
}

// otherVPC reports whether the VM's VPC network is not the cluster's.
func (cs clusterSide) otherVPC(vm vmSide) bool {
	return vm.network != "" && (vm.network != cs.network || vm.networkProject != cs.project)
}

// checkRoute refuses a VM with no route to the gateway's internal
// address: on another VPC network without an active peering with the
// cluster's, or in another region while the load balancer has no global
// access (Google's internal passthrough load balancer answers no other
// client).
func checkRoute(ctx context.Context, cloud Cloud, cs clusterSide, vm vmSide, gw gatewaySide) error {
	if cs.otherVPC(vm) {
		if cloud.Networks == nil {
			return fmt.Errorf("no Compute networks client: cannot tell whether %s reaches the cluster's network", vm.from)
		}
		n, err := cloud.Networks.GetNetwork(ctx, cs.project, cs.network)
		if err != nil {
			return fmt.Errorf("read VPC network %s/%s (for its peerings): %w", cs.project, cs.network, err)
		}
		peered := slices.ContainsFunc(n.GetPeerings(), func(p *computepb.NetworkPeering) bool {
			pp, pn, _ := gkecluster.ParseNetworkLink(p.GetNetwork())
			return pp == vm.networkProject && pn == vm.network && p.GetState() == "ACTIVE"
		})
		if !peered {
			return failure.WithHint(fmt.Errorf("%s is on VPC network %s/%s and cluster %s on %s/%s, with no active VPC Network Peering between them: "+
				"the VM has no route to the east-west gateway's internal address %s; nothing was changed",
				vm.from, vm.networkProject, vm.network, cloud.Cluster, cs.project, cs.network, gw.ip),
				fmt.Sprintf("peer the networks (both sides: gcloud compute networks peerings create NAME --network %s --peer-network %s, and back), or put the VM on network %s",
					cs.network, vm.network, cs.network))
		}
	}
	if r := gkecluster.Region(cloud.Location); vm.region != "" && vm.region != r && !gw.global {
		return failure.WithHint(fmt.Errorf("%s is in region %s and the east-west gateway's internal load balancer answers only clients in %s (global access is off); nothing was changed",
			vm.from, vm.region, r), fmt.Sprintf("turn on global access: kubectl annotate service -n %s %s %s=true --overwrite", mesh.IstioSystem, GatewayService, eastwest.AnnotationGlobalAccess))
	}
	return nil
}

// meshPodRanges are the Pod ranges of every cluster of the mesh: the
// cluster's own and those of the clusters its remote secrets name (istiod
// discovers their Pods, which call the VM), found among the GKE clusters
// of the cluster's project by their endpoints. unknown lists the servers
// of remote secrets no cluster there answers at.
func meshPodRanges(ctx context.Context, c Clients, cloud Cloud, cs clusterSide) (ranges, unknown []string, err error) {
	own, ok := gkecluster.PodRange(cs.cluster)
	if !ok {
		return nil, nil, fmt.Errorf("GKE cluster %s reports no Pod range: cannot open the VM's ports to its Pods", cloud.ClusterName())
	}
	ranges = []string{own.String()}
	secrets, err := c.Kube.CoreV1().Secrets(mesh.IstioSystem).List(ctx, metav1.ListOptions{LabelSelector: mesh.LabelMultiCluster + "=true"})
	if err != nil {
		return nil, nil, fmt.Errorf("list the remote secrets of %s (the mesh's other clusters): %w", mesh.IstioSystem, err)
	}
	servers := mesh.RemoteSecretServers(secrets.Items)
	if len(servers) == 0 {
		return ranges, nil, nil
	}
	clusters, err := cloud.GKE.ListClusters(ctx, "projects/"+cloud.Project+"/locations/-")
	if err != nil {
		return nil, nil, fmt.Errorf("list the GKE clusters of project %s (the remote secrets' clusters, for their Pod ranges): %w", cloud.Project, err)
	}
	for _, host := range servers {
		i := slices.IndexFunc(clusters, func(cl *containerpb.Cluster) bool { return gkecluster.IsEndpoint(cl, host) })
		if i < 0 {
			unknown = append(unknown, host)
			continue
		}
		if pr, ok := gkecluster.PodRange(clusters[i]); ok {
			ranges = append(ranges, pr.String())
		}
	}
	slices.Sort(ranges)
	return slices.Compact(ranges), unknown, nil
}

// rulesIn lists the firewall rules of network in project, and all of the
// project's (for names).
func rulesIn(ctx context.Context, fw Firewalls, project, network string) (inNet, all []*computepb.Firewall, err error) {
	all, err = fw.ListFirewalls(ctx, project)
	if err != nil {
		return nil, nil, fmt.Errorf("list the firewall rules of project %s: %w", project, err)
	}
	for _, r := range all {
		if gkecluster.SameNetwork(r.GetNetwork(), project, network) {
			inNet = append(inNet, r)
		}
	}
	return inNet, all, nil
}

// planFirewall works out the group's two rules: the VM to the gateway in
// the cluster's network (on its nodes' tag), and the mesh's Pods to the
// VM in the VM's network (the cluster's for --vm-range).
func planFirewall(ctx context.Context, c Clients, cloud Cloud, o AddOptions, cs clusterSide, gw gatewaySide, vm vmSide, crossNetwork bool, rep ui.Reporter) (*firewallPlan, error) {
	pods, unknown, err := meshPodRanges(ctx, c, cloud, cs)
	if err != nil {
		return nil, err
	}
	for _, host := range unknown {
		rep.Warnf("a remote secret names the cluster at %s, which is no GKE cluster of project %s: its Pods are not admitted to the VM's ports (add its Pod range to the rule yourself)", host, cloud.Project)
	}
	inNet, all, err := rulesIn(ctx, cloud.Firewalls, cs.project, cs.network)
	if err != nil {
		return nil, err
	}
	tag := gkecluster.NodeTag(cloud.Cluster, inNet)
	if tag == "" {
		return nil, failure.WithHint(fmt.Errorf("cannot tell the network tag of cluster %s's nodes (GKE's rules gke-%s-HASH-all/-vms were not found in network %s/%s); nothing was changed",
			cloud.Cluster, cloud.Cluster, cs.project, cs.network),
			fmt.Sprintf("check with: gcloud compute firewall-rules list --project %s --filter name~^gke-%s-", cs.project, cloud.Cluster))
	}
	vmProject, vmNetwork, vmRules := cs.project, cs.network, all
	if cs.otherVPC(vm) {
		vmProject, vmNetwork = vm.networkProject, vm.network
		if vmProject != cs.project {
			if _, vmRules, err = rulesIn(ctx, cloud.Firewalls, vmProject, vmNetwork); err != nil {
				return nil, err
			}
		}
	}
	owner, _ := json.Marshal(ruleOwner{ManagedBy: mesh.ManagedBy, Purpose: rulePurpose, Cluster: cloud.ClusterName(), Group: o.Namespace + "/" + o.Name})
	base := func(role, project, network string, allowed []string) *computepb.Firewall {
		return &computepb.Firewall{
			Name:        proto.String(ruleName(cloud.ClusterName(), o.Namespace, o.Name, role)),
			Description: proto.String(string(owner)),
			Network:     proto.String("projects/" + project + "/global/networks/" + network),
			Direction:   proto.String("INGRESS"),
			Priority:    proto.Int32(1000),
			Allowed:     []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: allowed}},
		}
	}
	toGateway := base("istiod", cs.project, cs.network, gatewayPorts(crossNetwork))
	toGateway.SourceRanges, toGateway.DestinationRanges, toGateway.TargetTags = vm.ranges, []string{gw.ip + "/32"}, []string{tag}
	var ports []string
	for _, p := range o.Ports {
		ports = append(ports, strconv.Itoa(p.Number))
	}
	slices.SortFunc(ports, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
	toVM := base("ports", vmProject, vmNetwork, slices.Compact(ports))
	toVM.SourceRanges, toVM.DestinationRanges, toVM.TargetTags = pods, vm.ranges, vm.tags

	fp := &firewallPlan{}
	for _, r := range []vmRule{{project: cs.project, network: cs.network, want: toGateway}, {project: vmProject, network: vmNetwork, want: toVM}} {
		existing := all
		if r.project != cs.project {
			existing = vmRules
		}
		for _, have := range existing {
			if have.GetName() != r.want.GetName() {
				continue
			}
			if !ownsRule(have, cloud.ClusterName(), o.Namespace, o.Name) {
				return nil, failure.WithHint(fmt.Errorf("firewall rule %s exists in project %s and meshctl did not make it for this group; nothing was changed", r.want.GetName(), r.project),
					"rename the group, or delete the rule if it is meshctl's leftover: gcloud compute firewall-rules delete "+r.want.GetName()+" --project "+r.project)
			}
			r.have = have
		}
		fp.rules = append(fp.rules, r)
	}
	return fp, nil
}

// ruleDiff names the fields of have that differ from want.
func ruleDiff(have, want *computepb.Firewall) []string {
	var out []string
	for _, f := range []struct {
		field      string
		have, want []string
	}{
		{"sourceRanges", have.GetSourceRanges(), want.GetSourceRanges()},
		{"destinationRanges", have.GetDestinationRanges(), want.GetDestinationRanges()},
		{"targetTags", have.GetTargetTags(), want.GetTargetTags()},
		{"allowed", portsOf(have), portsOf(want)},
		{"description", []string{have.GetDescription()}, []string{want.GetDescription()}},
	} {
		if !slices.Equal(slices.Sorted(slices.Values(f.have)), slices.Sorted(slices.Values(f.want))) {
			out = append(out, f.field)
		}
	}
	if have.GetDisabled() {
		out = append(out, "disabled")
	}
	if have.GetPriority() != want.GetPriority() {
		out = append(out, "priority")
	}
	return out
}

// describe is a rule as people read it.
func describe(project string, f *computepb.Firewall) string {
	s := fmt.Sprintf("allow %s from %s to %s", strings.Join(portsOf(f), ","), strings.Join(f.GetSourceRanges(), ","), strings.Join(f.GetDestinationRanges(), ","))
	if len(f.GetTargetTags()) > 0 {
		s += " on tags " + strings.Join(f.GetTargetTags(), ",")
	}
	_, network, _ := gkecluster.ParseNetworkLink(f.GetNetwork())
	return s + ", network " + project + "/" + network
}

func portsOf(f *computepb.Firewall) []string {
	var out []string
	for _, a := range f.GetAllowed() {
		out = append(out, a.GetIPProtocol()+":"+strings.Join(a.GetPorts(), ","))
	}
	return out
}

// changes are the plan's entries for the rules, located for the
// permission check (firewalls.create/update in the network's project, and
// networks.updatePolicy on the network), with the gcloud command that
// makes a new rule for someone who holds what the caller lacks.
func (fp *firewallPlan) changes() []plan.Change {
	var out []plan.Change
	for _, r := range fp.rules {
		c := plan.Change{Kind: "firewalls", Name: r.want.GetName(), Action: plan.Create, Note: describe(r.project, r.want),
			Resource: preflight.ComputeName(r.project, "global", "firewalls", r.want.GetName()),
			Uses:     []string{preflight.ComputeName(r.project, "global", "networks", r.network)}}
		switch {
		case r.have == nil:
			c.Handover = lb.FirewallCommand(r.project, r.want)
		case len(ruleDiff(r.have, r.want)) > 0:
			c.Action, c.Fields = plan.Update, ruleDiff(r.have, r.want)
		default:
			c.Action = plan.Keep
		}
		out = append(out, c)
	}
	return out
}

// apply creates or updates the rules that differ.
func (fp *firewallPlan) apply(ctx context.Context, fw Firewalls, rep ui.Reporter) error {
	for _, r := range fp.rules {
		var write func(context.Context, string, *computepb.Firewall) error
		var what string
		switch fields := ruleDiff(r.have, r.want); {
		case r.have == nil:
			write, what = fw.InsertFirewall, "create firewall rule "+r.want.GetName()+" ("+describe(r.project, r.want)+")"
		case len(fields) > 0:
			write, what = fw.UpdateFirewall, "update firewall rule "+r.want.GetName()+" ("+strings.Join(fields, ", ")+")"
		default:
			continue
		}
		step := rep.Step(what)
		if err := write(ctx, r.project, r.want); err != nil {
			err = fmt.Errorf("%s in project %s: %w", what, r.project, err)
			step.Fail(err)
			return err
		}
		step.Done()
	}
	return nil
}

// groupRules are meshctl's rules for the group in project: those whose
// owner marker names the cluster and the group.
func groupRules(ctx context.Context, fw Firewalls, project, cluster, namespace, group string) ([]*computepb.Firewall, error) {
	all, err := fw.ListFirewalls(ctx, project)
	if err != nil {
		return nil, fmt.Errorf("list the firewall rules of project %s: %w", project, err)
	}
	var out []*computepb.Firewall
	for _, r := range all {
		if strings.HasPrefix(r.GetName(), "meshctl-vm-") && ownsRule(r, cluster, namespace, group) {
			out = append(out, r)
		}
	}
	return out, nil
}

// manualRules says what a user should open when add does not know the
// VM's address: no --instance nor --vm-range.
func manualRules(gatewayIP string, ports []Port, crossNetwork bool) string {
	var ps []string
	for _, p := range ports {
		ps = append(ps, strconv.Itoa(p.Number))
	}
	how := "run again with --instance NAME --zone ZONE, or --vm-range CIDR, and meshctl makes exactly those two rules"
	if crossNetwork {
		how = "run again with --instance NAME --zone ZONE and meshctl makes exactly those two rules"
	}
	return fmt.Sprintf("firewall: none made (the VM's address is unknown). The VM must reach %s on tcp:%s (the east-west gateway, on the cluster's nodes) and the mesh's Pods the VM on tcp:%s; %s",
		gatewayIP, strings.Join(gatewayPorts(crossNetwork), ","), strings.Join(ps, ","), how)
}

// isNotFound reports a Google 404: a rule already gone.
func isNotFound(err error) bool {
	var g *googleapi.Error
	return errors.As(err, &g) && g.Code == http.StatusNotFound
}
