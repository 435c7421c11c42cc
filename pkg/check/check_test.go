package check

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/api/googleapi"
	"google.golang.org/protobuf/proto"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
)

func checkByID(t *testing.T, res *Result, id string) CheckResult {
	t.Helper()
	for _, c := range res.Checks {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no check %s in result", id)
	return CheckResult{}
}

func findingsOf(res *Result, code string) []findings.Finding {
	var out []findings.Finding
	for _, f := range res.Findings {
		if f.Code == code {
			out = append(out, f)
		}
	}
	return out
}

// wantStatus asserts each check's status.
func wantStatus(t *testing.T, res *Result, want map[string]Status) {
	t.Helper()
	for id, st := range want {
		if c := checkByID(t, res, id); c.Status != st {
			t.Errorf("%s (%s): status %s, want %s; message %q", id, c.Title, c.Status, st, c.Message)
		}
	}
}

func TestHealthyPublicClusterIsReady(t *testing.T) {
	e := newEnv(t, healthyCluster(), gkeRules(false), newKube(true, healthyKube()...))
	res := e.run(t, testOptions())
	if !res.Ready || len(res.Findings) != 0 {
		t.Fatalf("ready %v, findings %v", res.Ready, res.Findings)
	}
	if len(res.Checks) != len(Checks) {
		t.Errorf("%d check results, want %d", len(res.Checks), len(Checks))
	}
	for _, c := range res.Checks {
		if c.Status != StatusOK && c.Status != StatusInfo && c.Status != StatusSkipped {
			t.Errorf("%s %s: %s %q", c.ID, c.Title, c.Status, c.Message)
		}
		if c.Message == "" {
			t.Errorf("%s has no one-line result", c.ID)
		}
	}
	wantStatus(t, res, map[string]Status{
		"MC0110": StatusOK, "MC0113": StatusInfo, "MC0121": StatusOK, "MC0122": StatusOK,
		"MC0130": StatusInfo, "MC0131": StatusSkipped, "MC0150": StatusInfo, "MC0151": StatusOK,
	})
	if res.MeshRelease != "1.31" || res.SupportedGKE != "GKE 1.33 to 1.36" {
		t.Errorf("release %s %s, want the newest in the table", res.MeshRelease, res.SupportedGKE)
	}
	// Each object is read once: the cluster (with its pools), the project,
	// and e2-standard-4 once for both pools and all zones. A public cluster
	// needs no firewall list.
	for _, c := range []*calls{&e.gke.calls, &e.compute.calls} {
		if r := c.repeated(); len(r) > 0 {
			t.Errorf("repeated fetches: %v", r)
		}
	}
	if n := e.compute.calls.get("machineTypes.get e2-standard-4"); n != 1 {
		t.Errorf("e2-standard-4 read %d times, want 1", n)
	}
	if n := e.compute.calls.get("firewalls.list " + testProject); n != 0 {
		t.Errorf("firewalls listed %d times for a public cluster", n)
	}
	if got := checkByID(t, res, "MC0122").Message; !strings.Contains(got, "pool-2") || !strings.Contains(got, "36 vCPUs") {
		t.Errorf("capacity message %q: want the autoscaled pool-2 with 9 × 4 = 36 vCPUs", got)
	}
}

func TestVersions(t *testing.T) {
	tests := []struct {
		name        string
		mesh        string
		master      string
		pools       []string // per pool version
		want        map[string]Status
		wantHint    map[string][]string
		wantMessage map[string]string
	}{
		{
			name: "supported", master: "1.34.4-gke.1000", pools: []string{"1.34.4-gke.1000", "1.34.3-gke.900"},
			want:        map[string]Status{"MC0110": StatusOK, "MC0111": StatusOK, "MC0112": StatusOK},
			wantMessage: map[string]string{"MC0112": "1 pool on another patch release"},
		},
		{
			name: "control plane too old", master: "1.28.3-gke.100", pools: []string{"1.28.3-gke.100", "1.28.3-gke.100"},
			want: map[string]Status{"MC0110": StatusError, "MC0111": StatusError, "MC0112": StatusOK},
			wantHint: map[string][]string{"MC0110": {
				"gcloud container clusters upgrade mesh-1 --master --cluster-version 1.29 --location us-central1 --project shop-prod",
				"one minor version at a time, up to 1.33", "--mesh-version 1.21"}},
			wantMessage: map[string]string{"MC0110": "GKE 1.28.3-gke.100 is older than CSM 1.31 supports (GKE 1.33 to 1.36)"},
		},
		{
			name: "older release chosen", mesh: "1.21.5-asm.7", master: "1.28.3-gke.100", pools: []string{"1.28.3-gke.100", "1.27.9-gke.1"},
			want: map[string]Status{"MC0110": StatusOK, "MC0111": StatusOK, "MC0112": StatusWarning},
			wantHint: map[string][]string{"MC0112": {
				"gcloud container clusters upgrade mesh-1 --node-pool pool-2 --cluster-version 1.28.3-gke.100 --location us-central1 --project shop-prod"}},
		},
		{
			name: "control plane newer than every release", master: "1.37.1-gke.1", pools: []string{"1.37.1-gke.1", "1.37.1-gke.1"},
			want:     map[string]Status{"MC0110": StatusError},
			wantHint: map[string][]string{"MC0110": {"no release in meshctl's table supports GKE 1.37 yet"}},
		},
		{
			name: "node pool below the window", master: "1.33.2-gke.1", pools: []string{"1.33.2-gke.1", "1.32.9-gke.5"},
			want: map[string]Status{"MC0110": StatusOK, "MC0111": StatusError, "MC0112": StatusWarning},
			wantHint: map[string][]string{"MC0111": {
				"gcloud container clusters upgrade mesh-1 --node-pool pool-2 --cluster-version 1.33.2-gke.1 --location us-central1 --project shop-prod"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cl := healthyCluster()
			cl.CurrentMasterVersion = tc.master
			for i, v := range tc.pools {
				cl.NodePools[i].Version = v
			}
			opts := testOptions()
			opts.MeshVersion = tc.mesh
			res := newEnv(t, cl, nil, newKube(true, healthyKube()...)).run(t, opts)
			wantStatus(t, res, tc.want)
			for id, parts := range tc.wantHint {
				hint := checkByID(t, res, id).Hint
				for _, p := range parts {
					if !strings.Contains(hint, p) {
						t.Errorf("%s hint %q lacks %q", id, hint, p)
					}
				}
			}
			for id, part := range tc.wantMessage {
				if msg := checkByID(t, res, id).Message; !strings.Contains(msg, part) {
					t.Errorf("%s message %q lacks %q", id, msg, part)
				}
			}
		})
	}
}

func TestReleaseChannelShown(t *testing.T) {
	cl := healthyCluster()
	cl.ReleaseChannel = nil
	res := newEnv(t, cl, nil, newKube(true, healthyKube()...)).run(t, testOptions())
	if c := checkByID(t, res, "MC0113"); c.Status != StatusInfo || !strings.Contains(c.Message, "static version") {
		t.Errorf("no channel: %s %q", c.Status, c.Message)
	}
	res = newEnv(t, healthyCluster(), nil, newKube(true, healthyKube()...)).run(t, testOptions())
	if c := checkByID(t, res, "MC0113"); !strings.HasPrefix(c.Message, "REGULAR") {
		t.Errorf("regular channel: %q", c.Message)
	}
}

func TestCapacity(t *testing.T) {
	zonal := func(cl *containerpb.Cluster) {
		cl.Location, cl.Locations = "us-central1-a", []string{"us-central1-a"}
		for _, p := range cl.NodePools {
			p.Locations = []string{"us-central1-a"}
		}
	}
	onePool := func(machineType string, nodesPerZone int32) func(*containerpb.Cluster) {
		return func(cl *containerpb.Cluster) {
			cl.NodePools = cl.NodePools[:1]
			cl.NodePools[0].Config.MachineType = machineType
			cl.NodePools[0].InitialNodeCount = nodesPerZone
		}
	}
	tests := []struct {
		name   string
		change []func(*containerpb.Cluster)
		nodes  map[string]int // pool -> nodes in Kubernetes; nil: the cluster's shape
		noKube bool           // the node list fails: GKE's counts are used
		want   map[string]Status
		hint   map[string]string
		msg    map[string]string
	}{
		{
			// asmcli reads e2-custom-4-8192 as 8192 vCPUs; Compute says 4.
			name:   "custom machine type, regional",
			change: []func(*containerpb.Cluster){onePool("e2-custom-4-8192", 1)},
			nodes:  map[string]int{"default-pool": 3},
			want:   map[string]Status{"MC0121": StatusOK, "MC0122": StatusOK},
			msg:    map[string]string{"MC0122": "default-pool: 3 × e2-custom-4-8192 (4 vCPUs, 8 GB) = 12 vCPUs"},
		},
		{
			name:   "small custom machine type",
			change: []func(*containerpb.Cluster){onePool("custom-2-8192", 3)},
			nodes:  map[string]int{"default-pool": 9},
			want:   map[string]Status{"MC0121": StatusError, "MC0122": StatusSkipped},
			msg:    map[string]string{"MC0121": "custom-2-8192 (2 vCPUs, 8 GB)"},
		},
		{
			name:   "e2-small nodes",
			change: []func(*containerpb.Cluster){onePool("e2-small", 1)},
			nodes:  map[string]int{"default-pool": 3},
			want:   map[string]Status{"MC0121": StatusError, "MC0122": StatusSkipped},
			hint: map[string]string{"MC0121": "gcloud container node-pools create mesh-pool --cluster mesh-1 --machine-type e2-standard-4 --num-nodes 1 " +
				"--location us-central1 --project shop-prod"},
			msg: map[string]string{"MC0121": "default-pool e2-small (2 vCPUs shared, 2 GB)"},
		},
		{
			name:   "zonal pool of one 4-vCPU node",
			change: []func(*containerpb.Cluster){zonal, onePool("e2-standard-4", 1)},
			nodes:  map[string]int{"default-pool": 1},
			want:   map[string]Status{"MC0121": StatusOK, "MC0122": StatusError},
			hint:   map[string]string{"MC0122": "gcloud container clusters resize mesh-1 --node-pool default-pool --num-nodes 2 --location us-central1 --project shop-prod"},
		},
		{
			name:   "zonal pool resized after creation: Kubernetes counts the nodes",
			change: []func(*containerpb.Cluster){zonal, onePool("e2-standard-4", 1)},
			nodes:  map[string]int{"default-pool": 2},
			want:   map[string]Status{"MC0122": StatusOK},
			msg:    map[string]string{"MC0122": "default-pool: 2 × e2-standard-4 (4 vCPUs, 16 GB) = 8 vCPUs"},
		},
		{
			name: "zonal pool that autoscales to 3 nodes",
			change: []func(*containerpb.Cluster){zonal, onePool("e2-standard-4", 1), func(cl *containerpb.Cluster) {
				cl.NodePools[0].Autoscaling = &containerpb.NodePoolAutoscaling{Enabled: true, MinNodeCount: 1, MaxNodeCount: 3}
			}},
			nodes: map[string]int{"default-pool": 1},
			want:  map[string]Status{"MC0122": StatusOK},
			msg:   map[string]string{"MC0122": "1 × e2-standard-4 (4 vCPUs, 16 GB), autoscaling up to 3 = 12 vCPUs"},
		},
		{
			name: "autoscaling with a total limit too low",
			change: []func(*containerpb.Cluster){onePool("e2-standard-4", 0), func(cl *containerpb.Cluster) {
				cl.NodePools[0].Autoscaling = &containerpb.NodePoolAutoscaling{Enabled: true, TotalMinNodeCount: 0, TotalMaxNodeCount: 1}
			}},
			nodes: map[string]int{},
			want:  map[string]Status{"MC0122": StatusError},
			hint:  map[string]string{"MC0122": "gcloud container node-pools update default-pool --cluster mesh-1 --enable-autoscaling --max-nodes 1 --location us-central1 --project shop-prod"},
		},
		{
			name: "largest qualifying pool wins over a bigger pool of small nodes",
			change: []func(*containerpb.Cluster){func(cl *containerpb.Cluster) {
				cl.NodePools[0].Config.MachineType = "e2-medium"
				cl.NodePools[0].InitialNodeCount = 10
			}},
			nodes: map[string]int{"default-pool": 30, "pool-2": 3},
			want:  map[string]Status{"MC0121": StatusOK, "MC0122": StatusOK},
			msg:   map[string]string{"MC0121": "1 of 2 node pools", "MC0122": "pool-2"},
		},
		{
			name:   "Kubernetes unavailable: GKE's initial counts",
			change: []func(*containerpb.Cluster){onePool("n2-standard-8", 1)},
			noKube: true,
			want:   map[string]Status{"MC0122": StatusOK},
			msg:    map[string]string{"MC0122": "default-pool: 3 (initial) × n2-standard-8 (8 vCPUs, 32 GB) = 24 vCPUs"},
		},
		{
			name:   "Autopilot",
			change: []func(*containerpb.Cluster){func(cl *containerpb.Cluster) { cl.Autopilot = &containerpb.Autopilot{Enabled: true} }},
			want:   map[string]Status{"MC0120": StatusError, "MC0121": StatusSkipped, "MC0122": StatusSkipped, "MC0141": StatusSkipped},
			hint:   map[string]string{"MC0120": "meshctl install --managed"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cl := healthyCluster()
			for _, fn := range tc.change {
				fn(cl)
			}
			objs := []runtime.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system"}}}
			for pool, n := range tc.nodes {
				for i := 0; i < n; i++ {
					objs = append(objs, node(pool+"-"+string(rune('a'+i)), pool))
				}
			}
			if tc.nodes == nil && !tc.noKube {
				objs = healthyKube()
			}
			e := newEnv(t, cl, nil, newKube(true, objs...))
			if tc.noKube {
				e.forbid("list", "nodes")
			}
			res := e.run(t, testOptions())
			wantStatus(t, res, tc.want)
			for id, h := range tc.hint {
				if got := checkByID(t, res, id).Hint; !strings.Contains(got, h) {
					t.Errorf("%s hint %q, want %q", id, got, h)
				}
			}
			for id, m := range tc.msg {
				if got := checkByID(t, res, id).Message; !strings.Contains(got, m) {
					t.Errorf("%s message %q, want it to contain %q", id, got, m)
				}
			}
		})
	}
}

func allowRule(name string, src []string, tags []string, protocol string, ports ...string) *computepb.Firewall {
	return &computepb.Firewall{Name: proto.String(name), Network: networkLink(testProject, "default"), Direction: proto.String("INGRESS"),
		Priority: proto.Int32(1000), SourceRanges: src, TargetTags: tags,
		Allowed: []*computepb.Allowed{{IPProtocol: proto.String(protocol), Ports: ports}}}
}

func TestWebhookFirewall(t *testing.T) {
	master15017 := gkeRules(true)
	master15017[2].Allowed[0].Ports = append(master15017[2].Allowed[0].Ports, "15017")
	disabled := allowRule("webhooks", []string{testCIDR}, []string{testNodeTag}, "tcp", "15017")
	disabled.Disabled = proto.Bool(true)
	otherNet := allowRule("webhooks", []string{testCIDR}, []string{testNodeTag}, "tcp", "15017")
	otherNet.Network = networkLink(testProject, "other")
	deny := &computepb.Firewall{Name: proto.String("deny-from-master"), Network: networkLink(testProject, "default"),
		Priority: proto.Int32(900), SourceRanges: []string{"172.16.0.0/12"},
		Denied: []*computepb.Denied{{IPProtocol: proto.String("all")}}}
	bySA := allowRule("webhooks-by-sa", []string{testCIDR}, nil, "tcp", "15017")
	bySA.TargetServiceAccounts = []string{"246813579-compute@developer.gserviceaccount.com"}

	tests := []struct {
		name    string
		rules   []*computepb.Firewall
		public  bool
		want    Status
		message string
		hint    string
	}{
		{name: "public cluster", public: true, want: StatusSkipped, message: "public nodes"},
		{name: "only GKE's rules", rules: gkeRules(true), want: StatusError,
			message: "no firewall rule admits tcp:15017 from the control plane (172.16.0.0/28) to the nodes; GKE's gke-mesh-1-1a2b3c4d-master allows only tcp:10250,tcp:443",
			hint:    "gcloud compute firewall-rules create meshctl-webhook-mesh-1-"},
		{name: "GKE's master rule extended", rules: master15017, want: StatusOK, message: "allowed by firewall rule gke-mesh-1-1a2b3c4d-master"},
		{name: "a wide rule for all instances", rules: append(gkeRules(true), allowRule("all-internal", []string{"172.16.0.0/12"}, nil, "all")),
			want: StatusOK, message: "all-internal"},
		{name: "a port range", rules: append(gkeRules(true), allowRule("istio", []string{testCIDR}, []string{testNodeTag}, "tcp", "15000-15100")),
			want: StatusOK, message: "istio"},
		{name: "a rule for another tag", rules: append(gkeRules(true), allowRule("webhooks", []string{testCIDR}, []string{"other-tag"}, "tcp", "15017")),
			want: StatusError},
		{name: "a rule from part of the range", rules: append(gkeRules(true), allowRule("webhooks", []string{"172.16.0.0/29"}, []string{testNodeTag}, "tcp", "15017")),
			want: StatusError},
		{name: "udp only", rules: append(gkeRules(true), allowRule("webhooks", []string{testCIDR}, []string{testNodeTag}, "udp", "15017")),
			want: StatusError},
		{name: "a disabled rule", rules: append(gkeRules(true), disabled), want: StatusError},
		{name: "a rule on another network", rules: append(gkeRules(true), otherNet), want: StatusError},
		{name: "the nodes' service account", rules: append(gkeRules(true), bySA), want: StatusOK, message: "webhooks-by-sa"},
		{name: "a deny rule of higher priority", rules: append(append(gkeRules(true), deny), allowRule("webhooks", []string{testCIDR}, []string{testNodeTag}, "tcp", "15017")),
			want: StatusError, message: "deny-from-master (priority 900) denies tcp:15017", hint: "--priority 899"},
		{name: "no GKE rules to learn the tag from", rules: nil, want: StatusError, hint: "find the nodes' network tag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cl := privateCluster()
			if tc.public {
				cl = healthyCluster()
			}
			res := newEnv(t, cl, tc.rules, newKube(true, healthyKube()...)).run(t, testOptions())
			c := checkByID(t, res, "MC0131")
			if c.Status != tc.want {
				t.Fatalf("status %s, want %s: %q", c.Status, tc.want, c.Message)
			}
			if !strings.Contains(c.Message, tc.message) {
				t.Errorf("message %q lacks %q", c.Message, tc.message)
			}
			if !strings.Contains(c.Hint, tc.hint) {
				t.Errorf("hint %q lacks %q", c.Hint, tc.hint)
			}
			if res.Ready != (tc.want != StatusError) {
				t.Errorf("ready %v with MC0131 %s", res.Ready, c.Status)
			}
		})
	}
}

func TestWebhookFirewallHintIsExact(t *testing.T) {
	res := newEnv(t, privateCluster(), gkeRules(true), newKube(true, healthyKube()...)).run(t, testOptions())
	want := "gcloud compute firewall-rules create " + webhookRuleName(testProject, testLocation, testCluster) +
		" --project shop-prod --network default --direction INGRESS --action ALLOW --rules tcp:15017" +
		" --source-ranges 172.16.0.0/28 --target-tags gke-mesh-1-1a2b3c4d-node" +
		" --description 'Created by meshctl for GKE cluster projects/shop-prod/locations/us-central1/clusters/mesh-1:" +
		" lets the control plane (172.16.0.0/28) reach the istiod webhooks on tcp:15017.'"
	if got := checkByID(t, res, "MC0131").Hint; got != want {
		t.Errorf("hint\n got %s\nwant %s", got, want)
	}
	if !checkByID(t, res, "MC0131").Fixable {
		t.Error("MC0131 not marked fixable")
	}
}

func TestWebhookRuleName(t *testing.T) {
	a := webhookRuleName("p", "us-central1", "mesh")
	if a != webhookRuleName("p", "us-central1", "mesh") {
		t.Error("not deterministic")
	}
	if a == webhookRuleName("p", "europe-west1", "mesh") {
		t.Error("same name for same-named clusters in two locations")
	}
	long := webhookRuleName("p", "l", strings.Repeat("a", 39)+"-b")
	if len(long) > 63 || strings.Contains(long, "--") {
		t.Errorf("%q: %d characters", long, len(long))
	}
}

func TestFixCreatesTheRuleThenPasses(t *testing.T) {
	e := newEnv(t, privateCluster(), gkeRules(true), newKube(true, healthyKube()...))
	e.compute.allowInsert()
	opts := testOptions()
	opts.Fix = true
	rec := &ui.Recorder{}
	res, err := Run(context.Background(), e.clients, rec, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.compute.inserted) != 1 {
		t.Fatalf("%d rules inserted, want 1", len(e.compute.inserted))
	}
	rule := e.compute.inserted[0]
	if rule.GetName() != webhookRuleName(testProject, testLocation, testCluster) ||
		!strings.HasPrefix(rule.GetDescription(), "Created by meshctl for GKE cluster projects/shop-prod/locations/us-central1/clusters/mesh-1") ||
		strings.Join(rule.GetSourceRanges(), ",") != testCIDR || strings.Join(rule.GetTargetTags(), ",") != testNodeTag ||
		rule.GetAllowed()[0].GetIPProtocol() != "tcp" || strings.Join(rule.GetAllowed()[0].GetPorts(), ",") != "15017" ||
		rule.GetDirection() != "INGRESS" || !strings.HasSuffix(rule.GetNetwork(), "projects/shop-prod/global/networks/default") {
		t.Errorf("inserted rule %v", rule)
	}
	c := checkByID(t, res, "MC0131")
	if c.Status != StatusOK || !strings.Contains(c.Message, rule.GetName()) {
		t.Errorf("after --fix: %s %q", c.Status, c.Message)
	}
	if !res.Ready || len(res.Fixes) != 1 || res.Fixes[0].Error != "" {
		t.Errorf("ready %v, fixes %+v", res.Ready, res.Fixes)
	}
	// The check ran again on a fresh list.
	if n := e.compute.calls.get("firewalls.list " + testProject); n != 2 {
		t.Errorf("firewalls listed %d times, want 2 (before and after the fix)", n)
	}
	if !strings.Contains(strings.Join(rec.Lines(), "\n"), "done fixing MC0131") {
		t.Errorf("progress: %v", rec.Lines())
	}

	// A second run finds the rule and changes nothing.
	res, _ = Run(context.Background(), e.clients, nil, opts)
	if len(e.compute.inserted) != 1 || len(res.Fixes) != 0 || !res.Ready {
		t.Errorf("second run: %d inserts, fixes %+v", len(e.compute.inserted), res.Fixes)
	}
}

func TestFixFailureIsReported(t *testing.T) {
	e := newEnv(t, privateCluster(), gkeRules(true), newKube(true, healthyKube()...))
	e.compute.fail("firewalls.insert", googleErr(403, "forbidden", "Required 'compute.firewalls.create' permission for 'projects/shop-prod'"))
	opts := testOptions()
	opts.Fix = true
	res := e.run(t, opts)
	if len(res.Fixes) != 1 || !strings.Contains(res.Fixes[0].Error, "compute.firewalls.create") ||
		!strings.Contains(res.Fixes[0].Error, "roles/compute.securityAdmin") {
		t.Errorf("fixes %+v", res.Fixes)
	}
	if c := checkByID(t, res, "MC0131"); c.Status != StatusError || res.Ready {
		t.Errorf("after a failed fix: %s, ready %v", c.Status, res.Ready)
	}
}

func authorizedOnly(cidrs ...string) *containerpb.MasterAuthorizedNetworksConfig {
	man := &containerpb.MasterAuthorizedNetworksConfig{Enabled: true}
	for _, c := range cidrs {
		man.CidrBlocks = append(man.CidrBlocks, &containerpb.MasterAuthorizedNetworksConfig_CidrBlock{CidrBlock: c})
	}
	return man
}

func TestPrivateClusterFacts(t *testing.T) {
	want := "private nodes, private endpoint only (10.128.0.2), control plane range 172.16.0.0/28, authorized networks 10.0.0.0/8"
	current := privateCluster()
	ip := current.ControlPlaneEndpointsConfig.IpEndpointsConfig
	ip.EnablePublicEndpoint = proto.Bool(false)
	ip.AuthorizedNetworksConfig = authorizedOnly("10.0.0.0/8")

	// Older answers carry only the fields GKE has since deprecated.
	legacy := healthyCluster()
	legacy.NetworkConfig.DefaultEnablePrivateNodes = nil
	legacy.ControlPlaneEndpointsConfig = nil
	//nolint:staticcheck // the legacy fields, as older clusters return them
	legacy.PrivateClusterConfig = &containerpb.PrivateClusterConfig{EnablePrivateNodes: true, EnablePrivateEndpoint: true,
		PrivateEndpoint: "10.128.0.2", MasterIpv4CidrBlock: testCIDR}
	legacy.MasterAuthorizedNetworksConfig = authorizedOnly("10.0.0.0/8") //nolint:staticcheck // as above

	for name, cl := range map[string]*containerpb.Cluster{"current fields": current, "legacy fields": legacy} {
		t.Run(name, func(t *testing.T) {
			res := newEnv(t, cl, gkeRules(true), newKube(true, healthyKube()...)).run(t, testOptions())
			if c := checkByID(t, res, "MC0130"); c.Status != StatusInfo || c.Message != want {
				t.Errorf("MC0130: %s %q, want %q", c.Status, c.Message, want)
			}
			if c := checkByID(t, res, "MC0131"); c.Status != StatusError {
				t.Errorf("MC0131: %s %q", c.Status, c.Message)
			}
		})
	}
}

func TestClusterFeatures(t *testing.T) {
	tests := []struct {
		name   string
		change func(*containerpb.Cluster)
		want   map[string]Status
		hint   map[string]string
		msg    map[string]string
	}{
		{name: "workload identity off", change: func(cl *containerpb.Cluster) { cl.WorkloadIdentityConfig = nil },
			want: map[string]Status{"MC0140": StatusError, "MC0141": StatusSkipped},
			hint: map[string]string{"MC0140": "gcloud container clusters update mesh-1 --workload-pool shop-prod.svc.id.goog --location us-central1 --project shop-prod"}},
		{name: "a pool without the GKE metadata server", change: func(cl *containerpb.Cluster) { cl.NodePools[1].Config.WorkloadMetadataConfig = nil },
			want: map[string]Status{"MC0140": StatusOK, "MC0141": StatusWarning},
			hint: map[string]string{"MC0141": "gcloud container node-pools update pool-2 --cluster mesh-1 --workload-metadata GKE_METADATA --location us-central1 --project shop-prod"}},
		{name: "legacy monitoring", change: func(cl *containerpb.Cluster) { cl.MonitoringService = "none" },
			want: map[string]Status{"MC0142": StatusError},
			hint: map[string]string{"MC0142": "gcloud container clusters update mesh-1 --logging SYSTEM,WORKLOAD --monitoring SYSTEM --location us-central1 --project shop-prod"},
			msg:  map[string]string{"MC0142": `monitoring is "none"`}},
		{name: "no mesh_id", change: func(cl *containerpb.Cluster) { cl.ResourceLabels = nil },
			want: map[string]Status{"MC0143": StatusError},
			hint: map[string]string{"MC0143": "gcloud container clusters update mesh-1 --update-labels mesh_id=proj-246813579 --location us-central1 --project shop-prod"}},
		{name: "malformed mesh_id", change: func(cl *containerpb.Cluster) { cl.ResourceLabels["mesh_id"] = "shop-prod" },
			want: map[string]Status{"MC0143": StatusError}, msg: map[string]string{"MC0143": "not of the form proj-<project number>"}},
		{name: "fleet in another project", change: func(cl *containerpb.Cluster) { cl.ResourceLabels["mesh_id"] = "proj-1111" },
			want: map[string]Status{"MC0143": StatusOK}, msg: map[string]string{"MC0143": "right only if the fleet lives in another project"}},
		{name: "shared VPC", change: func(cl *containerpb.Cluster) {
			cl.NetworkConfig.Network = "projects/net-host/global/networks/shared"
			cl.NetworkConfig.Subnetwork = "projects/net-host/regions/us-central1/subnetworks/gke"
		}, want: map[string]Status{"MC0144": StatusInfo},
			msg: map[string]string{"MC0144": "network shared, subnetwork projects/net-host/regions/us-central1/subnetworks/gke (Shared VPC in host project net-host)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cl := healthyCluster()
			tc.change(cl)
			res := newEnv(t, cl, nil, newKube(true, healthyKube()...)).run(t, testOptions())
			wantStatus(t, res, tc.want)
			for id, h := range tc.hint {
				if got := checkByID(t, res, id).Hint; got != h {
					t.Errorf("%s hint\n got %q\nwant %q", id, got, h)
				}
			}
			for id, m := range tc.msg {
				if got := checkByID(t, res, id).Message; !strings.Contains(got, m) {
					t.Errorf("%s message %q lacks %q", id, got, m)
				}
			}
		})
	}
}

func TestSharedVPCFirewallsAreReadInTheHostProject(t *testing.T) {
	cl := privateCluster()
	cl.NetworkConfig.Network = "projects/net-host/global/networks/shared"
	rules := []*computepb.Firewall{
		{Name: proto.String("gke-mesh-1-1a2b3c4d-master"), Network: networkLink("net-host", "shared"), SourceRanges: []string{testCIDR},
			TargetTags: []string{testNodeTag}, Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"443", "10250", "15017"}}}},
	}
	e := newEnv(t, cl, rules, newKube(true, healthyKube()...))
	res := e.run(t, testOptions())
	if c := checkByID(t, res, "MC0131"); c.Status != StatusOK {
		t.Errorf("MC0131 %s %q", c.Status, c.Message)
	}
	if e.compute.calls.get("firewalls.list net-host") != 1 {
		t.Errorf("calls %v", e.compute.calls.n)
	}
}

func deployment(ns, name string, labels map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}
}

func TestInCluster(t *testing.T) {
	appProto := func(s string) *string { return &s }
	tests := []struct {
		name  string
		admin bool
		objs  []runtime.Object
		drop  string // a namespace to leave out of healthyKube
		want  map[string]Status
		hint  map[string]string
		msg   map[string]string
		count map[string]int // findings per code
	}{
		{name: "not cluster-admin", admin: false,
			want: map[string]Status{"MC0151": StatusError},
			hint: map[string]string{"MC0151": "kubectl create clusterrolebinding meshctl-cluster-admin --clusterrole cluster-admin --user alice@example.com"}},
		{name: "no istio-system", admin: true, drop: "istio-system",
			want: map[string]Status{"MC0152": StatusWarning}, hint: map[string]string{"MC0152": "kubectl create namespace istio-system"}},
		{name: "revisions and the legacy gateway", admin: true, objs: []runtime.Object{
			deployment("istio-system", "istiod-asm-1264-1", map[string]string{"app": "istiod", "istio.io/rev": "asm-1264-1"}),
			deployment("istio-system", "istiod", map[string]string{"app": "istiod"}),
			deployment("istio-system", "istio-ingressgateway", map[string]string{"app": "istio-ingressgateway"}),
			service("istio-system", "istio-ingressgateway", corev1.ServicePort{Name: "foo", Port: 80}),
			// A gateway of the same name elsewhere is a user's own.
			deployment("shop-gw", "istio-ingressgateway", map[string]string{"app": "istio-ingressgateway"}),
		},
			want: map[string]Status{"MC0153": StatusInfo, "MC0154": StatusOK, "MC0155": StatusWarning, "MC0156": StatusOK},
			msg: map[string]string{
				"MC0153": "asm-1264-1 (istio-system/istiod-asm-1264-1), default (istio-system/istiod)",
				"MC0155": "istio-system has Service and Deployment istio-ingressgateway"},
			hint: map[string]string{"MC0155": "--option legacy-default-ingressgateway"}},
		{name: "istiod outside istio-system", admin: true, objs: []runtime.Object{
			deployment("mesh", "istiod", map[string]string{"app": "istiod", "istio.io/rev": "blue"})},
			want: map[string]Status{"MC0154": StatusError}, hint: map[string]string{"MC0154": "istioctl uninstall --revision blue"}},
		{name: "port naming", admin: true, objs: []runtime.Object{
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
			service("shop", "web", corev1.ServicePort{Name: "web", Port: 8080}, corev1.ServicePort{Name: "http-admin", Port: 9000}),
			service("shop", "db", corev1.ServicePort{Port: 5432}),
			service("shop", "api", corev1.ServicePort{Name: "api", Port: 8080, AppProtocol: appProto("grpc")}),
			service("shop", "h2c", corev1.ServicePort{Name: "x", Port: 81, AppProtocol: appProto("kubernetes.io/h2c")}),
			service("shop", "mysql", corev1.ServicePort{Name: "db", Port: 3306}),
			service("shop", "stats", corev1.ServicePort{Name: "statsd", Port: 8125, Protocol: corev1.ProtocolUDP}),
			service("shop", "gw", corev1.ServicePort{Name: "grpc-web-ui", Port: 8081}),
			service("kube-system", "metrics", corev1.ServicePort{Name: "metrics", Port: 10250}),
		},
			want:  map[string]Status{"MC0156": StatusWarning},
			count: map[string]int{"MC0156": 2},
			msg:   map[string]string{"MC0156": "2 Service ports of 9 rely on protocol sniffing"}},
		{name: "both injection labels", admin: true, objs: []runtime.Object{
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"istio-injection": "enabled", "istio.io/rev": "asm-1264-1"}}},
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cart", Labels: map[string]string{"istio.io/rev": "asm-1264-1"}}},
		},
			want: map[string]Status{"MC0157": StatusWarning}, count: map[string]int{"MC0157": 1},
			hint: map[string]string{"MC0157": "kubectl label namespace shop istio-injection-"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var objs []runtime.Object
			for _, o := range healthyKube() {
				if ns, ok := o.(*corev1.Namespace); ok && ns.Name == tc.drop {
					continue
				}
				objs = append(objs, o)
			}
			res := newEnv(t, healthyCluster(), nil, newKube(tc.admin, append(objs, tc.objs...)...)).run(t, testOptions())
			wantStatus(t, res, tc.want)
			for id, h := range tc.hint {
				if got := checkByID(t, res, id).Hint; !strings.Contains(got, h) {
					t.Errorf("%s hint %q lacks %q", id, got, h)
				}
			}
			for id, m := range tc.msg {
				if got := checkByID(t, res, id).Message; !strings.Contains(got, m) {
					t.Errorf("%s message %q lacks %q", id, got, m)
				}
			}
			for code, n := range tc.count {
				if got := findingsOf(res, code); len(got) != n {
					t.Errorf("%d %s findings, want %d: %v", len(got), code, n, got)
				}
			}
		})
	}
}

func TestPortNamingFindings(t *testing.T) {
	objs := append(healthyKube(), service("shop", "web", corev1.ServicePort{Name: "web", Port: 8080}), service("shop", "db", corev1.ServicePort{Port: 5432}))
	res := newEnv(t, healthyCluster(), nil, newKube(true, objs...)).run(t, testOptions())
	got := findingsOf(res, "MC0156")
	want := []findings.Finding{
		{Code: "MC0156", Level: findings.Warning, Object: "Service shop/web port 8080",
			Message: `Service shop/web port 8080 "web" names no protocol: Istio will sniff it (name it <protocol>[-suffix] or set appProtocol)`,
			Hint:    `kubectl -n shop patch service web --type json -p '[{"op":"add","path":"/spec/ports/0/appProtocol","value":"http"}]'`},
		{Code: "MC0156", Level: findings.Warning, Object: "Service shop/db port 5432",
			Message: `Service shop/db port 5432 (unnamed) names no protocol: Istio will sniff it (name it <protocol>[-suffix] or set appProtocol)`,
			Hint:    `kubectl -n shop patch service db --type json -p '[{"op":"add","path":"/spec/ports/0/appProtocol","value":"tcp"}]'`},
	}
	if len(got) != 2 {
		t.Fatalf("findings %v", got)
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("missing %+v in %+v", w, got)
		}
	}
	if !res.Ready {
		t.Error("warnings made the cluster not ready with --fail-on error")
	}
	opts := testOptions()
	opts.FailOn = findings.Warning
	if res := newEnv(t, healthyCluster(), nil, newKube(true, objs...)).run(t, opts); res.Ready || !res.HasProblems() {
		t.Error("--fail-on warning: warnings did not count")
	}
}

func TestAPIErrors(t *testing.T) {
	gkeStatuses := map[string]Status{"MC0110": StatusUnavailable, "MC0121": StatusUnavailable, "MC0131": StatusUnavailable, "MC0140": StatusUnavailable}
	tests := []struct {
		name    string
		setup   func(e *env)
		want    map[string]Status
		object  string // the MC0100 finding's object
		message string
		hint    string
	}{
		{
			name: "GKE permission denied",
			setup: func(e *env) {
				e.gke.fail(googleErr(403, "forbidden", "Permission 'container.clusters.get' denied on resource '//container.googleapis.com/projects/shop-prod/locations/us-central1/clusters/mesh-1' (or it may not exist)."))
			},
			want:    merge(gkeStatuses, map[string]Status{"MC0151": StatusOK, "MC0156": StatusOK}),
			object:  "GKE clusters.get projects/shop-prod/locations/us-central1/clusters/mesh-1",
			message: "permission denied: the caller needs container.clusters.get",
			hint:    `gcloud projects add-iam-policy-binding shop-prod --member "user:$(gcloud config get-value core/account)" --role roles/container.clusterViewer`,
		},
		{
			name: "GKE API disabled",
			setup: func(e *env) {
				e.gke.fail(&googleapi.Error{Code: 403, Message: "Kubernetes Engine API has not been used in project 246813579 before or it is disabled.",
					Body: `{"error":{"details":[{"reason":"SERVICE_DISABLED"}]}}`})
			},
			want:    gkeStatuses,
			message: "the container.googleapis.com API is disabled in project shop-prod",
			hint:    "gcloud services enable container.googleapis.com --project shop-prod",
		},
		{
			name: "cluster not found",
			setup: func(e *env) {
				e.gke.fail(googleErr(404, "notFound", "Not found: projects/shop-prod/locations/us-central1/clusters/mesh-1."))
			},
			want:    gkeStatuses,
			message: "cluster mesh-1 not found in project shop-prod, location us-central1",
			hint:    "gcloud container clusters list --project shop-prod",
		},
		{
			name: "Compute API disabled",
			setup: func(e *env) {
				err := googleErr(403, "accessNotConfigured", "Compute Engine API has not been used in project 246813579 before or it is disabled.")
				e.compute.fail("machineTypes.get", err)
				e.compute.fail("projects.get", err)
			},
			want: map[string]Status{"MC0110": StatusOK, "MC0121": StatusUnavailable, "MC0122": StatusUnavailable,
				"MC0143": StatusOK, "MC0131": StatusSkipped},
			object: "Compute machineTypes.get zones/us-central1-a/machineTypes/e2-standard-4",
			hint:   "gcloud services enable compute.googleapis.com --project shop-prod",
		},
		{
			name: "no firewall permission on a private cluster",
			setup: func(e *env) {
				e.gke.cluster = privateCluster()
				e.compute.fail("firewalls.list", googleErr(403, "forbidden", "Required 'compute.firewalls.list' permission for 'projects/shop-prod'"))
			},
			want:   map[string]Status{"MC0131": StatusUnavailable, "MC0130": StatusInfo, "MC0121": StatusOK},
			object: "Compute firewalls.list shop-prod",
			hint:   "--role roles/compute.networkViewer",
		},
		{
			name:    "Kubernetes: services forbidden",
			setup:   func(e *env) { e.forbid("list", "services") },
			want:    map[string]Status{"MC0156": StatusUnavailable, "MC0155": StatusUnavailable, "MC0157": StatusOK, "MC0110": StatusOK},
			object:  "Kubernetes list services in all namespaces",
			message: "forbidden: the caller may not list services",
			hint:    "kubectl create clusterrolebinding meshctl-cluster-admin --clusterrole cluster-admin",
		},
		{
			name: "Kubernetes: no kubeconfig",
			setup: func(e *env) {
				e.clients.Kube, e.clients.KubeErr = nil, failure.WithHint(errors.New("no Kubernetes cluster configured: the kubeconfig has no current context"), "run `gcloud container clusters get-credentials mesh-1`")
			},
			want:    map[string]Status{"MC0150": StatusUnavailable, "MC0151": StatusUnavailable, "MC0156": StatusUnavailable, "MC0110": StatusOK, "MC0122": StatusOK},
			object:  "Kubernetes client gke_shop-prod_us-central1_mesh-1",
			message: "no Kubernetes cluster configured",
			hint:    "gcloud container clusters get-credentials mesh-1",
		},
		{
			name: "Kubernetes unreachable behind authorized networks",
			setup: func(e *env) {
				cl := privateCluster()
				cl.ControlPlaneEndpointsConfig.IpEndpointsConfig.AuthorizedNetworksConfig = authorizedOnly("10.0.0.0/8")
				e.gke.cluster = cl
				e.stubs.React(e.kube, "*", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, &url.Error{Op: "Get", URL: "https://34.1.2.3/api/v1/namespaces", Err: errors.New("dial tcp 34.1.2.3:443: i/o timeout")}
				})
			},
			want:    map[string]Status{"MC0152": StatusUnavailable, "MC0110": StatusOK},
			object:  "Kubernetes list namespaces",
			message: "cannot reach the API",
			hint:    "--enable-master-authorized-networks --master-authorized-networks 10.0.0.0/8,YOUR_IP/32",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, healthyCluster(), gkeRules(false), newKube(true, healthyKube()...))
			tc.setup(e)
			res := e.run(t, testOptions())
			wantStatus(t, res, tc.want)
			if res.Ready {
				t.Error("ready although checks could not run")
			}
			fs := findingsOf(res, "MC0100")
			if len(fs) == 0 {
				t.Fatalf("no MC0100 finding; findings %v", res.Findings)
			}
			var f *findings.Finding
			for i := range fs {
				if tc.object == "" || fs[i].Object == tc.object {
					f = &fs[i]
				}
			}
			if f == nil {
				t.Fatalf("no MC0100 finding about %q in %v", tc.object, fs)
			}
			if f.Level != findings.Error || !strings.Contains(f.Message, tc.message) || !strings.Contains(f.Hint, tc.hint) {
				t.Errorf("MC0100 %+v\nwant message ~%q hint ~%q", *f, tc.message, tc.hint)
			}
			for _, c := range res.Checks {
				if c.Status == StatusUnavailable && !strings.Contains(c.Message, "see MC0100") {
					t.Errorf("%s unavailable without saying why: %q", c.ID, c.Message)
				}
			}
		})
	}
}

func merge(a, b map[string]Status) map[string]Status {
	out := map[string]Status{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func TestOneFailurePerCall(t *testing.T) {
	e := newEnv(t, healthyCluster(), nil, newKube(true, healthyKube()...))
	e.gke.fail(googleErr(503, "backendError", "The service is currently unavailable."))
	res := e.run(t, testOptions())
	if fs := findingsOf(res, "MC0100"); len(fs) != 1 || !strings.Contains(fs[0].Hint, "again") {
		t.Errorf("MC0100 findings %v: want one, for the one call that failed", fs)
	}
	if n := e.gke.calls.get("clusters.get projects/shop-prod/locations/us-central1/clusters/mesh-1"); n != 1 {
		t.Errorf("clusters.get called %d times", n)
	}
}

// TestChecksRunConcurrently: with every Google call taking 50 ms, a run
// takes about its longest chain of dependent calls (clusters.get, then
// machineTypes.get or firewalls.list: 100 ms), not the sum of its calls.
func TestChecksRunConcurrently(t *testing.T) {
	const latency = 50 * time.Millisecond
	cl := privateCluster()
	cl.NodePools[1].Config.MachineType = "n2-standard-8"
	e := newEnv(t, cl, gkeRules(true), newKube(true, healthyKube()...))
	e.gke.latency, e.compute.latency = latency, latency
	start := time.Now()
	e.run(t, testOptions())
	elapsed := time.Since(start)
	total := 0
	for _, c := range []*calls{&e.gke.calls, &e.compute.calls} {
		for _, n := range c.n {
			total += n
		}
		if r := c.repeated(); len(r) > 0 {
			t.Errorf("repeated fetches: %v", r)
		}
	}
	if total < 5 {
		t.Fatalf("only %d Google calls", total)
	}
	if chain := 2 * latency; elapsed >= 3*chain {
		t.Errorf("run took %s with %d calls of %s: want under 3× the %s chain", elapsed, total, latency, chain)
	}
	t.Logf("%d Google calls of %s each in %s", total, latency, elapsed)
}

// Each invalid option says what to set, through its hint: the command
// shows it as is.
func TestOptionsValidate(t *testing.T) {
	_, err := Run(context.Background(), Clients{}, nil, Options{Project: "p", Location: "l"})
	if err == nil || !strings.Contains(failure.HintOf(err), "--cluster") {
		t.Errorf("no cluster: %v, hint %q", err, failure.HintOf(err))
	}
	opts := testOptions()
	opts.MeshVersion = "1.25"
	_, err = Run(context.Background(), Clients{}, nil, opts)
	if err == nil || !strings.Contains(err.Error(), "1.21, 1.24, 1.26, 1.27, 1.28, 1.29, 1.30, 1.31") || !strings.Contains(failure.HintOf(err), "--mesh-version") {
		t.Errorf("unknown release: %v, hint %q", err, failure.HintOf(err))
	}
	// A hint, not a usage error: a precheck that cannot run is a failure.
	if code := failure.ExitCode(err); code != failure.ExitFailure {
		t.Errorf("exit code %d, want %d", code, failure.ExitFailure)
	}
}

// BenchmarkRunWithLatency measures Run alone (no process start) with 50 ms
// per Google call: the figure to compare with the 100 ms chain of two
// dependent calls.
func BenchmarkRunWithLatency(b *testing.B) {
	const latency = 50 * time.Millisecond
	cl := privateCluster()
	cl.NodePools[1].Config.MachineType = "n2-standard-8"
	var total time.Duration
	for range b.N {
		b.StopTimer()
		e := newEnv(b, cl, gkeRules(true), newKube(true, healthyKube()...))
		e.gke.latency, e.compute.latency = latency, latency
		b.StartTimer()
		start := time.Now()
		if _, err := Run(context.Background(), e.clients, nil, testOptions()); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
	}
	per := total / time.Duration(b.N)
	b.ReportMetric(float64(per.Milliseconds()), "ms/run")
	b.ReportMetric(float64(per)/float64(2*latency), "run/chain")
}
