package vm

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/api/googleapi"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube/kubefake"
	"github.com/meshctl/meshctl/internal/ui"
)

// fakeGoogle is the cluster c1 of project svc on the Shared VPC network
// net of project host, its rules, and the instances it knows.
type fakeGoogle struct {
	rules     map[string]*computepb.Firewall
	instances map[string]*computepb.Instance
	// clusters are the project's GKE clusters beside c1; networks the
	// VPC networks with their peerings.
	clusters []*containerpb.Cluster
	networks map[string]*computepb.Network
	// writes are "insert NAME", "update NAME", "delete NAME", each with
	// the project it went to.
	writes []string
}

func newFakeGoogle() *fakeGoogle {
	g := &fakeGoogle{rules: map[string]*computepb.Firewall{}, instances: map[string]*computepb.Instance{},
		networks: map[string]*computepb.Network{"host/net": {Name: proto.String("net")}}}
	for _, r := range []*computepb.Firewall{
		{Name: proto.String("gke-c1-1234abcd-all"), Network: proto.String("projects/host/global/networks/net"), TargetTags: []string{"gke-c1-1234abcd-node"}},
		// A user's rule, meshctl's name pattern but not its marker.
		{Name: proto.String("meshctl-vm-other"), Network: proto.String("projects/host/global/networks/net"), Description: proto.String("mine")},
	} {
		g.rules[r.GetName()] = r
	}
	g.instances["us-central1-a/db-1"] = &computepb.Instance{Name: proto.String("db-1"), Tags: &computepb.Tags{Items: []string{"mesh-vm", "db"}},
		NetworkInterfaces: []*computepb.NetworkInterface{{NetworkIP: proto.String("10.128.0.5"),
			Network: proto.String("https://www.googleapis.com/compute/v1/projects/host/global/networks/net")}}}
	g.instances["us-central1-a/elsewhere"] = &computepb.Instance{Name: proto.String("elsewhere"),
		NetworkInterfaces: []*computepb.NetworkInterface{{NetworkIP: proto.String("10.9.0.5"),
			Network: proto.String("https://www.googleapis.com/compute/v1/projects/svc/global/networks/default")}}}
	return g
}

func (g *fakeGoogle) cloud() Cloud {
	return Cloud{GKE: g, Firewalls: g, Instances: g, Networks: g, Project: "svc", Location: "us-central1", Cluster: "c1"}
}

func (g *fakeGoogle) GetCluster(_ context.Context, name string) (*containerpb.Cluster, error) {
	if name != "projects/svc/locations/us-central1/clusters/c1" {
		return nil, &googleapi.Error{Code: http.StatusNotFound}
	}
	return &containerpb.Cluster{NetworkConfig: &containerpb.NetworkConfig{Network: "projects/host/global/networks/net"},
		IpAllocationPolicy: &containerpb.IPAllocationPolicy{ClusterIpv4CidrBlock: "10.4.0.0/14"}}, nil
}

func (g *fakeGoogle) ListClusters(_ context.Context, parent string) ([]*containerpb.Cluster, error) {
	if parent != "projects/svc/locations/-" {
		return nil, &googleapi.Error{Code: http.StatusNotFound}
	}
	return g.clusters, nil
}

func (g *fakeGoogle) GetNetwork(_ context.Context, project, name string) (*computepb.Network, error) {
	if n, ok := g.networks[project+"/"+name]; ok {
		return n, nil
	}
	return nil, &googleapi.Error{Code: http.StatusNotFound}
}

func (g *fakeGoogle) GetInstance(_ context.Context, project, zone, name string) (*computepb.Instance, error) {
	if i, ok := g.instances[zone+"/"+name]; ok && project == "svc" {
		return i, nil
	}
	return nil, &googleapi.Error{Code: http.StatusNotFound, Message: "not found"}
}

func (g *fakeGoogle) ListFirewalls(_ context.Context, project string) ([]*computepb.Firewall, error) {
	if project != "host" {
		return nil, nil
	}
	var out []*computepb.Firewall
	for _, r := range g.rules {
		out = append(out, proto.Clone(r).(*computepb.Firewall))
	}
	return out, nil
}

func (g *fakeGoogle) InsertFirewall(_ context.Context, project string, r *computepb.Firewall) error {
	g.writes = append(g.writes, "insert "+project+"/"+r.GetName())
	if _, ok := g.rules[r.GetName()]; ok {
		return &googleapi.Error{Code: http.StatusConflict}
	}
	g.rules[r.GetName()] = proto.Clone(r).(*computepb.Firewall)
	return nil
}

func (g *fakeGoogle) UpdateFirewall(_ context.Context, project string, r *computepb.Firewall) error {
	g.writes = append(g.writes, "update "+project+"/"+r.GetName())
	g.rules[r.GetName()] = proto.Clone(r).(*computepb.Firewall)
	return nil
}

func (g *fakeGoogle) DeleteFirewall(_ context.Context, project, name string) error {
	g.writes = append(g.writes, "delete "+project+"/"+name)
	delete(g.rules, name)
	return nil
}

func TestAddWithInstanceMakesTheRulesAndRemoveDeletesThem(t *testing.T) {
	kc, objs, g := meshCluster(), kubefake.New(), newFakeGoogle()
	c := Clients{Kube: kc, Objects: objs, Cloud: func(context.Context) (Cloud, error) { return g.cloud(), nil }}
	dir := filepath.Join(t.TempDir(), "b")
	opts := AddOptions{Name: "db", Namespace: "db", Ports: []Port{{"mysql", 3306}, {"http", 8080}}, Bundle: dir, Instance: "db-1", Zone: "us-central1-a"}
	res, err := Add(context.Background(), c, ui.Discard, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	istiod, ports := ruleName("projects/svc/locations/us-central1/clusters/c1", "db", "db", "istiod"), ruleName("projects/svc/locations/us-central1/clusters/c1", "db", "db", "ports")
	if want := []string{"insert host/" + istiod, "insert host/" + ports}; !slices.Equal(g.writes, want) {
		t.Fatalf("writes %v, want %v", g.writes, want)
	}
	in, out := g.rules[istiod], g.rules[ports]
	if !slices.Equal(in.GetSourceRanges(), []string{"10.128.0.5/32"}) || !slices.Equal(in.GetDestinationRanges(), []string{"10.0.0.9/32"}) ||
		!slices.Equal(in.GetTargetTags(), []string{"gke-c1-1234abcd-node"}) || !slices.Equal(in.GetAllowed()[0].GetPorts(), []string{"15012"}) ||
		in.GetNetwork() != "projects/host/global/networks/net" {
		t.Errorf("rule to istiod: %v", in)
	}
	if !slices.Equal(out.GetSourceRanges(), []string{"10.4.0.0/14"}) || !slices.Equal(out.GetDestinationRanges(), []string{"10.128.0.5/32"}) ||
		!slices.Equal(out.GetTargetTags(), []string{"db", "mesh-vm"}) || !slices.Equal(out.GetAllowed()[0].GetPorts(), []string{"3306", "8080"}) {
		t.Errorf("rule to the VM: %v", out)
	}
	if env, _ := os.ReadFile(filepath.Join(dir, FileClusterEnv)); !strings.Contains(string(env), "ISTIO_SVC_IP='10.128.0.5'\n") {
		t.Errorf("cluster.env lacks the instance's address:\n%s", env)
	}
	for _, ch := range res.Changes {
		if ch.Kind == "firewalls" && (ch.Resource != "//compute.googleapis.com/projects/host/global/firewalls/"+ch.Name || ch.Handover == "") {
			t.Errorf("firewall change not located in the host project or without a handover: %+v", ch)
		}
	}

	// A re-run plans only keep and writes no rule.
	g.writes = nil
	res, err = Add(context.Background(), c, ui.Discard, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range res.Changes {
		if ch.Kind == "firewalls" && ch.Action != "keep" {
			t.Errorf("re-run plans %+v", ch)
		}
	}
	if len(g.writes) != 0 {
		t.Errorf("re-run wrote %v", g.writes)
	}

	// remove deletes exactly meshctl's two rules, not the user's.
	if _, err := Remove(context.Background(), c, ui.Discard, nil, RemoveOptions{Name: "db", Namespace: "db"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"delete host/" + istiod, "delete host/" + ports}; !slices.Equal(slices.Sorted(slices.Values(g.writes)), slices.Sorted(slices.Values(want))) {
		t.Errorf("remove wrote %v, want %v", g.writes, want)
	}
	if g.rules["meshctl-vm-other"] == nil || g.rules["gke-c1-1234abcd-all"] == nil {
		t.Errorf("remove deleted a rule meshctl did not make")
	}
}

func TestAddWithVMRange(t *testing.T) {
	kc, objs, g := meshCluster(), kubefake.New(), newFakeGoogle()
	c := Clients{Kube: kc, Objects: objs, Cloud: func(context.Context) (Cloud, error) { return g.cloud(), nil }}
	res, err := Add(context.Background(), c, ui.Discard, nil, AddOptions{Name: "db", Namespace: "db", Ports: []Port{{"mysql", 3306}},
		Bundle: filepath.Join(t.TempDir(), "b"), VMRange: "10.20.0.0/24", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, ch := range res.Changes {
		if ch.Kind == "firewalls" {
			notes = append(notes, string(ch.Action)+": "+ch.Note)
		}
	}
	if len(notes) != 2 || !strings.Contains(notes[0], "from 10.20.0.0/24") || !strings.Contains(notes[1], "to 10.20.0.0/24") || len(g.writes) > 0 {
		t.Errorf("--vm-range dry run: %v, writes %v", notes, g.writes)
	}
}

func TestAddRefusesBadVMs(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts AddOptions
		want string
	}{
		{"missing instance", AddOptions{Instance: "gone", Zone: "us-central1-a"}, "no instance gone in zone us-central1-a"},
		{"missing zone", AddOptions{Instance: "db-1"}, "--instance and --zone go together"},
		{"instance on another network", AddOptions{Instance: "elsewhere", Zone: "us-central1-a"}, "is on VPC network svc/default"},
		{"instance and range", AddOptions{Instance: "db-1", Zone: "us-central1-a", VMRange: "10.0.0.0/8"}, "not both"},
		{"bad range", AddOptions{VMRange: "0.0.0.0/0"}, "--vm-range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc, objs, g := meshCluster(), kubefake.New(), newFakeGoogle()
			c := Clients{Kube: kc, Objects: objs, Cloud: func(context.Context) (Cloud, error) { return g.cloud(), nil }}
			o := tc.opts
			o.Name, o.Namespace, o.Ports, o.Bundle = "db", "db", []Port{{"mysql", 3306}}, filepath.Join(t.TempDir(), "b")
			_, err := Add(context.Background(), c, ui.Discard, nil, o)
			if err == nil || !strings.Contains(err.Error()+failure.HintOf(err), tc.want) {
				t.Fatalf("err %v, want it to say %q", err, tc.want)
			}
			if len(objs.Writes()) > 0 || len(g.writes) > 0 {
				t.Errorf("wrote %v %v", objs.Writes(), g.writes)
			}
			if _, err := os.Stat(o.Bundle); err == nil {
				t.Errorf("wrote the bundle")
			}
		})
	}
}

func TestRuleNameFits(t *testing.T) {
	n := ruleName("projects/p/locations/l/clusters/c", "ns", strings.Repeat("a.b-", 30), "istiod")
	if len(n) > 63 || strings.Contains(n, ".") || !strings.HasSuffix(n, "-istiod") {
		t.Errorf("ruleName %q (%d)", n, len(n))
	}
}
