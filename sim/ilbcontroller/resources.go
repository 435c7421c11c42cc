package ilbcontroller

import (
	"context"
	"fmt"

	compute "google.golang.org/api/compute/v1"

	"github.com/meshctl/meshctl/sim/computeclient"
)

// ensureHealthCheck keeps the plan's health check as GKE makes it and
// returns its link. GKE keeps longer intervals and thresholds someone set
// (mergeHealthChecks); so does this.
func (c *Controller) ensureHealthCheck(ctx context.Context, p lbPlan) (string, error) {
	want := &compute.HealthCheck{
		Name: p.hcName, Type: "HTTP", CheckIntervalSec: hcIntervalSec, TimeoutSec: hcTimeoutSec,
		HealthyThreshold: hcHealthyThreshold, UnhealthyThreshold: hcUnhealthyThreshold,
		HttpHealthCheck: &compute.HTTPHealthCheck{Port: p.hcPort, RequestPath: healthCheckPath},
	}
	if !p.sharedHC {
		want.Description = serviceDescription(p.svc)
	}
	hcs := c.g.svc.HealthChecks
	got, err := hcs.Get(c.g.project, p.hcName).Context(ctx).Do()
	switch {
	case computeclient.IsNotFound(err):
		err = c.g.do(ctx, func(id string) (*compute.Operation, error) {
			return hcs.Insert(c.g.project, want).RequestId(id).Context(ctx).Do()
		})
	case err == nil && healthCheckDrifted(got, want):
		want.CheckIntervalSec, want.TimeoutSec = max(got.CheckIntervalSec, want.CheckIntervalSec), max(got.TimeoutSec, want.TimeoutSec)
		want.HealthyThreshold, want.UnhealthyThreshold = max(got.HealthyThreshold, want.HealthyThreshold), max(got.UnhealthyThreshold, want.UnhealthyThreshold)
		err = c.g.do(ctx, func(id string) (*compute.Operation, error) {
			return hcs.Update(c.g.project, p.hcName, want).RequestId(id).Context(ctx).Do()
		})
	}
	if err != nil {
		return "", fmt.Errorf("health check %s: %w", p.hcName, err)
	}
	return c.g.globalLink("healthChecks", p.hcName), nil
}

// healthCheckDrifted is the legacy controller's needToUpdateHealthChecks.
func healthCheckDrifted(got, want *compute.HealthCheck) bool {
	return got.HttpHealthCheck == nil || got.HttpHealthCheck.Port != want.HttpHealthCheck.Port ||
		got.HttpHealthCheck.RequestPath != want.HttpHealthCheck.RequestPath || got.Description != want.Description ||
		got.CheckIntervalSec < want.CheckIntervalSec || got.TimeoutSec < want.TimeoutSec ||
		got.HealthyThreshold < want.HealthyThreshold || got.UnhealthyThreshold < want.UnhealthyThreshold
}

// ensureBackendService keeps the regional backend service: the instance
// groups as backends, the health check, protocol and session affinity.
func (c *Controller) ensureBackendService(ctx context.Context, p lbPlan, hcLink string, groups []string) error {
	affinity := "NONE"
	if p.svc.Spec.SessionAffinity == "ClientIP" {
		affinity = "CLIENT_IP"
	}
	want := &compute.BackendService{Name: p.name, Description: serviceDescription(p.svc), Protocol: p.protocol,
		LoadBalancingScheme: "INTERNAL", SessionAffinity: affinity, HealthChecks: []string{hcLink}}
	for _, g := range groups {
		want.Backends = append(want.Backends, &compute.Backend{Group: g})
	}
	bss := c.g.svc.RegionBackendServices
	got, err := bss.Get(c.g.project, c.g.region, p.name).Context(ctx).Do()
	switch {
	case computeclient.IsNotFound(err):
		err = c.g.do(ctx, func(id string) (*compute.Operation, error) {
			return bss.Insert(c.g.project, c.g.region, want).RequestId(id).Context(ctx).Do()
		})
	case err == nil && !sameBackendService(got, want):
		want.Fingerprint = got.Fingerprint
		err = c.g.do(ctx, func(id string) (*compute.Operation, error) {
			return bss.Update(c.g.project, c.g.region, p.name, want).RequestId(id).Context(ctx).Do()
		})
	}
	if err != nil {
		return fmt.Errorf("backend service %s: %w", p.name, err)
	}
	return nil
}

func sameBackendService(got, want *compute.BackendService) bool {
	groups := func(bs *compute.BackendService) []string {
		var out []string
		for _, b := range bs.Backends {
			out = append(out, refPath(b.Group))
		}
		return out
	}
	hcs := func(bs *compute.BackendService) []string {
		var out []string
		for _, h := range bs.HealthChecks {
			out = append(out, refPath(h))
		}
		return out
	}
	return got.Protocol == want.Protocol && got.Description == want.Description && got.SessionAffinity == want.SessionAffinity &&
		got.LoadBalancingScheme == want.LoadBalancingScheme && sameSet(hcs(got), hcs(want)) && sameSet(groups(got), groups(want))
}

// ensureFirewalls keeps the traffic rule (the Service's source ranges to
// the nodes, for the rule's address and ports) and the health checkers'.
func (c *Controller) ensureFirewalls(ctx context.Context, p lbPlan, ip string) error {
	traffic := &compute.Firewall{
		Name: trafficFirewallName(p.name), Network: c.net.globalLink("networks", c.opts.Network),
		Description:  fmt.Sprintf(`{"kubernetes.io/service-name":"%s/%s", "kubernetes.io/service-ip":"%s"}`, p.svc.Namespace, p.svc.Name, ip),
		SourceRanges: p.sourceIP, DestinationRanges: []string{ip}, TargetTags: []string{c.opts.NodeTag},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: lower(p.protocol), Ports: p.portRanges}},
	}
	if err := c.ensureFirewall(ctx, traffic); err != nil {
		return err
	}
	return c.ensureFirewall(ctx, &compute.Firewall{
		Name: healthCheckFirewallName(p.hcName), Network: c.net.globalLink("networks", c.opts.Network),
		SourceRanges: healthCheckSourceRanges, TargetTags: []string{c.opts.NodeTag},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{fmt.Sprint(p.hcPort)}}},
	})
}

func (c *Controller) ensureFirewall(ctx context.Context, want *compute.Firewall) error {
	fws := c.g.svc.Firewalls
	got, err := fws.Get(c.net.project, want.Name).Context(ctx).Do()
	switch {
	case computeclient.IsNotFound(err):
		err = c.net.do(ctx, func(id string) (*compute.Operation, error) {
			return fws.Insert(c.net.project, want).RequestId(id).Context(ctx).Do()
		})
	case err == nil && !sameFirewall(got, want):
		err = c.net.do(ctx, func(id string) (*compute.Operation, error) {
			return fws.Patch(c.net.project, want.Name, want).RequestId(id).Context(ctx).Do()
		})
	}
	if err != nil {
		return fmt.Errorf("firewall rule %s: %w", want.Name, err)
	}
	return nil
}

// sameFirewall is the legacy controller's firewallRuleEqual.
func sameFirewall(a, b *compute.Firewall) bool {
	return a.Description == b.Description && len(a.Allowed) == 1 && len(b.Allowed) == 1 &&
		a.Allowed[0].IPProtocol == b.Allowed[0].IPProtocol && sameSet(a.Allowed[0].Ports, b.Allowed[0].Ports) &&
		sameSet(a.SourceRanges, b.SourceRanges) && sameSet(a.DestinationRanges, b.DestinationRanges) && sameSet(a.TargetTags, b.TargetTags)
}

func lower(protocol string) string {
	if protocol == "UDP" {
		return "udp"
	}
	return "tcp"
}
