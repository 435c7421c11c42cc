//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemo runs `make demo`'s script on a simulator of its own, as a new user
// would, then `make demo-down`, which must leave nothing behind.
func TestDemo(t *testing.T) {
	state := filepath.Join(t.TempDir(), "demo")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	env := append(os.Environ(), "DEMO_STATE="+state, "MESHSIM="+meshsimBin, "MESHCTL="+meshctlBin,
		"MESHSIM_BIN_DIR="+simBinDir, "NO_COLOR=1")
	// The demo points itself at its own simulator; drop the shared one's settings.
	env = withoutSimSettings(env)

	demo := exec.CommandContext(ctx, "bash", filepath.Join(repoRoot, "hack", "demo.sh"))
	demo.Dir, demo.Env = repoRoot, env
	var out bytes.Buffer
	demo.Stdout, demo.Stderr = &out, &out
	err := demo.Run()
	t.Cleanup(func() { _, _ = meshsim(context.Background(), state, "down") })
	if err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	transcript := out.String()
	for _, want := range []string{
		"== 3. Check the cluster is ready for the mesh", "$ meshctl check",
		"$ meshctl install --enable-all", "mesh revision asm-1311-19 installed",
		"$ meshctl inject --namespace storefront --namespace checkout",
		"$ meshctl expose svc cart -n checkout --host cart.example.com --lb checkout",
		"$ meshctl expose svc catalog -n storefront --host catalog.example.com --via gateway-api",
		"is programmed, route storefront-catalog-gateway/", // the gateway's own namespace
		"$ meshctl unexpose svc payments -n checkout",
		"== Summary", "Validate again", "in all", "DEMO OK", "make demo-down",
	} {
		if !strings.Contains(transcript, want) {
			t.Errorf("the demo's output lacks %q", want)
		}
	}

	statusOut, _ := meshsim(ctx, state, "status", "--json")
	var st struct {
		KubeAPIServer string `json:"kubeAPIServer"`
		GCPEndpoint   string `json:"gcpEndpoint"`
	}
	_ = json.Unmarshal([]byte(statusOut), &st)

	down := exec.CommandContext(ctx, "make", "demo-down")
	down.Dir, down.Env = repoRoot, env
	if b, err := down.CombinedOutput(); err != nil {
		t.Fatalf("make demo-down: %v\n%s", err, b)
	}
	if left := processesMentioning(state); len(left) > 0 {
		t.Errorf("processes left after make demo-down: %v", left)
	}
	for _, endpoint := range []string{st.KubeAPIServer, st.GCPEndpoint} {
		if port := portOf(endpoint); port != "" && listening(port) {
			t.Errorf("port %s still listening after make demo-down", port)
		}
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("the demo's state %s is left behind", state)
	}
}

// withoutSimSettings removes the variables `meshsim env` sets.
func withoutSimSettings(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k == "KUBECONFIG" || k == "MESHSIM_STATE" || strings.HasPrefix(k, "MESHCTL_") && k != "MESHCTL_BIN" {
			continue
		}
		out = append(out, kv)
	}
	return out
}
