package lb

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/fakeiam"
)

// readPermissions are the reads an apply makes besides those the plan
// itself made (results, read-modify-write, a shared load balancer's
// certificate): get and list of every kind. The check is about what an
// apply changes and uses; reading is what planning already proved.
func readPermissions() []string {
	var out []string
	for _, k := range []Kind{KindAddress, KindHealthCheck, KindSSLPolicy, KindCertificate, KindSecurityPolicy, KindFirewall,
		KindBackendService, KindURLMap, KindHTTPSProxy, KindHTTPProxy, KindForwardingRule} {
		out = append(out, k.permission()+".get", k.permission()+".list")
	}
	return append(out, "compute.networkEndpointGroups.get", "compute.projects.get", "container.clusters.get")
}

// holdOnly lets the caller hold exactly perms (and the reads), in every
// project.
func holdOnly(t *testing.T, policy *fakeiam.Policy, perms []string) {
	t.Helper()
	allow := append(slices.Clone(perms), readPermissions()...)
	if err := policy.SetConfig(fakeiam.Config{Principals: map[string]fakeiam.Grant{
		fakeiam.DefaultPrincipal: {Permissions: fakeiam.Permissions{Allow: allow}}}}); err != nil {
		t.Fatal(err)
	}
}

func holdAll(t *testing.T, policy *fakeiam.Policy) {
	t.Helper()
	if err := policy.SetConfig(fakeiam.Config{}); err != nil {
		t.Fatal(err)
	}
}

// The permissions an apply needs are worked out from its plan alone: an
// apply by a caller who holds exactly those (and reads) succeeds with no
// request refused, for every kind of change the load balancer makes:
// creates (with Cloud Armor attached), updates through update, patch and
// the set* methods (a new certificate swapped in, a changed SSL policy and
// Cloud Armor rules), a second service joining a shared load balancer, and
// the teardown's updates and deletes. The simulator's permission model
// (sim/fakeiam, which follows Google's method map, not meshctl's) is the
// judge; and each set must be needed: the plan's set minus any one
// permission it asks for that the model checks is refused.
func TestPlanPermissionsCoverTheApply(t *testing.T) {
	policy, err := fakeiam.NewPolicy(fakeiam.Config{}, fakeiam.Project{ID: "meshsim-project", Number: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	e := newSimEnvWith(t, func(k *fakegcp.Knobs) { k.CertProvisioningDelay = fakegcp.Duration(time.Hour) }, policy)
	web := e.negFor(t, "shop", "web", "shop.example.com")
	blog := e.negFor(t, "blog", "app", "blog.example.com")

	dedicated := e.spec
	dedicated.Services = []Service{web}
	dedicated.Armor = Armor{Specified: true, WAF: []string{"xss"}, DenyCIDRs: []string{"198.51.100.0/24"}}
	changed := dedicated
	changed.Services = []Service{{Namespace: web.Namespace, Name: web.Name, NEG: web.NEG, Hosts: []string{"shop.example.com", "www.example.com"}}}
	changed.SSLProfile, changed.Armor.DenyCIDRs = "MODERN", []string{"203.0.113.0/24"}
	sharedA, sharedB := e.spec, e.spec
	sharedA.LB, sharedB.LB = "edge", "edge"
	sharedA.Services, sharedB.Services = []Service{web}, []Service{blog}

	steps := []struct {
		name     string
		spec     Spec
		teardown bool
		want     []plan.Action // actions the plan must hold, so each kind of change is exercised
	}{
		{"expose with Cloud Armor", dedicated, false, []plan.Action{plan.Create}},
		{"update hosts, SSL profile and rules", changed, false, []plan.Action{plan.Update, plan.Create, plan.Delete}},
		{"tear down", changed, true, []plan.Action{plan.Delete}},
		{"first service on a shared load balancer", sharedA, false, []plan.Action{plan.Create}},
		{"second service joins it", sharedB, false, []plan.Action{plan.Update, plan.Create}},
		{"one service leaves it", sharedA, true, []plan.Action{plan.Update, plan.Delete}},
	}
	var declared []string
	for _, need := range preflight.Required(DeclaredChanges(e.spec.Project, e.spec.Project)) {
		declared = append(declared, need.Permission)
	}
	for _, st := range steps {
		holdAll(t, policy)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		p, err := planFor(ctx, e.cl, st.spec, st.teardown)
		if err != nil {
			cancel()
			t.Fatalf("%s: plan: %v", st.name, err)
		}
		for _, a := range st.want {
			if plan.Counts(p.Changes)[a] == 0 {
				t.Errorf("%s: the plan has no %s: %v", st.name, a, p.Changes)
			}
		}
		var perms []string
		for _, need := range preflight.Required(p.Changes) {
			perms = append(perms, need.Permission)
		}
		for _, p := range perms {
			if !slices.Contains(declared, p) {
				t.Errorf("%s: the plan needs %s, which DeclaredChanges (check --permissions) lacks", st.name, p)
			}
		}
		holdOnly(t, policy, perms)
		e.srv.ResetRequests()
		_, err = e.cl.Apply(ctx, p)
		cancel()
		if denied := refusals(e); err != nil || len(denied) > 0 {
			t.Fatalf("%s: the apply needed what its plan did not ask for: %v\nrefused: %v\nasked: %v", st.name, err, denied, perms)
		}
	}
}

// refusals are the requests the simulator's permission model refused
// since the last reset. The result's health report reads with getHealth,
// which only warns when refused: reads are what the check leaves out.
func refusals(e *simEnv) []string {
	var out []string
	for _, r := range e.srv.Requests().Requests {
		if r.Denied != "" && r.Method != "compute.backendServices.getHealth" {
			out = append(out, r.Method+" needs "+r.Denied)
		}
	}
	return out
}

func planFor(ctx context.Context, cl *Client, spec Spec, teardown bool) (*Plan, error) {
	if teardown {
		return cl.PlanTeardown(ctx, spec)
	}
	return cl.Plan(ctx, spec)
}

// What an expose with Cloud Armor needs, as B2 of the IAM notes lists it:
// the uses of what its objects name (health checks read-only, certificates
// with get), the attach, the firewall rule's network policy, the
// operations; never the two permissions no role grants.
func TestPlanPermissionsOfAnExpose(t *testing.T) {
	e := newSimEnv(t, nil)
	spec := e.spec
	spec.Services = []Service{e.negFor(t, "shop", "web", "shop.example.com")}
	spec.Armor = Armor{Specified: true, WAF: []string{"xss"}}
	p, err := e.cl.Plan(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	var perms []string
	for _, need := range preflight.Required(p.Changes) {
		if need.Project != spec.Project {
			t.Errorf("%s asked in project %q", need.Permission, need.Project)
		}
		perms = append(perms, need.Permission)
	}
	for _, want := range []string{"compute.globalAddresses.create", "compute.globalAddresses.use", "compute.healthChecks.useReadOnly",
		"compute.backendServices.setSecurityPolicy", "compute.securityPolicies.create", "compute.securityPolicies.use",
		"compute.networkEndpointGroups.use", "compute.firewalls.create", "compute.networks.updatePolicy", "compute.sslCertificates.get",
		"compute.targetHttpsProxies.use", "compute.urlMaps.use", "compute.globalOperations.get"} {
		if !slices.Contains(perms, want) {
			t.Errorf("the plan's permissions lack %s: %v", want, perms)
		}
	}
	for _, never := range []string{"compute.sslCertificates.use", "compute.globalForwardingRules.use"} {
		if slices.Contains(perms, never) {
			t.Errorf("asks for %s, which no role grants", never)
		}
	}
	roles, ungranted := preflight.SmallestRoles(perms)
	if got := preflight.RoleTitles(roles); got != "Compute Load Balancer Admin + Compute Security Admin" || len(ungranted) > 0 {
		t.Errorf("roles for the whole expose: %q, ungranted %v", got, ungranted)
	}
}

// A GKE Gateway's edge (its address, SSL and Cloud Armor policies) is
// checked the same way: the apply and the teardown by a caller holding
// exactly what their plans ask for (and reads) are refused nothing, and
// DeclaredEdgeChanges (check --permissions --for expose-gateway-api)
// holds all of it.
func TestEdgePlanPermissionsCoverTheApply(t *testing.T) {
	policy, err := fakeiam.NewPolicy(fakeiam.Config{}, fakeiam.Project{ID: "meshsim-project", Number: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	e := newSimEnvWith(t, nil, policy)
	spec := EdgeSpec{Project: e.spec.Project, Key: "c1/shop/web-edge", Armor: Armor{Specified: true, WAF: []string{"xss"}}}
	declared := map[string]bool{}
	for _, need := range preflight.Required(DeclaredEdgeChanges(spec.Project)) {
		declared[need.Permission] = true
	}
	for _, teardown := range []bool{false, true} {
		holdAll(t, policy)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		p, err := e.cl.PlanEdge(ctx, spec)
		if teardown {
			p, err = e.cl.PlanEdgeTeardown(ctx, spec)
		}
		if err != nil {
			cancel()
			t.Fatalf("teardown %v: plan: %v", teardown, err)
		}
		if n := plan.Counts(p.Changes); n[plan.Create]+n[plan.Delete] != 3 {
			t.Errorf("teardown %v: want the address and both policies made or deleted: %v", teardown, p.Changes)
		}
		var perms []string
		for _, need := range preflight.Required(p.Changes) {
			perms = append(perms, need.Permission)
			if !declared[need.Permission] {
				t.Errorf("teardown %v: the plan needs %s, which DeclaredEdgeChanges lacks", teardown, need.Permission)
			}
		}
		holdOnly(t, policy, perms)
		e.srv.ResetRequests()
		_, err = e.cl.Apply(ctx, p)
		cancel()
		if denied := refusals(e); err != nil || len(denied) > 0 {
			t.Fatalf("teardown %v: the apply needed what its plan did not ask for: %v\nrefused: %v\nasked: %v", teardown, err, denied, perms)
		}
	}
}
