package lb

import (
	"context"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// sharedVPCClient is a client for a cluster of project proj whose network
// is the host project's shared-vpc: proj's Compute holds the load
// balancer, host's the firewall rules of its network.
func sharedVPCClient(t *testing.T) (cl *Client, svc, host *fakeCompute) {
	svc, host = newFake(t), newFake(t)
	host.project = "host"
	cl, _ = newTestClient(svc)
	cl.gke = fakeGKE{network: "projects/host/global/networks/shared-vpc"}
	cl.Other = func(_ context.Context, project string) (Compute, error) {
		if project != "host" {
			t.Errorf("a Compute client for project %s, want host's alone", project)
		}
		return host, nil
	}
	return cl, svc, host
}

func changeOf(t *testing.T, p *Plan, kind Kind, name string) plan.Change {
	t.Helper()
	for _, c := range p.Changes {
		if c.Kind == string(kind) && c.Name == name {
			return c
		}
	}
	t.Fatalf("no change of %s/%s in the plan", kind, name)
	return plan.Change{}
}

// When the cluster's network lives in a host project, the rule for
// Google's health checkers goes there, on that network: planned (and its
// permissions asked) in the host project, with the command a network
// administrator can run; created in host's Compute and nowhere in the
// service project's; read back from there, so a re-run keeps it; and
// torn down from there.
func TestSharedVPCFirewallGoesToTheHostProject(t *testing.T) {
	cl, svc, host := sharedVPCClient(t)
	spec := testSpec()
	p := mustPlan(t, cl, spec)
	rule := lbNames(p.spec).firewall(p.spec.Services[0])
	c := changeOf(t, p, KindFirewall, rule)
	if c.Action != plan.Create || c.Resource != preflight.ComputeName("host", "global", "firewalls", rule) ||
		!slices.Contains(c.Uses, preflight.ComputeName("host", "global", "networks", "shared-vpc")) {
		t.Errorf("firewall change %+v", c)
	}
	if !strings.HasPrefix(c.Handover, "gcloud compute firewall-rules create "+rule+" --project host --network ") ||
		!strings.Contains(c.Handover, "projects/host/global/networks/shared-vpc") {
		t.Errorf("handover %q", c.Handover)
	}
	// The load balancer itself stays in the service project.
	if bs := changeOf(t, p, KindBackendService, lbNames(p.spec).backendService(p.spec.Services[0])); !strings.Contains(bs.Resource, "/projects/proj/") {
		t.Errorf("backend service %s", bs.Resource)
	}

	if _, err := cl.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if got := host.names(KindFirewall); !slices.Equal(got, []string{rule}) {
		t.Errorf("host's firewalls %v, want [%s]", got, rule)
	}
	if got := svc.names(KindFirewall); len(got) != 0 {
		t.Errorf("the service project got firewalls %v", got)
	}
	fw := host.object(KindFirewall, rule).(*computepb.Firewall)
	if relLink(fw.GetNetwork()) != "projects/host/global/networks/shared-vpc" || !slices.Equal(fw.GetTargetTags(), []string{"gke-c1-1234-node"}) {
		t.Errorf("rule on %s for %v", fw.GetNetwork(), fw.GetTargetTags())
	}
	if slices.ContainsFunc(host.mutations(), func(c call) bool { return c.name != rule }) {
		t.Errorf("host project changes beyond the rule: %v", host.mutations())
	}

	// A re-run reads the rule where it is and keeps it.
	host.resetCalls()
	if a := actions(mustPlan(t, cl, spec))["firewalls/"+rule]; a != plan.Keep {
		t.Errorf("re-run plans the rule %s, want keep", a)
	}

	tp, err := cl.PlanTeardown(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Apply(context.Background(), tp); err != nil {
		t.Fatal(err)
	}
	if got := host.names(KindFirewall); len(got) != 0 {
		t.Errorf("host's firewalls after teardown %v", got)
	}
}

// A command without a Compute client for other projects refuses the plan,
// naming the host project, before anything is made.
func TestSharedVPCWithoutAHostClientIsRefused(t *testing.T) {
	cl, svc, _ := sharedVPCClient(t)
	cl.Other = nil
	svc.readOnly = true
	_, err := cl.Plan(context.Background(), testSpec())
	if err == nil || !strings.Contains(err.Error(), "the cluster's network is in project host (a Shared VPC)") {
		t.Errorf("err %v", err)
	}
}
