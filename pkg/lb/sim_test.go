package lb

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/meshctl/meshctl/internal/gcp"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/fakeiam"
	"github.com/meshctl/meshctl/sim/scenario"
)

// simEnv is pkg/lb on the official REST clients against the simulator's
// fake Compute and GKE APIs, in process.
type simEnv struct {
	srv  *fakegcp.Server
	url  string
	spec Spec
	cl   *Client
	rec  *ui.Recorder
}

func newSimEnv(t *testing.T, tune func(*fakegcp.Knobs)) *simEnv {
	t.Helper()
	return newSimEnvWith(t, tune, nil)
}

// newSimEnvWith enforces policy (nil: none) in the fake APIs.
func newSimEnvWith(t *testing.T, tune func(*fakegcp.Knobs), policy *fakeiam.Policy) *simEnv {
	t.Helper()
	k := fakegcp.DefaultKnobs()
	k.OperationDuration = fakegcp.Duration(30 * time.Millisecond)
	k.CertProvisioningDelay = fakegcp.Duration(400 * time.Millisecond)
	if tune != nil {
		tune(&k)
	}
	sc := scenario.Default()
	srv := fakegcp.New(sc, fakegcp.Options{Knobs: &k, IAM: policy})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e := &simEnv{srv: srv, url: hs.URL}
	e.cl, e.rec = e.client(t)
	e.spec = Spec{Project: sc.Project, Location: sc.Location, Cluster: sc.Cluster}
	return e
}

func (e *simEnv) client(t *testing.T) (*Client, *ui.Recorder) {
	t.Helper()
	ctx := context.Background()
	cfg := gcp.Config{ComputeEndpoint: e.url, ContainerEndpoint: e.url}
	g, err := NewGCE(ctx, cfg, "meshsim-project")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	gke, err := gcp.NewClusterManager(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gke.Close() })
	rec := &ui.Recorder{}
	cl := New(g, gke, rec)
	cl.Retry = Retry{Attempts: 10, Base: 5 * time.Millisecond, Max: 50 * time.Millisecond}
	return cl, rec
}

// negFor makes a service's NEGs in every zone, each with one ready pod
// serving 8443 and 15021, as the NEG controller would.
func (e *simEnv) negFor(t *testing.T, ns, name string, hosts ...string) Service {
	t.Helper()
	zones := []string{"us-central1-a", "us-central1-b", "us-central1-c"}
	neg := "k8s1-0123abcd-" + ns + "-" + name + "-443-89abcdef"
	nodes := scenario.Default().Nodes()
	for _, z := range zones {
		if err := e.srv.EnsureNEG(z, neg, `{"cluster-uid":"0123abcd"}`); err != nil {
			t.Fatal(err)
		}
		var node string
		for _, n := range nodes {
			if n.Zone == z {
				node = n.Name
			}
		}
		if err := e.srv.SetNEGEndpoints(z, neg, []fakegcp.Endpoint{{Instance: node, IPAddress: "10.112.0.5", Port: 8443, Ready: true, ServedPorts: []int{8443, 15021}}}); err != nil {
			t.Fatal(err)
		}
	}
	return Service{Namespace: ns, Name: name, Hosts: hosts, NEG: NEG{Name: neg, Zones: zones}}
}

func (e *simEnv) apply(t *testing.T, cl *Client, spec Spec) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := cl.Plan(ctx, spec)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	res, err := cl.Apply(ctx, p)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, strings.Join(e.rec.Lines(), "\n"))
	}
	return res
}

func (e *simEnv) meshctlObjects() []string {
	var out []string
	for _, r := range e.srv.State().Resources {
		if d, _ := r["description"].(string); strings.Contains(d, `"managedBy":"meshctl"`) {
			out = append(out, r["selfLink"].(string))
		}
	}
	return out
}

func TestSimulatorBuildHealthyLBAndTearDown(t *testing.T) {
	e := newSimEnv(t, nil)
	spec := e.spec
	spec.Services = []Service{e.negFor(t, "shop", "web", "shop.example.com")}
	spec.Armor = Armor{Specified: true, WAF: []string{"xss", "sqli"}, DenyCIDRs: []string{"198.51.100.0/24"}}
	res := e.apply(t, e.cl, spec)
	if res.IPAddress == "" || len(res.Backends) != 3 {
		t.Fatalf("result %+v", res)
	}
	for _, b := range res.Backends {
		if b.Healthy != 1 || b.Endpoints != 1 {
			t.Errorf("backend %+v is not healthy", b)
		}
	}
	if len(res.Certificates) != 1 || res.Certificates[0].Status != "PROVISIONING" {
		t.Errorf("a fresh certificate is %+v, want PROVISIONING", res.Certificates)
	}
	// Without the firewall rule Google's health checkers cannot reach the
	// pods: the simulator reports them UNHEALTHY, and a re-run repairs it.
	fw := lbNames(spec.withDefaults()).firewall(spec.Services[0])
	c := e.cl.caller()
	if err := c.mutate(context.Background(), nil, func(id string) (*computepb.Operation, error) {
		return c.c.Delete(context.Background(), KindFirewall, fw, id)
	}); err != nil {
		t.Fatal(err)
	}
	p, err := e.cl.Plan(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pending() != 1 {
		t.Errorf("plan after the firewall rule went: %+v", p.Changes)
	}
	h, err := c.c.GetHealth(context.Background(), lbNames(spec.withDefaults()).backendService(spec.Services[0]),
		negLink(spec.Project, "us-central1-a", spec.Services[0].NEG.Name))
	if err != nil || len(h.GetHealthStatus()) != 1 || h.GetHealthStatus()[0].GetHealthState() != "UNHEALTHY" {
		t.Errorf("health without the firewall rule: %v %v", h, err)
	}
	res = e.apply(t, e.cl, spec)
	if res.Mutations != 1 || res.Backends[0].Healthy != 1 {
		t.Errorf("repair: %d mutations, backends %+v", res.Mutations, res.Backends)
	}
	// The certificate turns ACTIVE once it serves behind the forwarding rule.
	time.Sleep(450 * time.Millisecond)
	e.srv.ResetRequests()
	res = e.apply(t, e.cl, spec)
	if len(res.Certificates) != 1 || res.Certificates[0].Status != "ACTIVE" || res.Certificates[0].Domains["shop.example.com"] != "ACTIVE" {
		t.Errorf("certificates %+v", res.Certificates)
	}
	if st := e.srv.Requests(); st.Mutations != 0 || res.Mutations != 0 {
		t.Errorf("re-run: %d mutations in the request log, %d counted", st.Mutations, res.Mutations)
	}

	tp, err := e.cl.PlanTeardown(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.cl.Apply(context.Background(), tp); err != nil {
		t.Fatalf("teardown: %v\n%s", err, strings.Join(e.rec.Lines(), "\n"))
	}
	if left := e.meshctlObjects(); len(left) != 0 {
		t.Errorf("left after teardown: %v", left)
	}
}

func TestSimulatorConvergesUnderInjectedFaults(t *testing.T) {
	e := newSimEnv(t, func(k *fakegcp.Knobs) {
		k.Faults = fakegcp.Faults{Rate: 0.15, Seed: 7}
	})
	spec := e.spec
	spec.Services = []Service{e.negFor(t, "shop", "web", "shop.example.com")}
	res := e.apply(t, e.cl, spec)
	if res.Retries == 0 {
		t.Errorf("no retries under a 15%% fault rate")
	}
	e.srv.UpdateKnobs(func(k *fakegcp.Knobs) { k.Faults = fakegcp.Faults{} })
	p, err := e.cl.Plan(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pending() != 0 {
		t.Errorf("after a faulty run the plan still changes: %v", p.Changes)
	}
	// Each object exists once: no retried insert made a second one.
	counts := map[string]int{}
	for _, r := range e.srv.State().Resources {
		counts[r["kind"].(string)]++
	}
	if counts["compute#sslCertificate"] != 1 || counts["compute#backendService"] != 1 {
		t.Errorf("objects: %v", counts)
	}
}

func TestSimulatorTwoConcurrentRunsOntoOneSharedLB(t *testing.T) {
	e := newSimEnv(t, nil)
	a, b := e.spec, e.spec
	a.LB, b.LB = "edge", "edge"
	a.Services = []Service{e.negFor(t, "shop", "web", "shop.example.com")}
	b.Services = []Service{e.negFor(t, "blog", "app", "blog.example.com")}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, spec := range []Spec{a, b} {
		cl, _ := e.client(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := cl.Plan(context.Background(), spec)
			if err == nil {
				_, err = cl.Apply(context.Background(), p)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent run: %v", err)
		}
	}
	// Both landed: nothing is left to do for either.
	for _, spec := range []Spec{a, b} {
		p, err := e.cl.Plan(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if p.Pending() != 0 {
			t.Errorf("not converged: %v", p.Changes)
		}
	}
	um, _ := e.srv.Resource("projects/meshsim-project/global/urlMaps/mclb-edge-um")
	var hosts []string
	for _, hr := range um["hostRules"].([]any) {
		for _, h := range hr.(map[string]any)["hosts"].([]any) {
			hosts = append(hosts, h.(string))
		}
	}
	slices.Sort(hosts)
	if !slices.Equal(hosts, []string{"blog.example.com", "shop.example.com"}) {
		t.Errorf("URL map hosts %v", hosts)
	}
	// Each Service's own certificate is on the proxy: neither run dropped
	// the other's.
	proxy, _ := e.srv.Resource("projects/meshsim-project/global/targetHttpsProxies/mclb-edge-https")
	n := lbNames(a.withDefaults())
	var certs []string
	for _, l := range proxy["sslCertificates"].([]any) {
		certs = append(certs, linkName(l.(string)))
	}
	want := []string{n.serviceCertificate(b.Services[0], b.Services[0].Hosts), n.serviceCertificate(a.Services[0], a.Services[0].Hosts)}
	if !sameSet(certs, want) {
		t.Errorf("proxy certificates %v, want %v", certs, want)
	}
}
