package lb

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/pkg/gkecluster"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
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
	return failure.Usage(errors.Join(errs...), "")
}

// PlanTeardown works out how to remove services from their load balancer:
// their own pieces (backend service, health check, firewall rule) go, the
// URL map stops routing to them and the certificate stops covering their
// hosts. When no other service remains, the whole load balancer goes, in
// reverse dependency order. Only what meshctl made for this load balancer is
// deleted; anything else is left with a warning. Like Plan, it reads, sorts
// out what is meshctl's and who stays, builds the changes, and changes
// nothing.
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
	p := newPlan("unexpose", spec)
	f, err := cl.readTeardown(ctx, p)
	if err != nil {
		return nil, err
	}
	t := p.stayers(f)
	t.servicePieces()
	if len(t.stay) > 0 {
		p.shrinks = true
		err = t.shrink()
	} else {
		t.everything()
	}
	if err != nil {
		return nil, err
	}
	for _, o := range t.updates {
		c := o.change(plan.Create)
		if o.actual != nil {
			c.Action, c.Fields = plan.Update, o.diff(o.actual)
		}
		p.add(o, c)
	}
	for _, o := range t.dels {
		p.add(o, o.change(plan.Delete))
	}
	p.nodes = cl.nodes(p, nil)
	return p, nil
}

// readTeardown reads, all at once, the load balancer's objects, its
// certificates, every backend service (to see who else is on it) and the
// leaving services' own pieces.
func (cl *Client) readTeardown(ctx context.Context, p *Plan) (*found, error) {
	n := p.names
	r := cl.newReader(ctx, p.spec)
	for _, o := range n.frontend() {
		r.get(o.kind, o.name)
	}
	r.get(KindSecurityPolicy, n.armor())
	r.get(KindAddress, n.address())
	r.certificates(n)
	r.list(KindBackendService, "", func(f *found, objs []proto.Message) {
		for _, o := range objs {
			f.backendServices = append(f.backendServices, o.(*computepb.BackendService))
		}
	})
	for _, sv := range p.spec.Services {
		r.get(KindHealthCheck, n.healthCheck(sv))
		r.get(KindBackendService, n.backendService(sv))
	}
	r.then(func(child *reader) error {
		project := cl.networkProject(child.ctx, p.spec)
		child.mu.Lock()
		child.f.networkProject = project
		child.mu.Unlock()
		for _, sv := range p.spec.Services {
			child.getIn(project, KindFirewall, n.firewall(sv))
		}
		return nil
	})
	return r.wait()
}

// networkProject is the project of the cluster's network, where its
// firewall rules are: the spec's network's, else the one GKE reports (a
// Shared VPC's host project). A cluster that cannot be read (deleted
// before its load balancer) leaves the spec's project, where a rule made
// without a Shared VPC is.
func (cl *Client) networkProject(ctx context.Context, spec Spec) string {
	if project, _ := specNetwork(spec); project != "" {
		return project
	}
	if cl.gke == nil || spec.Location == "" {
		return spec.Project
	}
	c := cl.caller()
	name := fmt.Sprintf("projects/%s/locations/%s/clusters/%s", spec.Project, spec.Location, spec.Cluster)
	gc, err := read(ctx, c, func() (*containerpb.Cluster, error) {
		return cl.gke.GetCluster(ctx, &containerpb.GetClusterRequest{Name: name})
	})
	if err != nil {
		cl.reporter.Warnf("could not read cluster %s for its network (%v): looking for its firewall rules in project %s", spec.Cluster, err, spec.Project)
		return spec.Project
	}
	project, _ := gkecluster.Network(gc, spec.Project)
	return project
}

// teardown is a teardown plan in the making.
type teardown struct {
	p *Plan
	f *found
	// leaving and stay are backend services by name: the leaving
	// services', and the others this load balancer routes to or owns.
	leaving, stay map[string]bool
	// urlMap is the load balancer's URL map when meshctl made it.
	urlMap  *computepb.UrlMap
	updates []*object
	dels    []*object
}

// owned reports whether obj is meshctl's, for this load balancer.
func (t *teardown) owned(obj proto.Message) bool {
	d, ok := obj.(interface{ GetDescription() string })
	if !ok || obj == nil {
		return false
	}
	o, ok := mesh.ParseResourceOwner(d.GetDescription())
	return ok && o.LB == t.p.names.lb
}

// stayers sorts out who stays: services the URL map routes to, and backend
// services this load balancer owns (a run killed before routing them still
// counts).
func (p *Plan) stayers(f *found) *teardown {
	t := &teardown{p: p, f: f, leaving: map[string]bool{}, stay: map[string]bool{}}
	for _, sv := range p.spec.Services {
		t.leaving[p.names.backendService(sv)] = true
	}
	if um, _ := f.get(KindURLMap, p.names.urlMap()).(*computepb.UrlMap); um != nil && t.owned(um) {
		t.urlMap = um
		for _, pm := range um.GetPathMatchers() {
			if !t.leaving[pm.GetName()] {
				t.stay[pm.GetName()] = true
			}
		}
	}
	for _, bs := range f.backendServices {
		if t.owned(bs) && !t.leaving[bs.GetName()] {
			t.stay[bs.GetName()] = true
		}
	}
	return t
}

// del deletes kind/name after deps, if it exists and is meshctl's for this
// load balancer; anything else is left with a warning.
func (t *teardown) del(kind Kind, name string, deps ...string) {
	actual := t.f.get(kind, name)
	if actual == nil {
		return
	}
	if !t.owned(actual) {
		t.p.Warnings = append(t.p.Warnings, fmt.Sprintf("%s %s was not made by meshctl for load balancer %s: left alone", kind.Title(), name, t.p.names.lb))
		return
	}
	o := &object{kind: kind, name: name, actual: actual, deps: deps}
	if kind == KindFirewall {
		o.project = t.f.networkProject
	}
	t.dels = append(t.dels, o)
}

// servicePieces deletes each leaving service's backend service, health
// check and firewall rule.
func (t *teardown) servicePieces() {
	n := t.p.names
	urlMapID, proxyID := objectID(KindURLMap, n.urlMap()), objectID(KindHTTPSProxy, n.httpsProxy())
	for _, sv := range t.p.spec.Services {
		bs := objectID(KindBackendService, n.backendService(sv))
		t.del(KindBackendService, n.backendService(sv), urlMapID, proxyID)
		t.del(KindHealthCheck, n.healthCheck(sv), bs)
		// The firewall goes after the backend service, so its endpoints
		// stay healthy for as long as they serve.
		t.del(KindFirewall, n.firewall(sv), bs)
	}
}

// keepsServingNote is the words of a shrinking teardown's warning.
const keepsServingNote = "keeps serving"

// shrink keeps the load balancer for the services that stay: the URL map
// stops routing to the leaving ones, the proxy lets go of their
// certificates (and of those nothing needs), and those are deleted. The
// staying services' certificates are not touched.
func (t *teardown) shrink() error {
	p, n := t.p, t.p.names
	p.Warnings = append(p.Warnings, fmt.Sprintf("load balancer %s %s %d other service(s): only the leaving services' pieces go", n.lb, keepsServingNote, len(t.stay)))
	if t.urlMap == nil {
		return nil
	}
	drop := slices.Sorted(maps.Keys(t.leaving))
	lbOwner := mesh.NewResourceOwner(n.lb)
	o := urlMapObject(n.urlMap(), lbOwner, nil, drop)
	o.actual = t.urlMap
	if len(o.diff(t.urlMap)) > 0 {
		t.updates = append(t.updates, o)
	}
	merged, err := mergeURLMap(t.urlMap, nil, drop)
	if err != nil {
		return err
	}
	return t.releaseCertificates(merged)
}

// releaseCertificates points the HTTPS proxy at the certificates the
// remaining hosts need and deletes the leaving services' own certificates
// and those nothing needs, when the proxy serves meshctl's certificates.
func (t *teardown) releaseCertificates(merged *computepb.UrlMap) error {
	p, n := t.p, t.p.names
	proxy, _ := t.f.get(KindHTTPSProxy, n.httpsProxy()).(*computepb.TargetHttpsProxy)
	if proxy == nil || !t.owned(proxy) {
		return nil
	}
	st := newCertState(n, merged, proxy, t.f.allCerts)
	managed := slices.ContainsFunc(st.attached, func(name string) bool { _, ours := st.ownerOf(name); return ours })
	if !managed {
		return nil // the user's own certificate: nothing of meshctl's to release
	}
	cp, err := st.plan()
	if err != nil {
		return err
	}
	proxyID := objectID(KindHTTPSProxy, n.httpsProxy())
	po := httpsProxyObject(n.httpsProxy(), mesh.NewResourceOwner(n.lb), proxy.GetUrlMap(), cp.links(p.Project), proxy.GetSslPolicy())
	po.actual = proxy
	po.deps = []string{objectID(KindURLMap, n.urlMap())}
	if len(po.diff(proxy)) > 0 {
		t.updates = append(t.updates, po)
	}
	for _, name := range sortedKeys(st.certs) {
		o, ours := st.ownerOf(name)
		leaving := ours && slices.ContainsFunc(o.Services, func(key string) bool {
			ns, svc, _ := strings.Cut(key, "/")
			return t.leaving[n.backendService(Service{Namespace: ns, Name: svc})]
		})
		if (leaving || slices.Contains(cp.deletable, name)) && !slices.Contains(cp.attach, name) {
			t.dels = append(t.dels, &object{kind: KindCertificate, name: name, actual: st.certs[name], deps: []string{proxyID}})
		}
	}
	return nil
}

// everything deletes the whole load balancer, in reverse dependency order,
// once no service is left on it.
func (t *teardown) everything() {
	n := t.p.names
	httpsRule, httpRule := objectID(KindForwardingRule, n.httpsRule()), objectID(KindForwardingRule, n.httpRule())
	proxyID, httpProxy := objectID(KindHTTPSProxy, n.httpsProxy()), objectID(KindHTTPProxy, n.httpProxy())
	var bsIDs []string
	for _, sv := range t.p.spec.Services {
		bsIDs = append(bsIDs, objectID(KindBackendService, n.backendService(sv)))
	}
	t.del(KindForwardingRule, n.httpsRule())
	t.del(KindForwardingRule, n.httpRule())
	t.del(KindHTTPSProxy, n.httpsProxy(), httpsRule)
	t.del(KindHTTPProxy, n.httpProxy(), httpRule)
	t.del(KindURLMap, n.urlMap(), proxyID)
	t.del(KindURLMap, n.redirectMap(), httpProxy)
	for _, c := range t.f.certs {
		t.del(KindCertificate, c.GetName(), proxyID)
	}
	t.del(KindSSLPolicy, n.sslPolicy(), proxyID)
	t.del(KindSecurityPolicy, n.armor(), bsIDs...)
	t.del(KindAddress, n.address(), httpsRule, httpRule)
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
