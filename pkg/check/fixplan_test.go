package check

import (
	"context"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// hostIAM holds every permission but one in one project.
type hostIAM struct {
	lacking, in string
	asked       []string
}

func (h *hostIAM) TestIamPermissions(_ context.Context, project string, perms []string) ([]string, error) {
	h.asked = append(h.asked, project)
	var out []string
	for _, p := range perms {
		if !(project == h.in && p == h.lacking) {
			out = append(out, p)
		}
	}
	return out, nil
}

// On a Shared VPC the webhook rule goes into the host project, on its
// network: --fix's permissions are asked there, and one missing there
// stops the fix before anything is created, naming the host project. The
// service project's permissions do not count.
func TestFixChecksTheHostProjectsPermissions(t *testing.T) {
	cl := privateCluster()
	cl.NetworkConfig.Network = "projects/net-host/global/networks/shared"
	rules := []*computepb.Firewall{
		{Name: proto.String("gke-mesh-1-1a2b3c4d-master"), Network: networkLink("net-host", "shared"), SourceRanges: []string{testCIDR},
			TargetTags: []string{testNodeTag}, Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"443", "10250"}}}},
	}
	e := newEnv(t, cl, rules, newKube(true, healthyKube()...))
	iam := &hostIAM{lacking: "compute.networks.updatePolicy", in: "net-host"}
	opts := testOptions()
	opts.Fix, opts.Preflight = true, &preflight.Checker{IAM: iam}
	res, err := Run(context.Background(), e.clients, nil, opts)
	if err == nil || len(e.compute.inserted) != 0 || len(res.Fixes) != 0 {
		t.Fatalf("err %v, inserted %d, fixes %+v", err, len(e.compute.inserted), res.Fixes)
	}
	if !slices.Equal(iam.asked, []string{"net-host"}) {
		t.Errorf("asked projects %v, want the host's alone", iam.asked)
	}
	if msg := err.Error(); !strings.Contains(msg, "compute.networks.updatePolicy in project net-host, to create firewalls meshctl-webhook-mesh-1-") {
		t.Errorf("error %q", msg)
	}
	if hint := failure.HintOf(err); !strings.Contains(hint, "grant Compute Security Admin in project net-host") {
		t.Errorf("hint %q", hint)
	}
	if res.Permissions == nil || res.Permissions.Missing != 1 || checkByID(t, res, "MC0131").Status != StatusError {
		t.Errorf("report %+v", res.Permissions)
	}

	// Held, the fix runs, in the host project.
	e.compute.allowInsert()
	iam.lacking = ""
	if _, err := Run(context.Background(), e.clients, nil, opts); err != nil {
		t.Fatal(err)
	}
	if len(e.compute.inserted) != 1 || !strings.HasSuffix(e.compute.inserted[0].GetNetwork(), "projects/net-host/global/networks/shared") {
		t.Errorf("inserted %v", e.compute.inserted)
	}
}

// --fix --dry-run says what the fix would create, where, and which of the
// permissions it needs are missing, and changes nothing: the fake fails
// the test on any insert. A missing permission does not make the dry run
// fail; it shows in the report, as the real run's error would name it.
func TestFixDryRunChangesNothing(t *testing.T) {
	cl := privateCluster()
	cl.NetworkConfig.Network = "projects/net-host/global/networks/shared"
	rules := []*computepb.Firewall{
		{Name: proto.String("gke-mesh-1-1a2b3c4d-master"), Network: networkLink("net-host", "shared"), SourceRanges: []string{testCIDR},
			TargetTags: []string{testNodeTag}, Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"443", "10250"}}}},
	}
	e := newEnv(t, cl, rules, newKube(true, healthyKube()...))
	iam := &hostIAM{lacking: "compute.firewalls.create", in: "net-host"}
	opts := testOptions()
	opts.Fix, opts.DryRun, opts.Preflight = true, true, &preflight.Checker{IAM: iam}
	res, err := Run(context.Background(), e.clients, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.compute.calls.get("firewalls.insert " + webhookRuleName(testProject, testLocation, testCluster)); n != 0 || len(e.compute.inserted) != 0 {
		t.Fatalf("dry run inserted %d rules (%d calls)", len(e.compute.inserted), n)
	}
	rule := webhookRuleName(testProject, testLocation, testCluster)
	if !res.DryRun || len(res.Fixes) != 1 || res.Fixes[0].Error != "" ||
		res.Fixes[0].Action != "create firewall rule "+rule+" in project net-host: tcp:15017 from "+testCIDR+" to tag "+testNodeTag {
		t.Errorf("dry run %v, fixes %+v", res.DryRun, res.Fixes)
	}
	if len(res.Changes) != 1 || res.Changes[0].Resource != preflight.ComputeName("net-host", "global", "firewalls", rule) {
		t.Errorf("changes %+v", res.Changes)
	}
	// The check is still failed: nothing was fixed.
	if c := checkByID(t, res, "MC0131"); c.Status != StatusError || res.Ready {
		t.Errorf("MC0131 %s, ready %v", c.Status, res.Ready)
	}
	if res.Permissions == nil || res.Permissions.Missing != 1 || !slices.Equal(iam.asked, []string{"net-host"}) {
		t.Errorf("permissions %+v, asked %v", res.Permissions, iam.asked)
	}

	var b strings.Builder
	if err := res.RenderText(&b, ui.NewStyles(&b, false)); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{
		"Fixes --fix would make (dry run: nothing was changed)\n  → MC0131  create firewall rule " + rule + " in project net-host",
		"Permissions this plan needs (", "1 missing)", "compute.firewalls.create",
		"hint: meshctl check --fix makes the fixes above",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "creates what is missing") {
		t.Errorf("text offers --fix as if nothing were planned:\n%s", text)
	}
}
