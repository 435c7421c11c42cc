//go:build e2e

// Package e2e drives the built meshsim and meshctl binaries against one
// shared simulator, checking results with independent clients (kubectl,
// gcloud). Run it with `make e2e`, which builds what it needs first.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The shared simulator: every test works in its own namespaces and with
// its own resource names, so they can share it.
var (
	repoRoot   string
	binDir     string // built meshsim and meshctl
	simBinDir  string // third-party binaries from make sim-deps
	stateDir   string
	simEnv     []string
	meshsimBin string
	meshctlBin string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// helperSimEnv, in the environment of a child process a test starts from
// the test binary (to kill it, say), holds the parent's simulator
// environment, one KEY=VALUE a line: the child uses that simulator rather
// than starting its own.
const helperSimEnv = "E2E_HELPER_SIM_ENV"

func run(m *testing.M) int {
	if parent := os.Getenv(helperSimEnv); parent != "" {
		simEnv = strings.Split(parent, "\n")
		return m.Run()
	}
	wd, _ := os.Getwd()
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	simBinDir = os.Getenv("MESHSIM_BIN_DIR")
	if simBinDir == "" {
		simBinDir = filepath.Join(repoRoot, "bin", "sim")
	}
	tmp, err := os.MkdirTemp("", "meshctl-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	binDir = filepath.Join(tmp, "bin")
	meshsimBin = filepath.Join(binDir, "meshsim")
	meshctlBin = filepath.Join(binDir, "meshctl")
	builds := []struct{ out, pkg string }{{meshsimBin, "./cmd/meshsim"}, {meshctlBin, "./cmd/meshctl"}}
	if prebuilt := os.Getenv("MESHCTL_BIN"); prebuilt != "" {
		// `make e2e` built meshctl with version information already.
		meshctlBin, builds = prebuilt, builds[:1]
	}
	for _, b := range builds {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b.pkg, err, out)
			return 1
		}
	}
	stateDir = filepath.Join(tmp, "sim")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	// E2E_MESHSIM_UP_FLAGS shapes the shared simulator, e.g.
	// "--pod-startup 0" to run the benchmarks with pods that start at once.
	// Managed certificates provision in 5 s unless it says otherwise: the
	// tests that care about the clock set it themselves (lbKnobs).
	upFlags := os.Getenv("E2E_MESHSIM_UP_FLAGS")
	if !strings.Contains(upFlags, "--cert-provisioning-delay") {
		upFlags += " --cert-provisioning-delay 5s"
	}
	up := append([]string{"up"}, strings.Fields(upFlags)...)
	if out, err := meshsim(ctx, stateDir, up...); err != nil {
		fmt.Fprintf(os.Stderr, "meshsim up: %v\n%s", err, out)
		_, _ = meshsim(context.Background(), stateDir, "down")
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: shared meshsim up in %.1fs\n", time.Since(start).Seconds())
	defer func() {
		if out, err := meshsim(context.Background(), stateDir, "down"); err != nil {
			fmt.Fprintf(os.Stderr, "meshsim down: %v\n%s", err, out)
		}
	}()
	envOut, err := meshsim(ctx, stateDir, "env")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	simEnv = parseExports(envOut)
	code := m.Run()
	stopOnceSims()
	return code
}

// meshsim runs the meshsim binary against a state directory.
func meshsim(ctx context.Context, state string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, meshsimBin, append([]string{"--state", state}, args...)...)
	if len(args) > 0 && args[0] == "up" {
		cmd.Args = append(cmd.Args, "--bin-dir", simBinDir)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// parseExports turns `meshsim env` output into KEY=VALUE pairs.
func parseExports(s string) []string {
	var env []string
	for _, line := range strings.Split(s, "\n") {
		kv, ok := strings.CutPrefix(line, "export ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		env = append(env, k+"="+strings.Trim(v, "'"))
	}
	return env
}

// result is one finished command.
type result struct {
	Stdout, Stderr string
	Code           int
}

// runIn runs a command with the simulator's environment.
func runIn(t *testing.T, stdin string, name string, args ...string) result {
	t.Helper()
	return runEnv(t, simEnv, stdin, name, args...)
}

// runEnv runs a command with a simulator's environment (what its `meshsim
// env` printed), stdin as given, and NO_COLOR; it fails the test only when
// the command cannot run at all.
func runEnv(tb testing.TB, env []string, stdin string, name string, args ...string) result {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, lookPathIn(env, name), args...)
	cmd.Env = append(append(os.Environ(), env...), "NO_COLOR=1")
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.Code = ee.ExitCode()
	} else if err != nil {
		tb.Fatalf("%s %v: %v", name, args, err)
	}
	return r
}

// ownSim starts a simulator of the test's own, with extra `meshsim up`
// flags (another cluster shape), stopped when the test ends, and returns
// its `meshsim env`.
func ownSim(tb testing.TB, upArgs ...string) []string {
	tb.Helper()
	// A short path: kwok puts unix sockets under the state directory.
	state, err := os.MkdirTemp("", "e2e-sim-")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	tb.Cleanup(func() {
		if out, err := meshsim(context.Background(), state, "down"); err != nil {
			tb.Logf("meshsim down: %v\n%s", err, out)
		}
		os.RemoveAll(state)
	})
	if out, err := meshsim(ctx, state, append([]string{"up"}, upArgs...)...); err != nil {
		tb.Fatalf("meshsim up %v: %v\n%s", upArgs, err, out)
	}
	tb.Logf("own meshsim up %v in %.1fs", upArgs, time.Since(start).Seconds())
	out, err := meshsim(ctx, state, "env")
	if err != nil {
		tb.Fatalf("meshsim env: %v\n%s", err, out)
	}
	return parseExports(out)
}

// simLookPath finds a command on the shared simulator's PATH.
func simLookPath(name string) string { return lookPathIn(simEnv, name) }

// lookPathIn finds a command on the PATH a `meshsim env` sets (asmcli and
// istioctl live there), which exec would not search on its own.
func lookPathIn(env []string, name string) string {
	if strings.Contains(name, "/") {
		return name
	}
	for i := len(env) - 1; i >= 0; i-- {
		if path, ok := strings.CutPrefix(env[i], "PATH="); ok {
			for _, dir := range filepath.SplitList(path) {
				if st, err := os.Stat(filepath.Join(dir, name)); err == nil && !st.IsDir() {
					return filepath.Join(dir, name)
				}
			}
			break
		}
	}
	return name
}

// kubectl runs kubectl against the simulated cluster and fails the test on error.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	r := runIn(t, "", "kubectl", args...)
	if r.Code != 0 {
		t.Fatalf("kubectl %s: exit %d\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// kubectlApply applies a manifest.
func kubectlApply(t *testing.T, manifest string) {
	t.Helper()
	r := runIn(t, manifest, "kubectl", "apply", "-f", "-")
	if r.Code != 0 {
		t.Fatalf("kubectl apply: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, detail := cond()
		if ok {
			return
		}
		last = detail
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s (last: %s)", what, timeout, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
