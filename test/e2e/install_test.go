//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

type installResult struct {
	Revision      string   `json:"revision"`
	AsmcliVersion string   `json:"asmcliVersion"`
	Warnings      []string `json:"warnings"`
	Events        []struct {
		Level, Message, Time string
	} `json:"events"`
	Target struct {
		Version, Release, Source string
	} `json:"target"`
	Istiod   string   `json:"istiod"`
	Command  []string `json:"command"`
	DryRun   bool     `json:"dryRun"`
	NextStep string   `json:"nextStep"`
	CA       *struct {
		Root        string `json:"root"`
		RootCreated bool   `json:"rootCreated"`
		Secret      string `json:"secret"`
	} `json:"ca"`
}

func meshctlInstall(t *testing.T, args ...string) (installResult, result) {
	t.Helper()
	return meshctlInstallEnv(t, simEnv, args...)
}

// meshctlInstallEnv runs `meshctl install -o json` with env (a simulator's,
// with additions).
func meshctlInstallEnv(t *testing.T, env []string, args ...string) (installResult, result) {
	t.Helper()
	r := runEnv(t, env, "", meshctlBin, append([]string{"install", "-o", "json"}, args...)...)
	var res installResult
	if r.Code == 0 {
		if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
			t.Fatalf("meshctl install -o json: %v\n%s", err, r.Stdout)
		}
	}
	return res, r
}

func TestInstallThroughAsmcli(t *testing.T) {
	outDir := t.TempDir()
	res, r := meshctlInstall(t, "--enable-all", "--revision", "asm-install-1", "--output-dir", outDir, "--access-logging")
	if r.Code != 0 {
		t.Fatalf("meshctl install: exit %d\n%s", r.Code, r.Stderr)
	}
	if res.Revision != "asm-install-1" || res.AsmcliVersion != "1.31.1-asm.19+config1" || res.Istiod != "istio-system/istiod-asm-install-1" ||
		res.Target.Release != "1.31" || !strings.Contains(res.Target.Source, "asmcli 1.31.1-asm.19+config1 on PATH") {
		t.Errorf("result = %+v", res)
	}
	if !strings.Contains(res.NextStep, "meshctl inject") {
		t.Errorf("next step = %q", res.NextStep)
	}
	for _, e := range res.Events {
		if e.Time != "" {
			t.Errorf("event with a timestamp from an asmcli that does not timestamp: %+v", e)
		}
	}
	// The revision is really there, and the generated overlay reached istiod's mesh config.
	kubectl(t, "get", "deploy", "-n", "istio-system", "istiod-asm-install-1")
	if cm := kubectl(t, "get", "configmap", "-n", "istio-system", "istio-asm-install-1", "-o", "jsonpath={.data.mesh}"); !strings.Contains(cm, "accessLogFile: /dev/stdout") {
		t.Errorf("access logging overlay not applied; mesh config:\n%s", cm)
	}

	// A second run is safe and reports the same revision. It runs with
	// asmcli's log as it comes when moreutils' ts is installed (the
	// stand-in's MESHSIM_ASMCLI_TS), over an output directory another
	// asmcli release left, which asmcli warns about.
	if err := os.WriteFile(filepath.Join(outDir, ".asm_version"), []byte("1.30.5-asm.11+config1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, r = meshctlInstallEnv(t, append(append([]string{}, simEnv...), "MESHSIM_ASMCLI_TS=1"),
		"--enable-all", "--revision", "asm-install-1", "--output-dir", outDir, "--access-logging")
	if r.Code != 0 || res.Revision != "asm-install-1" {
		t.Fatalf("second install: exit %d, %+v\n%s", r.Code, res, r.Stderr)
	}
	checkTimestampedRun(t, outDir, res, r)
}

// checkTimestampedRun checks an install whose asmcli log came timestamped
// (`2026-11-03T14:02:07.123456 asmcli: ...` on stderr): the revision came
// from the outro (res.Revision), the warning was captured, and the events
// reached meshctl's progress without asmcli's timestamps.
func checkTimestampedRun(t *testing.T, outDir string, res installResult, r result) {
	t.Helper()
	warned := false
	for _, w := range res.Warnings {
		warned = warned || strings.HasPrefix(w, "The existing configuration in "+outDir+" is from a different version")
	}
	if !warned {
		t.Errorf("the different-version warning was not captured: warnings %q\n%s", res.Warnings, r.Stderr)
	}
	for _, event := range []string{"asmcli install: Setting up necessary files...", "asmcli install: Installing ASM control plane...",
		"asmcli: The existing configuration in " + outDir} {
		if !strings.Contains(r.Stderr, event) {
			t.Errorf("progress lacks %q:\n%s", event, r.Stderr)
		}
	}
	stamp := regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6} asmcli: `)
	if stamp.MatchString(r.Stderr) {
		t.Errorf("asmcli's timestamps reached meshctl's output:\n%s", r.Stderr)
	}
	// meshctl did receive the timestamped form: the warning carries
	// asmcli's time.
	timeRE, stamped := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$`), false
	for _, e := range res.Events {
		stamped = stamped || e.Level == "warning" && strings.HasPrefix(e.Message, "The existing configuration") && timeRE.MatchString(e.Time)
	}
	if !stamped {
		t.Errorf("no warning event with asmcli's timestamp: %+v", res.Events)
	}
}

func TestInstallStopsOnFailedPrechecks(t *testing.T) {
	_, r := meshctlInstall(t, "--cluster", "no-such-cluster", "--enable-all", "--output-dir", t.TempDir())
	if r.Code != 3 || !strings.Contains(r.Stderr, "the cluster is not ready for the mesh") || !strings.Contains(r.Stderr, "--skip-checks") {
		t.Errorf("failed prechecks: exit %d\n%s", r.Code, r.Stderr)
	}
}

func TestInstallDryRunRunsNothing(t *testing.T) {
	res, r := meshctlInstall(t, "--enable-all", "--revision", "asm-install-dry", "--output-dir", t.TempDir(), "--dry-run", "--egress-registry-only")
	if r.Code != 0 || !res.DryRun {
		t.Fatalf("dry run: exit %d %+v\n%s", r.Code, res, r.Stderr)
	}
	cmd := strings.Join(res.Command, " ")
	if !strings.Contains(cmd, "install --project_id meshsim-project --cluster_name meshsim --cluster_location us-central1") ||
		!strings.Contains(cmd, "--revision_name asm-install-dry") || !strings.Contains(cmd, "meshctl-overlay-egress-registry-only.yaml") {
		t.Errorf("dry-run command = %s", cmd)
	}
	if out := kubectl(t, "get", "deploy", "-n", "istio-system", "-l", "istio.io/rev=asm-install-dry", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("dry run installed something: %s", out)
	}
}

func TestInstallReportsAsmcliProblems(t *testing.T) {
	// The prechecks would stop first (the GKE API has no such cluster): skip
	// them to see asmcli's own diagnosis come through.
	_, r := meshctlInstall(t, "--cluster", "no-such-cluster", "--enable-all", "--skip-checks", "--output-dir", t.TempDir())
	if r.Code != 1 || !strings.Contains(r.Stderr, "asmcli found problems (exit 2)") ||
		!strings.Contains(r.Stderr, "Unable to find cluster us-central1/no-such-cluster") || !strings.Contains(r.Stderr, "gcloud container clusters list") {
		t.Errorf("asmcli exit 2: meshctl exit %d\n%s", r.Code, r.Stderr)
	}
}

func TestInstallNamesMissingTools(t *testing.T) {
	// Only the simulator's own commands (asmcli, istioctl) on PATH.
	var simPath string
	for _, kv := range simEnv {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			simPath = strings.SplitN(p, ":", 2)[0]
		}
	}
	r := runIn(t, "", "/usr/bin/env", "PATH="+simPath, meshctlBin, "install", "--enable-all", "--output-dir", t.TempDir())
	if r.Code != 1 || !strings.Contains(r.Stderr, "not found on PATH: awk, gcloud, git, grep, jq, kubectl") {
		t.Errorf("missing tools: exit %d\n%s", r.Code, r.Stderr)
	}
}
