package lb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"cloud.google.com/go/compute/apiv1/computepb"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
)

// Plan is what an apply would do: one pkg/plan Change per object, in
// dependency order. Building it only reads.
type Plan struct {
	Operation    string        `json:"operation"` // expose or unexpose
	Project      string        `json:"project"`
	LoadBalancer string        `json:"loadBalancer"`
	Services     []string      `json:"services"`
	Changes      []plan.Change `json:"changes"`
	Warnings     []string      `json:"warnings,omitempty"`

	spec  Spec
	names names
	objs  map[string]*object
	nodes []*node
	// What the result reports, as far as the plan knows it.
	ip string
	// certNames are the certificates made (or named) for the plan's
	// Services, whose status the result reports.
	certNames []string
	external  map[string]bool
	// shrinks is set on a teardown plan that keeps the load balancer for
	// other Services; whole is the plan that removed all of it after all,
	// when those Services left meanwhile (removeWhole).
	shrinks bool
	whole   *Plan
}

func newPlan(operation string, spec Spec) *Plan {
	n := lbNames(spec)
	p := &Plan{Operation: operation, Project: spec.Project, LoadBalancer: n.lb, spec: spec, names: n,
		objs: map[string]*object{}, external: map[string]bool{}}
	for _, sv := range spec.Services {
		p.Services = append(p.Services, sv.Key())
	}
	return p
}

// Pending counts the changes that change something.
func (p *Plan) Pending() int { return plan.Pending(p.Changes) }

// Change returns the change for kind/name.
func (p *Plan) Change(kind Kind, name string) (plan.Change, bool) {
	for _, c := range p.Changes {
		if c.Kind == string(kind) && c.Name == name {
			return c, true
		}
	}
	return plan.Change{}, false
}

// add records o's change: the entry and what applying it needs, the
// change located for the permission check (permissions.go).
func (p *Plan) add(o *object, c plan.Change) {
	p.Changes = append(p.Changes, p.locate(o, c))
	p.objs[o.id()] = o
}

// change is o's plan entry with action.
func (o *object) change(action plan.Action) plan.Change {
	return plan.Change{Kind: string(o.kind), Name: o.name, Action: action, DependsOn: o.deps}
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

	// Other builds the Compute client of another project: a Shared VPC's
	// host project, where the firewall rule of the cluster's network goes.
	// Nil refuses a plan that needs one.
	Other func(ctx context.Context, project string) (Compute, error)
	// others are the callers of other projects, by project.
	othersMu sync.Mutex
	others   map[string]*caller
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

// callerIn is the caller for project: the Client's own for its project
// (or ""), else one over Other's client, made once per project.
func (cl *Client) callerIn(ctx context.Context, project, own string) (*caller, error) {
	if project == "" || project == own {
		return cl.caller(), nil
	}
	cl.othersMu.Lock()
	defer cl.othersMu.Unlock()
	if c := cl.others[project]; c != nil {
		return c, nil
	}
	if cl.Other == nil {
		return nil, fmt.Errorf("the cluster's network is in project %s (a Shared VPC), and this command has no Compute client for it", project)
	}
	comp, err := cl.Other(ctx, project)
	if err != nil {
		return nil, fmt.Errorf("a Compute client for project %s: %w", project, err)
	}
	if cl.others == nil {
		cl.others = map[string]*caller{}
	}
	c := newCaller(comp, cl.Retry)
	cl.others[project] = c
	return c, nil
}

// callerOf is the caller for o's project.
func (cl *Client) callerOf(ctx context.Context, p *Plan, o *object) (*caller, error) {
	return cl.callerIn(ctx, o.project, p.Project)
}

// Stats are the calls a Client made.
type Stats struct {
	Mutations int64 `json:"mutations"`
	Retries   int64 `json:"retries"`
}

// Stats returns the mutating calls accepted and the retries made so far.
func (cl *Client) Stats() Stats {
	c := cl.caller()
	st := Stats{Mutations: c.mutations.Load(), Retries: c.retries.Load()}
	cl.othersMu.Lock()
	defer cl.othersMu.Unlock()
	for _, o := range cl.others {
		st.Mutations += o.mutations.Load()
		st.Retries += o.retries.Load()
	}
	return st
}

// found is what exists of a load balancer, read all at once: objects by
// id (nil when absent), and what was listed.
type found struct {
	objs map[string]proto.Message
	// allCerts are the project's certificates; certs those meshctl made
	// for this load balancer.
	allCerts []*computepb.SslCertificate
	certs    []*computepb.SslCertificate
	// backendServices are every backend service of the project (teardown).
	backendServices []*computepb.BackendService
	// network and tags are the cluster's, when the spec did not name them;
	// networkProject holds the network (a Shared VPC's host project, else
	// the plan's own).
	network, networkProject string
	tags                    []string
}

func (f *found) get(kind Kind, name string) proto.Message { return f.objs[objectID(kind, name)] }

// reader fetches objects concurrently into a found.
type reader struct {
	cl   *Client
	spec Spec
	mu   *sync.Mutex // shared with the reader's children
	f    *found
	g    *errgroup.Group
	ctx  context.Context
}

func (cl *Client) newReader(ctx context.Context, spec Spec) *reader {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(spec.Parallel)
	return &reader{cl: cl, spec: spec, mu: &sync.Mutex{}, f: &found{objs: map[string]proto.Message{}}, g: g, ctx: gctx}
}

// then runs fn in the background; fn's reads go through a child reader
// of their own bound, so that they do not wait for the slot fn holds.
func (r *reader) then(fn func(child *reader) error) {
	r.g.Go(func() error {
		g, gctx := errgroup.WithContext(r.ctx)
		g.SetLimit(r.spec.Parallel)
		child := &reader{cl: r.cl, spec: r.spec, mu: r.mu, f: r.f, g: g, ctx: gctx}
		err := fn(child)
		return errors.Join(err, g.Wait())
	})
}

// get reads kind/name in the background; a missing object is recorded as nil.
func (r *reader) get(kind Kind, name string) { r.getIn("", kind, name) }

// getIn reads kind/name in project ("": the spec's).
func (r *reader) getIn(project string, kind Kind, name string) {
	r.g.Go(func() error {
		c, err := r.cl.callerIn(r.ctx, project, r.spec.Project)
		if err != nil {
			return err
		}
		obj, err := read(r.ctx, c, func() (proto.Message, error) { return c.c.Get(r.ctx, kind, name) })
		if isNotFound(err) {
			obj, err = nil, nil
		}
		if err != nil {
			return describe(err, cmp.Or(project, r.spec.Project), "read", kind.Title(), name, permissionFor(kind, "get"))
		}
		r.mu.Lock()
		r.f.objs[objectID(kind, name)] = obj
		r.mu.Unlock()
		return nil
	})
}

// list reads every object of kind matching filter in the background and
// hands them to keep, under the reader's lock.
func (r *reader) list(kind Kind, filter string, keep func(f *found, objs []proto.Message)) {
	r.g.Go(func() error {
		c := r.cl.caller()
		objs, err := read(r.ctx, c, func() ([]proto.Message, error) { return c.c.List(r.ctx, kind, filter) })
		if err != nil {
			return describe(err, r.spec.Project, "list", kind.Title()+"s", "", permissionFor(kind, "list"))
		}
		r.mu.Lock()
		keep(r.f, objs)
		r.mu.Unlock()
		return nil
	})
}

// certificates lists the project's certificates, and finds meshctl's for
// the load balancer among them by their owner marker: a Service's own
// certificate is named after the Service, not the load balancer.
func (r *reader) certificates(n names) {
	r.list(KindCertificate, "", func(f *found, objs []proto.Message) {
		for _, o := range objs {
			f.allCerts = append(f.allCerts, o.(*computepb.SslCertificate))
		}
		f.certs = ownedBy(n.lb, f.allCerts)
	})
}

// wait returns what was read, or the first failure. Listed certificates are
// found by id too, as the list saw them.
func (r *reader) wait() (*found, error) {
	if err := r.g.Wait(); err != nil {
		return nil, err
	}
	for _, c := range r.f.allCerts {
		r.f.objs[objectID(KindCertificate, c.GetName())] = c
	}
	return r.f, nil
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

// Plan reads what exists and works out what an apply of spec would do, in
// four steps: read everything the load balancer could consist of, check
// that what exists is meshctl's, build what should exist, and compare. It
// changes nothing.
func (cl *Client) Plan(ctx context.Context, spec Spec) (*Plan, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	spec = spec.withDefaults()
	p := newPlan("expose", spec)
	f, err := cl.readExpose(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := p.checkOwnership(f); err != nil {
		return nil, err
	}
	d, err := p.desired(f)
	if err != nil {
		return nil, err
	}
	if err := p.diff(d); err != nil {
		return nil, err
	}
	p.Warnings = append(p.Warnings, d.warnings()...)
	if err := cl.checkQuotas(ctx, p); err != nil {
		return nil, err
	}
	p.nodes = cl.nodes(p, d.armor)
	return p, nil
}

// addressName and armorName are the address and Cloud Armor policy the
// load balancer uses: the user's when named, else its own.
func (p *Plan) addressName() string {
	if p.spec.Address != "" {
		return p.spec.Address
	}
	return p.names.address()
}

func (p *Plan) armorName() string {
	if p.spec.Armor.Policy != "" {
		return p.spec.Armor.Policy
	}
	return p.names.armor()
}

// frontend are the load balancer's own objects besides its address,
// policies and certificates, in the order plans list them.
func (n names) frontend() []struct {
	kind Kind
	name string
} {
	return []struct {
		kind Kind
		name string
	}{{KindSSLPolicy, n.sslPolicy()}, {KindURLMap, n.urlMap()}, {KindHTTPSProxy, n.httpsProxy()}, {KindForwardingRule, n.httpsRule()},
		{KindURLMap, n.redirectMap()}, {KindHTTPProxy, n.httpProxy()}, {KindForwardingRule, n.httpRule()}}
}

// readExpose reads, all at once, everything the load balancer could consist
// of, and the cluster's network and node tags when the spec lacks them.
func (cl *Client) readExpose(ctx context.Context, p *Plan) (*found, error) {
	spec, n := p.spec, p.names
	r := cl.newReader(ctx, spec)
	r.get(KindAddress, p.addressName())
	for _, o := range n.frontend() {
		r.get(o.kind, o.name)
	}
	if !spec.Armor.Disabled {
		r.get(KindSecurityPolicy, p.armorName())
	}
	r.certificates(n)
	for _, sv := range spec.Services {
		r.get(KindHealthCheck, n.healthCheck(sv))
		r.get(KindBackendService, n.backendService(sv))
	}
	// The firewall rules are in the network's project, so they are read
	// once the network is known.
	firewalls := func(r *reader, project string) {
		for _, sv := range spec.Services {
			r.getIn(project, KindFirewall, n.firewall(sv))
		}
	}
	r.f.networkProject, r.f.network = specNetwork(spec)
	r.f.tags = spec.NodeTags
	if r.f.network == "" || len(r.f.tags) == 0 {
		r.then(func(child *reader) error {
			project, network, tags, err := clusterNodes(child.ctx, cl.caller(), cl.gke, spec)
			if err != nil {
				return err
			}
			child.mu.Lock()
			child.f.networkProject, child.f.network, child.f.tags = project, network, tags
			child.mu.Unlock()
			firewalls(child, project)
			return nil
		})
	} else {
		firewalls(r, r.f.networkProject)
	}
	return r.wait()
}

// checkOwnership refuses objects with meshctl's names that meshctl did not
// make for this load balancer (unless Adopt), and objects the user named
// that do not exist. Every problem is reported at once.
func (p *Plan) checkOwnership(f *found) error {
	spec, n := p.spec, p.names
	var errs []error
	own := func(kind Kind, name string, perService bool) {
		if err := checkOwner(f.get(kind, name), kind, name, n.lb, perService, spec.Adopt); err != nil {
			errs = append(errs, err)
		}
	}
	if spec.Address == "" {
		own(KindAddress, p.addressName(), false)
	}
	if !spec.Armor.Disabled && spec.Armor.Policy == "" {
		own(KindSecurityPolicy, p.armorName(), false)
	}
	for _, o := range n.frontend() {
		own(o.kind, o.name, false)
	}
	for _, sv := range spec.Services {
		own(KindHealthCheck, n.healthCheck(sv), true)
		own(KindBackendService, n.backendService(sv), true)
		own(KindFirewall, n.firewall(sv), true)
	}
	for _, name := range []string{spec.Address, spec.Certificate, spec.Armor.Policy} {
		p.external[name] = name != ""
	}
	errs = append(errs, p.missingNamed(f)...)
	if len(errs) > 0 {
		return joinErrors(errs)
	}
	return nil
}

// missingNamed are the errors for objects the user named with a flag that
// do not exist.
func (p *Plan) missingNamed(f *found) []error {
	spec := p.spec
	var errs []error
	if spec.Address != "" && f.get(KindAddress, spec.Address) == nil {
		errs = append(errs, failure.WithHint(fmt.Errorf("--address %s: no such global address in project %s", spec.Address, spec.Project),
			fmt.Sprintf("create it with `gcloud compute addresses create %s --global --project %s`, or leave out --address", spec.Address, spec.Project)))
	}
	if spec.Certificate != "" && f.get(KindCertificate, spec.Certificate) == nil {
		errs = append(errs, failure.WithHint(fmt.Errorf("--certificate %s: no such global SSL certificate in project %s", spec.Certificate, spec.Project),
			"list them with `gcloud compute ssl-certificates list --global`, or leave out --certificate for a Google-managed one"))
	}
	if spec.Armor.Policy != "" && f.get(KindSecurityPolicy, spec.Armor.Policy) == nil {
		errs = append(errs, failure.WithHint(fmt.Errorf("--armor-policy %s: no such Cloud Armor policy in project %s", spec.Armor.Policy, spec.Project),
			"list them with `gcloud compute security-policies list`"))
	}
	return errs
}

// diff compares each desired object with what exists: create, update
// (naming the fields that differ), keep, or use (the user's own); then the
// deletions.
func (p *Plan) diff(d *desired) error {
	for _, o := range d.objs {
		c := o.change(diffAction(o))
		if c.Action == plan.Use {
			c.Note = "existing, named by the user; not changed"
		}
		if c.Action == plan.Update {
			c.Fields = o.diff(o.actual)
		}
		if o.kind == KindBackendService {
			fields, note := attachDiff(o, d.armor, p.Project)
			if fields != "" && c.Action != plan.Create {
				c.Fields = append(c.Fields, fields)
				if c.Action == plan.Keep {
					c.Action = plan.Update
				}
			}
			if note != "" {
				c.Note = note
			}
			c.Uses = p.attachUses(c, d.armor)
		}
		if o.kind == KindHTTPSProxy && len(d.certNotes) > 0 {
			c.Note = keptNote(d.certNotes)
		}
		if o.kind == KindCertificate && c.Action == plan.Update {
			return fmt.Errorf("certificate %s covers %v, not %v: a managed certificate cannot change; delete it and run again",
				o.name, o.actual.(*computepb.SslCertificate).GetManaged().GetDomains(), o.want.(*computepb.SslCertificate).GetManaged().GetDomains())
		}
		p.add(o, c)
	}
	for _, o := range d.deletes {
		p.add(o, o.change(plan.Delete))
	}
	return nil
}

// diffAction is what an apply does to a desired object.
func diffAction(o *object) plan.Action {
	switch {
	case o.external:
		return plan.Use
	case o.actual == nil:
		return plan.Create
	case len(o.diff(o.actual)) > 0:
		return plan.Update
	}
	return plan.Keep
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
	for _, c := range p.Changes {
		if c.Action == plan.Create {
			if m := quotaMetric[Kind(c.Kind)]; m != "" {
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
	return failure.WithHint(fmt.Errorf("project %s lacks quota for this load balancer: %s", p.Project, strings.Join(short, "; ")),
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
			hint = failure.HintOf(e)
		}
	}
	return failure.WithHint(fmt.Errorf("%s", strings.Join(msgs, "\n")), hint)
}
