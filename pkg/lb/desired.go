package lb

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// desired is what should exist for a plan: the objects in dependency order,
// those to delete, and what the plan reports besides.
type desired struct {
	p       *Plan
	f       *found
	objs    []*object
	deletes []*object
	armor   *object // nil without Cloud Armor
	// mapped is the URL map as it will be: what exists, merged with this
	// plan's routes.
	mapped *computepb.UrlMap
	// certDeletes are certificates nothing needs; certNotes say why the
	// proxy keeps a certificate beside a Service's new one.
	certDeletes []string
	certNotes   map[string]string
}

// add appends o, depending on deps, with what exists of it.
func (d *desired) add(o *object, deps ...string) *object {
	o.deps = append(o.deps, deps...)
	o.actual = d.f.get(o.kind, o.name)
	d.objs = append(d.objs, o)
	return o
}

// desired builds what should exist for an expose: the load balancer's
// address and policies, each Service's health check, backend service and
// firewall rule, then the URL map, certificate, HTTPS proxy and forwarding
// rule, and the port 80 redirect.
func (p *Plan) desired(f *found) (*desired, error) {
	d := &desired{p: p, f: f}
	lbOwner := mesh.NewResourceOwner(p.names.lb)
	var address *object
	if p.spec.Address != "" {
		address = d.add(&object{kind: KindAddress, name: p.spec.Address, external: true})
	} else {
		address = d.add(addressObject(p.addressName(), lbOwner))
	}
	if a, ok := address.actual.(*computepb.Address); ok {
		p.ip = a.GetAddress()
	}
	sslPolicy := d.add(sslPolicyObject(p.names.sslPolicy(), lbOwner, p.spec))
	d.armorPolicy(lbOwner)
	routes, bsIDs := d.services()
	urlMap := d.add(urlMapObject(p.names.urlMap(), lbOwner, routes, nil), bsIDs...)
	if err := d.mergeRoutes(urlMap, routes); err != nil {
		return nil, err
	}
	certLinks, certDeps, err := d.certificates()
	if err != nil {
		return nil, err
	}
	proxy := d.add(httpsProxyObject(p.names.httpsProxy(), lbOwner, globalLink(p.Project, KindURLMap, urlMap.name),
		certLinks, globalLink(p.Project, KindSSLPolicy, sslPolicy.name)),
		append([]string{urlMap.id(), sslPolicy.id()}, certDeps...)...)
	addressLink := globalLink(p.Project, KindAddress, address.name)
	d.add(forwardingRuleObject(p.names.httpsRule(), lbOwner, addressLink, p.ip, globalLink(p.Project, KindHTTPSProxy, proxy.name), 443),
		proxy.id(), address.id())
	d.redirect(lbOwner, address, addressLink)
	d.dropCertificates(proxy)
	return d, nil
}

// armorPolicy adds the Cloud Armor policy: the user's, meshctl's, or none.
func (d *desired) armorPolicy(owner mesh.ResourceOwner) {
	a := d.p.spec.Armor
	switch {
	case a.Disabled:
	case a.Policy != "":
		d.armor = d.add(&object{kind: KindSecurityPolicy, name: a.Policy, external: true})
	default:
		d.armor = d.add(armorObject(d.p.armorName(), owner, a))
	}
}

// services adds each Service's own objects and returns the URL map's
// routes to them and their backend services' ids.
func (d *desired) services() ([]route, []string) {
	p, n := d.p, d.p.names
	var routes []route
	var bsIDs []string
	for _, sv := range p.spec.Services {
		owner := mesh.NewResourceOwner(n.lb, sv.Key())
		hc := d.add(healthCheckObject(n.healthCheck(sv), owner, sv))
		bsOwner := owner
		if p.spec.Armor.Disabled {
			bsOwner.Choices = []string{mesh.ChoiceNoArmor}
		}
		bs := d.add(backendServiceObject(n.backendService(sv), bsOwner, p.spec, sv, globalLink(p.Project, KindHealthCheck, hc.name)), hc.id())
		d.add(firewallObject(n.firewall(sv), owner, cmp.Or(d.f.networkProject, p.Project), d.f.network, d.f.tags, sv))
		bsIDs = append(bsIDs, bs.id())
		routes = append(routes, route{matcher: bs.name, hosts: sv.Hosts, service: globalLink(p.Project, KindBackendService, bs.name)})
	}
	return routes, bsIDs
}

// mergeRoutes works out the URL map as it will be: an existing one keeps
// its other Services' routes.
func (d *desired) mergeRoutes(urlMap *object, routes []route) error {
	have, ok := urlMap.actual.(*computepb.UrlMap)
	if !ok {
		d.mapped = urlMap.want.(*computepb.UrlMap)
	} else {
		m, err := mergeURLMap(have, routes, nil)
		if err != nil {
			return failure.WithHint(fmt.Errorf("load balancer %s: %w", d.p.names.lb, err), "each host goes to one service: pick other --host names, or unexpose the service that has it")
		}
		d.mapped = m
	}
	return nil
}

// certificates adds the certificates and returns the proxy's: the user's
// (--certificate), or a Google-managed one per Service for its hosts, with
// those kept beside a Service's new one until it is ACTIVE (certs.go).
func (d *desired) certificates() (links, deps []string, err error) {
	p := d.p
	if p.spec.Certificate != "" {
		cert := d.add(&object{kind: KindCertificate, name: p.spec.Certificate, external: true})
		p.certNames = []string{cert.name}
		// meshctl's certificates go once the proxy has let go of them.
		for _, c := range d.f.certs {
			d.certDeletes = append(d.certDeletes, c.GetName())
		}
		return []string{globalLink(p.Project, KindCertificate, cert.name)}, []string{cert.id()}, nil
	}
	all := slices.Clone(d.f.allCerts)
	for _, sv := range p.spec.Services {
		domains := serviceDomains(sv)
		if len(domains) > 100 {
			return nil, nil, fmt.Errorf("service %s has %d host names; a Google-managed certificate covers at most 100", sv.Key(), len(domains))
		}
		name := p.names.serviceCertificate(sv, domains)
		o := d.add(certificateObject(name, mesh.NewResourceOwner(p.names.lb, sv.Key()), domains))
		if o.actual == nil {
			all = append(all, pendingCertificate(o))
		}
		deps = append(deps, o.id())
		p.certNames = append(p.certNames, name)
	}
	proxy, _ := d.f.get(KindHTTPSProxy, p.names.httpsProxy()).(*computepb.TargetHttpsProxy)
	cp, err := newCertState(p.names, d.mapped, proxy, all).plan()
	if err != nil {
		return nil, nil, err
	}
	d.certDeletes, d.certNotes = cp.deletable, cp.kept
	return cp.links(p.Project), deps, nil
}

// redirect adds the port 80 redirect to HTTPS, or, with --no-http-redirect
// on a load balancer that has one, deletes it.
func (d *desired) redirect(owner mesh.ResourceOwner, address *object, addressLink string) {
	p, n := d.p, d.p.names
	if !p.spec.NoHTTPRedirect {
		redirect := d.add(redirectMapObject(n.redirectMap(), owner))
		httpProxy := d.add(httpProxyObject(n.httpProxy(), owner, globalLink(p.Project, KindURLMap, redirect.name)), redirect.id())
		d.add(forwardingRuleObject(n.httpRule(), owner, addressLink, p.ip, globalLink(p.Project, KindHTTPProxy, httpProxy.name), 80),
			httpProxy.id(), address.id())
		return
	}
	for _, o := range []struct {
		k    Kind
		name string
		deps []string
	}{
		{KindForwardingRule, n.httpRule(), nil},
		{KindHTTPProxy, n.httpProxy(), []string{objectID(KindForwardingRule, n.httpRule())}},
		{KindURLMap, n.redirectMap(), []string{objectID(KindHTTPProxy, n.httpProxy())}},
	} {
		if a := d.f.get(o.k, o.name); a != nil {
			d.deletes = append(d.deletes, &object{kind: o.k, name: o.name, actual: a, deps: o.deps})
		}
	}
}

// dropCertificates deletes meshctl's certificates for this load balancer
// that nothing needs any more, once the proxy has let go of them.
func (d *desired) dropCertificates(proxy *object) {
	for _, name := range d.certDeletes {
		if sc := d.f.get(KindCertificate, name); sc != nil {
			d.deletes = append(d.deletes, &object{kind: KindCertificate, name: name, actual: sc, deps: []string{proxy.id()}})
		}
	}
}

// warnings are what the user should know of the desired load balancer.
func (d *desired) warnings() []string {
	var out []string
	spec := d.p.spec
	if spec.Certificate == "" {
		for _, h := range urlMapHosts(d.mapped) {
			if strings.HasPrefix(h, "*.") {
				out = append(out, fmt.Sprintf("%s is routed, but a Google-managed certificate cannot cover a wildcard: its clients get a certificate error unless you bring a certificate with --certificate", h))
			}
		}
	}
	if spec.LB != "" {
		if others := len(d.mapped.GetPathMatchers()) - len(spec.Services); others > 0 && d.armor != nil && spec.Armor.Specified {
			out = append(out, fmt.Sprintf("the Cloud Armor policy %s is shared by %d other service(s) on load balancer %s: its rules change for them too", d.armor.name, others, d.p.names.lb))
		}
	}
	return out
}
