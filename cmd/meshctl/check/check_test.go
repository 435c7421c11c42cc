package check

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshctl/meshctl/cmd/meshctl/cmdtest"
	"github.com/meshctl/meshctl/internal/config"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/check"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/install"
	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/scenario"
)

func TestNewCmdCheck(t *testing.T) {
	cluster := &config.Settings{Project: "p", Location: "l", Cluster: "c", Context: "gke_p_l_c"}
	tests := []struct {
		name     string
		settings *config.Settings
		args     []string
		want     check.Options
		err      string
		hint     string
	}{
		{name: "defaults", settings: cluster,
			want: check.Options{Project: "p", Location: "l", Cluster: "c", KubeContext: "gke_p_l_c", FailOn: findings.Error}},
		{name: "flags", settings: cluster, args: []string{"--mesh-version", "1.29", "--fix", "--fail-on", "warning"},
			want: check.Options{Project: "p", Location: "l", Cluster: "c", KubeContext: "gke_p_l_c", MeshVersion: "1.29", MeshVersionSource: "--mesh-version", Fix: true, FailOn: findings.Warning}},
		{name: "fix dry run", settings: cluster, args: []string{"--fix", "--dry-run"},
			want: check.Options{Project: "p", Location: "l", Cluster: "c", KubeContext: "gke_p_l_c", Fix: true, DryRun: true, FailOn: findings.Error}},
		{name: "dry run without fix", settings: cluster, args: []string{"--dry-run"}, err: "--dry-run shows what --fix would change", hint: "meshctl check --fix --dry-run"},
		{name: "no cluster", settings: &config.Settings{}, err: "project, location and cluster are required", hint: "--cluster"},
		{name: "unknown release", settings: cluster, args: []string{"--mesh-version", "1.12"}, err: `unknown mesh release "1.12"`, hint: "--mesh-version"},
		{name: "bad --fail-on", settings: cluster, args: []string{"--fail-on", "fatal"}, err: "error, warning or info"},
		{name: "arguments", settings: cluster, args: []string{"mesh-1"}, err: `unknown command "mesh-1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := cmdtest.Factory(tt.settings, nil)
			var got *CheckOptions
			err := cmdtest.Execute(NewCmdCheck(f, cmdtest.Capture(&got)), tt.args...)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(failure.HintOf(err), tt.hint) || got != nil {
					t.Errorf("err %v (hint %q), ran %v; want %q with hint %q", err, failure.HintOf(err), got != nil, tt.err, tt.hint)
				}
				if tt.hint != "" && failure.ExitCode(err) != failure.ExitUsage {
					t.Errorf("exit code %d, want a usage error", failure.ExitCode(err))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Check != tt.want {
				t.Errorf("options %+v, want %+v", got.Check, tt.want)
			}
			if got.Clients == nil || got.Target == nil || got.Printer != f.Printer || got.Reporter != f.Reporter {
				t.Error("clients, target, printer or reporter not handed over")
			}
		})
	}
}

// TestRunAgainstFakeGCP runs check on the real clients against the
// simulator's Google APIs in-process, without a kubeconfig: the Google
// checks run, the Kubernetes ones say why they could not, and the result
// has problems (exit code 3).
func TestRunAgainstFakeGCP(t *testing.T) {
	sc := scenario.Default()
	sc.Private = true
	srv := httptest.NewServer(fakegcp.New(sc, fakegcp.Options{}).Handler())
	defer srv.Close()
	home := t.TempDir()
	f, out := cmdtest.Factory(&config.Settings{Output: ui.FormatJSON, ComputeEndpoint: srv.URL, ContainerEndpoint: srv.URL},
		map[string]string{"HOME": home, "KUBECONFIG": filepath.Join(home, "none")})
	opts := &CheckOptions{
		Check:   check.Options{Project: sc.Project, Location: sc.Location, Cluster: sc.Cluster, FailOn: findings.Error},
		Clients: f.CheckClients, Printer: f.Printer, Reporter: ui.Discard,
		// The asmcli install would run is of 1.29: check targets it.
		Target: func(context.Context) install.Target {
			return install.Target{Version: "1.29.8-asm.11+config1", Release: "1.29", Source: "asmcli 1.29.8-asm.11+config1 on PATH (/x/asmcli)"}
		},
	}
	err := run(context.Background(), opts)
	if code := failure.ExitCode(err); code != failure.ExitProblems {
		t.Fatalf("exit %d (%v), want 3\n%s", code, err, out.Out.String())
	}
	var res struct {
		Ready             bool   `json:"ready"`
		MeshRelease       string `json:"meshRelease"`
		MeshReleaseSource string `json:"meshReleaseSource"`
		Checks            []struct{ ID, Status, Message, Hint string }
	}
	if err := json.Unmarshal(out.Out.Bytes(), &res); err != nil {
		t.Fatalf("%v\n%s", err, out.Out.String())
	}
	if res.MeshRelease != "1.29" || res.MeshReleaseSource != "asmcli 1.29.8-asm.11+config1 on PATH (/x/asmcli)" {
		t.Errorf("target CSM %s from %q, want 1.29 from the asmcli found", res.MeshRelease, res.MeshReleaseSource)
	}
	status := map[string]string{}
	for _, c := range res.Checks {
		status[c.ID] = c.Status
		if c.ID == "MC0131" && !strings.HasPrefix(c.Hint, "gcloud compute firewall-rules create meshctl-webhook-meshsim-") {
			t.Errorf("MC0131 hint %q", c.Hint)
		}
	}
	want := map[string]string{"MC0110": "ok", "MC0121": "ok", "MC0122": "ok", "MC0131": "error", "MC0140": "ok", "MC0143": "ok", "MC0151": "unavailable"}
	for id, st := range want {
		if status[id] != st {
			t.Errorf("%s: %s, want %s", id, status[id], st)
		}
	}
	if res.Ready {
		t.Error("ready with an error")
	}
}
