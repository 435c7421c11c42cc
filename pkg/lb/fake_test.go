package lb

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// fakeCompute is an in-memory Compute for one project. It keeps objects as
// Google would (links, fingerprints, referential integrity on delete),
// records every call, and fails the test on a call it does not expect
// (any mutation while readOnly, or a kind it does not know) and, when the
// test ends, on a failure stubbed in failNext that no call met.
type fakeCompute struct {
	t        *testing.T
	project  string
	mu       sync.Mutex
	objs     map[string]proto.Message // by kind/name
	ops      map[string]*computepb.Operation
	calls    []call
	readOnly bool
	// failNext answers the next calls of a method ("insert backendServices",
	// "update urlMaps", "get urlMaps", "setSecurityPolicy", ...) with these
	// errors, in order, instead of serving them.
	failNext map[string][]error
	// before runs before a method is served (outside the lock), to let a
	// test change the world between a read and a write.
	before    func(method string)
	seq       int
	instances []*computepb.Instance
	quotas    []*computepb.Quota
}

type call struct {
	method    string // "insert backendServices"
	name      string
	requestID string
}

func newFake(t *testing.T) *fakeCompute {
	f := &fakeCompute{
		t: t, project: "proj", objs: map[string]proto.Message{}, ops: map[string]*computepb.Operation{},
		failNext: map[string][]error{},
		instances: []*computepb.Instance{
			{Name: ptr("node-a"), Tags: &computepb.Tags{Items: []string{"gke-c1-1234-node", "pool-a"}}, Labels: map[string]string{"goog-k8s-cluster-location": "us-central1"}},
			{Name: ptr("node-b"), Tags: &computepb.Tags{Items: []string{"gke-c1-1234-node", "pool-b"}}, Labels: map[string]string{"goog-k8s-cluster-location": "us-central1"}},
		},
	}
	t.Cleanup(f.verify)
	return f
}

// verify fails the test for stubbed failures no call met.
func (f *fakeCompute) verify() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for method, errs := range f.failNext {
		if len(errs) > 0 {
			f.t.Errorf("%d stubbed failure(s) of %s never met: %v", len(errs), method, errs)
		}
	}
}

func gerr(code int, reason string) error {
	return &googleapi.Error{Code: code, Message: reason, Errors: []googleapi.ErrorItem{{Reason: reason, Message: reason}}}
}

func gerrMsg(code int, reason, msg string) error {
	return &googleapi.Error{Code: code, Message: msg, Errors: []googleapi.ErrorItem{{Reason: reason, Message: msg}}}
}

var mutatingPrefixes = []string{"insert", "update", "delete", "set", "addRule", "patchRule", "removeRule"}

// enter records a call and returns an injected error, if any.
func (f *fakeCompute) enter(method, name, requestID string) error {
	if f.before != nil {
		f.before(method)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{method: method, name: name, requestID: requestID})
	for _, p := range mutatingPrefixes {
		if strings.HasPrefix(method, p) && f.readOnly {
			f.t.Errorf("unexpected mutating call %s %s", method, name)
		}
	}
	if errs := f.failNext[method]; len(errs) > 0 {
		f.failNext[method] = errs[1:]
		return errs[0]
	}
	return nil
}

func (f *fakeCompute) mutations() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		for _, p := range mutatingPrefixes {
			if strings.HasPrefix(c.method, p) {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

func (f *fakeCompute) resetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

func (f *fakeCompute) op(target string) *computepb.Operation {
	f.seq++
	op := &computepb.Operation{Name: ptr(fmt.Sprintf("operation-%d", f.seq)), Status: computepb.Operation_RUNNING.Enum(), TargetLink: &target}
	f.ops[op.GetName()] = op
	return op
}

func notFound(kind Kind, name string) error {
	return gerr(404, "notFound")
}

func fingerprinted(k Kind) bool {
	switch k {
	case KindBackendService, KindURLMap, KindSSLPolicy, KindSecurityPolicy, KindHTTPSProxy, KindHTTPProxy, KindForwardingRule:
		return true
	}
	return false
}

func setString(m proto.Message, field, v string) {
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByJSONName(field)
	if fd == nil {
		fd = r.Descriptor().Fields().ByName(protoreflect.Name(field))
	}
	r.Set(fd, protoreflect.ValueOfString(v))
}

func getString(m proto.Message, field string) string {
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByJSONName(field)
	if fd == nil {
		fd = r.Descriptor().Fields().ByName(protoreflect.Name(field))
	}
	return r.Get(fd).String()
}

// put stores obj as Google would show it.
func (f *fakeCompute) put(kind Kind, obj proto.Message) {
	name := getString(obj, "name")
	setString(obj, "selfLink", globalLink(f.project, kind, name))
	if fingerprinted(kind) {
		f.seq++
		setString(obj, "fingerprint", fmt.Sprintf("fp-%d", f.seq))
	}
	if a, ok := obj.(*computepb.Address); ok && a.GetAddress() == "" {
		a.Address = ptr("34.120.0.1")
	}
	if fr, ok := obj.(*computepb.ForwardingRule); ok && strings.Contains(fr.GetIPAddress(), "/") {
		if a, ok := f.objs[objectID(KindAddress, linkName(fr.GetIPAddress()))].(*computepb.Address); ok {
			fr.IPAddress = ptr(a.GetAddress())
		}
		if pr := fr.GetPortRange(); pr != "" && !strings.Contains(pr, "-") {
			fr.PortRange = ptr(pr + "-" + pr)
		}
	}
	if c, ok := obj.(*computepb.SslCertificate); ok && c.GetType() == "MANAGED" {
		c.Managed.Status = ptr("PROVISIONING")
		c.Managed.DomainStatus = map[string]string{}
		for _, d := range c.Managed.Domains {
			c.Managed.DomainStatus[d] = "PROVISIONING"
		}
	}
	f.objs[objectID(kind, name)] = obj
}

// seed stores an object as if someone had made it.
func (f *fakeCompute) seed(kind Kind, obj proto.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.put(kind, proto.Clone(obj))
}

func (f *fakeCompute) object(kind Kind, name string) proto.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o, ok := f.objs[objectID(kind, name)]; ok {
		return proto.Clone(o)
	}
	return nil
}

// edit changes a stored object in place (drift made behind meshctl's back).
func (f *fakeCompute) edit(kind Kind, name string, fn func(proto.Message)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objs[objectID(kind, name)]
	if !ok {
		f.t.Fatalf("edit: no %s %s", kind, name)
	}
	fn(o)
	if fingerprinted(kind) {
		f.seq++
		setString(o, "fingerprint", fmt.Sprintf("fp-%d", f.seq))
	}
}

func (f *fakeCompute) remove(kind Kind, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.objs, objectID(kind, name))
}

func (f *fakeCompute) names(kind Kind) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for id := range f.objs {
		if k, name, _ := strings.Cut(id, "/"); Kind(k) == kind {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func (f *fakeCompute) Get(_ context.Context, kind Kind, name string) (proto.Message, error) {
	if err := f.enter("get "+string(kind), name, ""); err != nil {
		return nil, err
	}
	if o := f.object(kind, name); o != nil {
		return o, nil
	}
	return nil, notFound(kind, name)
}

func (f *fakeCompute) List(_ context.Context, kind Kind, filter string) ([]proto.Message, error) {
	if err := f.enter("list "+string(kind), "", ""); err != nil {
		return nil, err
	}
	var re *regexp.Regexp
	if pat, ok := strings.CutPrefix(filter, "name eq "); ok {
		re = regexp.MustCompile("^" + pat + "$")
	} else if filter != "" {
		f.t.Errorf("fake: unsupported filter %q", filter)
	}
	var out []proto.Message
	for _, name := range f.names(kind) {
		if re == nil || re.MatchString(name) {
			out = append(out, f.object(kind, name))
		}
	}
	return out, nil
}

func (f *fakeCompute) Insert(_ context.Context, kind Kind, obj proto.Message, requestID string) (*computepb.Operation, error) {
	name := getString(obj, "name")
	if err := f.enter("insert "+string(kind), name, requestID); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.objs[objectID(kind, name)]; ok {
		return nil, gerr(409, "alreadyExists")
	}
	if err := f.checkRefs(obj); err != nil {
		return nil, err
	}
	f.put(kind, proto.Clone(obj))
	return f.op(globalLink(f.project, kind, name)), nil
}

// checkRefs refuses links to objects that do not exist, as Compute does.
func (f *fakeCompute) checkRefs(obj proto.Message) error {
	var bad error
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.Kind() == protoreflect.StringKind && !fd.IsList() && !fd.IsMap():
				f.checkLink(fd, v.String(), &bad)
			case fd.Kind() == protoreflect.StringKind && fd.IsList():
				for i := 0; i < v.List().Len(); i++ {
					f.checkLink(fd, v.List().Get(i).String(), &bad)
				}
			case fd.Kind() == protoreflect.MessageKind && fd.IsList():
				for i := 0; i < v.List().Len(); i++ {
					walk(v.List().Get(i).Message())
				}
			case fd.Kind() == protoreflect.MessageKind && !fd.IsMap():
				walk(v.Message())
			}
			return true
		})
	}
	walk(obj.ProtoReflect())
	return bad
}

func (f *fakeCompute) checkLink(fd protoreflect.FieldDescriptor, v string, bad *error) {
	if fd != nil && fd.Name() == "self_link" || !strings.Contains(v, "/global/") {
		return
	}
	rel := relLink(v)
	parts := strings.Split(rel, "/")
	if len(parts) != 5 || parts[3] == "networks" {
		return
	}
	if _, ok := f.objs[parts[3]+"/"+parts[4]]; !ok && *bad == nil {
		*bad = gerr(404, "notFound")
	}
}

// users lists the objects linking to kind/name.
func (f *fakeCompute) users(kind Kind, name string) []string {
	link := globalLink(f.project, kind, name)
	var out []string
	for id, o := range f.objs {
		if id == objectID(kind, name) {
			continue
		}
		text := fmt.Sprint(o)
		if strings.Contains(text, `"`+link+`"`) || (kind == KindAddress && strings.Contains(text, `"`+f.objs[objectID(kind, name)].(*computepb.Address).GetAddress()+`"`)) {
			out = append(out, id)
		}
	}
	return out
}

// patch sets the fields populated in body onto obj (PATCH semantics).
func patchFields(obj, body proto.Message) {
	dst := obj.ProtoReflect()
	body.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		dst.Set(fd, v)
		return true
	})
}

func (f *fakeCompute) Update(_ context.Context, kind Kind, name string, obj proto.Message, requestID string) (*computepb.Operation, error) {
	if err := f.enter("update "+string(kind), name, requestID); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	have, ok := f.objs[objectID(kind, name)]
	if !ok {
		return nil, notFound(kind, name)
	}
	if fingerprinted(kind) && getString(obj, "fingerprint") != getString(have, "fingerprint") {
		return nil, gerr(412, "conditionNotMet")
	}
	if err := f.checkRefs(obj); err != nil {
		return nil, err
	}
	next := proto.Clone(obj)
	switch kind {
	case KindBackendService, KindURLMap, KindHealthCheck: // PUT replaces
		if bs, ok := next.(*computepb.BackendService); ok {
			bs.SecurityPolicy = have.(*computepb.BackendService).SecurityPolicy // output only
		}
		setString(next, "name", name)
	default:
		next = proto.Clone(have)
		patchFields(next, obj)
	}
	f.put(kind, next)
	return f.op(globalLink(f.project, kind, name)), nil
}

func (f *fakeCompute) Delete(_ context.Context, kind Kind, name, requestID string) (*computepb.Operation, error) {
	if err := f.enter("delete "+string(kind), name, requestID); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.objs[objectID(kind, name)]; !ok {
		return nil, notFound(kind, name)
	}
	if users := f.users(kind, name); len(users) > 0 {
		return nil, gerr(400, "resourceInUseByAnotherResource")
	}
	delete(f.objs, objectID(kind, name))
	return f.op(globalLink(f.project, kind, name)), nil
}

// setField runs a set* method: it changes one field of a stored object.
func (f *fakeCompute) setField(method string, kind Kind, name, requestID string, links []string, fn func(proto.Message)) (*computepb.Operation, error) {
	if err := f.enter(method, name, requestID); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	have, ok := f.objs[objectID(kind, name)]
	if !ok {
		return nil, notFound(kind, name)
	}
	for _, l := range links {
		var bad error
		f.checkLink(nil, l, &bad)
		if bad != nil {
			return nil, bad
		}
	}
	next := proto.Clone(have)
	fn(next)
	f.put(kind, next)
	return f.op(globalLink(f.project, kind, name)), nil
}

func (f *fakeCompute) SetSecurityPolicy(_ context.Context, bs, policy, requestID string) (*computepb.Operation, error) {
	return f.setField("setSecurityPolicy", KindBackendService, bs, requestID, []string{policy}, func(m proto.Message) {
		m.(*computepb.BackendService).SecurityPolicy = ptr(policy)
	})
}

func (f *fakeCompute) SetURLMap(_ context.Context, kind Kind, proxy, urlMap, requestID string) (*computepb.Operation, error) {
	return f.setField("setUrlMap "+string(kind), kind, proxy, requestID, []string{urlMap}, func(m proto.Message) {
		setString(m, "urlMap", urlMap)
	})
}

func (f *fakeCompute) SetSSLCertificates(_ context.Context, proxy string, certs []string, requestID string) (*computepb.Operation, error) {
	return f.setField("setSslCertificates", KindHTTPSProxy, proxy, requestID, certs, func(m proto.Message) {
		m.(*computepb.TargetHttpsProxy).SslCertificates = slices.Clone(certs)
	})
}

func (f *fakeCompute) SetSSLPolicy(_ context.Context, proxy, policy, requestID string) (*computepb.Operation, error) {
	return f.setField("setSslPolicy", KindHTTPSProxy, proxy, requestID, []string{policy}, func(m proto.Message) {
		m.(*computepb.TargetHttpsProxy).SslPolicy = ptr(policy)
	})
}

func (f *fakeCompute) SetTarget(_ context.Context, fr, target, requestID string) (*computepb.Operation, error) {
	return f.setField("setTarget", KindForwardingRule, fr, requestID, []string{target}, func(m proto.Message) {
		m.(*computepb.ForwardingRule).Target = ptr(target)
	})
}

func (f *fakeCompute) ruleEdit(method, policy string, fn func(p *computepb.SecurityPolicy) error) (*computepb.Operation, error) {
	if err := f.enter(method, policy, ""); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	have, ok := f.objs[objectID(KindSecurityPolicy, policy)]
	if !ok {
		return nil, notFound(KindSecurityPolicy, policy)
	}
	next := proto.Clone(have).(*computepb.SecurityPolicy)
	if err := fn(next); err != nil {
		return nil, err
	}
	f.put(KindSecurityPolicy, next)
	return f.op(globalLink(f.project, KindSecurityPolicy, policy)), nil
}

func (f *fakeCompute) AddRule(_ context.Context, policy string, rule *computepb.SecurityPolicyRule) (*computepb.Operation, error) {
	return f.ruleEdit("addRule", policy, func(p *computepb.SecurityPolicy) error {
		for _, r := range p.Rules {
			if r.GetPriority() == rule.GetPriority() {
				return gerr(400, "invalid")
			}
		}
		p.Rules = append(p.Rules, proto.Clone(rule).(*computepb.SecurityPolicyRule))
		return nil
	})
}

func (f *fakeCompute) PatchRule(_ context.Context, policy string, rule *computepb.SecurityPolicyRule) (*computepb.Operation, error) {
	return f.ruleEdit("patchRule", policy, func(p *computepb.SecurityPolicy) error {
		for i, r := range p.Rules {
			if r.GetPriority() == rule.GetPriority() {
				p.Rules[i] = proto.Clone(rule).(*computepb.SecurityPolicyRule)
				return nil
			}
		}
		return gerr(400, "invalid")
	})
}

func (f *fakeCompute) RemoveRule(_ context.Context, policy string, priority int32) (*computepb.Operation, error) {
	return f.ruleEdit("removeRule", policy, func(p *computepb.SecurityPolicy) error {
		for i, r := range p.Rules {
			if r.GetPriority() == priority {
				p.Rules = slices.Delete(p.Rules, i, i+1)
				return nil
			}
		}
		return gerr(400, "invalid")
	})
}

func (f *fakeCompute) GetHealth(_ context.Context, bs, group string) (*computepb.BackendServiceGroupHealth, error) {
	if err := f.enter("getHealth", bs, ""); err != nil {
		return nil, err
	}
	return &computepb.BackendServiceGroupHealth{HealthStatus: []*computepb.HealthStatus{{HealthState: ptr("HEALTHY")}}}, nil
}

func (f *fakeCompute) WaitOperation(_ context.Context, name string) (*computepb.Operation, error) {
	if err := f.enter("wait", name, ""); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	op, ok := f.ops[name]
	if !ok {
		return nil, gerr(404, "notFound")
	}
	op.Status = computepb.Operation_DONE.Enum()
	return proto.Clone(op).(*computepb.Operation), nil
}

func (f *fakeCompute) Quotas(context.Context) ([]*computepb.Quota, error) {
	if err := f.enter("quotas", "", ""); err != nil {
		return nil, err
	}
	return f.quotas, nil
}

func (f *fakeCompute) Instances(_ context.Context, filter string) ([]*computepb.Instance, error) {
	if err := f.enter("instances", filter, ""); err != nil {
		return nil, err
	}
	return f.instances, nil
}

// fakeGKE answers GetCluster for one cluster. A network given as a link
// (projects/HOST/global/networks/N) is a Shared VPC's, as GKE shows it:
// the link in networkConfig.network, the bare name at the top level.
type fakeGKE struct{ network string }

func (g fakeGKE) GetCluster(_ context.Context, req *containerpb.GetClusterRequest, _ ...gax.CallOption) (*containerpb.Cluster, error) {
	if !strings.HasSuffix(req.GetName(), "/clusters/c1") {
		return nil, gerr(404, "notFound")
	}
	if strings.HasPrefix(g.network, "projects/") {
		return &containerpb.Cluster{Name: "c1", Network: g.network[strings.LastIndex(g.network, "/")+1:],
			NetworkConfig: &containerpb.NetworkConfig{Network: g.network}}, nil
	}
	return &containerpb.Cluster{Name: "c1", Network: g.network}, nil
}
