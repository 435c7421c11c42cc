//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

type installResult struct {
	Revision      string   `json:"revision"`
	AsmcliVersion string   `json:"asmcliVersion"`
	Istiod        string   `json:"istiod"`
	Command       []string `json:"command"`
	DryRun        bool     `json:"dryRun"`
	NextStep      string   `json:"nextStep"`
}

func meshctlInstall(t *testing.T, args ...string) (installResult, result) {
	t.Helper()
	r := runIn(t, "", meshctlBin, append([]string{"install", "-o", "json"}, args...)...)
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
	if res.Revision != "asm-install-1" || res.AsmcliVersion != "1.28.2-asm.4+config1" || res.Istiod != "istio-system/istiod-asm-install-1" {
		t.Errorf("result = %+v", res)
	}
	if !strings.Contains(res.NextStep, "meshctl inject") {
		t.Errorf("next step = %q", res.NextStep)
	}
	// The revision is really there, and the generated overlay reached istiod's mesh config.
	kubectl(t, "get", "deploy", "-n", "istio-system", "istiod-asm-install-1")
	if cm := kubectl(t, "get", "configmap", "-n", "istio-system", "istio-asm-install-1", "-o", "jsonpath={.data.mesh}"); !strings.Contains(cm, "accessLogFile: /dev/stdout") {
		t.Errorf("access logging overlay not applied; mesh config:\n%s", cm)
	}

	// A second run is safe and reports the same revision.
	res, r = meshctlInstall(t, "--enable-all", "--revision", "asm-install-1", "--output-dir", outDir, "--access-logging")
	if r.Code != 0 || res.Revision != "asm-install-1" {
		t.Fatalf("second install: exit %d, %+v\n%s", r.Code, res, r.Stderr)
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
