package lb

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/meshctl/meshctl/internal/ui"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update after checking):\n--- got\n%s", path, got)
	}
}

// TestResultOutput renders what a person and CI see after a first build, a
// dry run, and a teardown.
func TestResultOutput(t *testing.T) {
	f := newFake(t)
	cl, _ := newTestClient(f)
	spec := testSpec()
	spec.Armor = Armor{Specified: true, WAF: []string{"xss"}}
	dry := cl.DryRun(mustPlan(t, cl, spec))
	res := mustApply(t, cl, spec)
	tp, err := cl.PlanTeardown(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	down, err := cl.Apply(context.Background(), tp)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	for _, r := range []*Result{dry, res, down} {
		r.Elapsed, r.Timings = Duration(1234*time.Millisecond), nil
		if err := r.RenderText(&text, ui.Styles{}); err != nil {
			t.Fatal(err)
		}
		text.WriteString("---\n")
	}
	golden(t, "results.golden", text.Bytes())

	res.Elapsed, res.Timings = Duration(1234*time.Millisecond), nil
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "result.json.golden", append(js, '\n'))
}
