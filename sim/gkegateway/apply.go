package gkegateway

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"
	compute "google.golang.org/api/compute/v1"
)

// resKey names a Compute resource by collection and name.
type resKey struct{ collection, name string }

// desired is the Compute state every accepted Gateway asks for together.
type desired struct {
	healthChecks map[string]*compute.HealthCheck
	backends     map[string]*compute.BackendService
	armor        map[string]string // backend service → Cloud Armor policy link, "" for none
	certs        map[string]*compute.SslCertificate
	addresses    map[string]*compute.Address
	urlMaps      map[string]*compute.UrlMap
	httpProxies  map[string]*compute.TargetHttpProxy
	httpsProxies map[string]*compute.TargetHttpsProxy
	rules        map[string]*frPlan
	firewall     *compute.Firewall
}

// frPlan is a forwarding rule whose IP is known once the address exists.
type frPlan struct {
	run  *gatewayRun
	rule *compute.ForwardingRule
}

func newDesired() *desired {
	return &desired{
		healthChecks: map[string]*compute.HealthCheck{}, backends: map[string]*compute.BackendService{},
		armor: map[string]string{}, certs: map[string]*compute.SslCertificate{}, addresses: map[string]*compute.Address{},
		urlMaps: map[string]*compute.UrlMap{}, httpProxies: map[string]*compute.TargetHttpProxy{},
		httpsProxies: map[string]*compute.TargetHttpsProxy{}, rules: map[string]*frPlan{},
	}
}

// wants reports whether the desired state holds a resource.
func (d *desired) wants(k resKey) bool {
	switch k.collection {
	case "healthChecks":
		return d.healthChecks[k.name] != nil
	case "backendServices":
		return d.backends[k.name] != nil
	case "sslCertificates":
		return d.certs[k.name] != nil
	case "addresses":
		return d.addresses[k.name] != nil
	case "urlMaps":
		return d.urlMaps[k.name] != nil
	case "targetHttpProxies":
		return d.httpProxies[k.name] != nil
	case "targetHttpsProxies":
		return d.httpsProxies[k.name] != nil
	case "forwardingRules":
		return d.rules[k.name] != nil
	case "firewalls":
		return d.firewall != nil && d.firewall.Name == k.name
	}
	return false
}

// outcomes are what applying each resource came to.
type outcomes struct {
	mu      sync.Mutex
	err     map[resKey]error
	changed map[resKey]bool
}

func newOutcomes() *outcomes {
	return &outcomes{err: map[resKey]error{}, changed: map[resKey]bool{}}
}

func (o *outcomes) errOf(k resKey) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err[k]
}

func (o *outcomes) record(k resKey, changed bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		o.err[k] = err
	}
	if changed {
		o.changed[k] = true
	}
}

// parallelism bounds concurrent Compute calls within a layer.
const parallelism = 8

// layer runs the scheduled work concurrently and waits for all of it.
func layer(steps ...func(g *errgroup.Group)) {
	var g errgroup.Group
	g.SetLimit(parallelism)
	for _, s := range steps {
		s(&g)
	}
	_ = g.Wait()
}

// ensureAll schedules ensure for every object of a kind.
func ensureAll[T any](ctx context.Context, p *pass, k kindOps[T], objs map[string]*T) func(*errgroup.Group) {
	return func(g *errgroup.Group) {
		for name, obj := range objs {
			g.Go(func() error {
				changed, err := ensure(ctx, p.c.in(k.collection), k, name, obj)
				p.out.record(resKey{k.collection, name}, changed, err)
				return nil
			})
		}
	}
}

// apply makes the desired state real, in dependency order; each layer's
// resources are made concurrently and waited for (their operations DONE)
// before the next layer, which refers to them.
func (p *pass) apply(ctx context.Context) {
	g, d := p.c.g, p.d
	firewalls := map[string]*compute.Firewall{}
	if d.firewall != nil {
		firewalls[d.firewall.Name] = d.firewall
	}
	layer(ensureAll(ctx, p, g.healthChecks(), d.healthChecks), ensureAll(ctx, p, g.sslCertificates(), d.certs),
		ensureAll(ctx, p, g.addresses(), d.addresses), ensureAll(ctx, p, p.c.net.firewalls(), firewalls))
	layer(ensureAll(ctx, p, g.backendServices(), d.backends))
	layer(p.attachArmor(ctx))
	layer(ensureAll(ctx, p, g.urlMaps(), d.urlMaps))
	layer(ensureAll(ctx, p, g.targetHTTPProxies(), d.httpProxies), ensureAll(ctx, p, g.targetHTTPSProxies(), d.httpsProxies))
	rules := map[string]*compute.ForwardingRule{}
	for name, fr := range d.rules {
		ip, err := p.addressIP(ctx, fr.run)
		if err != nil {
			p.out.record(resKey{"forwardingRules", name}, false, err)
			continue
		}
		fr.rule.IPAddress = ip
		rules[name] = fr.rule
	}
	layer(ensureAll(ctx, p, g.forwardingRules(), rules))
}

// attachArmor sets each backend service's Cloud Armor policy, which
// Compute changes only through setSecurityPolicy.
func (p *pass) attachArmor(ctx context.Context) func(*errgroup.Group) {
	return func(eg *errgroup.Group) {
		for name, want := range p.d.armor {
			key := resKey{"backendServices", name}
			if p.out.errOf(key) != nil {
				continue
			}
			eg.Go(func() error {
				bs, err := p.c.g.backendServices().get(ctx, name)
				if err != nil {
					p.out.record(key, false, fmt.Errorf("read backendServices %s: %w", name, classify(err)))
					return nil
				}
				changed, err := p.c.g.setSecurityPolicy(ctx, name, bs.SecurityPolicy, want)
				if err != nil {
					err = fmt.Errorf("set the security policy of backendServices %s: %w", name, err)
				}
				p.out.record(key, changed, err)
				return nil
			})
		}
	}
}

// addressIP is the IP a Gateway's forwarding rules use: its NamedAddress's
// or the address the controller made.
func (p *pass) addressIP(ctx context.Context, run *gatewayRun) (string, error) {
	if run.namedIP != "" {
		return run.namedIP, nil
	}
	if err := p.out.errOf(resKey{"addresses", run.addrName}); err != nil {
		return "", err
	}
	addr, err := p.c.g.addresses().get(ctx, run.addrName)
	if err != nil {
		return "", fmt.Errorf("read addresses %s: %w", run.addrName, classify(err))
	}
	return addr.Address, nil
}

// result sums up a planned Gateway's resources: the first error (a
// retryable one only when no other), and whether anything changed.
func (p *pass) result(run *gatewayRun) {
	for _, k := range run.uses {
		if p.out.changed[k] {
			run.changed = true
		}
		err := p.out.err[k]
		if err == nil {
			continue
		}
		if isRetryable(err) {
			if run.pending == nil {
				run.pending = err
			}
		} else if run.failed == nil {
			run.failed = err
		}
	}
}
