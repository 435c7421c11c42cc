package ilbcontroller

import (
	"context"
	"fmt"

	compute "google.golang.org/api/compute/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshctl/meshctl/sim/computeclient"
)

// teardown deletes a Service's load balancer in the legacy controller's
// order: forwarding rule, backend service, traffic firewall rule, health
// check and its firewall rule, instance groups. What another Service still
// uses (the shared health check, the instance groups) stays.
func (c *Controller) teardown(ctx context.Context, svc *corev1.Service) error {
	name := LoadBalancerName(svc)
	steps := []struct {
		what string
		in   gce
		del  func(id string) (*compute.Operation, error)
	}{
		{"forwarding rule " + name, c.g, func(id string) (*compute.Operation, error) {
			return c.g.svc.ForwardingRules.Delete(c.g.project, c.g.region, name).RequestId(id).Context(ctx).Do()
		}},
		{"backend service " + name, c.g, func(id string) (*compute.Operation, error) {
			return c.g.svc.RegionBackendServices.Delete(c.g.project, c.g.region, name).RequestId(id).Context(ctx).Do()
		}},
		{"firewall rule " + trafficFirewallName(name), c.net, func(id string) (*compute.Operation, error) {
			return c.net.svc.Firewalls.Delete(c.net.project, trafficFirewallName(name)).RequestId(id).Context(ctx).Do()
		}},
	}
	for _, s := range steps {
		if err := ignoreGone(s.in.do(ctx, s.del)); err != nil {
			return fmt.Errorf("delete %s: %w", s.what, err)
		}
	}
	if err := c.deleteHealthCheck(ctx, healthCheckName(name, c.opts.ClusterID, sharedHealthCheck(svc))); err != nil {
		return err
	}
	return c.deleteInstanceGroups(ctx)
}

// deleteHealthCheck deletes a health check and its firewall rule, unless
// another backend service still uses it.
func (c *Controller) deleteHealthCheck(ctx context.Context, name string) error {
	err := c.g.do(ctx, func(id string) (*compute.Operation, error) {
		return c.g.svc.HealthChecks.Delete(c.g.project, name).RequestId(id).Context(ctx).Do()
	})
	if err != nil && isInUse(err) {
		return nil
	}
	if err != nil && !computeclient.IsNotFound(err) {
		return fmt.Errorf("delete health check %s: %w", name, err)
	}
	fw := healthCheckFirewallName(name)
	if err := ignoreGone(c.net.do(ctx, func(id string) (*compute.Operation, error) {
		return c.net.svc.Firewalls.Delete(c.net.project, fw).RequestId(id).Context(ctx).Do()
	})); err != nil {
		return fmt.Errorf("delete firewall rule %s: %w", fw, err)
	}
	return nil
}

// deleteInstanceGroups deletes the cluster's instance group in every zone
// with nodes; one another load balancer still uses stays.
func (c *Controller) deleteInstanceGroups(ctx context.Context) error {
	nodes, err := c.factory.Core().V1().Nodes().Lister().List(labels.Everything())
	if err != nil {
		return err
	}
	name, done := InstanceGroupName(c.opts.ClusterID), map[string]bool{}
	for _, n := range nodes {
		zone := n.Labels[corev1.LabelTopologyZone]
		if zone == "" || done[zone] {
			continue
		}
		done[zone] = true
		if err := ignoreGone(c.g.do(ctx, func(id string) (*compute.Operation, error) {
			return c.g.svc.InstanceGroups.Delete(c.g.project, zone, name).RequestId(id).Context(ctx).Do()
		})); err != nil {
			return fmt.Errorf("delete instance group %s in %s: %w", name, zone, err)
		}
	}
	return nil
}
