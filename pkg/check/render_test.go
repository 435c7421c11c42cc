package check

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/meshctl/meshctl/internal/ui"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to accept):\n%s", path, got)
	}
}

// A private cluster without the 15017 rule, a badly named port, an
// old node pool and a failing firewall permission... as the user sees it.
func TestRenderText(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *env)
	}{
		{name: "healthy", setup: func(e *env) {}},
		{name: "private-problems", setup: func(e *env) {
			e.gke.cluster = privateCluster()
			e.gke.cluster.NodePools[1].Version = "1.33.5-gke.1"
			e.compute.firewalls = gkeRules(true)
			for _, svc := range []*corev1.Service{
				service("shop", "web", corev1.ServicePort{Name: "web", Port: 8080}),
				service("shop", "db", corev1.ServicePort{Port: 5432}),
			} {
				_ = e.kube.Tracker().Add(svc)
			}
		}},
		{name: "api-errors", setup: func(e *env) {
			e.compute.fail("machineTypes.get", googleErr(403, "forbidden", "Required 'compute.machineTypes.get' permission for 'projects/shop-prod/zones/us-central1-a/machineTypes/e2-standard-4'"))
			e.forbid("list", "services")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, healthyCluster(), gkeRules(false), newKube(true, healthyKube()...))
			tc.setup(e)
			res := e.run(t, testOptions())
			var buf bytes.Buffer
			if err := res.RenderText(&buf, ui.Styles{}); err != nil {
				t.Fatal(err)
			}
			golden(t, "text-"+tc.name, buf.Bytes())
		})
	}
}

func TestJSONCarriesIDsLevelsAndHints(t *testing.T) {
	e := newEnv(t, privateCluster(), gkeRules(true), newKube(true, healthyKube()...))
	res := e.run(t, testOptions())
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Ready  bool `json:"ready"`
		Checks []struct {
			ID, Level, Status, Message, Hint string
			Fixable                          bool
		} `json:"checks"`
		Findings []struct{ Code, Level, Object, Message, Hint string } `json:"findings"`
		Summary  struct{ Errors, Warnings int }                        `json:"summary"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Ready || out.Summary.Errors != 1 || len(out.Findings) != 1 {
		t.Fatalf("%s", b)
	}
	f := out.Findings[0]
	if f.Code != "MC0131" || f.Level != "error" || f.Object != "cluster mesh-1" || !strings.HasPrefix(f.Hint, "gcloud compute firewall-rules create") {
		t.Errorf("finding %+v", f)
	}
	for _, c := range out.Checks {
		if c.ID == "" || c.Level == "" || c.Status == "" || c.Message == "" {
			t.Errorf("check %+v lacks a field", c)
		}
		if c.ID == "MC0131" && (!c.Fixable || c.Hint == "") {
			t.Errorf("MC0131 %+v", c)
		}
	}
}
