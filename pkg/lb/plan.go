package lb

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/mesh"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"
)

// Action is what a plan does to one object.
type Action string

// Plan actions.
const (
	ActionCreate Action = "create"
	ActionUpdate Action = "update"
	ActionKeep   Action = "keep"
	ActionDelete Action = "delete"
	// ActionUse is an existing object the user named (--address,
	// --certificate, --armor-policy): used as it is, never changed.
	ActionUse Action = "use"
)

// Entry is one object in a plan.
type Entry struct {
	Kind   Kind   `json:"kind"`
	Name   string `json:"name"`
	Action Action `json:"action"`
	// Fields name what differs, for an update.
	Fields []string `json:"fields,omitempty"`
	// DependsOn lists the objects (kind/name) this change waits for.
	DependsOn []string `json:"dependsOn,omitempty"`
	Note      string   `json:"note,omitempty"`
}

// ID is "kind/name".
func (e Entry) ID() string { return objectID(e.Kind, e.Name) }

// Plan is what an apply would do: one entry per object, in dependency
// order. Building it only reads.
type Plan struct {
	Operation    string   `json:"operation"` // expose or unexpose
	Project      string   `json:"project"`
	LoadBalancer string   `json:"loadBalancer"`
	Services     []string `json:"services"`
	Entries      []Entry  `json:"entries"`
	Warnings     []string `json:"warnings,omitempty"`

	spec  Spec
	names names
	objs  map[string]*object
	nodes []*node
	// What the result reports, as far as the plan knows it.
	ip       string
	certName string
	external map[string]bool
}

// Changes counts the entries that change something.
func (p *Plan) Changes() int {
	n := 0
	for _, e := range p.Entries {
		if e.Action != ActionKeep && e.Action != ActionUse {
			n++
		}
	}
	return n
}

// Entry returns the entry for kind/name.
func (p *Plan) Entry(kind Kind, name string) (Entry, bool) {
	for _, e := range p.Entries {
		if e.Kind == kind && e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Client builds and applies load balancer plans.
type Client struct {
	compute  Compute
	gke      GKE
	reporter ui.Reporter
	// Retry bounds retries of rate limits and server errors.
	Retry Retry

	once sync.Once
	c    *caller
}

// New returns a Client. gke may be nil when every Spec names its Network
// and NodeTags.
func New(compute Compute, gke GKE, reporter ui.Reporter) *Client {
	if reporter == nil {
		reporter = ui.Discard
	}
	return &Client{compute: compute, gke: gke, reporter: reporter, Retry: DefaultRetry}
}

func (cl *Client) caller() *caller {
	// Retry is read on first use, so it can be set after New.
	cl.once.Do(func() { cl.c = newCaller(cl.compute, cl.Retry) })
	return cl.c
}

// Stats are the calls a Client made.
type Stats struct {
	Mutations int64 `json:"mutations"`
	Retries   int64 `json:"retries"`
}

// Stats returns the mutating calls accepted and the retries made so far.
func (cl *Client) Stats() Stats {
	c := cl.caller()
	return Stats{Mutations: c.mutations.Load(), Retries: c.retries.Load()}
}

// reader fetches objects concurrently, remembering what it found.
type reader struct {
	cl    *Client
	spec  Spec
	mu    sync.Mutex
	found map[string]proto.Message
	g     *errgroup.Group
	ctx   context.Context
}

func (cl *Client) newReader(ctx context.Context, spec Spec) *reader {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(spec.Parallel)
	return &reader{cl: cl, spec: spec, found: map[string]proto.Message{}, g: g, ctx: gctx}
}

// get reads kind/name in the background; a missing object is recorded as nil.
func (r *reader) get(kind Kind, name string) {
	r.g.Go(func() error {
		c := r.cl.caller()
		obj, err := read(r.ctx, c, func() (proto.Message, error) { return c.c.Get(r.ctx, kind, name) })
		if isNotFound(err) {
			obj, err = nil, nil
		}
		if err != nil {
			return describe(err, r.spec.Project, "read", kind.Title(), name, permissionFor(kind, "get"))
		}
		r.mu.Lock()
		r.found[objectID(kind, name)] = obj
		r.mu.Unlock()
		return nil
	})
}

func (r *reader) list(kind Kind, filter string, into *[]proto.Message) {
	r.g.Go(func() error {
		c := r.cl.caller()
		objs, err := read(r.ctx, c, func() ([]proto.Message, error) { return c.c.List(r.ctx, kind, filter) })
		if err != nil {
			return describe(err, r.spec.Project, "list", kind.Title()+"s", "", permissionFor(kind, "list"))
		}
		r.mu.Lock()
		*into = objs
		r.mu.Unlock()
		return nil
	})
}

func (r *reader) actual(kind Kind, name string) proto.Message {
	return r.found[objectID(kind, name)]
}

// ownedBy checks that an existing object is meshctl's, for this load
// balancer. perService marks a service's own objects, whose owner says
// where the service is exposed.
func checkOwner(actual proto.Message, kind Kind, name, lb string, perService, adopt bool) error {
	if actual == nil {
		return nil
	}
	d, _ := actual.(interface{ GetDescription() string })
	owner, ok := mesh.ParseResourceOwner(d.GetDescription())
	switch {
	case !ok && adopt:
		return nil
	case !ok:
		return nameTaken(kind, name, "", perService)
	case owner.LB != lb:
		return nameTaken(kind, name, owner.LB, perService)
	}
	return nil
}

// Plan reads what exists and works out what an apply of spec would do.
// It changes nothing.
func (cl *Client) Plan(ctx context.Context, spec Spec) (*Plan, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	spec = spec.withDefaults()
	n := lbNames(spec)
	p := &Plan{Operation: "expose", Project: spec.Project, LoadBalancer: n.lb, spec: spec, names: n,
		objs: map[string]*object{}, external: map[string]bool{}}
	for _, sv := range spec.Services {
		p.Services = append(p.Services, sv.Key())
	}

	// Read everything the load balancer could consist of, at once.
	r := cl.newReader(ctx, spec)
	addressName := n.address()
	if spec.Address != "" {
		addressName = spec.Address
	}
	armorName := n.armor()
	if spec.Armor.Policy != "" {
		armorName = spec.Armor.Policy
	}
	r.get(KindAddress, addressName)
	r.get(KindSSLPolicy, n.sslPolicy())
	r.get(KindURLMap, n.urlMap())
	r.get(KindHTTPSProxy, n.httpsProxy())
	r.get(KindForwardingRule, n.httpsRule())
	r.get(KindURLMap, n.redirectMap())
	r.get(KindHTTPProxy, n.httpProxy())
	r.get(KindForwardingRule, n.httpRule())
	if !spec.Armor.Disabled {
		r.get(KindSecurityPolicy, armorName)
	}
	if spec.Certificate != "" {
		r.get(KindCertificate, spec.Certificate)
	}
	var certs []proto.Message
	r.list(KindCertificate, fmt.Sprintf("name eq %s.*", n.certPrefix()), &certs)
	for _, sv := range spec.Services {
		r.get(KindHealthCheck, n.healthCheck(sv))
		r.get(KindBackendService, n.backendService(sv))
		r.get(KindFirewall, n.firewall(sv))
	}
	network, tags := spec.Network, spec.NodeTags
	if network == "" || len(tags) == 0 {
		r.g.Go(func() error {
			var err error
			network, tags, err = clusterNodes(r.ctx, cl.caller(), cl.gke, spec)
			return err
		})
	}
	if err := r.g.Wait(); err != nil {
		return nil, err
	}
	for _, c := range certs {
		r.found[objectID(KindCertificate, c.(*computepb.SslCertificate).GetName())] = c
	}

	// Who owns what exists.
	var errs []error
	own := func(kind Kind, name string, perService bool) {
		if err := checkOwner(r.actual(kind, name), kind, name, n.lb, perService, spec.Adopt); err != nil {
			errs = append(errs, err)
		}
	}
	if spec.Address == "" {
		own(KindAddress, addressName, false)
	}
	if !spec.Armor.Disabled && spec.Armor.Policy == "" {
		own(KindSecurityPolicy, armorName, false)
	}
	for _, o := range []struct {
		k    Kind
		name string
	}{{KindSSLPolicy, n.sslPolicy()}, {KindURLMap, n.urlMap()}, {KindHTTPSProxy, n.httpsProxy()}, {KindForwardingRule, n.httpsRule()},
		{KindURLMap, n.redirectMap()}, {KindHTTPProxy, n.httpProxy()}, {KindForwardingRule, n.httpRule()}} {
		own(o.k, o.name, false)
	}
	for _, sv := range spec.Services {
		own(KindHealthCheck, n.healthCheck(sv), true)
		own(KindBackendService, n.backendService(sv), true)
		own(KindFirewall, n.firewall(sv), true)
	}
	for _, name := range []string{spec.Address, spec.Certificate, spec.Armor.Policy} {
		p.external[name] = name != ""
	}
	if spec.Address != "" && r.actual(KindAddress, spec.Address) == nil {
		errs = append(errs, ui.WithHint(fmt.Errorf("--address %s: no such global address in project %s", spec.Address, spec.Project),
			fmt.Sprintf("create it with `gcloud compute addresses create %s --global --project %s`, or leave out --address", spec.Address, spec.Project)))
	}
	if spec.Certificate != "" && r.actual(KindCertificate, spec.Certificate) == nil {
		errs = append(errs, ui.WithHint(fmt.Errorf("--certificate %s: no such global SSL certificate in project %s", spec.Certificate, spec.Project),
			"list them with `gcloud compute ssl-certificates list --global`, or leave out --certificate for a Google-managed one"))
	}
	if spec.Armor.Policy != "" && r.actual(KindSecurityPolicy, spec.Armor.Policy) == nil {
		errs = append(errs, ui.WithHint(fmt.Errorf("--armor-policy %s: no such Cloud Armor policy in project %s", spec.Armor.Policy, spec.Project),
			"list them with `gcloud compute security-policies list`"))
	}
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}

	// What should exist.
	lbOwner := mesh.NewResourceOwner(n.lb)
	svOwner := func(sv Service) mesh.ResourceOwner { return mesh.NewResourceOwner(n.lb, sv.Key()) }
	var objs []*object
	add := func(o *object, deps ...string) *object {
		o.deps = append(o.deps, deps...)
		o.actual = r.actual(o.kind, o.name)
		objs = append(objs, o)
		return o
	}

	var address *object
	if spec.Address != "" {
		address = add(&object{kind: KindAddress, name: spec.Address, external: true})
	} else {
		address = add(addressObject(addressName, lbOwner))
	}
	if a, ok := address.actual.(*computepb.Address); ok {
		p.ip = a.GetAddress()
	}
	sslPolicy := add(sslPolicyObject(n.sslPolicy(), lbOwner, spec))

	var armor *object
	switch {
	case spec.Armor.Disabled:
	case spec.Armor.Policy != "":
		armor = add(&object{kind: KindSecurityPolicy, name: armorName, external: true})
	default:
		armor = add(armorObject(armorName, lbOwner, spec.Armor))
	}

	var routes []route
	var bsIDs []string
	for _, sv := range spec.Services {
		hc := add(healthCheckObject(n.healthCheck(sv), svOwner(sv), sv))
		bs := add(backendServiceObject(n.backendService(sv), svOwner(sv), spec, sv, globalLink(spec.Project, KindHealthCheck, hc.name)), hc.id())
		add(firewallObject(n.firewall(sv), svOwner(sv), spec.Project, network, tags, sv))
		bsIDs = append(bsIDs, bs.id())
		routes = append(routes, route{matcher: bs.name, hosts: sv.Hosts, service: globalLink(spec.Project, KindBackendService, bs.name)})
	}
	urlMap := add(urlMapObject(n.urlMap(), lbOwner, routes, nil), bsIDs...)
	var mapped *computepb.UrlMap
	if have, ok := urlMap.actual.(*computepb.UrlMap); ok {
		m, err := mergeURLMap(have, routes, nil)
		if err != nil {
			return nil, ui.WithHint(fmt.Errorf("load balancer %s: %w", n.lb, err), "each host goes to one service: pick other --host names, or unexpose the service that has it")
		}
		mapped = m
	} else {
		mapped = urlMap.want.(*computepb.UrlMap)
	}
	hosts := certDomains(mapped)

	var cert *object
	if spec.Certificate != "" {
		cert = add(&object{kind: KindCertificate, name: spec.Certificate, external: true})
	} else {
		if len(hosts) > 100 {
			return nil, fmt.Errorf("load balancer %s would serve %d host names; a Google-managed certificate covers at most 100: split the services over more than one --lb", n.lb, len(hosts))
		}
		cert = add(certificateObject(n.certificate(hosts), lbOwner, hosts))
	}
	p.certName = cert.name
	proxy := add(httpsProxyObject(n.httpsProxy(), lbOwner, globalLink(spec.Project, KindURLMap, urlMap.name),
		[]string{globalLink(spec.Project, KindCertificate, cert.name)}, globalLink(spec.Project, KindSSLPolicy, sslPolicy.name)),
		urlMap.id(), cert.id(), sslPolicy.id())
	addressLink := globalLink(spec.Project, KindAddress, address.name)
	add(forwardingRuleObject(n.httpsRule(), lbOwner, addressLink, p.ip, globalLink(spec.Project, KindHTTPSProxy, proxy.name), 443),
		proxy.id(), address.id())
	var deletes []*object
	if !spec.NoHTTPRedirect {
		redirect := add(redirectMapObject(n.redirectMap(), lbOwner))
		httpProxy := add(httpProxyObject(n.httpProxy(), lbOwner, globalLink(spec.Project, KindURLMap, redirect.name)), redirect.id())
		add(forwardingRuleObject(n.httpRule(), lbOwner, addressLink, p.ip, globalLink(spec.Project, KindHTTPProxy, httpProxy.name), 80),
			httpProxy.id(), address.id())
	} else {
		// --no-http-redirect on a load balancer that has one: take it down.
		for _, o := range []struct {
			k    Kind
			name string
			deps []string
		}{
			{KindForwardingRule, n.httpRule(), nil},
			{KindHTTPProxy, n.httpProxy(), []string{objectID(KindForwardingRule, n.httpRule())}},
			{KindURLMap, n.redirectMap(), []string{objectID(KindHTTPProxy, n.httpProxy())}},
		} {
			if a := r.actual(o.k, o.name); a != nil {
				deletes = append(deletes, &object{kind: o.k, name: o.name, actual: a, deps: o.deps})
			}
		}
	}
	// Certificates this load balancer no longer serves (the domain set
	// changed, or --certificate replaced them).
	for _, c := range certs {
		sc := c.(*computepb.SslCertificate)
		owner, ok := mesh.ParseResourceOwner(sc.GetDescription())
		if ok && owner.LB == n.lb && sc.GetName() != cert.name {
			deletes = append(deletes, &object{kind: KindCertificate, name: sc.GetName(), actual: sc, deps: []string{proxy.id()}})
		}
	}

	// Plan entries.
	for _, o := range objs {
		e := Entry{Kind: o.kind, Name: o.name, DependsOn: o.deps}
		switch {
		case o.external:
			e.Action, e.Note = ActionUse, "existing, named by the user; not changed"
		case o.actual == nil:
			e.Action = ActionCreate
		default:
			if e.Fields = o.diff(o.actual); len(e.Fields) > 0 {
				e.Action = ActionUpdate
			} else {
				e.Action = ActionKeep
			}
		}
		if o.kind == KindBackendService {
			fields, note := attachDiff(o, armor, spec.Project)
			if fields != "" && e.Action != ActionCreate {
				e.Fields = append(e.Fields, fields)
				if e.Action == ActionKeep {
					e.Action = ActionUpdate
				}
			}
			if note != "" {
				e.Note = note
			}
		}
		if o.kind == KindCertificate && e.Action == ActionUpdate {
			return nil, fmt.Errorf("certificate %s covers %v, not %v: a managed certificate cannot change; delete it and run again",
				o.name, o.actual.(*computepb.SslCertificate).GetManaged().GetDomains(), hosts)
		}
		p.Entries = append(p.Entries, e)
	}
	for _, o := range deletes {
		p.Entries = append(p.Entries, Entry{Kind: o.kind, Name: o.name, Action: ActionDelete, DependsOn: o.deps})
	}
	for _, o := range append(objs, deletes...) {
		p.objs[o.id()] = o
	}
	if spec.Certificate == "" {
		for _, h := range urlMapHosts(mapped) {
			if strings.HasPrefix(h, "*.") {
				p.Warnings = append(p.Warnings, fmt.Sprintf("%s is routed, but a Google-managed certificate cannot cover a wildcard: its clients get a certificate error unless you bring a certificate with --certificate", h))
			}
		}
	}
	if spec.LB != "" {
		if others := len(mapped.GetPathMatchers()) - len(spec.Services); others > 0 && armor != nil && spec.Armor.Specified {
			p.Warnings = append(p.Warnings, fmt.Sprintf("the Cloud Armor policy %s is shared by %d other service(s) on load balancer %s: its rules change for them too", armor.name, others, n.lb))
		}
	}
	if err := cl.checkQuotas(ctx, p); err != nil {
		return nil, err
	}
	p.nodes = cl.nodes(p, armor)
	return p, nil
}

// attachDiff says whether the backend service's Cloud Armor policy must be
// set: the field to report, and a note.
func attachDiff(bs, armor *object, project string) (string, string) {
	want := ""
	if armor != nil {
		want = globalLink(project, KindSecurityPolicy, armor.name)
	}
	have := ""
	if a, ok := bs.actual.(*computepb.BackendService); ok {
		have = a.GetSecurityPolicy()
	}
	switch {
	case want == "" && have == "":
		return "", ""
	case want == "":
		return "securityPolicy", "detach Cloud Armor policy " + linkName(have)
	case have == "" || !sameLink(have, want):
		return "securityPolicy", "attach Cloud Armor policy " + armor.name + " once it is ready"
	}
	return "", ""
}

// quotaMetric is the project quota each kind counts against.
var quotaMetric = map[Kind]string{
	KindBackendService: "BACKEND_SERVICES", KindHealthCheck: "HEALTH_CHECKS", KindURLMap: "URL_MAPS",
	KindHTTPSProxy: "TARGET_HTTPS_PROXIES", KindHTTPProxy: "TARGET_HTTP_PROXIES", KindCertificate: "SSL_CERTIFICATES",
	KindSSLPolicy: "SSL_POLICIES", KindSecurityPolicy: "SECURITY_POLICIES", KindFirewall: "FIREWALLS",
	KindForwardingRule: "FORWARDING_RULES",
}

// checkQuotas says so before an apply would run into a project quota.
func (cl *Client) checkQuotas(ctx context.Context, p *Plan) error {
	need := map[string]int{}
	for _, e := range p.Entries {
		if e.Action == ActionCreate {
			if m := quotaMetric[e.Kind]; m != "" {
				need[m]++
			}
		}
	}
	if len(need) == 0 {
		return nil
	}
	c := cl.caller()
	quotas, err := read(ctx, c, func() ([]*computepb.Quota, error) { return c.c.Quotas(ctx) })
	if err != nil {
		// The quotas are advice: without them the API still refuses in time.
		cl.reporter.Warnf("could not read project quotas: %v", err)
		return nil
	}
	var short []string
	for _, q := range quotas {
		n := need[q.GetMetric()]
		if n > 0 && q.GetUsage()+float64(n) > q.GetLimit() {
			short = append(short, fmt.Sprintf("%s: %d more needed, %.0f of %.0f used", q.GetMetric(), n, q.GetUsage(), q.GetLimit()))
		}
	}
	if len(short) == 0 {
		return nil
	}
	sort.Strings(short)
	return ui.WithHint(fmt.Errorf("project %s lacks quota for this load balancer: %s", p.Project, strings.Join(short, "; ")),
		fmt.Sprintf("delete unused load balancer resources, share one load balancer between services with --lb, or request more at https://console.cloud.google.com/iam-admin/quotas?project=%s", p.Project))
}

func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	var hint string
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
		if hint == "" {
			hint = ui.HintOf(e)
		}
	}
	return ui.WithHint(fmt.Errorf("%s", strings.Join(msgs, "\n")), hint)
}
