package lb

import (
	"context"
	"errors"
	"fmt"
	"io"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/meshctl/meshctl/internal/gcp"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"
)

// GCE is Compute over the official REST clients
// (cloud.google.com/go/compute/apiv1), for one project. Its calls are single
// attempts: the clients retry reads on 503/504 only and never retry a
// mutation, so pkg/lb's own retry (with requestIds) sits above it.
type GCE struct {
	project string

	addresses   *compute.GlobalAddressesClient
	health      *compute.HealthChecksClient
	sslPolicies *compute.SslPoliciesClient
	certs       *compute.SslCertificatesClient
	armor       *compute.SecurityPoliciesClient
	firewalls   *compute.FirewallsClient
	backends    *compute.BackendServicesClient
	urlMaps     *compute.UrlMapsClient
	https       *compute.TargetHttpsProxiesClient
	http        *compute.TargetHttpProxiesClient
	rules       *compute.GlobalForwardingRulesClient
	ops         *compute.GlobalOperationsClient
	projects    *compute.ProjectsClient
	instances   *compute.InstancesClient
	negs        *compute.NetworkEndpointGroupsClient

	closers []io.Closer
}

var _ Compute = (*GCE)(nil)

// NewGCE builds the Compute clients pkg/lb uses against cfg's endpoint.
// Close releases them.
func NewGCE(ctx context.Context, cfg gcp.Config, project string) (*GCE, error) {
	g := &GCE{project: project}
	var err error
	build := func(f func() (io.Closer, error)) {
		if err != nil {
			return
		}
		var c io.Closer
		if c, err = f(); err == nil {
			g.closers = append(g.closers, c)
		}
	}
	build(func() (io.Closer, error) {
		c, e := gcp.NewCompute(ctx, cfg, compute.NewGlobalAddressesRESTClient)
		g.addresses = c
		return c, e
	})
	build(func() (io.Closer, error) {
		c, e := gcp.NewCompute(ctx, cfg, compute.NewHealthChecksRESTClient)
		g.health = c
		return c, e
	})
	build(func() (io.Closer, error) {
		c, e := gcp.NewCompute(ctx, cfg, compute.NewSslPoliciesRESTClient)
		g.sslPolicies = c
		return c, e
	})
	build(func() (io.Closer, error) {
		c, e := gcp.NewCompute(ctx, cfg, compute.NewSslCertificatesRESTClient)
		g.certs = c
		return c, e
	})
	build(func() (io.Closer, error) {
		c, e := gcp.NewCompute(ctx, cfg, compute.NewSecurityPoliciesRESTClient)
		g.armor = c
		return c, e
	})
	build(func() (io.Closer, error) {
		c, e := gcp.NewCompute(ctx, cfg, compute.NewFirewallsRESTClient)
		g.firewalls = c
		return c, e
	})
	build(func() (io.Closer, error) {
		c, e := gcp.NewCompute(ctx, cfg, compute.NewBackendServicesRESTClient)
		g.backends = c
		return c, e
	})
	build(func() (io.Closer, error) {
		c, e := gcp.NewCompute(ctx, cfg, compute.NewUrlMapsRESTClient)
		g.urlMaps = c
		return c, e
	})
	build(func() (io.Closer, error) {
		c, e := gcp.NewCompute(ctx, cfg, compute.NewTargetHttpsProxiesRESTClient)
		g.https = c
		return c, e
	})
	build(func() (io.Closer, error) {
		c, e := gcp.NewCompute(ctx, cfg, compute.NewTargetHttpProxiesRESTClient)
		g.http = c
		return c, e
	})
	build(func() (io.Closer, error) {
		c, e := gcp.NewCompute(ctx, cfg, compute.NewGlobalForwardingRulesRESTClient)
		g.rules = c
		return c, e
	})
	build(func() (io.Closer, error) {
		c, e := gcp.NewCompute(ctx, cfg, compute.NewGlobalOperationsRESTClient)
		g.ops = c
		return c, e
	})
	build(func() (io.Closer, error) {
		c, e := gcp.NewCompute(ctx, cfg, compute.NewProjectsRESTClient)
		g.projects = c
		return c, e
	})
	build(func() (io.Closer, error) {
		c, e := gcp.NewCompute(ctx, cfg, compute.NewInstancesRESTClient)
		g.instances = c
		return c, e
	})
	build(func() (io.Closer, error) {
		c, e := gcp.NewCompute(ctx, cfg, compute.NewNetworkEndpointGroupsRESTClient)
		g.negs = c
		return c, e
	})
	if err != nil {
		_ = g.Close()
		return nil, err
	}
	return g, nil
}

// Close closes every client.
func (g *GCE) Close() error {
	var errs []error
	for _, c := range g.closers {
		errs = append(errs, c.Close())
	}
	g.closers = nil
	return errors.Join(errs...)
}

func errKind(kind Kind) error { return fmt.Errorf("pkg/lb: unsupported kind %q", kind) }

func reqID(id string) *string {
	if id == "" {
		return nil
	}
	return &id
}

// opProto unwraps the client's Operation handle into the proto pkg/lb waits on.
func opProto(op *compute.Operation, err error) (*computepb.Operation, error) {
	if err != nil {
		return nil, err
	}
	return op.Proto(), nil
}

// Get reads one object by name.
func (g *GCE) Get(ctx context.Context, kind Kind, name string) (proto.Message, error) {
	p := g.project
	switch kind {
	case KindAddress:
		return g.addresses.Get(ctx, &computepb.GetGlobalAddressRequest{Project: p, Address: name})
	case KindHealthCheck:
		return g.health.Get(ctx, &computepb.GetHealthCheckRequest{Project: p, HealthCheck: name})
	case KindSSLPolicy:
		return g.sslPolicies.Get(ctx, &computepb.GetSslPolicyRequest{Project: p, SslPolicy: name})
	case KindCertificate:
		return g.certs.Get(ctx, &computepb.GetSslCertificateRequest{Project: p, SslCertificate: name})
	case KindSecurityPolicy:
		return g.armor.Get(ctx, &computepb.GetSecurityPolicyRequest{Project: p, SecurityPolicy: name})
	case KindFirewall:
		return g.firewalls.Get(ctx, &computepb.GetFirewallRequest{Project: p, Firewall: name})
	case KindBackendService:
		return g.backends.Get(ctx, &computepb.GetBackendServiceRequest{Project: p, BackendService: name})
	case KindURLMap:
		return g.urlMaps.Get(ctx, &computepb.GetUrlMapRequest{Project: p, UrlMap: name})
	case KindHTTPSProxy:
		return g.https.Get(ctx, &computepb.GetTargetHttpsProxyRequest{Project: p, TargetHttpsProxy: name})
	case KindHTTPProxy:
		return g.http.Get(ctx, &computepb.GetTargetHttpProxyRequest{Project: p, TargetHttpProxy: name})
	case KindForwardingRule:
		return g.rules.Get(ctx, &computepb.GetGlobalForwardingRuleRequest{Project: p, ForwardingRule: name})
	}
	return nil, errKind(kind)
}

type nexter[T any] interface{ Next() (T, error) }

func drain[T proto.Message](it nexter[T]) ([]proto.Message, error) {
	var out []proto.Message
	for {
		v, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

func filterPtr(f string) *string {
	if f == "" {
		return nil
	}
	return &f
}

// List lists a kind's objects matching filter.
func (g *GCE) List(ctx context.Context, kind Kind, filter string) ([]proto.Message, error) {
	p, f := g.project, filterPtr(filter)
	switch kind {
	case KindCertificate:
		return drain(g.certs.List(ctx, &computepb.ListSslCertificatesRequest{Project: p, Filter: f}))
	case KindBackendService:
		return drain(g.backends.List(ctx, &computepb.ListBackendServicesRequest{Project: p, Filter: f}))
	case KindHealthCheck:
		return drain(g.health.List(ctx, &computepb.ListHealthChecksRequest{Project: p, Filter: f}))
	case KindFirewall:
		return drain(g.firewalls.List(ctx, &computepb.ListFirewallsRequest{Project: p, Filter: f}))
	case KindURLMap:
		return drain(g.urlMaps.List(ctx, &computepb.ListUrlMapsRequest{Project: p, Filter: f}))
	case KindSecurityPolicy:
		return drain(g.armor.List(ctx, &computepb.ListSecurityPoliciesRequest{Project: p, Filter: f}))
	case KindAddress:
		return drain(g.addresses.List(ctx, &computepb.ListGlobalAddressesRequest{Project: p, Filter: f}))
	case KindForwardingRule:
		return drain(g.rules.List(ctx, &computepb.ListGlobalForwardingRulesRequest{Project: p, Filter: f}))
	case KindHTTPSProxy:
		return drain(g.https.List(ctx, &computepb.ListTargetHttpsProxiesRequest{Project: p, Filter: f}))
	case KindHTTPProxy:
		return drain(g.http.List(ctx, &computepb.ListTargetHttpProxiesRequest{Project: p, Filter: f}))
	case KindSSLPolicy:
		return drain(g.sslPolicies.List(ctx, &computepb.ListSslPoliciesRequest{Project: p, Filter: f}))
	}
	return nil, errKind(kind)
}

// Insert creates obj.
func (g *GCE) Insert(ctx context.Context, kind Kind, obj proto.Message, requestID string) (*computepb.Operation, error) {
	p, id := g.project, reqID(requestID)
	switch o := obj.(type) {
	case *computepb.Address:
		return opProto(g.addresses.Insert(ctx, &computepb.InsertGlobalAddressRequest{Project: p, AddressResource: o, RequestId: id}))
	case *computepb.HealthCheck:
		return opProto(g.health.Insert(ctx, &computepb.InsertHealthCheckRequest{Project: p, HealthCheckResource: o, RequestId: id}))
	case *computepb.SslPolicy:
		return opProto(g.sslPolicies.Insert(ctx, &computepb.InsertSslPolicyRequest{Project: p, SslPolicyResource: o, RequestId: id}))
	case *computepb.SslCertificate:
		return opProto(g.certs.Insert(ctx, &computepb.InsertSslCertificateRequest{Project: p, SslCertificateResource: o, RequestId: id}))
	case *computepb.SecurityPolicy:
		return opProto(g.armor.Insert(ctx, &computepb.InsertSecurityPolicyRequest{Project: p, SecurityPolicyResource: o, RequestId: id}))
	case *computepb.Firewall:
		return opProto(g.firewalls.Insert(ctx, &computepb.InsertFirewallRequest{Project: p, FirewallResource: o, RequestId: id}))
	case *computepb.BackendService:
		return opProto(g.backends.Insert(ctx, &computepb.InsertBackendServiceRequest{Project: p, BackendServiceResource: o, RequestId: id}))
	case *computepb.UrlMap:
		return opProto(g.urlMaps.Insert(ctx, &computepb.InsertUrlMapRequest{Project: p, UrlMapResource: o, RequestId: id}))
	case *computepb.TargetHttpsProxy:
		return opProto(g.https.Insert(ctx, &computepb.InsertTargetHttpsProxyRequest{Project: p, TargetHttpsProxyResource: o, RequestId: id}))
	case *computepb.TargetHttpProxy:
		return opProto(g.http.Insert(ctx, &computepb.InsertTargetHttpProxyRequest{Project: p, TargetHttpProxyResource: o, RequestId: id}))
	case *computepb.ForwardingRule:
		return opProto(g.rules.Insert(ctx, &computepb.InsertGlobalForwardingRuleRequest{Project: p, ForwardingRuleResource: o, RequestId: id}))
	}
	return nil, errKind(kind)
}

// Update writes obj over the named object (a patch for SSL and Cloud Armor
// policies, firewall rules and HTTPS proxies).
func (g *GCE) Update(ctx context.Context, kind Kind, name string, obj proto.Message, requestID string) (*computepb.Operation, error) {
	p, id := g.project, reqID(requestID)
	switch o := obj.(type) {
	case *computepb.HealthCheck:
		return opProto(g.health.Update(ctx, &computepb.UpdateHealthCheckRequest{Project: p, HealthCheck: name, HealthCheckResource: o, RequestId: id}))
	case *computepb.SslPolicy:
		return opProto(g.sslPolicies.Patch(ctx, &computepb.PatchSslPolicyRequest{Project: p, SslPolicy: name, SslPolicyResource: o, RequestId: id}))
	case *computepb.SecurityPolicy:
		return opProto(g.armor.Patch(ctx, &computepb.PatchSecurityPolicyRequest{Project: p, SecurityPolicy: name, SecurityPolicyResource: o, RequestId: id}))
	case *computepb.Firewall:
		return opProto(g.firewalls.Patch(ctx, &computepb.PatchFirewallRequest{Project: p, Firewall: name, FirewallResource: o, RequestId: id}))
	case *computepb.BackendService:
		return opProto(g.backends.Update(ctx, &computepb.UpdateBackendServiceRequest{Project: p, BackendService: name, BackendServiceResource: o, RequestId: id}))
	case *computepb.UrlMap:
		return opProto(g.urlMaps.Update(ctx, &computepb.UpdateUrlMapRequest{Project: p, UrlMap: name, UrlMapResource: o, RequestId: id}))
	case *computepb.TargetHttpsProxy:
		// A patch carrying the fingerprint: unlike setSslCertificates, it
		// fails (412) when another writer changed the proxy since it was read.
		return opProto(g.https.Patch(ctx, &computepb.PatchTargetHttpsProxyRequest{Project: p, TargetHttpsProxy: name, TargetHttpsProxyResource: o, RequestId: id}))
	}
	return nil, errKind(kind)
}

// Delete deletes the named object.
func (g *GCE) Delete(ctx context.Context, kind Kind, name, requestID string) (*computepb.Operation, error) {
	p, id := g.project, reqID(requestID)
	switch kind {
	case KindAddress:
		return opProto(g.addresses.Delete(ctx, &computepb.DeleteGlobalAddressRequest{Project: p, Address: name, RequestId: id}))
	case KindHealthCheck:
		return opProto(g.health.Delete(ctx, &computepb.DeleteHealthCheckRequest{Project: p, HealthCheck: name, RequestId: id}))
	case KindSSLPolicy:
		return opProto(g.sslPolicies.Delete(ctx, &computepb.DeleteSslPolicyRequest{Project: p, SslPolicy: name, RequestId: id}))
	case KindCertificate:
		return opProto(g.certs.Delete(ctx, &computepb.DeleteSslCertificateRequest{Project: p, SslCertificate: name, RequestId: id}))
	case KindSecurityPolicy:
		return opProto(g.armor.Delete(ctx, &computepb.DeleteSecurityPolicyRequest{Project: p, SecurityPolicy: name, RequestId: id}))
	case KindFirewall:
		return opProto(g.firewalls.Delete(ctx, &computepb.DeleteFirewallRequest{Project: p, Firewall: name, RequestId: id}))
	case KindBackendService:
		return opProto(g.backends.Delete(ctx, &computepb.DeleteBackendServiceRequest{Project: p, BackendService: name, RequestId: id}))
	case KindURLMap:
		return opProto(g.urlMaps.Delete(ctx, &computepb.DeleteUrlMapRequest{Project: p, UrlMap: name, RequestId: id}))
	case KindHTTPSProxy:
		return opProto(g.https.Delete(ctx, &computepb.DeleteTargetHttpsProxyRequest{Project: p, TargetHttpsProxy: name, RequestId: id}))
	case KindHTTPProxy:
		return opProto(g.http.Delete(ctx, &computepb.DeleteTargetHttpProxyRequest{Project: p, TargetHttpProxy: name, RequestId: id}))
	case KindForwardingRule:
		return opProto(g.rules.Delete(ctx, &computepb.DeleteGlobalForwardingRuleRequest{Project: p, ForwardingRule: name, RequestId: id}))
	}
	return nil, errKind(kind)
}

// SetSecurityPolicy attaches policy to a backend service.
func (g *GCE) SetSecurityPolicy(ctx context.Context, backendService, policy, requestID string) (*computepb.Operation, error) {
	ref := &computepb.SecurityPolicyReference{}
	if policy != "" {
		ref.SecurityPolicy = &policy
	}
	return opProto(g.backends.SetSecurityPolicy(ctx, &computepb.SetSecurityPolicyBackendServiceRequest{
		Project: g.project, BackendService: backendService, SecurityPolicyReferenceResource: ref, RequestId: reqID(requestID)}))
}

// SetURLMap points a proxy at a URL map.
func (g *GCE) SetURLMap(ctx context.Context, kind Kind, proxy, urlMap, requestID string) (*computepb.Operation, error) {
	ref := &computepb.UrlMapReference{UrlMap: &urlMap}
	switch kind {
	case KindHTTPSProxy:
		return opProto(g.https.SetUrlMap(ctx, &computepb.SetUrlMapTargetHttpsProxyRequest{
			Project: g.project, TargetHttpsProxy: proxy, UrlMapReferenceResource: ref, RequestId: reqID(requestID)}))
	case KindHTTPProxy:
		return opProto(g.http.SetUrlMap(ctx, &computepb.SetUrlMapTargetHttpProxyRequest{
			Project: g.project, TargetHttpProxy: proxy, UrlMapReferenceResource: ref, RequestId: reqID(requestID)}))
	}
	return nil, errKind(kind)
}

// SetSSLCertificates replaces an HTTPS proxy's certificates.
func (g *GCE) SetSSLCertificates(ctx context.Context, proxy string, certificates []string, requestID string) (*computepb.Operation, error) {
	return opProto(g.https.SetSslCertificates(ctx, &computepb.SetSslCertificatesTargetHttpsProxyRequest{
		Project: g.project, TargetHttpsProxy: proxy, RequestId: reqID(requestID),
		TargetHttpsProxiesSetSslCertificatesRequestResource: &computepb.TargetHttpsProxiesSetSslCertificatesRequest{SslCertificates: certificates},
	}))
}

// SetSSLPolicy attaches an SSL policy to an HTTPS proxy.
func (g *GCE) SetSSLPolicy(ctx context.Context, proxy, policy, requestID string) (*computepb.Operation, error) {
	ref := &computepb.SslPolicyReference{}
	if policy != "" {
		ref.SslPolicy = &policy
	}
	return opProto(g.https.SetSslPolicy(ctx, &computepb.SetSslPolicyTargetHttpsProxyRequest{
		Project: g.project, TargetHttpsProxy: proxy, SslPolicyReferenceResource: ref, RequestId: reqID(requestID)}))
}

// SetTarget points a forwarding rule at another proxy.
func (g *GCE) SetTarget(ctx context.Context, forwardingRule, target, requestID string) (*computepb.Operation, error) {
	return opProto(g.rules.SetTarget(ctx, &computepb.SetTargetGlobalForwardingRuleRequest{
		Project: g.project, ForwardingRule: forwardingRule, RequestId: reqID(requestID),
		TargetReferenceResource: &computepb.TargetReference{Target: &target}}))
}

// AddRule adds a rule to a Cloud Armor policy.
func (g *GCE) AddRule(ctx context.Context, policy string, rule *computepb.SecurityPolicyRule) (*computepb.Operation, error) {
	return opProto(g.armor.AddRule(ctx, &computepb.AddRuleSecurityPolicyRequest{
		Project: g.project, SecurityPolicy: policy, SecurityPolicyRuleResource: rule}))
}

// PatchRule replaces the rule at rule's priority.
func (g *GCE) PatchRule(ctx context.Context, policy string, rule *computepb.SecurityPolicyRule) (*computepb.Operation, error) {
	return opProto(g.armor.PatchRule(ctx, &computepb.PatchRuleSecurityPolicyRequest{
		Project: g.project, SecurityPolicy: policy, Priority: rule.Priority, SecurityPolicyRuleResource: rule}))
}

// RemoveRule removes the rule at priority.
func (g *GCE) RemoveRule(ctx context.Context, policy string, priority int32) (*computepb.Operation, error) {
	return opProto(g.armor.RemoveRule(ctx, &computepb.RemoveRuleSecurityPolicyRequest{
		Project: g.project, SecurityPolicy: policy, Priority: &priority}))
}

// GetHealth reports the health of one backend group of a backend service.
func (g *GCE) GetHealth(ctx context.Context, backendService, group string) (*computepb.BackendServiceGroupHealth, error) {
	return g.backends.GetHealth(ctx, &computepb.GetHealthBackendServiceRequest{
		Project: g.project, BackendService: backendService,
		ResourceGroupReferenceResource: &computepb.ResourceGroupReference{Group: &group}})
}

// WaitOperation calls globalOperations.wait once.
func (g *GCE) WaitOperation(ctx context.Context, name string) (*computepb.Operation, error) {
	return g.ops.Wait(ctx, &computepb.WaitGlobalOperationRequest{Project: g.project, Operation: name})
}

// Quotas reads the project's quotas.
func (g *GCE) Quotas(ctx context.Context) ([]*computepb.Quota, error) {
	p, err := g.projects.Get(ctx, &computepb.GetProjectRequest{Project: g.project})
	if err != nil {
		return nil, err
	}
	return p.GetQuotas(), nil
}

// Instances lists VM instances in every zone.
func (g *GCE) Instances(ctx context.Context, filter string) ([]*computepb.Instance, error) {
	it := g.instances.AggregatedList(ctx, &computepb.AggregatedListInstancesRequest{Project: g.project, Filter: filterPtr(filter)})
	var out []*computepb.Instance
	for {
		pair, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, pair.Value.GetInstances()...)
	}
}

// NetworkEndpoints lists a zonal network endpoint group's endpoints
// (networkEndpointGroups.listNetworkEndpoints), without health.
func (g *GCE) NetworkEndpoints(ctx context.Context, zone, neg string) ([]*computepb.NetworkEndpointWithHealthStatus, error) {
	it := g.negs.ListNetworkEndpoints(ctx, &computepb.ListNetworkEndpointsNetworkEndpointGroupsRequest{
		Project: g.project, Zone: zone, NetworkEndpointGroup: neg,
		NetworkEndpointGroupsListEndpointsRequestResource: &computepb.NetworkEndpointGroupsListEndpointsRequest{},
	})
	var out []*computepb.NetworkEndpointWithHealthStatus
	for {
		ep, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ep)
	}
}
