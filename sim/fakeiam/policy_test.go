package fakeiam_test

import (
	"strings"
	"testing"

	"github.com/meshctl/meshctl/sim/fakeiam"
)

func newPolicy(t *testing.T, cfg fakeiam.Config) *fakeiam.Policy {
	t.Helper()
	p, err := fakeiam.NewPolicy(cfg, fakeiam.Project{ID: project, Number: number})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPolicyHolds(t *testing.T) {
	const ci = "serviceAccount:ci@meshsim-project.iam.gserviceaccount.com"
	p := newPolicy(t, fakeiam.Config{
		Projects: []fakeiam.Project{{ID: host, Number: "222222222222"}},
		Principals: map[string]fakeiam.Grant{
			fakeiam.DefaultPrincipal: {
				Permissions: fakeiam.Permissions{Deny: []string{"compute.securityPolicies.create", "compute.firewalls.*"}},
				Projects:    map[string]fakeiam.Permissions{host: {Deny: []string{"compute.subnetworks.use"}}},
			},
			ci:                        {Permissions: fakeiam.Permissions{Allow: []string{"compute.healthChecks.*", "container.clusters.get"}}},
			"user:nobody@example.com": {Permissions: fakeiam.Permissions{Allow: []string{}}},
		},
	})
	cases := []struct {
		principal, project, perm string
		want                     bool
	}{
		{fakeiam.DefaultPrincipal, project, "compute.backendServices.create", true},
		{fakeiam.DefaultPrincipal, project, "compute.securityPolicies.create", false},
		{fakeiam.DefaultPrincipal, project, "compute.firewalls.create", false},
		{fakeiam.DefaultPrincipal, project, "compute.subnetworks.use", true},
		// The Shared VPC host denies what the service project allows, by id or number.
		{fakeiam.DefaultPrincipal, host, "compute.subnetworks.use", false},
		{fakeiam.DefaultPrincipal, "222222222222", "compute.subnetworks.use", false},
		{fakeiam.DefaultPrincipal, host, "compute.networks.use", true},
		// In no role: nobody holds them.
		{fakeiam.DefaultPrincipal, project, "compute.sslCertificates.use", false},
		{fakeiam.DefaultPrincipal, project, "compute.globalForwardingRules.use", false},
		{ci, project, "compute.healthChecks.create", true},
		{ci, project, "container.clusters.get", true},
		{ci, project, "container.clusters.update", false},
		{"user:nobody@example.com", project, "compute.healthChecks.get", false},
		// Google's own agents hold everything and ignore the default caller's limits.
		{fakeiam.GKEServiceAgent(number), project, "compute.firewalls.create", true},
		{fakeiam.GKEServiceAgent("222222222222"), host, "compute.subnetworks.use", true},
		{"user:stranger@example.com", project, "compute.zones.list", false},
	}
	for _, c := range cases {
		if got := p.Holds(c.principal, c.project, c.perm); got != c.want {
			t.Errorf("%s holds %s in %s: %v, want %v", c.principal, c.perm, c.project, got, c.want)
		}
	}
	if p.Knows("user:stranger@example.com") || !p.Knows(fakeiam.MeshServiceAgent(number)) || !p.Knows(ci) {
		t.Error("Knows: a stranger is known or a service agent or a configured principal is not")
	}
}

func TestPolicyDenyAndGrantBack(t *testing.T) {
	p := newPolicy(t, fakeiam.Config{Projects: []fakeiam.Project{{ID: host, Number: "222222222222"}}})
	const perm = "compute.healthChecks.create"
	if err := p.Deny(fakeiam.Change{Permissions: []string{perm}}); err != nil {
		t.Fatal(err)
	}
	if p.Holds(fakeiam.DefaultPrincipal, project, perm) {
		t.Fatal("denied, still held")
	}
	if err := p.Grant(fakeiam.Change{Permissions: []string{perm}}); err != nil {
		t.Fatal(err)
	}
	if !p.Holds(fakeiam.DefaultPrincipal, project, perm) {
		t.Fatal("granted back, not held")
	}

	// In one project only, named by number.
	if err := p.Deny(fakeiam.Change{Project: "222222222222", Permissions: []string{"compute.subnetworks.use"}}); err != nil {
		t.Fatal(err)
	}
	if p.Holds(fakeiam.DefaultPrincipal, host, "compute.subnetworks.use") || !p.Holds(fakeiam.DefaultPrincipal, project, "compute.subnetworks.use") {
		t.Fatal("a host-project denial must hold in the host and only there")
	}
	if got := p.Config().Principals[fakeiam.DefaultPrincipal].Projects[host].Deny; len(got) != 1 {
		t.Fatalf("the denial is kept under the project id: %v", p.Config())
	}
	if err := p.Grant(fakeiam.Change{Project: host, Permissions: []string{"compute.subnetworks.use"}}); err != nil {
		t.Fatal(err)
	}
	if !p.Holds(fakeiam.DefaultPrincipal, host, "compute.subnetworks.use") {
		t.Fatal("granted back in the host, not held")
	}

	// An allow list gains what is granted.
	const ci = "serviceAccount:ci@p.iam.gserviceaccount.com"
	if err := p.SetConfig(fakeiam.Config{Principals: map[string]fakeiam.Grant{ci: {Permissions: fakeiam.Permissions{Allow: []string{}}}}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Grant(fakeiam.Change{Principal: ci, Permissions: []string{"container.clusters.get"}}); err != nil {
		t.Fatal(err)
	}
	if !p.Holds(ci, project, "container.clusters.get") || p.Holds(ci, project, "container.clusters.list") {
		t.Fatal("granting to an allow list must add exactly that permission")
	}

	// A pattern keeps denying: say so rather than pretend.
	if err := p.Deny(fakeiam.Change{Permissions: []string{"compute.firewalls.*"}}); err != nil {
		t.Fatal(err)
	}
	err := p.Grant(fakeiam.Change{Permissions: []string{"compute.firewalls.create"}})
	if err == nil || !strings.Contains(err.Error(), "still denied") {
		t.Fatalf("granting what a pattern denies: %v", err)
	}
}

func TestConfigRefusesUnknownPermissions(t *testing.T) {
	for _, tc := range []struct{ perm, want string }{
		{"compute.firewall.create", "does not exist (did you mean compute.firewalls.create?)"},
		{"compute.healthChecks.make", "does not exist"},
		{"compute.sslCertificates.use", "in no role"},
		{"resourcemanager.projects.create", "cannot be tested on a project"},
		{"compute.*.create", "whole trailing parts"},
		{"computer.*", ""}, // a service meshsim does not list is taken on trust
		{"compute.nothing.*", "matches no permission"},
		{"notapermission", "service.resource.verb"},
	} {
		_, err := fakeiam.NewPolicy(fakeiam.Config{Principals: map[string]fakeiam.Grant{
			fakeiam.DefaultPrincipal: {Permissions: fakeiam.Permissions{Deny: []string{tc.perm}}}}})
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("deny %s: %v, want %q", tc.perm, err, tc.want)
		}
	}
}
