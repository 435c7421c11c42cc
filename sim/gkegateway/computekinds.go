package gkegateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	compute "google.golang.org/api/compute/v1"
)

// The collections the controller writes, each as kindOps over its typed
// object. Updates carry the fingerprint they read, so a concurrent writer
// makes them fail with 412 and the controller re-reads on its next pass.

func (g gce) healthChecks() kindOps[compute.HealthCheck] {
	s := g.svc.HealthChecks
	return kindOps[compute.HealthCheck]{
		collection: "healthChecks",
		get: func(ctx context.Context, n string) (*compute.HealthCheck, error) {
			return s.Get(g.project, n).Context(ctx).Do()
		},
		insert: func(ctx context.Context, o *compute.HealthCheck, id string) (*compute.Operation, error) {
			return s.Insert(g.project, o).RequestId(id).Context(ctx).Do()
		},
		// PUT: a change of type must not leave the old type's settings behind.
		update: func(ctx context.Context, n string, o, _ *compute.HealthCheck, id string) (*compute.Operation, error) {
			return s.Update(g.project, n, o).RequestId(id).Context(ctx).Do()
		},
		del: func(ctx context.Context, n, id string) (*compute.Operation, error) {
			return s.Delete(g.project, n).RequestId(id).Context(ctx).Do()
		},
		list: func(ctx context.Context) ([]*compute.HealthCheck, error) {
			return pageList(ctx, s.List(g.project).Pages, func(l *compute.HealthCheckList) []*compute.HealthCheck { return l.Items })
		},
		name: func(o *compute.HealthCheck) string { return o.Name },
	}
}

// backendManagedFields are the backend service fields the controller sets
// from the Service and its GCPBackendPolicy.
var backendManagedFields = []string{
	"affinityCookieTtlSec", "backends", "connectionDraining", "description", "healthChecks", "iap",
	"loadBalancingScheme", "logConfig", "protocol", "sessionAffinity", "timeoutSec",
}

func (g gce) backendServices() kindOps[compute.BackendService] {
	s := g.svc.BackendServices
	return kindOps[compute.BackendService]{
		collection: "backendServices",
		get: func(ctx context.Context, n string) (*compute.BackendService, error) {
			return s.Get(g.project, n).Context(ctx).Do()
		},
		insert: func(ctx context.Context, o *compute.BackendService, id string) (*compute.Operation, error) {
			return s.Insert(g.project, o).RequestId(id).Context(ctx).Do()
		},
		update: func(ctx context.Context, n string, o, old *compute.BackendService, id string) (*compute.Operation, error) {
			next := *o
			next.Fingerprint = old.Fingerprint
			return s.Update(g.project, n, &next).RequestId(id).Context(ctx).Do()
		},
		del: func(ctx context.Context, n, id string) (*compute.Operation, error) {
			return s.Delete(g.project, n).RequestId(id).Context(ctx).Do()
		},
		list: func(ctx context.Context) ([]*compute.BackendService, error) {
			return pageList(ctx, s.List(g.project).Pages, func(l *compute.BackendServiceList) []*compute.BackendService { return l.Items })
		},
		name: func(o *compute.BackendService) string { return o.Name },
		// The IAP client secret is write-only: Compute shows its SHA-256.
		same: func(desired, existing *compute.BackendService) bool {
			d := *desired
			if d.Iap != nil && d.Iap.Oauth2ClientSecret != "" {
				iap := *d.Iap
				sum := sha256.Sum256([]byte(iap.Oauth2ClientSecret))
				iap.Oauth2ClientSecret, iap.Oauth2ClientSecretSha256 = "", hex.EncodeToString(sum[:])
				d.Iap = &iap
			}
			return sameManaged(&d, existing, backendManagedFields)
		},
	}
}

// setSecurityPolicy attaches (or with "" detaches) a backend service's
// Cloud Armor policy, which Compute only changes through this method.
func (g gce) setSecurityPolicy(ctx context.Context, backend, current, want string) (bool, error) {
	if current == want {
		return false, nil
	}
	err := g.do(ctx, func(id string) (*compute.Operation, error) {
		return g.svc.BackendServices.SetSecurityPolicy(g.project, backend, &compute.SecurityPolicyReference{SecurityPolicy: want}).RequestId(id).Context(ctx).Do()
	})
	return err == nil, err
}

func (g gce) urlMaps() kindOps[compute.UrlMap] {
	s := g.svc.UrlMaps
	return kindOps[compute.UrlMap]{
		collection: "urlMaps",
		get: func(ctx context.Context, n string) (*compute.UrlMap, error) {
			return s.Get(g.project, n).Context(ctx).Do()
		},
		insert: func(ctx context.Context, o *compute.UrlMap, id string) (*compute.Operation, error) {
			return s.Insert(g.project, o).RequestId(id).Context(ctx).Do()
		},
		update: func(ctx context.Context, n string, o, old *compute.UrlMap, id string) (*compute.Operation, error) {
			next := *o
			next.Fingerprint = old.Fingerprint
			return s.Update(g.project, n, &next).RequestId(id).Context(ctx).Do()
		},
		del: func(ctx context.Context, n, id string) (*compute.Operation, error) {
			return s.Delete(g.project, n).RequestId(id).Context(ctx).Do()
		},
		list: func(ctx context.Context) ([]*compute.UrlMap, error) {
			return pageList(ctx, s.List(g.project).Pages, func(l *compute.UrlMapList) []*compute.UrlMap { return l.Items })
		},
		name: func(o *compute.UrlMap) string { return o.Name },
		// A URL map is replaced whole: a filter or rule the routes no
		// longer have must go, so the comparison runs both ways (without
		// the fields only Compute writes).
		same: func(desired, existing *compute.UrlMap) bool {
			d, e := toJSONMap(desired), toJSONMap(existing)
			for _, f := range []string{"kind", "id", "selfLink", "creationTimestamp", "fingerprint"} {
				delete(e, f)
			}
			return jsonSubset(d, e) && jsonSubset(e, d)
		},
	}
}

func (g gce) targetHTTPProxies() kindOps[compute.TargetHttpProxy] {
	s := g.svc.TargetHttpProxies
	return kindOps[compute.TargetHttpProxy]{
		collection: "targetHttpProxies",
		get: func(ctx context.Context, n string) (*compute.TargetHttpProxy, error) {
			return s.Get(g.project, n).Context(ctx).Do()
		},
		insert: func(ctx context.Context, o *compute.TargetHttpProxy, id string) (*compute.Operation, error) {
			return s.Insert(g.project, o).RequestId(id).Context(ctx).Do()
		},
		update: func(ctx context.Context, n string, o, old *compute.TargetHttpProxy, id string) (*compute.Operation, error) {
			next := *o
			next.Fingerprint = old.Fingerprint
			return s.Patch(g.project, n, &next).RequestId(id).Context(ctx).Do()
		},
		del: func(ctx context.Context, n, id string) (*compute.Operation, error) {
			return s.Delete(g.project, n).RequestId(id).Context(ctx).Do()
		},
		list: func(ctx context.Context) ([]*compute.TargetHttpProxy, error) {
			return pageList(ctx, s.List(g.project).Pages, func(l *compute.TargetHttpProxyList) []*compute.TargetHttpProxy { return l.Items })
		},
		name: func(o *compute.TargetHttpProxy) string { return o.Name },
	}
}

func (g gce) targetHTTPSProxies() kindOps[compute.TargetHttpsProxy] {
	s := g.svc.TargetHttpsProxies
	return kindOps[compute.TargetHttpsProxy]{
		collection: "targetHttpsProxies",
		get: func(ctx context.Context, n string) (*compute.TargetHttpsProxy, error) {
			return s.Get(g.project, n).Context(ctx).Do()
		},
		insert: func(ctx context.Context, o *compute.TargetHttpsProxy, id string) (*compute.Operation, error) {
			return s.Insert(g.project, o).RequestId(id).Context(ctx).Do()
		},
		// A PATCH that also clears what the Gateway no longer asks for
		// (switching from a certificate map to pre-shared certificates,
		// dropping the SSL policy).
		update: func(ctx context.Context, n string, o, old *compute.TargetHttpsProxy, id string) (*compute.Operation, error) {
			next := *o
			next.Fingerprint = old.Fingerprint
			for field, empty := range map[string]bool{"CertificateMap": o.CertificateMap == "", "SslCertificates": len(o.SslCertificates) == 0, "SslPolicy": o.SslPolicy == ""} {
				if empty {
					next.NullFields = append(next.NullFields, field)
				}
			}
			slices.Sort(next.NullFields)
			return s.Patch(g.project, n, &next).RequestId(id).Context(ctx).Do()
		},
		del: func(ctx context.Context, n, id string) (*compute.Operation, error) {
			return s.Delete(g.project, n).RequestId(id).Context(ctx).Do()
		},
		list: func(ctx context.Context) ([]*compute.TargetHttpsProxy, error) {
			return pageList(ctx, s.List(g.project).Pages, func(l *compute.TargetHttpsProxyList) []*compute.TargetHttpsProxy { return l.Items })
		},
		name: func(o *compute.TargetHttpsProxy) string { return o.Name },
		same: func(d, e *compute.TargetHttpsProxy) bool {
			return d.UrlMap == e.UrlMap && d.CertificateMap == e.CertificateMap && d.SslPolicy == e.SslPolicy &&
				slices.Equal(d.SslCertificates, e.SslCertificates) && d.Description == e.Description
		},
	}
}

func (g gce) forwardingRules() kindOps[compute.ForwardingRule] {
	s := g.svc.GlobalForwardingRules
	return kindOps[compute.ForwardingRule]{
		collection: "forwardingRules",
		get: func(ctx context.Context, n string) (*compute.ForwardingRule, error) {
			return s.Get(g.project, n).Context(ctx).Do()
		},
		insert: func(ctx context.Context, o *compute.ForwardingRule, id string) (*compute.Operation, error) {
			return s.Insert(g.project, o).RequestId(id).Context(ctx).Do()
		},
		// No update: a rule's address and ports are fixed, so a change
		// deletes and re-creates it.
		del: func(ctx context.Context, n, id string) (*compute.Operation, error) {
			return s.Delete(g.project, n).RequestId(id).Context(ctx).Do()
		},
		list: func(ctx context.Context) ([]*compute.ForwardingRule, error) {
			return pageList(ctx, s.List(g.project).Pages, func(l *compute.ForwardingRuleList) []*compute.ForwardingRule { return l.Items })
		},
		name: func(o *compute.ForwardingRule) string { return o.Name },
		// Compute writes a single port "443" back as "443-443".
		same: func(d, e *compute.ForwardingRule) bool {
			return d.IPAddress == e.IPAddress && d.Target == e.Target && portRange(d.PortRange) == portRange(e.PortRange) &&
				d.LoadBalancingScheme == e.LoadBalancingScheme && d.Description == e.Description
		},
	}
}

func portRange(r string) string {
	if lo, hi, ok := strings.Cut(r, "-"); ok && lo == hi {
		return lo
	}
	return r
}

func (g gce) addresses() kindOps[compute.Address] {
	s := g.svc.GlobalAddresses
	return kindOps[compute.Address]{
		collection: "addresses",
		get: func(ctx context.Context, n string) (*compute.Address, error) {
			return s.Get(g.project, n).Context(ctx).Do()
		},
		insert: func(ctx context.Context, o *compute.Address, id string) (*compute.Operation, error) {
			return s.Insert(g.project, o).RequestId(id).Context(ctx).Do()
		},
		del: func(ctx context.Context, n, id string) (*compute.Operation, error) {
			return s.Delete(g.project, n).RequestId(id).Context(ctx).Do()
		},
		list: func(ctx context.Context) ([]*compute.Address, error) {
			return pageList(ctx, s.List(g.project).Pages, func(l *compute.AddressList) []*compute.Address { return l.Items })
		},
		name: func(o *compute.Address) string { return o.Name },
		// An address keeps its IP for its life; it is never replaced.
		same: func(_, _ *compute.Address) bool { return true },
	}
}

func (g gce) firewalls() kindOps[compute.Firewall] {
	s := g.svc.Firewalls
	return kindOps[compute.Firewall]{
		collection: "firewalls",
		get: func(ctx context.Context, n string) (*compute.Firewall, error) {
			return s.Get(g.project, n).Context(ctx).Do()
		},
		insert: func(ctx context.Context, o *compute.Firewall, id string) (*compute.Operation, error) {
			return s.Insert(g.project, o).RequestId(id).Context(ctx).Do()
		},
		update: func(ctx context.Context, n string, o, _ *compute.Firewall, id string) (*compute.Operation, error) {
			return s.Patch(g.project, n, o).RequestId(id).Context(ctx).Do()
		},
		del: func(ctx context.Context, n, id string) (*compute.Operation, error) {
			return s.Delete(g.project, n).RequestId(id).Context(ctx).Do()
		},
		list: func(ctx context.Context) ([]*compute.Firewall, error) {
			return pageList(ctx, s.List(g.project).Pages, func(l *compute.FirewallList) []*compute.Firewall { return l.Items })
		},
		name: func(o *compute.Firewall) string { return o.Name },
	}
}

func (g gce) sslCertificates() kindOps[compute.SslCertificate] {
	s := g.svc.SslCertificates
	return kindOps[compute.SslCertificate]{
		collection: "sslCertificates",
		get: func(ctx context.Context, n string) (*compute.SslCertificate, error) {
			return s.Get(g.project, n).Context(ctx).Do()
		},
		insert: func(ctx context.Context, o *compute.SslCertificate, id string) (*compute.Operation, error) {
			return s.Insert(g.project, o).RequestId(id).Context(ctx).Do()
		},
		del: func(ctx context.Context, n, id string) (*compute.Operation, error) {
			return s.Delete(g.project, n).RequestId(id).Context(ctx).Do()
		},
		list: func(ctx context.Context) ([]*compute.SslCertificate, error) {
			return pageList(ctx, s.List(g.project).Pages, func(l *compute.SslCertificateList) []*compute.SslCertificate { return l.Items })
		},
		name: func(o *compute.SslCertificate) string { return o.Name },
		// The name carries a hash of the Secret's content, and the private
		// key is never read back: an existing certificate is the right one.
		same: func(_, _ *compute.SslCertificate) bool { return true },
	}
}
