package ilbcontroller

import (
	"context"
	"fmt"
	"slices"
	"sort"

	compute "google.golang.org/api/compute/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshctl/meshctl/sim/computeclient"
)

// Health check timing of GKE's L4 load balancers.
const (
	hcIntervalSec        = 8
	hcTimeoutSec         = 1
	hcHealthyThreshold   = 1
	hcUnhealthyThreshold = 3
)

// ensure makes the Service's load balancer what the plan says and returns
// its address, in the legacy controller's order: instance groups, health
// check, (the rule out of the way when it must change), backend service,
// forwarding rule, firewall rules, then a health check the Service no
// longer uses.
func (c *Controller) ensure(ctx context.Context, p lbPlan) (string, error) {
	groups, err := c.ensureInstanceGroups(ctx)
	if err != nil {
		return "", err
	}
	hcLink, err := c.ensureHealthCheck(ctx, p)
	if err != nil {
		return "", err
	}
	existing, err := c.g.svc.ForwardingRules.Get(c.g.project, c.g.region, p.name).Context(ctx).Do()
	if computeclient.IsNotFound(err) {
		existing, err = nil, nil
	}
	if err != nil {
		return "", fmt.Errorf("read forwarding rule %s: %w", p.name, err)
	}
	prevBS, _ := c.g.svc.RegionBackendServices.Get(c.g.project, c.g.region, p.name).Context(ctx).Do()
	rule := c.forwardingRule(p, existing)
	if existing != nil && !sameRule(existing, rule) {
		// Compute cannot change these in place: the rule goes and comes
		// back with its address.
		if err := c.g.do(ctx, func(id string) (*compute.Operation, error) {
			return c.g.svc.ForwardingRules.Delete(c.g.project, c.g.region, p.name).RequestId(id).Context(ctx).Do()
		}); ignoreGone(err) != nil {
			return "", fmt.Errorf("replace forwarding rule %s: %w", p.name, err)
		}
		existing = nil
	}
	if err := c.ensureBackendService(ctx, p, hcLink, groups); err != nil {
		return "", err
	}
	if existing == nil {
		if err := c.g.do(ctx, func(id string) (*compute.Operation, error) {
			return c.g.svc.ForwardingRules.Insert(c.g.project, c.g.region, rule).RequestId(id).Context(ctx).Do()
		}); err != nil {
			return "", fmt.Errorf("create forwarding rule %s: %w", p.name, err)
		}
	}
	made, err := c.g.svc.ForwardingRules.Get(c.g.project, c.g.region, p.name).Context(ctx).Do()
	if err != nil {
		return "", fmt.Errorf("read forwarding rule %s: %w", p.name, err)
	}
	if err := c.ensureFirewalls(ctx, p, made.IPAddress); err != nil {
		return "", err
	}
	if prevBS != nil && len(prevBS.HealthChecks) == 1 && computeclient.LastSegment(prevBS.HealthChecks[0]) != p.hcName {
		// externalTrafficPolicy changed: the other health check goes
		// (unless another Service still uses it).
		if err := c.deleteHealthCheck(ctx, computeclient.LastSegment(prevBS.HealthChecks[0])); err != nil {
			return "", err
		}
	}
	return made.IPAddress, nil
}

// forwardingRule is the rule the plan asks for; its address is the
// Service's loadBalancerIP, else the existing rule's when the subnetwork
// stays, else one the subnetwork hands out.
func (c *Controller) forwardingRule(p lbPlan, existing *compute.ForwardingRule) *compute.ForwardingRule {
	ip := p.svc.Spec.LoadBalancerIP
	if ip == "" && existing != nil && existing.Subnetwork == p.subnetwork {
		ip = existing.IPAddress
	}
	return &compute.ForwardingRule{
		Name: p.name, Description: serviceDescription(p.svc), IPAddress: ip, IPProtocol: p.protocol,
		LoadBalancingScheme: "INTERNAL", BackendService: c.g.regionalLink("backendServices", p.name),
		Ports: p.ports, AllPorts: p.allPorts, AllowGlobalAccess: p.global,
		Network: c.net.globalLink("networks", c.opts.Network), Subnetwork: p.subnetwork,
	}
}

// sameRule is the legacy controller's forwardingRulesEqual.
func sameRule(old, next *compute.ForwardingRule) bool {
	return (next.IPAddress == "" || old.IPAddress == next.IPAddress) && old.IPProtocol == next.IPProtocol &&
		old.LoadBalancingScheme == next.LoadBalancingScheme && sameSet(old.Ports, next.Ports) && old.AllPorts == next.AllPorts &&
		computeclient.LastSegment(old.BackendService) == computeclient.LastSegment(next.BackendService) && old.AllowGlobalAccess == next.AllowGlobalAccess &&
		computeclient.LastSegment(old.Subnetwork) == computeclient.LastSegment(next.Subnetwork)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

// ensureInstanceGroups keeps k8s-ig--<cluster id> in each zone with nodes,
// holding exactly that zone's nodes, and returns the groups' links.
func (c *Controller) ensureInstanceGroups(ctx context.Context) ([]string, error) {
	nodes, err := c.factory.Core().V1().Nodes().Lister().List(labels.Everything())
	if err != nil {
		return nil, err
	}
	byZone := map[string][]string{}
	for _, n := range nodes {
		if z := n.Labels[corev1.LabelTopologyZone]; z != "" {
			byZone[z] = append(byZone[z], n.Name)
		}
	}
	zones := make([]string, 0, len(byZone))
	for z := range byZone {
		zones = append(zones, z)
	}
	sort.Strings(zones)
	var links []string
	for _, z := range zones {
		if err := c.ensureInstanceGroup(ctx, z, byZone[z]); err != nil {
			return nil, err
		}
		links = append(links, c.g.zonalLink(z, "instanceGroups", InstanceGroupName(c.opts.ClusterID)))
	}
	return links, nil
}

func (c *Controller) ensureInstanceGroup(ctx context.Context, zone string, nodes []string) error {
	name, svc := InstanceGroupName(c.opts.ClusterID), c.g.svc.InstanceGroups
	_, err := svc.Get(c.g.project, zone, name).Context(ctx).Do()
	if computeclient.IsNotFound(err) {
		err = c.g.do(ctx, func(id string) (*compute.Operation, error) {
			return svc.Insert(c.g.project, zone, &compute.InstanceGroup{Name: name}).RequestId(id).Context(ctx).Do()
		})
	}
	if err != nil {
		return fmt.Errorf("instance group %s in %s: %w", name, zone, err)
	}
	members, err := svc.ListInstances(c.g.project, zone, name, &compute.InstanceGroupsListInstancesRequest{InstanceState: "ALL"}).Context(ctx).Do()
	if err != nil {
		return fmt.Errorf("list instance group %s in %s: %w", name, zone, err)
	}
	in := map[string]bool{}
	for _, m := range members.Items {
		in[computeclient.LastSegment(m.Instance)] = true
	}
	var add, remove []*compute.InstanceReference
	for _, n := range nodes {
		if !in[n] {
			add = append(add, &compute.InstanceReference{Instance: c.g.zonalLink(zone, "instances", n)})
		}
		delete(in, n)
	}
	for n := range in {
		remove = append(remove, &compute.InstanceReference{Instance: c.g.zonalLink(zone, "instances", n)})
	}
	if len(remove) > 0 {
		if err := c.g.do(ctx, func(id string) (*compute.Operation, error) {
			return svc.RemoveInstances(c.g.project, zone, name, &compute.InstanceGroupsRemoveInstancesRequest{Instances: remove}).RequestId(id).Context(ctx).Do()
		}); err != nil {
			return fmt.Errorf("remove nodes from instance group %s in %s: %w", name, zone, err)
		}
	}
	if len(add) > 0 {
		if err := c.g.do(ctx, func(id string) (*compute.Operation, error) {
			return svc.AddInstances(c.g.project, zone, name, &compute.InstanceGroupsAddInstancesRequest{Instances: add}).RequestId(id).Context(ctx).Do()
		}); err != nil {
			return fmt.Errorf("add nodes to instance group %s in %s: %w", name, zone, err)
		}
	}
	return nil
}
