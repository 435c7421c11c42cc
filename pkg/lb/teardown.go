package lb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/mesh"
	"google.golang.org/protobuf/proto"
)

// validateTeardown checks what removing services needs: who they are and
// where the load balancer is.
func (s Spec) validateTeardown() error {
	var errs []error
	if s.Project == "" {
		errs = append(errs, errors.New("no project: set --project (or MESHCTL_PROJECT)"))
	}
	if s.Cluster == "" {
		errs = append(errs, errors.New("no cluster: set --cluster (or MESHCTL_CLUSTER)"))
	}
	if s.LB != "" && !lbNameRE.MatchString(s.LB) {
		errs = append(errs, fmt.Errorf("--lb %q: use lower-case letters, digits and dashes, starting with a letter", s.LB))
	}
	if len(s.Services) == 0 {
		errs = append(errs, errors.New("no service to remove"))
	}
	if len(s.Services) > 1 && s.LB == "" {
		errs = append(errs, fmt.Errorf("%d services share a load balancer: name it with --lb", len(s.Services)))
	}
	for _, sv := range s.Services {
		if sv.Namespace == "" || sv.Name == "" {
			errs = append(errs, errors.New("a service needs a namespace and a name"))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return ui.Usage(errors.Join(errs...), "")
}

// PlanTeardown works out how to remove services from their load balancer:
// their own pieces (backend service, health check, firewall rule) go, the
// URL map stops routing to them and the certificate stops covering their
// hosts. When no other service remains, the whole load balancer goes, in
// reverse dependency order. Only what meshctl made for this load balancer is
// deleted; anything else is left with a warning.
func (cl *Client) PlanTeardown(ctx context.Context, spec Spec) (*Plan, error) {
	if err := spec.validateTeardown(); err != nil {
		return nil, err
	}
	spec = spec.withDefaults()
	if spec.LB == "" {
		// A service on a shared load balancer says which in its backend
		// service: unexpose finds it without being told.
		lbName, err := cl.sharedLBOf(ctx, spec)
		if err != nil {
			return nil, err
		}
		if lbName != "" {
			cl.reporter.Infof("Service %s is on shared load balancer %s", spec.Services[0].Key(), lbName)
			spec.LB = lbName
		}
	}
	n := lbNames(spec)
	p := &Plan{Operation: "unexpose", Project: spec.Project, LoadBalancer: n.lb, spec: spec, names: n,
		objs: map[string]*object{}, external: map[string]bool{}}
	for _, sv := range spec.Services {
		p.Services = append(p.Services, sv.Key())
	}

	r := cl.newReader(ctx, spec)
	lbObjects := []struct {
		kind Kind
		name string
	}{
		{KindForwardingRule, n.httpsRule()}, {KindForwardingRule, n.httpRule()},
		{KindHTTPSProxy, n.httpsProxy()}, {KindHTTPProxy, n.httpProxy()},
		{KindURLMap, n.urlMap()}, {KindURLMap, n.redirectMap()},
		{KindSSLPolicy, n.sslPolicy()}, {KindSecurityPolicy, n.armor()}, {KindAddress, n.address()},
	}
	for _, o := range lbObjects {
		r.get(o.kind, o.name)
	}
	var certs, services []proto.Message
	r.list(KindCertificate, fmt.Sprintf("name eq %s.*", n.certPrefix()), &certs)
	r.list(KindBackendService, "", &services)
	for _, sv := range spec.Services {
		r.get(KindHealthCheck, n.healthCheck(sv))
		r.get(KindBackendService, n.backendService(sv))
		r.get(KindFirewall, n.firewall(sv))
	}
	if err := r.g.Wait(); err != nil {
		return nil, err
	}
	for _, c := range certs {
		r.found[objectID(KindCertificate, c.(*computepb.SslCertificate).GetName())] = c
	}

	// Who stays: services routed by the URL map, and backend services this
	// load balancer owns (a run killed before routing them still counts).
	leaving := map[string]bool{}
	for _, sv := range spec.Services {
		leaving[n.backendService(sv)] = true
	}
	owned := func(obj proto.Message) bool {
		d, ok := obj.(interface{ GetDescription() string })
		if !ok || obj == nil {
			return false
		}
		o, ok := mesh.ParseResourceOwner(d.GetDescription())
		return ok && o.LB == n.lb
	}
	stay := map[string]bool{}
	um, _ := r.actual(KindURLMap, n.urlMap()).(*computepb.UrlMap)
	if um != nil && owned(um) {
		for _, pm := range um.GetPathMatchers() {
			if !leaving[pm.GetName()] {
				stay[pm.GetName()] = true
			}
		}
	}
	for _, obj := range services {
		bs := obj.(*computepb.BackendService)
		if owned(bs) && !leaving[bs.GetName()] {
			stay[bs.GetName()] = true
		}
	}

	var dels []*object
	del := func(kind Kind, name string, deps ...string) {
		actual := r.actual(kind, name)
		if actual == nil {
			return
		}
		if !owned(actual) {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s %s was not made by meshctl for load balancer %s: left alone", kind.Title(), name, n.lb))
			return
		}
		dels = append(dels, &object{kind: kind, name: name, actual: actual, deps: deps})
	}
	var updates []*object
	urlMapID := objectID(KindURLMap, n.urlMap())
	proxyID := objectID(KindHTTPSProxy, n.httpsProxy())
	var bsIDs []string
	for _, sv := range spec.Services {
		bs := n.backendService(sv)
		del(KindBackendService, bs, urlMapID, proxyID)
		bsIDs = append(bsIDs, objectID(KindBackendService, bs))
		del(KindHealthCheck, n.healthCheck(sv), objectID(KindBackendService, bs))
		// The firewall goes after the backend service, so its endpoints
		// stay healthy for as long as they serve.
		del(KindFirewall, n.firewall(sv), objectID(KindBackendService, bs))
	}

	lbOwner := mesh.NewResourceOwner(n.lb)
	if len(stay) > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("load balancer %s keeps serving %d other service(s): only the leaving services' pieces go", n.lb, len(stay)))
		if um != nil && owned(um) {
			var drop []string
			for name := range leaving {
				drop = append(drop, name)
			}
			slices.Sort(drop)
			o := urlMapObject(n.urlMap(), lbOwner, nil, drop)
			o.actual = um
			if len(o.diff(um)) > 0 {
				updates = append(updates, o)
			}
			merged, err := mergeURLMap(um, nil, drop)
			if err != nil {
				return nil, err
			}
			hosts := certDomains(merged)
			proxy, _ := r.actual(KindHTTPSProxy, n.httpsProxy()).(*computepb.TargetHttpsProxy)
			ours := proxy != nil && owned(proxy) && len(proxy.GetSslCertificates()) > 0 &&
				strings.HasPrefix(linkName(proxy.GetSslCertificates()[0]), n.certPrefix())
			if ours && len(hosts) > 0 {
				// The certificate stops covering the leaving hosts: a new
				// one for the rest is swapped in, the old one deleted.
				certName := n.certificate(hosts)
				p.certName = certName
				var have proto.Message
				for _, c := range certs {
					if c.(*computepb.SslCertificate).GetName() == certName {
						have = c
					}
				}
				cert := certificateObject(certName, lbOwner, hosts)
				cert.actual = have
				if have == nil {
					updates = append(updates, cert)
				}
				po := httpsProxyObject(n.httpsProxy(), lbOwner, proxy.GetUrlMap(), []string{globalLink(spec.Project, KindCertificate, certName)}, proxy.GetSslPolicy())
				po.actual = proxy
				po.deps = []string{cert.id(), urlMapID}
				if len(po.diff(proxy)) > 0 {
					updates = append(updates, po)
				}
				for _, c := range certs {
					sc := c.(*computepb.SslCertificate)
					if owned(sc) && sc.GetName() != certName {
						dels = append(dels, &object{kind: KindCertificate, name: sc.GetName(), actual: sc, deps: []string{proxyID}})
					}
				}
			}
		}
	} else {
		httpsRule, httpRule := objectID(KindForwardingRule, n.httpsRule()), objectID(KindForwardingRule, n.httpRule())
		httpProxy := objectID(KindHTTPProxy, n.httpProxy())
		del(KindForwardingRule, n.httpsRule())
		del(KindForwardingRule, n.httpRule())
		del(KindHTTPSProxy, n.httpsProxy(), httpsRule)
		del(KindHTTPProxy, n.httpProxy(), httpRule)
		del(KindURLMap, n.urlMap(), proxyID)
		del(KindURLMap, n.redirectMap(), httpProxy)
		for _, c := range certs {
			del(KindCertificate, c.(*computepb.SslCertificate).GetName(), proxyID)
		}
		del(KindSSLPolicy, n.sslPolicy(), proxyID)
		del(KindSecurityPolicy, n.armor(), bsIDs...)
		del(KindAddress, n.address(), httpsRule, httpRule)
	}

	for _, o := range updates {
		action := ActionUpdate
		var fields []string
		if o.actual == nil {
			action = ActionCreate
		} else {
			fields = o.diff(o.actual)
		}
		p.Entries = append(p.Entries, Entry{Kind: o.kind, Name: o.name, Action: action, Fields: fields, DependsOn: o.deps})
		p.objs[o.id()] = o
	}
	for _, o := range dels {
		p.Entries = append(p.Entries, Entry{Kind: o.kind, Name: o.name, Action: ActionDelete, DependsOn: o.deps})
		p.objs[o.id()] = o
	}
	p.nodes = cl.nodes(p, nil)
	return p, nil
}

// sharedLBOf returns the shared load balancer the (single) service's backend
// service records as its owner, or "".
func (cl *Client) sharedLBOf(ctx context.Context, spec Spec) (string, error) {
	c := cl.caller()
	name := lbNames(spec).backendService(spec.Services[0])
	obj, err := read(ctx, c, func() (proto.Message, error) { return c.c.Get(ctx, KindBackendService, name) })
	if isNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", describe(err, spec.Project, "read", KindBackendService.Title(), name, permissionFor(KindBackendService, "get"))
	}
	owner, ok := mesh.ParseResourceOwner(obj.(*computepb.BackendService).GetDescription())
	if !ok || strings.Contains(owner.LB, "/") || !lbNameRE.MatchString(owner.LB) {
		return "", nil
	}
	return owner.LB, nil
}
