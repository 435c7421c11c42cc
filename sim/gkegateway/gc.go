package gkegateway

import (
	"context"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	compute "google.golang.org/api/compute/v1"
)

// owned is one resource of the controller's found in Compute: its name
// (with the cluster's prefix), its description (the ownership marker) and
// the links it holds to others.
type owned struct {
	name, description string
	refs              []string
}

// inventory is every resource of the controller's, by collection.
type inventory map[string][]owned

func (inv inventory) empty() bool {
	for _, items := range inv {
		if len(items) > 0 {
			return false
		}
	}
	return true
}

// deleteOrder is the reverse of the order resources depend on each other:
// what refers comes down before what it refers to.
var deleteOrder = [][]string{
	{"forwardingRules"},
	{"targetHttpsProxies", "targetHttpProxies"},
	{"urlMaps"},
	{"backendServices"},
	{"healthChecks", "sslCertificates"},
	{"addresses", "firewalls"},
}

// take lists one collection, keeping the controller's own resources.
func take[T any](ctx context.Context, inv inventory, mu *sync.Mutex, k kindOps[T], prefix string, describe func(*T) owned) error {
	items, err := k.list(ctx)
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	for _, it := range items {
		if o := describe(it); strings.HasPrefix(o.name, prefix) {
			inv[k.collection] = append(inv[k.collection], o)
		}
	}
	return nil
}

// inventory lists what the controller owns in Compute.
func (p *pass) inventory(ctx context.Context) (inventory, error) {
	g, prefix := p.c.g, p.c.names.prefix()
	inv := inventory{}
	var mu sync.Mutex
	var eg errgroup.Group
	eg.Go(func() error {
		return take(ctx, inv, &mu, g.forwardingRules(), prefix, func(o *compute.ForwardingRule) owned {
			return owned{o.Name, o.Description, []string{o.Target}}
		})
	})
	eg.Go(func() error {
		return take(ctx, inv, &mu, g.targetHTTPSProxies(), prefix, func(o *compute.TargetHttpsProxy) owned {
			return owned{o.Name, o.Description, append([]string{o.UrlMap}, o.SslCertificates...)}
		})
	})
	eg.Go(func() error {
		return take(ctx, inv, &mu, g.targetHTTPProxies(), prefix, func(o *compute.TargetHttpProxy) owned {
			return owned{o.Name, o.Description, []string{o.UrlMap}}
		})
	})
	eg.Go(func() error {
		return take(ctx, inv, &mu, g.urlMaps(), prefix, func(o *compute.UrlMap) owned { return owned{o.Name, o.Description, urlMapRefs(o)} })
	})
	eg.Go(func() error {
		return take(ctx, inv, &mu, g.backendServices(), prefix, func(o *compute.BackendService) owned {
			return owned{o.Name, o.Description, o.HealthChecks}
		})
	})
	eg.Go(func() error {
		return take(ctx, inv, &mu, g.healthChecks(), prefix, func(o *compute.HealthCheck) owned { return owned{o.Name, o.Description, nil} })
	})
	eg.Go(func() error {
		return take(ctx, inv, &mu, g.sslCertificates(), prefix, func(o *compute.SslCertificate) owned { return owned{o.Name, o.Description, nil} })
	})
	eg.Go(func() error {
		return take(ctx, inv, &mu, g.addresses(), prefix, func(o *compute.Address) owned { return owned{o.Name, o.Description, nil} })
	})
	eg.Go(func() error {
		return take(ctx, inv, &mu, p.c.net.firewalls(), prefix, func(o *compute.Firewall) owned { return owned{o.Name, o.Description, nil} })
	})
	return inv, eg.Wait()
}

// urlMapRefs lists the backend services a URL map sends traffic to.
func urlMapRefs(um *compute.UrlMap) []string {
	refs := []string{um.DefaultService}
	for _, pm := range um.PathMatchers {
		refs = append(refs, pm.DefaultService)
		for _, rr := range pm.RouteRules {
			refs = append(refs, rr.Service)
			if rr.RouteAction != nil {
				for _, w := range rr.RouteAction.WeightedBackendServices {
					refs = append(refs, w.BackendService)
				}
			}
		}
	}
	return refs
}

// protectedSet is what Gateways that could not be worked out this pass
// (a translation error, a pending dependency) still hold: their own
// resources, by ownership marker, and everything those refer to. GKE keeps
// the last good load balancer while a Gateway is broken; so does meshsim.
func protectedSet(inv inventory, descriptions map[string]bool) map[resKey]bool {
	keep := map[resKey]bool{}
	var walk func(collection, name string)
	byLink := func(link string) (string, string) {
		parts := strings.Split(link, "/")
		if len(parts) < 2 {
			return "", ""
		}
		return parts[len(parts)-2], parts[len(parts)-1]
	}
	walk = func(collection, name string) {
		k := resKey{collection, name}
		if keep[k] {
			return
		}
		keep[k] = true
		for _, o := range inv[collection] {
			if o.name == name {
				for _, ref := range o.refs {
					if c, n := byLink(ref); c != "" {
						walk(c, n)
					}
				}
			}
		}
	}
	for collection, items := range inv {
		for _, o := range items {
			if descriptions[o.description] {
				walk(collection, o.name)
			}
		}
	}
	return keep
}

// collectGarbage deletes what the controller owns and no Gateway wants
// (in reverse dependency order; what Compute refuses because it is still
// in use is retried on a later pass), then lets deleted Gateways go once
// nothing of theirs is left. It never lists, so never deletes, what it did
// not name: user-owned certificate maps, SSL and security policies, named
// addresses and certificates stay.
func (p *pass) collectGarbage(ctx context.Context) {
	inv, err := p.inventory(ctx)
	if err != nil {
		p.logf("list the load balancer resources: %v", err)
		p.retry()
		return
	}
	held := map[string]bool{}
	for _, run := range p.runs {
		if !run.planned {
			held[run.desc] = true
		}
	}
	p.c.idle = len(p.w.gateways) == 0 && inv.empty()
	keep := protectedSet(inv, held)
	left := map[string]int{} // by description: resources not deleted
	var mu sync.Mutex
	for _, collections := range deleteOrder {
		var eg errgroup.Group
		eg.SetLimit(parallelism)
		for _, collection := range collections {
			for _, o := range inv[collection] {
				k := resKey{collection, o.name}
				if p.d.wants(k) || keep[k] {
					mu.Lock()
					left[o.description]++
					mu.Unlock()
					continue
				}
				eg.Go(func() error {
					if err := p.remove(ctx, k); err != nil {
						p.logf("%v", err)
						p.retry()
						mu.Lock()
						left[o.description]++
						mu.Unlock()
					}
					return nil
				})
			}
		}
		_ = eg.Wait()
	}
	p.finalize(ctx, left)
}

func (p *pass) remove(ctx context.Context, k resKey) error {
	g := p.c.g
	switch k.collection {
	case "forwardingRules":
		return remove(ctx, g, g.forwardingRules(), k.name)
	case "targetHttpsProxies":
		return remove(ctx, g, g.targetHTTPSProxies(), k.name)
	case "targetHttpProxies":
		return remove(ctx, g, g.targetHTTPProxies(), k.name)
	case "urlMaps":
		return remove(ctx, g, g.urlMaps(), k.name)
	case "backendServices":
		return remove(ctx, g, g.backendServices(), k.name)
	case "healthChecks":
		return remove(ctx, g, g.healthChecks(), k.name)
	case "sslCertificates":
		return remove(ctx, g, g.sslCertificates(), k.name)
	case "addresses":
		return remove(ctx, g, g.addresses(), k.name)
	case "firewalls":
		return remove(ctx, p.c.net, p.c.net.firewalls(), k.name)
	}
	return nil
}

// finalize drops the finalizer of deleted Gateways whose own resources
// (by ownership marker) are all gone.
func (p *pass) finalize(ctx context.Context, left map[string]int) {
	for _, gw := range p.w.gateways {
		if gw.DeletionTimestamp == nil || !hasFinalizer(gw.Finalizers) {
			continue
		}
		if left[p.c.k8sResourceDescription("gateways", gw.Namespace, gw.Name)] > 0 {
			p.retry()
			continue
		}
		if err := p.c.dropFinalizer(ctx, gw); err != nil {
			p.logf("finalizer of %s/%s: %v", gw.Namespace, gw.Name, err)
			p.retry()
		}
	}
}
