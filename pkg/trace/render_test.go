package trace

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/meshctl/meshctl/pkg/lb"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n%s", path, got)
	}
}

// The text draws the path top to bottom with the evidence, the findings
// with their fixes, and the answer last.
func TestRenderText(t *testing.T) {
	t.Run("healthy", func(t *testing.T) {
		w := newWorld(t)
		for _, c := range negCalls {
			w.reg.Stub(c)
		}
		golden(t, "healthy", render(t, w.run()))
	})
	t.Run("firewall", func(t *testing.T) {
		w := newWorld(t)
		for _, c := range append(negCalls, firewallCalls...) {
			w.reg.Stub(c)
		}
		w.compute.remove(lb.KindFirewall, "gfe")
		w.endpointsIn("us-central1-a", "10.0.0.5", "node-a", "UNHEALTHY")
		w.endpointsIn("us-central1-b", "10.0.1.7", "node-b", "UNHEALTHY")
		golden(t, "firewall", render(t, w.run()))
	})
	t.Run("no forwarding rule", func(t *testing.T) {
		w := newWorld(t)
		w.opts.Target, w.opts.Address = "other.example.com", ""
		golden(t, "no-forwarding-rule", render(t, w.run()))
	})
}
