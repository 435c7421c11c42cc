package check

import (
	"context"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/internal/failure"
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
