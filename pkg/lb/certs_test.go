package lb

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/pkg/plan"
)

// activate makes a managed certificate ACTIVE, as Google does once it has
// served for a while.
func (f *fakeCompute) activate(t *testing.T, name string) {
	t.Helper()
	f.edit(KindCertificate, name, func(m proto.Message) {
		c := m.(*computepb.SslCertificate)
		c.Managed.Status = ptr("ACTIVE")
		for d := range c.Managed.DomainStatus {
			c.Managed.DomainStatus[d] = "ACTIVE"
		}
	})
}

func (f *fakeCompute) proxyCerts(n names) []string {
	return linkNames(f.object(KindHTTPSProxy, n.httpsProxy()).(*computepb.TargetHttpsProxy).GetSslCertificates())
}

// A Service whose hosts change keeps its ACTIVE certificate beside the new
// one until the new one is ACTIVE for every domain; a later run then
// detaches and deletes it. No host is ever without its ACTIVE certificate.
func TestChangedHostsKeepTheOldCertificateUntilTheNewIsActive(t *testing.T) {
	for _, shared := range []string{"", "edge"} {
		t.Run("lb="+shared, func(t *testing.T) {
			f := newFake(t)
			cl, _ := newTestClient(f)
			spec := testSpec()
			spec.LB = shared
			mustApply(t, cl, spec)
			n := lbNames(spec.withDefaults())
			sv := spec.withDefaults().Services[0]
			old := n.serviceCertificate(sv, []string{"www.example.com"})
			f.activate(t, old)

			spec.Services[0].Hosts = []string{"www.example.com", "shop.example.com"}
			sv2 := spec.withDefaults().Services[0]
			next := n.serviceCertificate(sv2, []string{"shop.example.com", "www.example.com"})
			p := mustPlan(t, cl, spec)
			if e, _ := p.Change(KindCertificate, next); e.Action != plan.Create {
				t.Errorf("new certificate: %+v", e)
			}
			if e, _ := p.Change(KindCertificate, old); e.Action == plan.Delete {
				t.Errorf("the ACTIVE certificate is deleted before its replacement is ACTIVE")
			}
			if e, _ := p.Change(KindHTTPSProxy, n.httpsProxy()); e.Action != plan.Update || !strings.Contains(e.Note, old+" kept for www.example.com") {
				t.Errorf("proxy entry %+v", e)
			}
			if _, err := cl.Apply(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			if got := f.proxyCerts(n); !sameSet(got, []string{old, next}) {
				t.Fatalf("proxy holds %v, want the old and the new certificate", got)
			}
			// Nothing changes while the new one provisions.
			for _, e := range mustPlan(t, cl, spec).Changes {
				if e.Action.Changes() {
					t.Errorf("while provisioning: %s %s", e.Action, e.Ref())
				}
			}
			// Once it is ACTIVE, the old one goes.
			f.activate(t, next)
			p = mustPlan(t, cl, spec)
			if e, _ := p.Change(KindCertificate, old); e.Action != plan.Delete {
				t.Errorf("old certificate once the new is ACTIVE: %+v", e)
			}
			if _, err := cl.Apply(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			if got := f.proxyCerts(n); !slices.Equal(got, []string{next}) || f.object(KindCertificate, old) != nil {
				t.Errorf("proxy holds %v; old certificate still there: %v", got, f.object(KindCertificate, old) != nil)
			}
		})
	}
}

// A load balancer built with one certificate for all its hosts keeps it
// until every Service's own certificate is ACTIVE.
func TestOneCertificateForAllHostsIsKeptUntilEachServicesOwnIsActive(t *testing.T) {
	f := newFake(t)
	cl, _ := newTestClient(f)
	a, b := twoServicesOnEdge()
	both := Spec{Project: "proj", Location: "us-central1", Cluster: "c1", LB: "edge", Services: append(slices.Clone(a.Services), b.Services...)}
	mustApply(t, cl, both)
	n := lbNames(a.withDefaults())
	// What meshctl before 0.9 left: one certificate, for the whole load
	// balancer, ACTIVE, alone on the proxy.
	legacy := n.certificate([]string{"blog.example.com", "www.example.com"})
	f.seed(KindCertificate, &computepb.SslCertificate{Name: ptr(legacy), Description: ptr(`{"managedBy":"meshctl","lb":"edge"}`), Type: ptr("MANAGED"),
		Managed: &computepb.SslCertificateManagedSslCertificate{Domains: []string{"blog.example.com", "www.example.com"}}})
	f.activate(t, legacy)
	for _, c := range f.proxyCerts(n) {
		f.remove(KindCertificate, c)
	}
	f.edit(KindHTTPSProxy, n.httpsProxy(), func(m proto.Message) {
		m.(*computepb.TargetHttpsProxy).SslCertificates = []string{globalLink("proj", KindCertificate, legacy)}
	})

	mustApply(t, cl, a)
	certA := n.serviceCertificate(a.Services[0], []string{"www.example.com"})
	if got := f.proxyCerts(n); !sameSet(got, []string{certA, legacy}) {
		t.Fatalf("proxy %v: want a's own certificate beside the old one", got)
	}
	f.activate(t, certA)
	mustApply(t, cl, a)
	// b has no certificate of its own yet: the old one stays for it.
	if got := f.proxyCerts(n); !sameSet(got, []string{certA, legacy}) {
		t.Fatalf("proxy %v: the old certificate went while b has no ACTIVE one of its own", got)
	}
	mustApply(t, cl, b)
	certB := n.serviceCertificate(b.Services[0], []string{"blog.example.com"})
	f.activate(t, certB)
	mustApply(t, cl, b)
	if got := f.proxyCerts(n); !sameSet(got, []string{certA, certB}) || f.object(KindCertificate, legacy) != nil {
		t.Errorf("proxy %v; old certificate left: %v", got, f.object(KindCertificate, legacy) != nil)
	}
}

// Unexposing one Service of a shared load balancer leaves the others'
// certificates as they are.
func TestTeardownTouchesOnlyTheLeavingServicesCertificate(t *testing.T) {
	f := newFake(t)
	cl, _ := newTestClient(f)
	a, b := twoServicesOnEdge()
	mustApply(t, cl, a)
	mustApply(t, cl, b)
	n := lbNames(a.withDefaults())
	certA := n.serviceCertificate(a.Services[0], []string{"www.example.com"})
	certB := n.serviceCertificate(b.Services[0], []string{"blog.example.com"})
	f.activate(t, certB)
	f.resetCalls()
	tp, err := cl.PlanTeardown(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Apply(context.Background(), tp); err != nil {
		t.Fatal(err)
	}
	for _, m := range f.mutations() {
		if m.name == certB || m.method == "insert sslCertificates" {
			t.Errorf("teardown of a: %s %s", m.method, m.name)
		}
	}
	if got := f.proxyCerts(n); !slices.Equal(got, []string{certB}) || f.object(KindCertificate, certA) != nil {
		t.Errorf("proxy %v; a's certificate left: %v", got, f.object(KindCertificate, certA) != nil)
	}
}

// A target HTTPS proxy holds 15 certificates: a 16th Service is refused
// before anything changes, saying what to do.
func TestMoreServicesThanTheProxyHoldsCertificatesForAreRefused(t *testing.T) {
	f := newFake(t)
	f.readOnly = true
	cl, _ := newTestClient(f)
	spec := Spec{Project: "proj", Location: "us-central1", Cluster: "c1", LB: "edge"}
	for i := 0; i < MaxProxyCertificates+1; i++ {
		spec.Services = append(spec.Services, service("ns", fmt.Sprintf("s%02d", i), fmt.Sprintf("s%02d.example.com", i)))
	}
	_, err := cl.Plan(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "16 certificates") || !strings.Contains(failure.HintOf(err), "--lb") {
		t.Errorf("err %v (hint %q)", err, failure.HintOf(err))
	}
	spec.Services = spec.Services[:MaxProxyCertificates]
	if _, err := cl.Plan(context.Background(), spec); err != nil {
		t.Errorf("15 Services: %v", err)
	}
}

// Two runs adding Services race on the proxy: the write carries the
// fingerprint read before the URL map, so a run whose view went stale
// reads again instead of dropping the other's certificate.
func TestACertificateWriteOnAStaleProxyIsReadAgain(t *testing.T) {
	f := newFake(t)
	cl, rec := newTestClient(f)
	a, b := twoServicesOnEdge()
	mustApply(t, cl, a)
	n := lbNames(a.withDefaults())
	certA := n.serviceCertificate(a.Services[0], []string{"www.example.com"})
	certB := n.serviceCertificate(b.Services[0], []string{"blog.example.com"})
	// Between b's read and its write, someone writes the proxy (as a run
	// for a third Service would).
	once := false
	f.before = func(method string) {
		if method == "update targetHttpsProxies" && !once {
			once = true
			f.edit(KindHTTPSProxy, n.httpsProxy(), func(proto.Message) {})
		}
	}
	mustApply(t, cl, b)
	if !slices.ContainsFunc(rec.Lines(), func(l string) bool { return strings.Contains(l, "changed meanwhile") }) {
		t.Errorf("no re-read after the stale write: %v", rec.Lines())
	}
	if got := f.proxyCerts(n); !sameSet(got, []string{certA, certB}) {
		t.Errorf("proxy %v", got)
	}
}
