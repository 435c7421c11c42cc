package root

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"cloud.google.com/go/auth"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/config"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// harness runs the command tree in-process against a fake environment.
type harness struct {
	env    map[string]string
	files  map[string]string // extra files; anything else is read from disk
	outTTY bool
	errTTY bool
	extra  func(f *factory.Factory) []*cobra.Command // test-only commands
}

type result struct {
	code   int
	stdout string
	stderr string
}

func (h *harness) run(t *testing.T, args ...string) result {
	t.Helper()
	return h.runContext(t, context.Background(), args...)
}

func (h *harness) runContext(t *testing.T, ctx context.Context, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	env := factory.Env{
		Streams: ui.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, OutTTY: h.outTTY, ErrTTY: h.errTTY},
		LookupEnv: func(k string) (string, bool) {
			v, ok := h.env[k]
			return v, ok
		},
		ReadFile: func(name string) ([]byte, error) {
			if b, ok := h.files[name]; ok {
				return []byte(b), nil
			}
			return os.ReadFile(name)
		},
	}
	f := factory.New(env)
	f.DetectCredentials = func() (*auth.Credentials, error) { return nil, errors.New("tests never look up real credentials") }
	r := newRoot(f)
	if h.extra != nil {
		r.cmd.AddCommand(h.extra(f)...)
	}
	code := r.run(ctx, args)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// newHarness returns a harness with a clean environment: no kubeconfig, no
// config file, no gcloud configuration.
func newHarness(t *testing.T) *harness {
	home := t.TempDir()
	return &harness{env: map[string]string{"HOME": home, "KUBECONFIG": filepath.Join(home, "no-kubeconfig")}, files: map[string]string{}}
}

func TestHelpListsCommands(t *testing.T) {
	h := newHarness(t)
	for _, args := range [][]string{{}, {"--help"}, {"help"}} {
		r := h.run(t, args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d, stderr %s", args, r.code, r.stderr)
		}
		for _, cmd := range []string{"version", "completion", "config"} {
			if !strings.Contains(r.stdout, "  "+cmd+" ") {
				t.Errorf("%v: help lacks %q:\n%s", args, cmd, r.stdout)
			}
		}
	}
}

func TestVersionFormats(t *testing.T) {
	h := newHarness(t)
	r := h.run(t, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "meshctl dev\n  commit:") || !strings.Contains(r.stdout, "go:       go1.") {
		t.Errorf("text: exit %d\n%s", r.code, r.stdout)
	}
	for _, format := range []string{"json", "yaml"} {
		r := h.run(t, "version", "-o", format)
		var v map[string]string
		var err error
		if format == "json" {
			err = json.Unmarshal([]byte(r.stdout), &v)
		} else {
			err = yaml.Unmarshal([]byte(r.stdout), &v)
		}
		if err != nil || r.code != 0 {
			t.Fatalf("%s: exit %d, %v:\n%s", format, r.code, err, r.stdout)
		}
		for _, k := range []string{"version", "commit", "date", "goVersion", "platform"} {
			if v[k] == "" {
				t.Errorf("%s: %q missing in %v", format, k, v)
			}
		}
	}
	if r := h.run(t, "--version"); r.stdout != "meshctl dev\n" {
		t.Errorf("--version = %q", r.stdout)
	}
}

func TestColor(t *testing.T) {
	tests := []struct {
		name   string
		tty    bool
		env    map[string]string
		args   []string
		colour bool
	}{
		{"terminal", true, nil, nil, true},
		{"pipe", false, nil, nil, false},
		{"NO_COLOR", true, map[string]string{"NO_COLOR": "1"}, nil, false},
		{"--no-color", true, nil, []string{"--no-color"}, false},
		{"MESHCTL_NO_COLOR", true, map[string]string{"MESHCTL_NO_COLOR": "true"}, nil, false},
		{"TERM=dumb", true, map[string]string{"TERM": "dumb"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.outTTY = tt.tty
			for k, v := range tt.env {
				h.env[k] = v
			}
			r := h.run(t, append([]string{"version"}, tt.args...)...)
			if got := strings.Contains(r.stdout, "\x1b["); got != tt.colour {
				t.Errorf("colour = %v, want %v:\n%q", got, tt.colour, r.stdout)
			}
			if !strings.Contains(r.stdout, "meshctl") {
				t.Errorf("output lost its text: %q", r.stdout)
			}
		})
	}
}

// configViewJSON runs `config view -o json` and returns setting -> "value|source".
func configViewJSON(t *testing.T, h *harness, args ...string) map[config.Key]string {
	t.Helper()
	r := h.run(t, append([]string{"config", "view", "-o", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var v struct {
		Settings []config.Setting `json:"settings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("%v:\n%s", err, r.stdout)
	}
	out := map[config.Key]string{}
	for _, s := range v.Settings {
		out[s.Key] = s.Value + "|" + s.Source.String()
	}
	return out
}

func TestConfigViewPrecedence(t *testing.T) {
	kubeconfig, err := filepath.Abs("../../../testdata/kubeconfig/gke.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	cfgFile := filepath.Join(h.env["HOME"], ".config", "meshctl", "config.yaml")
	h.env["KUBECONFIG"] = kubeconfig
	h.env["MESHCTL_CLUSTER"] = "env-cluster"
	h.env["CLOUDSDK_CORE_PROJECT"] = "gcloud-project"
	h.env["CLOUDSDK_COMPUTE_ZONE"] = "gcloud-zone"
	h.files[cfgFile] = "location: config-location\ntimeout: 5m\ncompute-endpoint: http://127.0.0.1:8085\n"

	got := configViewJSON(t, h, "--project", "flag-project")
	want := map[config.Key]string{
		config.Project:         "flag-project|flag --project",
		config.Location:        "config-location|config " + cfgFile,
		config.Cluster:         "env-cluster|env MESHCTL_CLUSTER",
		config.Context:         "gke_demo-project_us-central1_mesh-1|kubeconfig current-context",
		config.Kubeconfig:      kubeconfig + "|env KUBECONFIG",
		config.Output:          "json|flag --output",
		config.Timeout:         "5m|config " + cfgFile,
		config.ComputeEndpoint: "http://127.0.0.1:8085|config " + cfgFile,
		config.NoColor:         "false|default",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}

	// Without flag, env and config values, the GKE context fills in
	// project, location and cluster ahead of gcloud's defaults.
	delete(h.env, "MESHCTL_CLUSTER")
	delete(h.files, cfgFile)
	got = configViewJSON(t, h)
	for k, w := range map[config.Key]string{
		config.Project:  "demo-project|kubeconfig context gke_demo-project_us-central1_mesh-1",
		config.Location: "us-central1|kubeconfig context gke_demo-project_us-central1_mesh-1",
		config.Cluster:  "mesh-1|kubeconfig context gke_demo-project_us-central1_mesh-1",
	} {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}

	// A non-GKE context leaves them to gcloud.
	got = configViewJSON(t, h, "--context", "kind-local")
	for k, w := range map[config.Key]string{
		config.Project:  "gcloud-project|gcloud CLOUDSDK_CORE_PROJECT",
		config.Location: "gcloud-zone|gcloud CLOUDSDK_COMPUTE_ZONE",
		config.Cluster:  "|default",
		config.Context:  "kind-local|flag --context",
	} {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
}

func TestConfigViewText(t *testing.T) {
	h := newHarness(t)
	h.env["MESHCTL_PROJECT"] = "p1"
	r := h.run(t, "config", "view", "--container-endpoint", "http://localhost:9000")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"Config file: none (looked for " + h.env["HOME"] + "/.config/meshctl/config.yaml)",
		"SETTING                    VALUE",
		"project                    p1",
		"env MESHCTL_PROJECT",
		"container-endpoint     http://localhost:9000",
		"compute-endpoint       (Google's)",
		"container    none (loopback endpoint)",
		"compute      application default credentials",
		"serviceusage-endpoint  (Google's)",
		"certificate-manager-endpoint (Google's)",
		"certificatemanager application default credentials",
		"resource-manager-endpoint  (Google's)",
		"cloudresourcemanager application default credentials",
	} {
		// Columns widen with the longest setting: compare words.
		if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestExitCodes(t *testing.T) {
	failing := &cobra.Command{Use: "fail", RunE: func(*cobra.Command, []string) error {
		return fmt.Errorf("create backend service web: %w", failure.WithHint(errors.New("quota exceeded"), "request more quota"))
	}}
	problems := &cobra.Command{Use: "problems", RunE: func(cmd *cobra.Command, _ []string) error {
		fmt.Fprintln(cmd.OutOrStdout(), "2 problems")
		return failure.Problems()
	}}
	required := &cobra.Command{Use: "needs", RunE: func(*cobra.Command, []string) error { return nil }}
	required.Flags().String("namespace", "", "")
	_ = required.MarkFlagRequired("namespace")
	slow := &cobra.Command{Use: "slow", RunE: func(cmd *cobra.Command, _ []string) error {
		<-cmd.Context().Done()
		return fmt.Errorf("wait for operation: %w", cmd.Context().Err())
	}}

	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		code       int
		stderr     string // substring; "" means stderr must be empty
		stdout     string
		hintSubstr string
	}{
		{name: "ok", args: []string{"version"}, code: failure.ExitOK, stdout: "meshctl"},
		{name: "failure with hint", args: []string{"fail"}, code: failure.ExitFailure,
			stderr: "Error: create backend service web: quota exceeded\n", hintSubstr: "Hint: request more quota"},
		{name: "unknown command", args: []string{"frobnicate"}, code: failure.ExitUsage, stderr: `unknown command "frobnicate"`, hintSubstr: "meshctl --help"},
		{name: "unknown flag", args: []string{"version", "--frob"}, code: failure.ExitUsage, stderr: "unknown flag: --frob", hintSubstr: "meshctl version --help"},
		{name: "extra argument", args: []string{"version", "x"}, code: failure.ExitUsage, stderr: `unknown command "x"`},
		{name: "required flag", args: []string{"needs"}, code: failure.ExitUsage, stderr: `required flag(s) "namespace" not set`},
		{name: "bad output", args: []string{"-o", "xml", "version"}, code: failure.ExitUsage, stderr: `invalid output "xml"`},
		{name: "bad env", args: []string{"version"}, env: map[string]string{"MESHCTL_TIMEOUT": "soon"}, code: failure.ExitUsage, stderr: "MESHCTL_TIMEOUT"},
		{name: "missing --config", args: []string{"--config", "/nonexistent/meshctl.yaml", "version"}, code: failure.ExitUsage, stderr: "read config file"},
		{name: "problems", args: []string{"problems"}, code: failure.ExitProblems, stdout: "2 problems"},
		{name: "timeout", args: []string{"slow", "--timeout", "20ms"}, code: failure.ExitFailure,
			stderr: "context deadline exceeded", hintSubstr: "--timeout 20ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.extra = func(*factory.Factory) []*cobra.Command { return []*cobra.Command{failing, problems, required, slow} }
			for k, v := range tt.env {
				h.env[k] = v
			}
			r := h.run(t, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", r.code, tt.code, r.stderr)
			}
			if tt.stderr == "" && tt.hintSubstr == "" && r.stderr != "" {
				t.Errorf("stderr = %q, want nothing", r.stderr)
			}
			if !strings.Contains(r.stderr, tt.stderr) || !strings.Contains(r.stderr, tt.hintSubstr) {
				t.Errorf("stderr = %q, want %q and %q", r.stderr, tt.stderr, tt.hintSubstr)
			}
			if strings.Count(r.stderr, "Error:") > 1 {
				t.Errorf("error printed more than once:\n%s", r.stderr)
			}
			if !strings.Contains(r.stdout, tt.stdout) {
				t.Errorf("stdout = %q, want %q", r.stdout, tt.stdout)
			}
		})
	}
}

func TestInterruptedByCancel(t *testing.T) {
	h := newHarness(t)
	started := make(chan struct{})
	h.extra = func(*factory.Factory) []*cobra.Command {
		return []*cobra.Command{{Use: "wait", RunE: func(cmd *cobra.Command, _ []string) error {
			close(started)
			<-cmd.Context().Done()
			return cmd.Context().Err()
		}}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	r := h.runContext(t, ctx, "wait")
	if r.code != failure.ExitInterrupted || r.stderr != "Error: interrupted\n" {
		t.Errorf("exit %d, stderr %q; want 130 and one line", r.code, r.stderr)
	}
}

func TestCompletionScripts(t *testing.T) {
	h := newHarness(t)
	// A broken config file must not break shell start-up.
	h.env["MESHCTL_CONFIG"] = "/nonexistent.yaml"
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		r := h.run(t, "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, "meshctl") {
			t.Errorf("%s: exit %d, %d bytes, stderr %s", shell, r.code, len(r.stdout), r.stderr)
		}
	}
	r := h.run(t, "__complete", "-o", "")
	if r.code != 0 || !strings.Contains(r.stdout, "json") || !strings.Contains(r.stdout, "yaml") {
		t.Errorf("--output completion: exit %d\n%s", r.code, r.stdout)
	}
}

func TestReporterFollowsStderr(t *testing.T) {
	for _, tty := range []bool{false, true} {
		h := newHarness(t)
		h.errTTY = tty
		h.env["NO_COLOR"] = "1" // spinners stay; only colour goes
		h.extra = func(f *factory.Factory) []*cobra.Command {
			return []*cobra.Command{{Use: "steps", RunE: func(*cobra.Command, []string) error {
				st := f.Reporter.Step("create backend service")
				st.Done()
				f.Reporter.Warnf("low quota")
				return f.Printer.Print(map[string]string{"name": "web"})
			}}}
		}
		r := h.run(t, "steps", "-o", "json")
		if r.code != 0 || r.stdout != "{\n  \"name\": \"web\"\n}\n" {
			t.Errorf("tty=%v: exit %d, stdout %q: progress must not reach stdout", tty, r.code, r.stdout)
		}
		if !strings.Contains(r.stderr, "✓ create backend service") || !strings.Contains(r.stderr, "! low quota") {
			t.Errorf("tty=%v: stderr %q", tty, r.stderr)
		}
		if spinner := strings.Contains(r.stderr, "\r\x1b[2K"); spinner != tty {
			t.Errorf("tty=%v: spinner redraws = %v:\n%q", tty, spinner, r.stderr)
		}
		if timestamped := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d ▸ create backend service$`).MatchString(r.stderr); timestamped == tty {
			t.Errorf("tty=%v: timestamped = %v:\n%q", tty, timestamped, r.stderr)
		}
	}
}
