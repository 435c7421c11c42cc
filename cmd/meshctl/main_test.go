package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinary builds meshctl as the release does (version ldflags) and runs it
// as a user would, checking stdout, stderr and the process exit code.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "meshctl")
	const pkg = "github.com/meshctl/meshctl/internal/buildinfo"
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X "+pkg+".version=v9.9.9-test -X "+pkg+".commit=abc1234 -X "+pkg+".date=2026-01-02T03:04:05Z", ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
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
		{name: "version", args: []string{"version"}, code: 0, stdout: []string{"meshctl v9.9.9-test", "commit:   abc1234"}},
		{name: "config view", args: []string{"config", "view"}, env: []string{"MESHCTL_PROJECT=p1"}, code: 0, stdout: []string{"env MESHCTL_PROJECT"}},
		{name: "completion", args: []string{"completion", "zsh"}, code: 0, stdout: []string{"#compdef meshctl"}},
		{name: "unknown command", args: []string{"nope"}, code: 2, stderr: []string{`Error: unknown command "nope"`, "Hint:"}},
		{name: "unknown flag", args: []string{"version", "--nope"}, code: 2, stderr: []string{"unknown flag: --nope"}},
		{name: "bad output", args: []string{"version", "-o", "xml"}, code: 2, stderr: []string{`invalid output "xml"`}},
		{name: "bad config file", args: []string{"version", "--config", filepath.Join(home, "missing.yaml")}, code: 2, stderr: []string{"read config file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := run(t, bin, append(env, tt.env...), tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstderr: %s", code, tt.code, stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if tt.code == 0 && stderr != "" {
				t.Errorf("stderr on success: %s", stderr)
			}
			if strings.Contains(stdout+stderr, "\x1b[") {
				t.Errorf("colour on a pipe")
			}
		})
	}

	t.Run("version json", func(t *testing.T) {
		stdout, _, code := run(t, bin, env, "version", "-o", "json")
		var v struct{ Version, Commit, Date, GoVersion string }
		if err := json.Unmarshal([]byte(stdout), &v); err != nil || code != 0 {
			t.Fatalf("exit %d, %v:\n%s", code, err, stdout)
		}
		if v.Version != "v9.9.9-test" || v.Commit != "abc1234" || v.Date != "2026-01-02T03:04:05Z" || !strings.HasPrefix(v.GoVersion, "go") {
			t.Errorf("version = %+v", v)
		}
	})
}

func run(t *testing.T, bin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}
