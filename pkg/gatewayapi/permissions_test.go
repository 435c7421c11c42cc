package gatewayapi

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	cm "google.golang.org/api/certificatemanager/v1"

	"github.com/meshctl/meshctl/internal/gcp"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
	"github.com/meshctl/meshctl/sim/fakecertmanager"
	"github.com/meshctl/meshctl/sim/fakeiam"
)

const simProject, simNumber = "meshsim-project", "123456789012"

// certReads are what planning reads of Certificate Manager; the check
// is about what an apply changes and uses.
var certReads = []string{"certificatemanager.certmaps.get", "certificatemanager.certmapentries.list",
	"certificatemanager.certmapentries.get", "certificatemanager.certs.get"}

// The certificate map's permissions are worked out from its plan alone:
// a caller holding exactly those (and the reads) makes the map, each
// host's certificate and entry, then (a host dropped) deletes one entry
// and its certificate, then removes the rest with the Gateway, with no
// request refused by the simulator's permission model (sim/fakeiam, which
// follows Google's method map: an entry's create also needs the use of
// the certificate it names). Each set is within what `check --permissions
// --for expose-gateway-api` declares, and each permission is needed:
// without any one of them a request is refused.
func TestCertificatePlanPermissionsCoverTheApply(t *testing.T) {
	policy, err := fakeiam.NewPolicy(fakeiam.Config{}, fakeiam.Project{ID: simProject, Number: simNumber})
	if err != nil {
		t.Fatal(err)
	}
	k := fakecertmanager.DefaultKnobs()
	k.OperationDuration = fakecertmanager.Duration(10 * time.Millisecond)
	srv := fakecertmanager.New(simProject, simNumber, fakecertmanager.Options{Knobs: &k, IAM: policy})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	opts, err := gcp.Config{CertificateManagerEndpoint: hs.URL + fakecertmanager.Prefix}.CertificateManagerOptions()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := cm.NewService(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	c := &CertManagerREST{Service: svc, Project: simProject, Poll: 5 * time.Millisecond}
	n := NamesFor(simProject, "c1", "shop-gw", "web-gateway", "", lb.EdgeSpec{})
	declared := permissionsOf(preflight.Required(DeclaredChanges(simProject)))

	hold := func(perms []string) {
		t.Helper()
		allow := append(slices.Clone(perms), certReads...)
		if err := policy.SetConfig(fakeiam.Config{Principals: map[string]fakeiam.Grant{
			fakeiam.DefaultPrincipal: {Permissions: fakeiam.Permissions{Allow: allow}}}}); err != nil {
			t.Fatal(err)
		}
	}
	// apply runs the plan holding perms; it returns the refusals.
	apply := func(p *certs, teardown bool, perms []string) []string {
		t.Helper()
		hold(perms)
		before := len(srv.Requests().Requests)
		var err error
		if teardown {
			err = p.teardown(context.Background(), c, ui.Discard)
		} else {
			err = p.apply(context.Background(), c, ui.Discard)
		}
		var denied []string
		for _, r := range srv.Requests().Requests[before:] {
			if r.Denied != "" {
				denied = append(denied, r.Method+" needs "+r.Denied)
			}
		}
		if err != nil && len(denied) == 0 {
			t.Fatalf("apply: %v", err)
		}
		return denied
	}
	steps := []struct {
		name     string
		hosts    []string
		teardown bool
		want     plan.Action
	}{
		{"two hosts", []string{"shop.example.com", "www.example.com"}, false, plan.Create},
		{"one host dropped", []string{"shop.example.com"}, false, plan.Delete},
		{"the Gateway goes", nil, true, plan.Delete},
	}
	for _, st := range steps {
		if err := policy.SetConfig(fakeiam.Config{}); err != nil {
			t.Fatal(err)
		}
		var p *certs
		if st.teardown {
			p, err = planCertTeardown(context.Background(), c, n, "shop/web", true)
		} else {
			p, err = planCerts(context.Background(), c, n, "shop/web", st.hosts)
		}
		if err != nil {
			t.Fatalf("%s: plan: %v", st.name, err)
		}
		if plan.Counts(p.Changes)[st.want] == 0 {
			t.Fatalf("%s: the plan has no %s: %v", st.name, st.want, p.Changes)
		}
		perms := permissionsOf(preflight.Required(p.Changes))
		for _, perm := range perms {
			if !slices.Contains(declared, perm) {
				t.Errorf("%s: the plan needs %s, which DeclaredChanges (check --permissions) lacks", st.name, perm)
			}
		}
		// Each one is needed: the apply without it is refused (and
		// changes nothing, so the full set runs next on the same state).
		for _, drop := range perms {
			if drop == "certificatemanager.operations.get" {
				continue // an operation done at once is never read
			}
			if denied := apply(p, st.teardown, slices.DeleteFunc(slices.Clone(perms), func(s string) bool { return s == drop })); len(denied) == 0 {
				t.Errorf("%s: the apply needs no %s, which the plan asks for", st.name, drop)
			}
		}
		if denied := apply(p, st.teardown, perms); len(denied) > 0 {
			t.Fatalf("%s: the apply needed what its plan did not ask for: %v\nasked: %v", st.name, denied, perms)
		}
	}
}

func permissionsOf(ps []preflight.Permission) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Permission)
	}
	return out
}

// Every Kubernetes object the path renders, with IAP's Secret among them,
// is of a kind DeclaredChanges covers, and its change asks RBAC for its
// own group and resource.
func TestDeclaredChangesCoverTheObjects(t *testing.T) {
	spec := specFor("web", "", "shop.example.com")
	spec.IAP, spec.IAPClientID, spec.IAPClientSecret = true, "id", "secret"
	declared := map[string]bool{}
	for _, p := range preflight.Required(DeclaredChanges(simProject)) {
		if k := p.Kubernetes; k != nil {
			declared[k.Verb+" "+k.GroupResource()] = true
		}
	}
	objs := Render(spec)
	if len(objs) == 0 {
		t.Fatal("nothing rendered")
	}
	for _, o := range objs {
		for _, a := range []plan.Action{plan.Create, plan.Update, plan.Delete} {
			ch := o.kind.change(a, o.Obj.GetNamespace(), o.Obj.GetName())
			for _, p := range preflight.Required([]plan.Change{ch}) {
				if k := p.Kubernetes; k == nil || k.Resource != o.kind.Resource.Resource || !declared[k.Verb+" "+k.GroupResource()] {
					t.Errorf("%s %s: needs %s, which DeclaredChanges lacks", a, ch.Ref(), p.Name())
				}
			}
		}
	}
	if !slices.ContainsFunc(objs, func(o Object) bool { return o.kind == kSecret }) {
		t.Error("IAP's Secret was not rendered: the test covers less than it says")
	}
}
