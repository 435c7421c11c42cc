//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinary runs the built meshctl as a user would, outside any
// simulator, checking stdout, stderr and the process exit code. The
// in-process tests (cmd/meshctl/root) cover the same ground without a
// process; this proves the binary's main wires them.
func TestBinary(t *testing.T) {
	home := t.TempDir()
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "KUBECONFIG=" + filepath.Join(home, "none")}
	tests := []struct {
		name   string
		args   []string
		env    []string
		code   int
		stdout []string
		stderr []string
	}{
		{name: "help", args: []string{"--help"}, code: 0,
			stdout: []string{"Available Commands:", "completion", "config", "version", "--project", "--output"}},
		{name: "version", args: []string{"version"}, code: 0, stdout: []string{"meshctl ", "commit:   "}},
		{name: "config view", args: []string{"config", "view"}, env: []string{"MESHCTL_PROJECT=p1"}, code: 0, stdout: []string{"env MESHCTL_PROJECT"}},
		{name: "completion", args: []string{"completion", "zsh"}, code: 0, stdout: []string{"#compdef meshctl"}},
		{name: "unknown command", args: []string{"nope"}, code: 2, stderr: []string{`Error: unknown command "nope"`, "Hint:"}},
		{name: "unknown flag", args: []string{"version", "--nope"}, code: 2, stderr: []string{"unknown flag: --nope"}},
		{name: "bad output", args: []string{"version", "-o", "xml"}, code: 2, stderr: []string{`invalid output "xml"`}},
		{name: "bad config file", args: []string{"version", "--config", filepath.Join(home, "missing.yaml")}, code: 2, stderr: []string{"read config file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runEnvOnly(t, append(env, tt.env...), tt.args...)
			if r.Code != tt.code {
				t.Errorf("exit %d, want %d\nstderr: %s", r.Code, tt.code, r.Stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(r.Stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, r.Stdout)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(r.Stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.Stderr)
				}
			}
			if tt.code == 0 && r.Stderr != "" {
				t.Errorf("stderr on success: %s", r.Stderr)
			}
			if strings.Contains(r.Stdout+r.Stderr, "\x1b[") {
				t.Errorf("colour on a pipe")
			}
		})
	}

	// The build's version information: from the release ldflags (`make
	// e2e`) or, for a plain go build, from what the toolchain recorded;
	// either way the commit is the checkout's.
	t.Run("version json", func(t *testing.T) {
		r := runEnvOnly(t, env, "version", "-o", "json")
		var v struct{ Version, Commit, Date, GoVersion string }
		if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil || r.Code != 0 {
			t.Fatalf("exit %d, %v:\n%s", r.Code, err, r.Stdout)
		}
		head, err := exec.Command("git", "-C", repoRoot, "rev-parse", "HEAD").Output()
		if err != nil {
			t.Skipf("no git checkout to compare with: %v", err)
		}
		if v.Commit != strings.TrimSpace(string(head)) || v.Version == "" || v.Version == "dev" || v.Date == "unknown" || !strings.HasPrefix(v.GoVersion, "go") {
			t.Errorf("version = %+v, want commit %s", v, head)
		}
		if r := runEnvOnly(t, env, "--version"); r.Stdout != "meshctl "+v.Version+"\n" {
			t.Errorf("--version = %q", r.Stdout)
		}
	})
}

// runEnvOnly runs meshctl with exactly env: no simulator, nothing of the
// test process's environment.
func runEnvOnly(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(meshctlBin, args...)
	cmd.Env = env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode()}
	if err != nil && r.Code <= 0 {
		t.Fatalf("run %v: %v", args, err)
	}
	return r
}
