package lb

import (
	"fmt"
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
	// mapped is the URL map as it will be (what exists, merged with this
	// plan's routes), and hosts the certificate's domains.
	mapped *computepb.UrlMap
	hosts  []string
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
	cert, err := d.certificate(lbOwner)
	if err != nil {
		return nil, err
	}
	proxy := d.add(httpsProxyObject(p.names.httpsProxy(), lbOwner, globalLink(p.Project, KindURLMap, urlMap.name),
		[]string{globalLink(p.Project, KindCertificate, cert.name)}, globalLink(p.Project, KindSSLPolicy, sslPolicy.name)),
		urlMap.id(), cert.id(), sslPolicy.id())
	addressLink := globalLink(p.Project, KindAddress, address.name)
	d.add(forwardingRuleObject(p.names.httpsRule(), lbOwner, addressLink, p.ip, globalLink(p.Project, KindHTTPSProxy, proxy.name), 443),
		proxy.id(), address.id())
	d.redirect(lbOwner, address, addressLink)
	d.staleCertificates(cert, proxy)
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
		bs := d.add(backendServiceObject(n.backendService(sv), owner, p.spec, sv, globalLink(p.Project, KindHealthCheck, hc.name)), hc.id())
		d.add(firewallObject(n.firewall(sv), owner, p.Project, d.f.network, d.f.tags, sv))
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
	d.hosts = certDomains(d.mapped)
	return nil
}

// certificate adds the certificate: the user's, or a Google-managed one
// for every host the URL map routes.
func (d *desired) certificate(owner mesh.ResourceOwner) (*object, error) {
	p := d.p
	var cert *object
	if p.spec.Certificate != "" {
		cert = d.add(&object{kind: KindCertificate, name: p.spec.Certificate, external: true})
	} else {
		if len(d.hosts) > 100 {
			return nil, fmt.Errorf("load balancer %s would serve %d host names; a Google-managed certificate covers at most 100: split the services over more than one --lb", p.names.lb, len(d.hosts))
		}
		cert = d.add(certificateObject(p.names.certificate(d.hosts), owner, d.hosts))
	}
	p.certName = cert.name
	return cert, nil
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

// staleCertificates deletes the certificates this load balancer no longer
// serves (the domain set changed, or --certificate replaced them), once the
// proxy has let go of them.
func (d *desired) staleCertificates(cert, proxy *object) {
	for _, sc := range d.f.certs {
		owner, ok := mesh.ParseResourceOwner(sc.GetDescription())
		if ok && owner.LB == d.p.names.lb && sc.GetName() != cert.name {
			d.deletes = append(d.deletes, &object{kind: KindCertificate, name: sc.GetName(), actual: sc, deps: []string{proxy.id()}})
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
