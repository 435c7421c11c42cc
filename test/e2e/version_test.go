//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

// TestMeshVersionChain: the release check checks is the release install
// installs. On the shared simulator the asmcli stand-in is on PATH and
// reports the pinned 1.31.1-asm.19; check targets it and says so, install
// --mesh-version must name its release, and without any asmcli check falls
// back to the release meshctl would download, saying why.
func TestMeshVersionChain(t *testing.T) {
	res := meshctlCheck(t, nil, 0)
	if res.MeshRelease != "1.31" || !strings.Contains(res.MeshReleaseSource, "asmcli 1.31.1-asm.19+config1 on PATH") {
		t.Errorf("check's default target: CSM %s from %q, want 1.31 from the asmcli on PATH", res.MeshRelease, res.MeshReleaseSource)
	}
	res = meshctlCheck(t, nil, 0, "--mesh-version", "1.29")
	if res.MeshRelease != "1.29" || res.MeshReleaseSource != "--mesh-version" || res.SupportedGKE != "GKE 1.32 to 1.35" {
		t.Errorf("check --mesh-version 1.29: CSM %s (%s) from %q", res.MeshRelease, res.SupportedGKE, res.MeshReleaseSource)
	}
	text := runIn(t, "", meshctlBin, "check", "--mesh-version", "1.30")
	if !strings.Contains(text.Stdout, "target CSM 1.30 (GKE 1.32 to 1.35, inferred; from --mesh-version)") {
		t.Errorf("check's header does not say where the target came from:\n%s", text.Stdout)
	}

	install, r := meshctlInstall(t, "--mesh-version", "1.31", "--dry-run", "--output-dir", t.TempDir())
	if r.Code != 0 || install.Target.Release != "1.31" || !strings.Contains(install.Target.Source, "--mesh-version 1.31, run by asmcli 1.31.1-asm.19+config1 on PATH") {
		t.Errorf("install --mesh-version 1.31 --dry-run: exit %d, target %+v\n%s", r.Code, install.Target, r.Stderr)
	}
	_, r = meshctlInstall(t, "--mesh-version", "1.29", "--dry-run", "--output-dir", t.TempDir())
	if r.Code != 1 || !strings.Contains(r.Stderr, "--mesh-version 1.29 asks for CSM 1.29, but asmcli 1.31.1-asm.19+config1 on PATH") ||
		!strings.Contains(r.Stderr, "asmcli_1.29") {
		t.Errorf("install --mesh-version 1.29 with asmcli 1.31 on PATH: exit %d\n%s", r.Code, r.Stderr)
	}
	_, r = meshctlInstall(t, "--mesh-version", "1.25", "--dry-run")
	if r.Code != 2 || !strings.Contains(r.Stderr, `unknown mesh release "1.25"`) {
		t.Errorf("install --mesh-version 1.25: exit %d\n%s", r.Code, r.Stderr)
	}

	// No asmcli anywhere (PATH without the simulator's commands, an empty
	// cache): check targets what install would download.
	env := withoutSimCommands(simEnv)
	env = append(env, "XDG_CACHE_HOME="+t.TempDir())
	r = runEnv(t, env, "", meshctlBin, "check", "-o", "json")
	if !strings.Contains(r.Stdout, `"meshRelease": "1.31"`) || !strings.Contains(r.Stdout, "the default, the release meshctl installs (no asmcli on PATH or in meshctl's cache)") {
		t.Errorf("check without asmcli: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}

// withoutSimCommands is env with the simulator's command directory (asmcli,
// istioctl) taken off PATH.
func withoutSimCommands(env []string) []string {
	var out []string
	for _, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			parts := strings.Split(p, ":")
			kv = "PATH=" + strings.Join(parts[1:], ":")
		}
		out = append(out, kv)
	}
	return out
}
