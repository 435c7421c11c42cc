package lb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	"google.golang.org/protobuf/proto"
)

// maxWrites bounds the read-modify-write rounds of one object when other
// writers keep changing it (412 conditionNotMet).
const maxWrites = 10

// armorInsertWeight is a Cloud Armor policy insert's expected duration in
// ordinary operations: at Google most inserts take 10-17 s, a policy's can
// take minutes.
const armorInsertWeight = 8

// nodes turns a plan's changes into the graph an apply runs.
func (cl *Client) nodes(p *Plan, armor *object) []*node {
	var out []*node
	for _, e := range p.Changes {
		o := p.objs[objectID(Kind(e.Kind), e.Name)]
		title := func(verb string) string { return verb + " " + o.kind.Title() + " " + o.name }
		switch e.Action {
		case plan.Create:
			n := &node{id: o.id(), title: title("create"), deps: o.deps, run: cl.createRun(p, o)}
			if o.kind == KindSecurityPolicy {
				n.weight = armorInsertWeight
			}
			out = append(out, n)
		case plan.Update:
			if o.kind == KindBackendService && slices.Equal(e.Fields, []string{"securityPolicy"}) {
				break // only the policy changes: the attach node below does it
			}
			out = append(out, &node{id: o.id(), title: title("update"), deps: o.deps, run: cl.updateRun(p, o, e.Fields)})
		case plan.Delete:
			out = append(out, &node{id: o.id(), title: title("delete"), deps: o.deps, run: cl.deleteRun(p, o)})
		}
		attach := o.kind == KindBackendService && e.Action != plan.Delete &&
			(slices.Contains(e.Fields, "securityPolicy") || e.Action == plan.Create && armor != nil)
		if attach {
			policy, deps := "", []string{o.id()}
			if armor != nil {
				policy = globalLink(p.Project, KindSecurityPolicy, armor.name)
				deps = append(deps, armor.id())
			}
			verb := "attach Cloud Armor policy " + linkName(policy) + " to"
			if policy == "" {
				verb = "detach Cloud Armor policy from"
			}
			out = append(out, &node{id: "attach/" + o.name, title: verb + " backend service " + o.name, deps: deps,
				run: cl.attachRun(p, o.name, policy)})
		}
	}
	return out
}

func (cl *Client) fail(p *Plan, verb string, o *object, err error) error {
	perm := map[string]string{"create": "create", "update": "update", "delete": "delete", "read": "get", "attach Cloud Armor to": "attach"}[verb]
	return describe(err, cmp.Or(o.project, p.Project), verb, o.kind.Title(), o.name, permissionFor(o.kind, perm))
}

// createRun inserts the object. Should it exist by then (a run killed
// after its insert, or another run), it is checked and brought in line
// like any existing object.
func (cl *Client) createRun(p *Plan, o *object) func(context.Context, ui.Step) error {
	return func(ctx context.Context, step ui.Step) error {
		c, err := cl.callerOf(ctx, p, o)
		if err != nil {
			return err
		}
		err = c.mutate(ctx, step, func(id string) (*computepb.Operation, error) {
			return c.c.Insert(ctx, o.kind, o.want, id)
		})
		if isAlreadyExists(err) {
			step.Progressf("it exists already (created meanwhile); checking it")
			return cl.converge(ctx, p, o, step)
		}
		if err != nil {
			return cl.fail(p, "create", o, err)
		}
		if o.kind == KindHTTPSProxy && p.spec.Certificate == "" {
			return cl.syncCertificates(ctx, p, o, step)
		}
		return nil
	}
}

// converge brings an object that exists, but was not read while planning,
// in line: it must be meshctl's, then it is updated where it differs.
func (cl *Client) converge(ctx context.Context, p *Plan, o *object, step ui.Step) error {
	fresh, err := cl.getVisible(ctx, p, o)
	if err != nil {
		return cl.fail(p, "read", o, err)
	}
	perService := o.kind == KindBackendService || o.kind == KindHealthCheck || o.kind == KindFirewall
	if err := checkOwner(fresh, o.kind, o.name, p.names.lb, perService, p.spec.Adopt); err != nil {
		return err
	}
	if o.kind == KindHTTPSProxy {
		return cl.updateObject(ctx, p, o, step, fresh)
	}
	if fields := o.diff(fresh); len(fields) == 0 {
		return nil
	}
	return cl.updateObject(ctx, p, o, step, fresh)
}

// getVisible reads an object another insert is still creating: Compute
// answers 404 until that operation is DONE.
func (cl *Client) getVisible(ctx context.Context, p *Plan, o *object) (proto.Message, error) {
	c, err := cl.callerOf(ctx, p, o)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		obj, err := read(ctx, c, func() (proto.Message, error) { return c.c.Get(ctx, o.kind, o.name) })
		if err == nil || !isNotFound(err) || time.Now().After(deadline) {
			return obj, err
		}
		if err := c.sleep(ctx, 250*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

func (cl *Client) updateRun(p *Plan, o *object, fields []string) func(context.Context, ui.Step) error {
	return func(ctx context.Context, step ui.Step) error {
		step.Progressf("fields: %v", fields)
		return cl.updateObject(ctx, p, o, step, nil)
	}
}

// updateObject changes an existing object to what the plan wants. Objects
// with a fingerprint are read, changed and written back with it; a 412
// (someone wrote in between) starts again from a fresh read.
func (cl *Client) updateObject(ctx context.Context, p *Plan, o *object, step ui.Step, fresh proto.Message) error {
	c, err := cl.callerOf(ctx, p, o)
	if err != nil {
		return err
	}
	get := func() (proto.Message, error) {
		return read(ctx, c, func() (proto.Message, error) { return c.c.Get(ctx, o.kind, o.name) })
	}
	switch {
	case o.merge != nil:
		for round := 0; ; round++ {
			if fresh == nil || round > 0 {
				var err error
				if fresh, err = get(); err != nil {
					return cl.fail(p, "read", o, err)
				}
			}
			if len(o.diff(fresh)) == 0 {
				return nil
			}
			body, err := o.merge(fresh)
			if err != nil {
				return fmt.Errorf("update %s %s: %w", o.kind.Title(), o.name, err)
			}
			err = c.mutate(ctx, step, func(id string) (*computepb.Operation, error) {
				return c.c.Update(ctx, o.kind, o.name, body, id)
			})
			if isStaleFingerprint(err) && round+1 < maxWrites {
				c.retries.Add(1)
				step.Progressf("changed by someone else meanwhile (412); reading it again")
				continue
			}
			if err != nil {
				return cl.fail(p, "update", o, err)
			}
			return nil
		}
	case o.kind == KindHTTPSProxy:
		// Managed certificates follow the URL map as it is when the proxy
		// is set, not as it was when planning: another run may have
		// changed it since.
		managed := p.spec.Certificate == ""
		if err := cl.setProxy(ctx, p, o, step, nil, managed); err != nil {
			return err
		}
		if managed {
			return cl.syncCertificates(ctx, p, o, step)
		}
		return nil
	case o.kind == KindHTTPProxy:
		want := o.want.(*computepb.TargetHttpProxy).GetUrlMap()
		return cl.set(ctx, p, o, step, func(id string) (*computepb.Operation, error) {
			return c.c.SetURLMap(ctx, KindHTTPProxy, o.name, want, id)
		})
	case o.kind == KindForwardingRule:
		return cl.updateForwardingRule(ctx, p, o, step, fresh)
	case o.kind == KindSecurityPolicy:
		return cl.updateRules(ctx, p, o, step)
	}
	if fresh == nil {
		var err error
		if fresh, err = get(); err != nil {
			return cl.fail(p, "read", o, err)
		}
	}
	if fields := o.diff(fresh); len(fields) > 0 {
		return fmt.Errorf("%s %s differs in %v and cannot be changed in place: delete it and run again", o.kind.Title(), o.name, fields)
	}
	return nil
}

func (cl *Client) set(ctx context.Context, p *Plan, o *object, step ui.Step, fn func(id string) (*computepb.Operation, error)) error {
	if err := cl.caller().mutate(ctx, step, fn); err != nil {
		return cl.fail(p, "update", o, err)
	}
	return nil
}

// setProxy points the HTTPS proxy at what the plan wants, one set* call
// per field that differs; certs, when given, replace the plan's
// certificates, and keepCerts leaves the proxy's certificates as they are.
func (cl *Client) setProxy(ctx context.Context, p *Plan, o *object, step ui.Step, certs []string, keepCerts bool) error {
	c := cl.caller()
	want := o.want.(*computepb.TargetHttpsProxy)
	if certs == nil {
		certs = want.GetSslCertificates()
	}
	fresh, err := read(ctx, c, func() (proto.Message, error) { return c.c.Get(ctx, o.kind, o.name) })
	if err != nil {
		return cl.fail(p, "read", o, err)
	}
	have := fresh.(*computepb.TargetHttpsProxy)
	if !sameLink(have.GetUrlMap(), want.GetUrlMap()) {
		if err := cl.set(ctx, p, o, step, func(id string) (*computepb.Operation, error) {
			return c.c.SetURLMap(ctx, KindHTTPSProxy, o.name, want.GetUrlMap(), id)
		}); err != nil {
			return err
		}
	}
	if !keepCerts && !sameLinks(have.GetSslCertificates(), certs) {
		if err := cl.set(ctx, p, o, step, func(id string) (*computepb.Operation, error) {
			return c.c.SetSSLCertificates(ctx, o.name, certs, id)
		}); err != nil {
			return err
		}
	}
	if !sameLink(have.GetSslPolicy(), want.GetSslPolicy()) {
		if err := cl.set(ctx, p, o, step, func(id string) (*computepb.Operation, error) {
			return c.c.SetSSLPolicy(ctx, o.name, want.GetSslPolicy(), id)
		}); err != nil {
			return err
		}
	}
	return nil
}

// syncCertificates gives the HTTPS proxy a certificate for every host its
// URL map routes, as the map is now, keeping each host's ACTIVE certificate
// until its replacement is ACTIVE (certs.go). It reads the proxy (with its
// fingerprint) before the URL map and writes the proxy with that
// fingerprint: a run that changed the proxy in between makes the write fail
// with 412, and the loop reads both again, so concurrent runs converge and
// none drops another's certificate. The plan's Services' own certificates
// are made here if missing (a concurrent run may have deleted one it saw as
// not yet routed).
func (cl *Client) syncCertificates(ctx context.Context, p *Plan, proxy *object, step ui.Step) error {
	c := cl.caller()
	n := p.names
	for round := 0; round < maxWrites; round++ {
		st, prx, err := cl.readCertState(ctx, p, proxy)
		if err != nil {
			return err
		}
		if err := cl.ensureServiceCertificates(ctx, p, st, step); err != nil {
			return err
		}
		cp, err := st.plan()
		if err != nil {
			return err
		}
		if sameSet(st.attached, cp.attach) {
			return nil
		}
		step.Progressf("certificates %v", cp.attach)
		if len(cp.kept) > 0 {
			step.Progressf("%s", keptNote(cp.kept))
		}
		body := &computepb.TargetHttpsProxy{SslCertificates: cp.links(p.Project), Fingerprint: prx.Fingerprint}
		err = c.mutate(ctx, step, func(id string) (*computepb.Operation, error) {
			return c.c.Update(ctx, KindHTTPSProxy, proxy.name, body, id)
		})
		switch {
		case err == nil:
			continue // read again: what the proxy holds now decides
		case isStaleFingerprint(err), isNotFound(err):
			// Another run wrote the proxy, or deleted a certificate this
			// write named: go round again from fresh reads.
			c.retries.Add(1)
			step.Progressf("the proxy or its certificates changed meanwhile; reading them again")
			if serr := c.sleep(ctx, c.retry.backoff(round)); serr != nil {
				return serr
			}
			continue
		}
		return cl.fail(p, "update", proxy, err)
	}
	return fmt.Errorf("the certificates of load balancer %s kept changing under concurrent runs; run again", n.lb)
}

// readCertState reads the proxy, then the URL map and the certificates.
func (cl *Client) readCertState(ctx context.Context, p *Plan, proxy *object) (*certState, *computepb.TargetHttpsProxy, error) {
	c := cl.caller()
	n := p.names
	have, err := read(ctx, c, func() (proto.Message, error) { return c.c.Get(ctx, KindHTTPSProxy, proxy.name) })
	if err != nil {
		return nil, nil, cl.fail(p, "read", proxy, err)
	}
	um, err := read(ctx, c, func() (proto.Message, error) { return c.c.Get(ctx, KindURLMap, n.urlMap()) })
	if err != nil {
		return nil, nil, describe(err, p.Project, "read", KindURLMap.Title(), n.urlMap(), permissionFor(KindURLMap, "get"))
	}
	objs, err := read(ctx, c, func() ([]proto.Message, error) { return c.c.List(ctx, KindCertificate, "") })
	if err != nil {
		return nil, nil, describe(err, p.Project, "list", "certificates", "", permissionFor(KindCertificate, "list"))
	}
	var all []*computepb.SslCertificate
	for _, o := range objs {
		all = append(all, o.(*computepb.SslCertificate))
	}
	prx := have.(*computepb.TargetHttpsProxy)
	return newCertState(n, um.(*computepb.UrlMap), prx, all), prx, nil
}

// ensureServiceCertificates makes the plan's Services' own certificates
// for the hosts they are routed for, where they do not exist.
func (cl *Client) ensureServiceCertificates(ctx context.Context, p *Plan, st *certState, step ui.Step) error {
	c := cl.caller()
	n := p.names
	for _, sv := range p.spec.Services {
		domains, routed := st.routes[n.backendService(sv)]
		if !routed || len(domains) == 0 {
			continue
		}
		name := n.serviceCertificate(sv, domains)
		if st.certs[name] != nil {
			continue
		}
		step.Progressf("certificate %s for %v", name, domains)
		cert := certificateObject(name, mesh.NewResourceOwner(n.lb, sv.Key()), domains)
		err := c.mutate(ctx, step, func(id string) (*computepb.Operation, error) { return c.c.Insert(ctx, KindCertificate, cert.want, id) })
		if isAlreadyExists(err) {
			_, err = cl.getVisible(ctx, p, cert)
		}
		if err != nil {
			return cl.fail(p, "create", cert, err)
		}
		st.certs[name] = pendingCertificate(cert)
	}
	return nil
}

// updateForwardingRule retargets a rule in place; a rule on the wrong
// address, port or scheme is replaced, since those cannot change.
func (cl *Client) updateForwardingRule(ctx context.Context, p *Plan, o *object, step ui.Step, fresh proto.Message) error {
	c := cl.caller()
	if fresh == nil {
		var err error
		if fresh, err = read(ctx, c, func() (proto.Message, error) { return c.c.Get(ctx, o.kind, o.name) }); err != nil {
			return cl.fail(p, "read", o, err)
		}
	}
	fields := o.diff(fresh)
	want := o.want.(*computepb.ForwardingRule)
	if len(fields) == 0 {
		return nil
	}
	if slices.Equal(fields, []string{"target"}) {
		return cl.set(ctx, p, o, step, func(id string) (*computepb.Operation, error) {
			return c.c.SetTarget(ctx, o.name, want.GetTarget(), id)
		})
	}
	step.Progressf("%v cannot change in place: replacing the rule", fields)
	err := c.mutate(ctx, step, func(id string) (*computepb.Operation, error) { return c.c.Delete(ctx, o.kind, o.name, id) })
	if err != nil && !isNotFound(err) {
		return cl.fail(p, "delete", o, err)
	}
	if err := c.mutate(ctx, step, func(id string) (*computepb.Operation, error) { return c.c.Insert(ctx, o.kind, want, id) }); err != nil {
		return cl.fail(p, "create", o, err)
	}
	return nil
}

// updateRules changes a Cloud Armor policy's rules one by one (the API's
// patch does not touch rules).
func (cl *Client) updateRules(ctx context.Context, p *Plan, o *object, step ui.Step) error {
	c := cl.caller()
	want := o.want.(*computepb.SecurityPolicy)
	for round := 0; round < 3; round++ {
		fresh, err := read(ctx, c, func() (proto.Message, error) { return c.c.Get(ctx, o.kind, o.name) })
		if err != nil {
			return cl.fail(p, "read", o, err)
		}
		have := fresh.(*computepb.SecurityPolicy)
		if _, ours := mesh.ParseResourceOwner(have.GetDescription()); !ours {
			body := &computepb.SecurityPolicy{Description: want.Description, Fingerprint: have.Fingerprint}
			err := c.mutate(ctx, step, func(id string) (*computepb.Operation, error) { return c.c.Update(ctx, o.kind, o.name, body, id) })
			if isStaleFingerprint(err) {
				continue
			}
			if err != nil {
				return cl.fail(p, "update", o, err)
			}
		}
		if !p.spec.Armor.Specified {
			return nil
		}
		add, patch, remove := ruleChanges(have.GetRules(), want.GetRules())
		var errs []error
		for _, r := range patch {
			errs = append(errs, c.mutate(ctx, step, func(string) (*computepb.Operation, error) { return c.c.PatchRule(ctx, o.name, r) }))
		}
		for _, prio := range remove {
			errs = append(errs, c.mutate(ctx, step, func(string) (*computepb.Operation, error) { return c.c.RemoveRule(ctx, o.name, prio) }))
		}
		for _, r := range add {
			errs = append(errs, c.mutate(ctx, step, func(string) (*computepb.Operation, error) { return c.c.AddRule(ctx, o.name, r) }))
		}
		err = errors.Join(errs...)
		if err == nil {
			return nil
		}
		// A rule call retried after it had landed fails (a duplicate
		// priority, a missing rule): read the policy again and redo what
		// is still left.
		code, _ := apiReason(err)
		if code != 400 && code != 404 {
			return cl.fail(p, "update", o, err)
		}
	}
	return fmt.Errorf("update Cloud Armor policy %s: its rules kept changing; run again", o.name)
}

// attachRun sets the backend service's Cloud Armor policy. Google answers
// 400 resourceNotReady while the policy or the service is still settling;
// that is retried with backoff.
func (cl *Client) attachRun(p *Plan, bs, policy string) func(context.Context, ui.Step) error {
	return func(ctx context.Context, step ui.Step) error {
		c := cl.caller()
		err := c.mutate(ctx, step, func(id string) (*computepb.Operation, error) {
			return c.c.SetSecurityPolicy(ctx, bs, policy, id)
		})
		return describe(err, p.Project, "attach Cloud Armor policy to", KindBackendService.Title(), bs, permissionFor(KindBackendService, "attach"))
	}
}

// deleteRun deletes the object; one already gone is fine. A certificate
// still in use (another run swapped it in) is left for a later run.
func (cl *Client) deleteRun(p *Plan, o *object) func(context.Context, ui.Step) error {
	return func(ctx context.Context, step ui.Step) error {
		c, err := cl.callerOf(ctx, p, o)
		if err != nil {
			return err
		}
		if o.kind == KindBackendService && p.Operation == "unexpose" {
			return cl.deleteBackendService(ctx, p, o, step)
		}
		err = c.mutate(ctx, step, func(id string) (*computepb.Operation, error) { return c.c.Delete(ctx, o.kind, o.name, id) })
		switch {
		case err == nil, isNotFound(err):
			return nil
		case o.kind == KindCertificate && isInUse(err):
			step.Progressf("still in use; left for a later run")
			return nil
		}
		return cl.fail(p, "delete", o, err)
	}
}

// deleteBackendService deletes a leaving Service's backend service once the
// run's URL map update is DONE. Compute refuses the delete (400
// resourceInUseByAnotherResource) while the URL map still uses it, which
// concurrent runs on one load balancer bring about in two ways; the map is
// read again to tell them apart:
//   - another run wrote back a map it had read before this run's update (a
//     lost update): the route is removed again, and the delete retried;
//   - the map routes nothing any more and defaults to this backend service
//     (a URL map always needs a default): every other Service left while
//     this run was planning to shrink the load balancer, so this run is the
//     last on it and removes all of it (removeWhole).
func (cl *Client) deleteBackendService(ctx context.Context, p *Plan, o *object, step ui.Step) error {
	c, err := cl.callerOf(ctx, p, o)
	if err != nil {
		return err
	}
	link := globalLink(p.Project, KindBackendService, o.name)
	for round := 0; ; round++ {
		err := c.mutate(ctx, step, func(id string) (*computepb.Operation, error) { return c.c.Delete(ctx, o.kind, o.name, id) })
		if err == nil || isNotFound(err) {
			return nil
		}
		if !isInUse(err) || round+1 >= maxWrites {
			return cl.fail(p, "delete", o, err)
		}
		um, rerr := read(ctx, c, func() (proto.Message, error) { return c.c.Get(ctx, KindURLMap, p.names.urlMap()) })
		if rerr != nil {
			return cl.fail(p, "delete", o, err) // not our URL map that holds it
		}
		have := um.(*computepb.UrlMap)
		if owner, ok := mesh.ParseResourceOwner(have.GetDescription()); !ok || owner.LB != p.names.lb {
			return cl.fail(p, "delete", o, err)
		}
		routed := slices.ContainsFunc(have.GetPathMatchers(), func(pm *computepb.PathMatcher) bool {
			return pm.GetName() == o.name || sameLink(pm.GetDefaultService(), link)
		})
		switch {
		case routed || len(have.GetPathMatchers()) > 0 && sameLink(have.GetDefaultService(), link):
			c.retries.Add(1)
			step.Progressf("URL map %s uses it again (another run wrote the map back): removing it from the map again", p.names.urlMap())
			drop := urlMapObject(p.names.urlMap(), mesh.NewResourceOwner(p.names.lb), nil, []string{o.name})
			if err := cl.updateObject(ctx, p, drop, step, have); err != nil {
				return err
			}
		case len(have.GetPathMatchers()) == 0 && sameLink(have.GetDefaultService(), link):
			return cl.removeWhole(ctx, p, step)
		default:
			return cl.fail(p, "delete", o, err)
		}
	}
}

// removeWhole removes the whole load balancer once the leaving Services
// turn out to be the last on it (deleteBackendService): it plans the
// teardown again, from what is there now, and runs that plan here, within
// the node that found it out; the plan's own nodes for the leaving
// Services' pieces then find them gone. Apply reports both plans.
func (cl *Client) removeWhole(ctx context.Context, p *Plan, step ui.Step) error {
	whole, err := cl.PlanTeardown(ctx, p.spec)
	if err != nil {
		return err
	}
	if whole.shrinks {
		return fmt.Errorf("load balancer %s routes no Service any more, but its URL map still defaults to a leaving backend service while backend services of other runs remain on it; run unexpose again once those runs have ended", p.names.lb)
	}
	step.Progressf("no other Service is left on load balancer %s: removing all of it", p.names.lb)
	cl.reporter.Infof("load balancer %s: no other Service is left on it; removing all of it", p.names.lb)
	p.whole = whole
	return execute(ctx, whole.nodes, p.spec.Parallel, cl.reporter)
}
