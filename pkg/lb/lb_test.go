package lb

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	"google.golang.org/protobuf/proto"
)

func testSpec() Spec {
	return Spec{
		Project: "proj", Location: "us-central1", Cluster: "c1",
		Services: []Service{{
			Namespace: "shop", Name: "web", Hosts: []string{"www.example.com"},
			NEG: NEG{Name: "k8s1-0a1b2c3d-shop-web-gw-443-9f8e7d6c", Zones: []string{"us-central1-b", "us-central1-a"}},
		}},
	}
}

func service(ns, name string, hosts ...string) Service {
	return Service{Namespace: ns, Name: name, Hosts: hosts, NEG: NEG{Name: "k8s1-x-" + ns + "-" + name + "-443-y", Zones: []string{"us-central1-a", "us-central1-c"}}}
}

func newTestClient(f *fakeCompute) (*Client, *ui.Recorder) {
	rec := &ui.Recorder{}
	cl := New(f, fakeGKE{network: "vpc-1"}, rec)
	cl.Retry = Retry{Attempts: 5, Base: time.Millisecond, Max: 4 * time.Millisecond}
	return cl, rec
}

func mustPlan(t *testing.T, cl *Client, spec Spec) *Plan {
	t.Helper()
	p, err := cl.Plan(context.Background(), spec)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p
}

func mustApply(t *testing.T, cl *Client, spec Spec) *Result {
	t.Helper()
	res, err := cl.Apply(context.Background(), mustPlan(t, cl, spec))
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return res
}

func actions(p *Plan) map[string]plan.Action {
	out := map[string]plan.Action{}
	for _, e := range p.Changes {
		out[e.Kind+"/"+e.Name] = e.Action
	}
	return out
}

func countActions(p *Plan) map[plan.Action]int {
	return plan.Counts(p.Changes)
}

func TestPlanFreshCreatesEverythingAndChangesNothing(t *testing.T) {
	f := newFake(t)
	f.readOnly = true
	cl, _ := newTestClient(f)
	p := mustPlan(t, cl, testSpec())
	n := lbNames(p.spec)
	sv := p.spec.Services[0]
	want := []string{
		"addresses/" + n.address(), "sslPolicies/" + n.sslPolicy(), "securityPolicies/" + n.armor(),
		"healthChecks/" + n.healthCheck(sv), "backendServices/" + n.backendService(sv), "firewalls/" + n.firewall(sv),
		"urlMaps/" + n.urlMap(), "sslCertificates/" + n.certificate([]string{"www.example.com"}),
		"targetHttpsProxies/" + n.httpsProxy(), "forwardingRules/" + n.httpsRule(),
		"urlMaps/" + n.redirectMap(), "targetHttpProxies/" + n.httpProxy(), "forwardingRules/" + n.httpRule(),
	}
	got := actions(p)
	if len(got) != len(want) {
		t.Errorf("plan has %d entries, want %d: %v", len(got), len(want), got)
	}
	for _, id := range want {
		if got[id] != plan.Create {
			t.Errorf("%s: action %q, want create", id, got[id])
		}
	}
	if p.Pending() != len(want) {
		t.Errorf("Pending() = %d", p.Pending())
	}
	if m := f.mutations(); len(m) != 0 {
		t.Errorf("planning mutated: %v", m)
	}
	// The firewall targets the nodes' common tag on the cluster's network.
	fw := p.objs["firewalls/"+n.firewall(sv)].want.(*computepb.Firewall)
	if fw.GetNetwork() != "projects/proj/global/networks/vpc-1" || !slices.Equal(fw.GetTargetTags(), []string{"gke-c1-1234-node"}) ||
		!slices.Equal(fw.GetSourceRanges(), []string{"35.191.0.0/16", "130.211.0.0/22"}) ||
		!slices.Equal(fw.GetAllowed()[0].GetPorts(), []string{"15021", "8443"}) {
		t.Errorf("firewall = %v", fw)
	}
	// All zonal NEGs in the one insert, balancing by rate.
	bs := p.objs["backendServices/"+n.backendService(sv)].want.(*computepb.BackendService)
	if len(bs.GetBackends()) != 2 || bs.GetBackends()[0].GetBalancingMode() != "RATE" || bs.GetProtocol() != "HTTP2" ||
		bs.GetLoadBalancingScheme() != "EXTERNAL_MANAGED" || !bs.GetLogConfig().GetEnable() {
		t.Errorf("backend service = %v", bs)
	}
}

func TestApplyThenReplanKeepsAllAndMakesNoCall(t *testing.T) {
	f := newFake(t)
	cl, _ := newTestClient(f)
	res := mustApply(t, cl, testSpec())
	if res.Mutations != 14 { // 13 inserts and the Cloud Armor attach
		t.Errorf("first run made %d mutations, want 14: %v", res.Mutations, f.mutations())
	}
	if res.IPAddress == "" || len(res.DNS) != 1 || res.DNS[0].Value != res.IPAddress || len(res.Certificates) != 1 ||
		res.Certificates[0].Domains["www.example.com"] != "PROVISIONING" || !slices.Equal(res.Certificates[0].Services, []string{"shop/web"}) {
		t.Errorf("result: ip %q dns %v certs %+v", res.IPAddress, res.DNS, res.Certificates)
	}
	if len(res.Backends) != 2 {
		t.Errorf("backends: %v", res.Backends)
	}

	f.readOnly = true
	f.resetCalls()
	p := mustPlan(t, cl, testSpec())
	if c := countActions(p); c[plan.Keep] != len(p.Changes) {
		t.Fatalf("second plan: %v\n%v", c, p.Changes)
	}
	res = mustApply(t, cl, testSpec())
	if res.Mutations != 0 || len(f.mutations()) != 0 {
		t.Errorf("re-run mutated: %v", f.mutations())
	}
}

func TestPlanPartialStateCreatesOnlyWhatIsMissing(t *testing.T) {
	f := newFake(t)
	cl, _ := newTestClient(f)
	spec := testSpec()
	mustApply(t, cl, spec)
	n := lbNames(spec.withDefaults())
	// As if a run had been killed before the front end was made.
	f.remove(KindForwardingRule, n.httpsRule())
	f.remove(KindForwardingRule, n.httpRule())
	f.remove(KindHTTPSProxy, n.httpsProxy())
	p := mustPlan(t, cl, spec)
	c := countActions(p)
	if c[plan.Create] != 3 || c[plan.Keep] != len(p.Changes)-3 {
		t.Errorf("plan: %v\n%v", c, p.Changes)
	}
	f.resetCalls()
	if _, err := cl.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	var inserted []string
	for _, m := range f.mutations() {
		inserted = append(inserted, m.method+" "+m.name)
	}
	want := []string{"insert targetHttpsProxies " + n.httpsProxy(), "insert forwardingRules " + n.httpRule(), "insert forwardingRules " + n.httpsRule()}
	if !sameSet(inserted, want) {
		t.Errorf("mutations %v, want %v", inserted, want)
	}
}

// TestDriftIsDetectedPerField changes one field behind meshctl's back, checks
// the plan names exactly that field, applies, and checks the next plan keeps
// everything.
func TestDriftIsDetectedPerField(t *testing.T) {
	spec := testSpec()
	n := lbNames(spec.withDefaults())
	sv := spec.withDefaults().Services[0]
	cases := []struct {
		kind   Kind
		name   string
		field  string
		change func(proto.Message)
		spec   func(*Spec)
	}{
		{KindHealthCheck, n.healthCheck(sv), "httpHealthCheck.port", func(m proto.Message) { m.(*computepb.HealthCheck).HttpHealthCheck.Port = ptr(int32(80)) }, nil},
		{KindHealthCheck, n.healthCheck(sv), "httpHealthCheck.requestPath", func(m proto.Message) { m.(*computepb.HealthCheck).HttpHealthCheck.RequestPath = ptr("/") }, nil},
		{KindSSLPolicy, n.sslPolicy(), "profile", func(m proto.Message) { m.(*computepb.SslPolicy).Profile = ptr("COMPATIBLE") }, nil},
		{KindSSLPolicy, n.sslPolicy(), "minTlsVersion", func(m proto.Message) { m.(*computepb.SslPolicy).MinTlsVersion = ptr("TLS_1_0") }, nil},
		{KindBackendService, n.backendService(sv), "backends", func(m proto.Message) {
			bs := m.(*computepb.BackendService)
			bs.Backends = bs.Backends[:1]
		}, nil},
		{KindBackendService, n.backendService(sv), "logConfig", func(m proto.Message) { m.(*computepb.BackendService).LogConfig.SampleRate = ptr(float32(0.1)) }, nil},
		{KindBackendService, n.backendService(sv), "protocol", func(m proto.Message) { m.(*computepb.BackendService).Protocol = ptr("HTTP") }, nil},
		{KindBackendService, n.backendService(sv), "securityPolicy", func(m proto.Message) { m.(*computepb.BackendService).SecurityPolicy = nil }, nil},
		{KindFirewall, n.firewall(sv), "sourceRanges", func(m proto.Message) { m.(*computepb.Firewall).SourceRanges = []string{"0.0.0.0/0"} }, nil},
		{KindFirewall, n.firewall(sv), "targetTags", func(m proto.Message) { m.(*computepb.Firewall).TargetTags = []string{"other"} }, nil},
		{KindFirewall, n.firewall(sv), "allowed", func(m proto.Message) { m.(*computepb.Firewall).Allowed[0].Ports = []string{"8443"} }, nil},
		{KindURLMap, n.urlMap(), "hostRules", func(m proto.Message) { m.(*computepb.UrlMap).HostRules[0].Hosts = []string{"evil.example.com"} }, nil},
		{KindURLMap, n.redirectMap(), "defaultUrlRedirect", func(m proto.Message) {
			m.(*computepb.UrlMap).DefaultUrlRedirect.RedirectResponseCode = ptr("FOUND")
		}, nil},
		{KindHTTPSProxy, n.httpsProxy(), "sslPolicy", func(m proto.Message) { m.(*computepb.TargetHttpsProxy).SslPolicy = nil }, nil},
		{KindHTTPProxy, n.httpProxy(), "urlMap", func(m proto.Message) {
			m.(*computepb.TargetHttpProxy).UrlMap = ptr(globalLink("proj", KindURLMap, n.urlMap()))
		}, nil},
		{KindForwardingRule, n.httpsRule(), "portRange", func(m proto.Message) { m.(*computepb.ForwardingRule).PortRange = ptr("8443-8443") }, nil},
		{KindSecurityPolicy, n.armor(), "rules[2000] (add)", func(proto.Message) {}, func(s *Spec) {
			s.Armor = Armor{Specified: true, WAF: []string{"xss"}}
		}},
		{KindSSLPolicy, n.sslPolicy(), "profile", func(proto.Message) {}, func(s *Spec) { s.SSLProfile = "MODERN" }},
	}
	for _, tc := range cases {
		t.Run(tc.field+" of "+string(tc.kind), func(t *testing.T) {
			f := newFake(t)
			cl, _ := newTestClient(f)
			mustApply(t, cl, spec)
			f.edit(tc.kind, tc.name, tc.change)
			next := spec
			if tc.spec != nil {
				tc.spec(&next)
			}
			p := mustPlan(t, cl, next)
			for _, e := range p.Changes {
				want := plan.Keep
				if e.Kind == string(tc.kind) && e.Name == tc.name {
					want = plan.Update
					if !slices.Equal(e.Fields, []string{tc.field}) {
						t.Errorf("fields %v, want [%s]", e.Fields, tc.field)
					}
				}
				if e.Action != want {
					t.Errorf("%s: %s %v, want %s", e.Ref(), e.Action, e.Fields, want)
				}
			}
			if _, err := cl.Apply(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			for _, e := range mustPlan(t, cl, next).Changes {
				if e.Action != plan.Keep {
					t.Errorf("after apply: %s %s %v", e.Ref(), e.Action, e.Fields)
				}
			}
		})
	}
}

func TestWAFAndCIDRRules(t *testing.T) {
	rules := armorRules(Armor{WAF: []string{"sqli", "xss-v33-stable", "xss"}, AllowCIDRs: []string{"203.0.113.0/24"}, DenyCIDRs: []string{"198.51.100.7"}})
	var got []string
	for _, r := range rules {
		got = append(got, strings.TrimSpace(r.GetAction()+" "+r.GetMatch().GetExpr().GetExpression()+" "+strings.Join(r.GetMatch().GetConfig().GetSrcIpRanges(), ",")))
	}
	want := []string{
		"deny(403)  198.51.100.7",
		"deny(403) evaluatePreconfiguredExpr('sqli-v33-stable')",
		"deny(403) evaluatePreconfiguredExpr('xss-v33-stable')",
		"allow  203.0.113.0/24",
		"deny(403)  *",
	}
	if !slices.Equal(got, want) {
		t.Errorf("rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rules[len(rules)-1].GetPriority() != defaultRulePriority {
		t.Errorf("the last rule is not the default rule")
	}
}

func TestAGraphNodeStartsAsSoonAsItsOwnDependenciesAreDone(t *testing.T) {
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	started := map[string]time.Time{}
	mark := func(id string) {
		<-mu
		started[id] = time.Now()
		mu <- struct{}{}
	}
	sleeper := func(id string, d time.Duration) func(context.Context, ui.Step) error {
		return func(ctx context.Context, _ ui.Step) error {
			mark(id)
			time.Sleep(d)
			return nil
		}
	}
	// slow → after-slow; fast → after-fast. Level by level, after-fast
	// would wait for slow.
	nodes := []*node{
		{id: "slow", title: "slow", run: sleeper("slow", 300*time.Millisecond)},
		{id: "fast", title: "fast", run: sleeper("fast", 10*time.Millisecond)},
		{id: "after-slow", title: "after-slow", deps: []string{"slow"}, run: sleeper("after-slow", 0)},
		{id: "after-fast", title: "after-fast", deps: []string{"fast"}, run: sleeper("after-fast", 0)},
	}
	rec := &ui.Recorder{}
	t0 := time.Now()
	if err := execute(context.Background(), nodes, 4, rec); err != nil {
		t.Fatal(err)
	}
	if d := started["after-fast"].Sub(t0); d > 150*time.Millisecond {
		t.Errorf("after-fast started %s in, after the slow root's level", d)
	}
	if started["after-slow"].Before(started["slow"].Add(300 * time.Millisecond)) {
		t.Errorf("after-slow started before slow was done")
	}
}

func TestAFailedNodeSkipsItsDependentsOnly(t *testing.T) {
	boom := errors.New("boom")
	ran := map[string]bool{}
	ok := func(id string) func(context.Context, ui.Step) error {
		return func(context.Context, ui.Step) error { ran[id] = true; return nil }
	}
	nodes := []*node{
		{id: "a", title: "a", run: func(context.Context, ui.Step) error { return boom }},
		{id: "b", title: "b", deps: []string{"a"}, run: ok("b")},
		{id: "c", title: "c", deps: []string{"b"}, run: ok("c")},
		{id: "d", title: "d", run: ok("d")},
	}
	err := execute(context.Background(), nodes, 1, &ui.Recorder{})
	if !errors.Is(err, boom) || ran["b"] || ran["c"] || !ran["d"] {
		t.Errorf("err %v, ran %v", err, ran)
	}
	if nodes[1].state != NodeSkipped || nodes[2].state != NodeSkipped || nodes[3].state != NodeDone {
		t.Errorf("states %s %s %s", nodes[1].state, nodes[2].state, nodes[3].state)
	}
}

// TestApplyFollowsTheDependencyGraph checks, on the calls actually made,
// that nothing was created before what it refers to was done.
func TestApplyFollowsTheDependencyGraph(t *testing.T) {
	f := newFake(t)
	cl, rec := newTestClient(f)
	spec := testSpec()
	p := mustPlan(t, cl, spec)
	if _, err := cl.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	// The index of each insert, and of the wait that finished it.
	f.mu.Lock()
	calls := slices.Clone(f.calls)
	f.mu.Unlock()
	inserted := map[string]int{}
	for i, c := range calls {
		if k, ok := strings.CutPrefix(c.method, "insert "); ok {
			inserted[k+"/"+c.name] = i
		}
	}
	for _, e := range p.Changes {
		for _, d := range e.DependsOn {
			if inserted[d] >= inserted[e.Kind+"/"+e.Name] {
				t.Errorf("%s was created before %s, which it needs", e.Kind+"/"+e.Name, d)
			}
		}
	}
	n := p.names
	sv := p.spec.Services[0]
	attach := slices.IndexFunc(calls, func(c call) bool { return c.method == "setSecurityPolicy" })
	if attach < inserted["securityPolicies/"+n.armor()] || attach < inserted["backendServices/"+n.backendService(sv)] {
		t.Errorf("Cloud Armor attached before the policy and the backend service existed")
	}
	// Progress: one step per node, each finished.
	steps, done := 0, 0
	for _, e := range rec.Events() {
		switch e.Kind {
		case ui.EventStep:
			steps++
		case ui.EventDone:
			done++
		}
	}
	if steps != 14 || done != 14 {
		t.Errorf("%d steps, %d done; want 14 each", steps, done)
	}
}

func TestStaleFingerprintIsReadAgainAndRetried(t *testing.T) {
	f := newFake(t)
	cl, _ := newTestClient(f)
	spec := testSpec()
	mustApply(t, cl, spec)
	n := lbNames(spec.withDefaults())
	f.edit(KindURLMap, n.urlMap(), func(m proto.Message) { m.(*computepb.UrlMap).HostRules[0].Hosts = []string{"old.example.com"} })
	p := mustPlan(t, cl, spec)
	// Someone else writes the URL map between meshctl's read and write.
	raced := false
	f.before = func(method string) {
		if method == "update urlMaps" && !raced {
			raced = true
			f.edit(KindURLMap, n.urlMap(), func(m proto.Message) {
				m.(*computepb.UrlMap).Description = ptr(`{"managedBy":"meshctl","lb":"` + n.lb + `"}`)
			})
		}
	}
	f.resetCalls()
	if _, err := cl.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	var updates, gets int
	for _, c := range f.calls {
		switch c.method {
		case "update urlMaps":
			updates++
		case "get urlMaps":
			if c.name == n.urlMap() {
				gets++
			}
		}
	}
	if updates != 2 || gets < 2 {
		t.Errorf("%d updates and %d reads of the URL map; want a 412, a fresh read and a second write", updates, gets)
	}
	um := f.object(KindURLMap, n.urlMap()).(*computepb.UrlMap)
	if !slices.Equal(urlMapHosts(um), []string{"www.example.com"}) {
		t.Errorf("URL map hosts %v", urlMapHosts(um))
	}
}

func TestRetryableErrorsAreRetriedWithTheSameRequestID(t *testing.T) {
	cases := []struct {
		err   error
		retry bool
	}{
		{gerr(429, "rateLimitExceeded"), true},
		{gerr(403, "rateLimitExceeded"), true},
		{gerr(403, "userRateLimitExceeded"), true},
		{gerr(503, "backendError"), true},
		{gerr(500, "backendError"), true},
		{gerr(400, "resourceNotReady"), true},
		{gerr(400, "invalid"), false},
		{gerr(403, "forbidden"), false},
		{gerr(403, "quotaExceeded"), false},
		{gerr(404, "notFound"), false},
		{gerr(412, "conditionNotMet"), false},
	}
	for _, tc := range cases {
		code, reason := apiReason(tc.err)
		t.Run(strings.Join([]string{string(rune('0' + code/100)), reason}, "-"), func(t *testing.T) {
			f := newFake(t)
			cl, _ := newTestClient(f)
			spec := testSpec()
			spec.Armor.Disabled, spec.NoHTTPRedirect = true, true
			f.failNext["insert healthChecks"] = []error{tc.err}
			_, err := cl.Apply(context.Background(), mustPlan(t, cl, spec))
			var ids []string
			for _, c := range f.calls {
				if c.method == "insert healthChecks" {
					ids = append(ids, c.requestID)
				}
			}
			if tc.retry {
				if err != nil || len(ids) != 2 || ids[0] != ids[1] || ids[0] == "" {
					t.Errorf("err %v, requestIds %v: want one retry with the same id", err, ids)
				}
			} else if err == nil || len(ids) != 1 {
				t.Errorf("err %v, %d attempts: want one attempt and the error", err, len(ids))
			}
		})
	}
}

func TestOperationErrorsAreRetriedAsNewRequests(t *testing.T) {
	f := newFake(t)
	cl, _ := newTestClient(f)
	c := cl.caller()
	attempts := map[string]int{}
	n := 0
	err := c.mutate(context.Background(), nil, func(id string) (*computepb.Operation, error) {
		attempts[id]++
		n++
		op := &computepb.Operation{Name: ptr("op"), Status: computepb.Operation_DONE.Enum()}
		if n == 1 {
			op.Error = &computepb.Error{Errors: []*computepb.Errors{{Code: ptr("RESOURCE_NOT_READY"), Message: ptr("not ready")}}}
		}
		return op, nil
	})
	if err != nil || len(attempts) != 2 {
		t.Errorf("err %v, request ids %v: want two distinct ids", err, attempts)
	}
}

func TestEveryMutationCarriesARequestID(t *testing.T) {
	f := newFake(t)
	cl, _ := newTestClient(f)
	mustApply(t, cl, testSpec())
	for _, m := range f.mutations() {
		if m.requestID == "" && !strings.HasSuffix(m.method, "Rule") {
			t.Errorf("%s %s sent no requestId", m.method, m.name)
		}
		if validUUID(m.requestID) != (m.requestID != "") {
			t.Errorf("requestId %q is not a UUID", m.requestID)
		}
	}
}

func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if r != '-' {
				return false
			}
		} else if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

func TestANameTakenByAnotherIsAnErrorUnlessAdopted(t *testing.T) {
	f := newFake(t)
	cl, _ := newTestClient(f)
	spec := testSpec()
	n := lbNames(spec.withDefaults())
	sv := spec.withDefaults().Services[0]
	f.seed(KindHealthCheck, &computepb.HealthCheck{Name: ptr(n.healthCheck(sv)), Description: ptr("made by hand"), Type: ptr("TCP"),
		TcpHealthCheck: &computepb.TCPHealthCheck{Port: ptr(int32(80))}})
	_, err := cl.Plan(context.Background(), spec)
	var taken *NameTakenError
	if !errors.As(err, &taken) || taken.Name != n.healthCheck(sv) || !strings.Contains(failure.HintOf(err), "--adopt") {
		t.Fatalf("err = %v (hint %q)", err, failure.HintOf(err))
	}

	spec.Adopt = true
	p := mustPlan(t, cl, spec)
	e, _ := p.Change(KindHealthCheck, n.healthCheck(sv))
	if e.Action != plan.Update || !slices.Contains(e.Fields, "description") || !slices.Contains(e.Fields, "type") {
		t.Errorf("adopted entry %+v", e)
	}
	if _, err := cl.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if o, ok := mesh.ParseResourceOwner(f.object(KindHealthCheck, n.healthCheck(sv)).(*computepb.HealthCheck).GetDescription()); !ok || o.LB != n.lb {
		t.Errorf("the adopted health check does not record meshctl as its owner")
	}
}

func TestAServiceOnAnotherLoadBalancerIsRefused(t *testing.T) {
	f := newFake(t)
	cl, _ := newTestClient(f)
	mustApply(t, cl, testSpec())
	shared := testSpec()
	shared.LB = "edge"
	_, err := cl.Plan(context.Background(), shared)
	if err == nil || !strings.Contains(err.Error(), "belongs to meshctl load balancer") || !strings.Contains(failure.HintOf(err), "unexpose") {
		t.Errorf("err = %v, hint %q", err, failure.HintOf(err))
	}
}

func TestUserNamedResourcesAreUsedNotChanged(t *testing.T) {
	f := newFake(t)
	cl, _ := newTestClient(f)
	f.seed(KindAddress, &computepb.Address{Name: ptr("my-ip"), Address: ptr("203.0.113.9")})
	f.seed(KindCertificate, &computepb.SslCertificate{Name: ptr("my-cert"), Type: ptr("SELF_MANAGED")})
	f.seed(KindSecurityPolicy, &computepb.SecurityPolicy{Name: ptr("my-armor")})
	spec := testSpec()
	spec.Address, spec.Certificate, spec.Armor.Policy = "my-ip", "my-cert", "my-armor"
	p := mustPlan(t, cl, spec)
	for _, id := range []string{"addresses/my-ip", "sslCertificates/my-cert", "securityPolicies/my-armor"} {
		if actions(p)[id] != plan.Use {
			t.Errorf("%s: %s, want use", id, actions(p)[id])
		}
	}
	res, err := cl.Apply(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if res.IPAddress != "203.0.113.9" {
		t.Errorf("IP %s", res.IPAddress)
	}
	for _, m := range f.mutations() {
		if m.name == "my-ip" || m.name == "my-cert" || m.name == "my-armor" {
			t.Errorf("changed a user's object: %s %s", m.method, m.name)
		}
	}
	// Teardown leaves them.
	tp, err := cl.PlanTeardown(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Apply(context.Background(), tp); err != nil {
		t.Fatal(err)
	}
	if f.object(KindAddress, "my-ip") == nil || f.object(KindCertificate, "my-cert") == nil || f.object(KindSecurityPolicy, "my-armor") == nil {
		t.Errorf("teardown deleted a user's object")
	}
}

// twoServicesOnEdge are two Services' specs sharing the load balancer "edge".
func twoServicesOnEdge() (shop, blog Spec) {
	shop = Spec{Project: "proj", Location: "us-central1", Cluster: "c1", LB: "edge", Services: []Service{service("shop", "web", "www.example.com")}}
	blog = shop
	blog.Services = []Service{service("blog", "app", "blog.example.com")}
	return shop, blog
}

func TestSharedLoadBalancerAddsAndRemovesServices(t *testing.T) {
	f := newFake(t)
	cl, _ := newTestClient(f)
	a, b := twoServicesOnEdge()
	mustApply(t, cl, a)
	n := lbNames(a.withDefaults())
	certA := n.serviceCertificate(a.Services[0], []string{"www.example.com"})
	certB := n.serviceCertificate(b.Services[0], []string{"blog.example.com"})
	// b joining touches neither a's certificate nor its place on the proxy.
	pb := mustPlan(t, cl, b)
	if e, _ := pb.Change(KindCertificate, certA); e.Action != "" {
		t.Errorf("b's plan changes a's certificate: %+v", e)
	}
	res, err := cl.Apply(context.Background(), pb)
	if err != nil {
		t.Fatal(err)
	}
	um := f.object(KindURLMap, n.urlMap()).(*computepb.UrlMap)
	if got := urlMapHosts(um); !slices.Equal(got, []string{"blog.example.com", "www.example.com"}) {
		t.Fatalf("URL map hosts %v", got)
	}
	if len(um.GetPathMatchers()) != 2 {
		t.Errorf("%d path matchers", len(um.GetPathMatchers()))
	}
	proxy := f.object(KindHTTPSProxy, n.httpsProxy()).(*computepb.TargetHttpsProxy)
	if !sameSet(linkNames(proxy.GetSslCertificates()), []string{certA, certB}) {
		t.Errorf("proxy certificates %v, want %s and %s", proxy.GetSslCertificates(), certA, certB)
	}
	if certs := f.names(KindCertificate); !sameSet(certs, []string{certA, certB}) {
		t.Errorf("certificates %v", certs)
	}
	if len(res.Certificates) != 2 {
		t.Errorf("result certificates %+v", res.Certificates)
	}
	// One address, one armor policy for both.
	if len(f.names(KindAddress)) != 1 || len(f.names(KindSecurityPolicy)) != 1 || len(f.names(KindBackendService)) != 2 {
		t.Errorf("addresses %v, policies %v, backend services %v", f.names(KindAddress), f.names(KindSecurityPolicy), f.names(KindBackendService))
	}

	// Remove the first: the second keeps serving.
	tp, err := cl.PlanTeardown(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Apply(context.Background(), tp); err != nil {
		t.Fatalf("teardown of a: %v\n%v", err, tp.Changes)
	}
	um = f.object(KindURLMap, n.urlMap()).(*computepb.UrlMap)
	if got := urlMapHosts(um); !slices.Equal(got, []string{"blog.example.com"}) {
		t.Errorf("after removing a, hosts %v", got)
	}
	if f.object(KindBackendService, n.backendService(a.Services[0])) != nil || f.object(KindBackendService, n.backendService(b.Services[0])) == nil {
		t.Errorf("backend services after removing a: %v", f.names(KindBackendService))
	}
	if certs := f.names(KindCertificate); !slices.Equal(certs, []string{certB}) {
		t.Errorf("certificates %v", certs)
	}
	// b's plan is all keep.
	for _, e := range mustPlan(t, cl, b).Changes {
		if e.Action != plan.Keep {
			t.Errorf("b after a left: %s %s %v", e.Ref(), e.Action, e.Fields)
		}
	}

	// Remove the last: nothing of meshctl's is left.
	tp, err = cl.PlanTeardown(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Apply(context.Background(), tp); err != nil {
		t.Fatalf("teardown of b: %v", err)
	}
	f.mu.Lock()
	left := len(f.objs)
	f.mu.Unlock()
	if left != 0 {
		t.Errorf("left behind: %v", f.objs)
	}
}

func TestTeardownLeavesWhatMeshctlDidNotMake(t *testing.T) {
	f := newFake(t)
	cl, rec := newTestClient(f)
	spec := testSpec()
	mustApply(t, cl, spec)
	n := lbNames(spec.withDefaults())
	sv := spec.withDefaults().Services[0]
	// Someone replaced meshctl's firewall rule with their own.
	f.remove(KindFirewall, n.firewall(sv))
	f.seed(KindFirewall, &computepb.Firewall{Name: ptr(n.firewall(sv)), Description: ptr("ops team")})
	tp, err := cl.PlanTeardown(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Apply(context.Background(), tp); err != nil {
		t.Fatal(err)
	}
	for _, m := range f.mutations() {
		if m.method == "delete firewalls" {
			t.Errorf("deleted a firewall rule meshctl did not make")
		}
	}
	if f.object(KindFirewall, n.firewall(sv)) == nil || len(tp.Warnings) == 0 {
		t.Errorf("warnings %v", tp.Warnings)
	}
	_ = rec
}

func TestTeardownDeletesInReverseDependencyOrder(t *testing.T) {
	f := newFake(t)
	cl, _ := newTestClient(f)
	spec := testSpec()
	mustApply(t, cl, spec)
	tp, err := cl.PlanTeardown(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if c := countActions(tp); c[plan.Delete] != 13 {
		t.Errorf("teardown plan: %v", tp.Changes)
	}
	f.resetCalls()
	// The fake refuses a delete of anything still used (as Compute does).
	if _, err := cl.Apply(context.Background(), tp); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.objs) != 0 {
		t.Errorf("left behind: %v", f.objs)
	}
}

func TestQuotaIsCheckedBeforeAnyChange(t *testing.T) {
	f := newFake(t)
	f.readOnly = true
	f.quotas = []*computepb.Quota{{Metric: ptr("BACKEND_SERVICES"), Limit: ptr(75.0), Usage: ptr(75.0)}}
	cl, _ := newTestClient(f)
	_, err := cl.Plan(context.Background(), testSpec())
	if err == nil || !strings.Contains(err.Error(), "BACKEND_SERVICES") || !strings.Contains(failure.HintOf(err), "quotas") {
		t.Errorf("err = %v", err)
	}
}

func TestAPIErrorsSayWhatToDo(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		msg, hint  string
		perm, verb string
	}{
		{"disabled", gerr(403, "accessNotConfigured"), "compute.googleapis.com API is not enabled", "gcloud services enable compute.googleapis.com", "compute.backendServices.create", "create"},
		{"permission", gerr(403, "forbidden"), "needs compute.backendServices.create", "add-iam-policy-binding", "compute.backendServices.create", "create"},
		{"quota", gerrMsg(403, "quotaExceeded", "Quota 'BACKEND_SERVICES' exceeded.  Limit: 75.0 globally."), "quota BACKEND_SERVICES (limit 75)", "request more", "", "create"},
		{"operation quota", &OperationError{Code: "QUOTA_EXCEEDED", Message: "Quota 'SECURITY_POLICIES' exceeded.  Limit: 10.0 globally."}, "quota SECURITY_POLICIES (limit 10)", "request more", "", "create"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := describe(tc.err, "proj", tc.verb, "backend service", "bs-1", tc.perm)
			if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "bs-1") || !strings.Contains(failure.HintOf(err), tc.hint) {
				t.Errorf("error %q\nhint %q", err, failure.HintOf(err))
			}
		})
	}
}

func TestMissingNEGStatusAndBadDomainsAreUsageErrors(t *testing.T) {
	spec := testSpec()
	spec.Services[0].NEG = NEG{}
	spec.Services[0].Hosts = []string{"*.example.com", "shop.internal", "10.0.0.1", "ok.example.org", "*.corp"}
	err := spec.Validate()
	if failure.ExitCode(err) != failure.ExitUsage {
		t.Fatalf("exit code %d for %v", failure.ExitCode(err), err)
	}
	for _, want := range []string{"no NEG status", `".internal" is not a public domain`, "IP address", `host "corp"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "ok.example.org") || strings.Contains(err.Error(), `"example.com"`) {
		t.Errorf("a valid host was refused: %v", err)
	}

	// Wildcards are routed, but only the other hosts get a managed certificate.
	spec = testSpec()
	spec.Services[0].Hosts = []string{"*.example.com"}
	if err := spec.Validate(); err == nil || !strings.Contains(err.Error(), "not a wildcard") {
		t.Errorf("only a wildcard host: %v", err)
	}
	spec.Services[0].Hosts = []string{"*.example.com", "www.example.com"}
	f := newFake(t)
	f.readOnly = true
	cl, _ := newTestClient(f)
	p := mustPlan(t, cl, spec)
	cert := p.objs[objectID(KindCertificate, p.certNames[0])].want.(*computepb.SslCertificate)
	if !slices.Equal(cert.GetManaged().GetDomains(), []string{"www.example.com"}) || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "*.example.com") {
		t.Errorf("certificate domains %v, warnings %v", cert.GetManaged().GetDomains(), p.Warnings)
	}
}

func TestNamesAreStableShortAndDistinct(t *testing.T) {
	long := strings.Repeat("n", 60)
	a := lbNames(Spec{Project: "p", Cluster: "cluster-1", Services: []Service{{Namespace: long, Name: "web"}}})
	b := lbNames(Spec{Project: "p", Cluster: "cluster-1", Services: []Service{{Namespace: long, Name: "api"}}})
	for _, name := range []string{a.urlMap(), a.backendService(Service{Namespace: long, Name: "web"}), a.certificate([]string{"x.example.com"})} {
		if len(name) > maxNameLen || !labelRE.MatchString(name) || name[0] < 'a' || name[0] > 'z' {
			t.Errorf("name %q is not a valid Compute name", name)
		}
	}
	if a.urlMap() == b.urlMap() {
		t.Errorf("two services share URL map name %s", a.urlMap())
	}
	if a.urlMap() != lbNames(Spec{Project: "p", Cluster: "cluster-1", Services: []Service{{Namespace: long, Name: "web"}}}).urlMap() {
		t.Errorf("names are not deterministic")
	}
	short := lbNames(Spec{Project: "p", Cluster: "c1", Services: []Service{{Namespace: "shop", Name: "web"}}})
	if short.urlMap() != "mc-c1-shop-web-um" {
		t.Errorf("short name %q carries a hash it does not need", short.urlMap())
	}
	if lbNames(Spec{LB: "edge"}).urlMap() != "mclb-edge-um" {
		t.Errorf("shared name %q", lbNames(Spec{LB: "edge"}).urlMap())
	}
}

func TestSlowCloudArmorInsertStartsFirstWhenNodesQueue(t *testing.T) {
	f := newFake(t)
	cl, _ := newTestClient(f)
	spec := testSpec()
	spec.Parallel = 1
	p := mustPlan(t, cl, spec)
	if _, err := cl.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if m := f.mutations(); len(m) == 0 || m[0].method != "insert securityPolicies" {
		t.Errorf("first change %v, want the Cloud Armor policy's insert", m[0])
	}
}

func TestDroppingTheRedirectAndTheManagedCertificate(t *testing.T) {
	f := newFake(t)
	cl, _ := newTestClient(f)
	spec := testSpec()
	mustApply(t, cl, spec)
	n := lbNames(spec.withDefaults())
	oldCert := n.certificate([]string{"www.example.com"})
	f.seed(KindCertificate, &computepb.SslCertificate{Name: ptr("my-cert"), Type: ptr("SELF_MANAGED")})
	spec.NoHTTPRedirect, spec.Certificate = true, "my-cert"
	p := mustPlan(t, cl, spec)
	for _, id := range []string{"forwardingRules/" + n.httpRule(), "targetHttpProxies/" + n.httpProxy(), "urlMaps/" + n.redirectMap(), "sslCertificates/" + oldCert} {
		if actions(p)[id] != plan.Delete {
			t.Errorf("%s: %s, want delete", id, actions(p)[id])
		}
	}
	if e, _ := p.Change(KindHTTPSProxy, n.httpsProxy()); e.Action != plan.Update || !slices.Equal(e.Fields, []string{"sslCertificates"}) {
		t.Errorf("proxy entry %+v", e)
	}
	if _, err := cl.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []proto.Message{f.object(KindForwardingRule, n.httpRule()), f.object(KindURLMap, n.redirectMap()), f.object(KindCertificate, oldCert)} {
		if gone != nil {
			t.Errorf("still there: %v", gone)
		}
	}
	for _, e := range mustPlan(t, cl, spec).Changes {
		if e.Action != plan.Keep && e.Action != plan.Use {
			t.Errorf("not converged: %s %s", e.Ref(), e.Action)
		}
	}
}

func TestTeardownFindsTheSharedLoadBalancer(t *testing.T) {
	f := newFake(t)
	cl, rec := newTestClient(f)
	a := testSpec()
	a.LB = "edge"
	mustApply(t, cl, a)
	// Exposing it again without --lb is refused with the way out.
	_, err := cl.Plan(context.Background(), testSpec())
	if err == nil || !strings.Contains(failure.HintOf(err), "--lb edge") {
		t.Errorf("err %v, hint %q", err, failure.HintOf(err))
	}
	// Unexpose without --lb finds it.
	tp, err := cl.PlanTeardown(context.Background(), testSpec())
	if err != nil {
		t.Fatal(err)
	}
	if tp.LoadBalancer != "edge" || countActions(tp)[plan.Delete] != 13 {
		t.Errorf("teardown of %s: %v", tp.LoadBalancer, tp.Changes)
	}
	if _, err := cl.Apply(context.Background(), tp); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rec.Lines(), func(l string) bool { return strings.Contains(l, "on shared load balancer edge") }) {
		t.Errorf("no note of the shared load balancer: %v", rec.Lines())
	}
}

func linkNames(links []string) []string {
	var out []string
	for _, l := range links {
		out = append(out, linkName(l))
	}
	return out
}

// --no-armor is recorded on the backend service, so that validate knows the
// missing Cloud Armor policy is a choice; attaching one again drops it.
func TestNoArmorIsRecordedInTheOwnerMarker(t *testing.T) {
	f := newFake(t)
	cl, _ := newTestClient(f)
	spec := testSpec()
	spec.Armor = Armor{Disabled: true}
	mustApply(t, cl, spec)
	n := lbNames(spec.withDefaults())
	sv := spec.withDefaults().Services[0]
	owner := func() mesh.ResourceOwner {
		o, _ := mesh.ParseResourceOwner(f.object(KindBackendService, n.backendService(sv)).(*computepb.BackendService).GetDescription())
		return o
	}
	if !owner().Chose(mesh.ChoiceNoArmor) {
		t.Fatalf("backend service owner %+v does not record --no-armor", owner())
	}
	spec.Armor = Armor{}
	p := mustPlan(t, cl, spec)
	if e, _ := p.Change(KindBackendService, n.backendService(sv)); e.Action != plan.Update || !slices.Contains(e.Fields, "description") {
		t.Errorf("backend service entry %+v", e)
	}
	if _, err := cl.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if owner().Chose(mesh.ChoiceNoArmor) {
		t.Errorf("owner %+v still records --no-armor", owner())
	}
}

// Every Service of a shared load balancer leaving at once: each run plans
// while the others are still routed, so each plans to shrink the load
// balancer, not to remove it. The run that writes the URL map last leaves
// it routing nothing, with its own backend service as the map's default
// (a URL map always needs one), so Compute refuses that backend service's
// delete (400 resourceInUseByAnotherResource). That run is the last on the
// load balancer: it must remove the whole of it, and leave nothing behind.
func TestServicesLeavingAtOnceLeaveNothingBehind(t *testing.T) {
	f := newFake(t)
	cl, _ := newTestClient(f)
	a, b := twoServicesOnEdge()
	mustApply(t, cl, a)
	mustApply(t, cl, b)
	// Both plan before either applies: each sees the other staying.
	ta, err := cl.PlanTeardown(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := cl.PlanTeardown(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	n := lbNames(a.withDefaults())
	for _, tp := range []*Plan{ta, tb} {
		if e, _ := tp.Change(KindURLMap, n.urlMap()); e.Action != plan.Update {
			t.Fatalf("plan of %v: URL map %s, want an update (the load balancer shrinks)", tp.Services, e.Action)
		}
	}
	if _, err := cl.Apply(context.Background(), ta); err != nil {
		t.Fatalf("a leaves: %v", err)
	}
	res, err := cl.Apply(context.Background(), tb)
	if err != nil {
		t.Fatalf("b leaves last, with a plan made while a was routed: %v", err)
	}
	f.mu.Lock()
	left := slices.Sorted(maps.Keys(f.objs))
	f.mu.Unlock()
	if len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	if e, _ := changeIn(res.Plan, KindForwardingRule, n.httpsRule()); e.Action != plan.Delete {
		t.Errorf("b's result does not report the load balancer's removal: %v", res.Plan)
	}
}

// A run leaving a shared load balancer loses its URL map update to another
// run that wrote a map read before it (a lost update: the other run's
// write routes the leaving Service again). Compute refuses the backend
// service's delete while the map uses it; the run reads the map again,
// removes its route once more and then deletes its backend service.
func TestARouteWrittenBackAfterLeavingIsRemovedAgain(t *testing.T) {
	f := newFake(t)
	cl, _ := newTestClient(f)
	a, b := twoServicesOnEdge()
	mustApply(t, cl, a)
	mustApply(t, cl, b)
	n := lbNames(a.withDefaults())
	before := f.object(KindURLMap, n.urlMap()).(*computepb.UrlMap)
	ta, err := cl.PlanTeardown(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	// The first delete of a's backend service comes right after a's URL
	// map update is DONE: just before it, another writer puts back the
	// map as it was (a's route included).
	bsA := n.backendService(a.Services[0])
	f.resetCalls()
	rewritten := false
	f.before = func(method string) {
		if method != "delete "+string(KindBackendService) || rewritten {
			return
		}
		rewritten = true
		f.edit(KindURLMap, n.urlMap(), func(m proto.Message) {
			um := m.(*computepb.UrlMap)
			um.HostRules, um.PathMatchers, um.DefaultService = before.HostRules, before.PathMatchers, before.DefaultService
		})
	}
	if _, err := cl.Apply(context.Background(), ta); err != nil {
		t.Fatalf("a leaves: %v", err)
	}
	if !rewritten {
		t.Fatal("the URL map was never written back: the test did not run the race")
	}
	if f.object(KindBackendService, bsA) != nil {
		t.Errorf("a's backend service is left")
	}
	um := f.object(KindURLMap, n.urlMap()).(*computepb.UrlMap)
	if got := urlMapHosts(um); !slices.Equal(got, []string{"blog.example.com"}) {
		t.Errorf("URL map hosts %v, want only b's", got)
	}
	var deletes, updates int
	for _, m := range f.mutations() {
		switch {
		case m.method == "delete "+string(KindBackendService) && m.name == bsA:
			deletes++
		case m.method == "update "+string(KindURLMap):
			updates++
		}
	}
	if deletes != 2 || updates != 2 {
		t.Errorf("%d deletes of a's backend service and %d URL map updates, want 2 and 2 (refused, removed again, deleted)", deletes, updates)
	}
}

func changeIn(changes []plan.Change, kind Kind, name string) (plan.Change, bool) {
	for _, c := range changes {
		if c.Kind == string(kind) && c.Name == name {
			return c, true
		}
	}
	return plan.Change{}, false
}
