package expose

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshctl/meshctl/cmd/meshctl/cmdtest"
	"github.com/meshctl/meshctl/internal/config"
	"github.com/meshctl/meshctl/internal/gcp"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/scenario"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var gvrNode = corev1.SchemeGroupVersion.WithResource("nodes")

// `meshctl expose svc --dry-run -o json` on a fresh cluster (nothing
// exposed, no NEG yet) is the whole plan, machine readable: the gateway's
// objects and the load balancer's, planned with the NEG GKE will make in
// every zone of the cluster's nodes. Compared with
// testdata/expose-dry-run.golden.json (go test -update rewrites it).
func TestExposeDryRunJSONGolden(t *testing.T) {
	sc := scenario.Default()
	srv := fakegcp.New(sc, fakegcp.Options{})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	before := len(srv.State().Resources) // the scenario's network, subnets and nodes
	objs := meshCluster()
	for i, z := range []string{"us-central1-a", "us-central1-b", "us-central1-c"} {
		objs.Add(gvrNode, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-" + string(rune('a'+i)), Labels: map[string]string{corev1.LabelTopologyZone: z}}})
	}
	// No cluster to ask for permissions: a kubeconfig the machine may have
	// must not change the plan's permission statuses.
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	f, out := cmdtest.Factory(&config.Settings{Project: sc.Project, Location: sc.Location, Cluster: sc.Cluster, Output: ui.FormatJSON}, nil)
	var opts *ExposeOptions
	if err := cmdtest.Execute(NewCmdExposeSvc(f, cmdtest.Capture(&opts)), "web", "-n", "shop", "--host", "www.example.com", "--dry-run"); err != nil {
		t.Fatal(err)
	}
	opts.Objects = func() (kube.Objects, error) { return objs, nil }
	opts.Expose.Now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	opts.LB.Client = func(ctx context.Context) (*lb.Client, func(), error) {
		cfg := gcp.Config{ComputeEndpoint: hs.URL, ContainerEndpoint: hs.URL}
		g, err := lb.NewGCE(ctx, cfg, sc.Project)
		if err != nil {
			return nil, nil, err
		}
		gke, err := gcp.NewClusterManager(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		return lb.New(g, gke, ui.Discard), func() { _ = g.Close(); _ = gke.Close() }, nil
	}
	if err := runExpose(context.Background(), opts); err != nil {
		t.Fatalf("%v\n%s", err, out.Err.String())
	}
	var doc map[string]any
	if err := json.Unmarshal(out.Out.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.Out.String())
	}
	// The only figure that depends on the machine: how long planning took.
	lbDoc, _ := doc["loadBalancer"].(map[string]any)
	if _, ok := lbDoc["elapsed"]; !ok {
		t.Fatalf("no load balancer plan:\n%s", out.Out.String())
	}
	lbDoc["elapsed"] = "ELAPSED"
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got := bytes.NewBuffer(append(b, '\n'))
	golden := filepath.Join("testdata", "expose-dry-run.golden.json")
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("expose --dry-run -o json differs from %s (go test -update rewrites it):\n%s", golden, got.String())
	}
	if len(objs.Writes()) != 0 || len(srv.State().Resources) != before {
		t.Errorf("the dry run wrote: %v, Compute resources %d, was %d", objs.Writes(), len(srv.State().Resources), before)
	}
}
