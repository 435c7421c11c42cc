//go:build e2e

package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// uninstall --managed: a caller who may not delete the membership meshctl
// registered is refused before the first fleet change, naming the
// permission; the membership, the servicemesh feature and the managed
// control plane stay, and the fleet's request log holds no mutating call.
// Granted, the same uninstall removes them. On a simulator of its own: the
// managed control plane would change the shared cluster for other tests.
func TestPermissionsUninstallManaged(t *testing.T) {
	env := freshSim(t)
	compute := envValue(env, "MESHCTL_COMPUTE_ENDPOINT")
	iam := func(verb string, perms ...string) {
		t.Helper()
		simAPIAt(t, compute, http.MethodPost, "/meshsim/iam/"+verb, map[string]any{"permissions": perms}, nil)
	}
	if _, r := meshctlManaged(t, env, "install", "--managed"); r.Code != 0 {
		t.Fatalf("install --managed: exit %d\n%s", r.Code, r.Stderr)
	}

	const perm = "gkehub.memberships.delete"
	iam("deny", perm)
	hubRequests(t, env, "/meshsim/hub/requests", true)
	hubRequests(t, env, "/meshsim/requests", true)
	_, r := meshctlManaged(t, env, "uninstall", "--managed")
	if r.Code == 0 {
		t.Fatalf("uninstall --managed succeeded without %s:\n%s", perm, r.Stdout)
	}
	for _, want := range []string{"lacks 1 permission", perm + " in project meshsim-project", "nothing was changed", "add-iam-policy-binding meshsim-project", "roles/gkehub.editor"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.Stderr)
		}
	}
	for _, path := range []string{"/meshsim/hub/requests", "/meshsim/requests"} {
		if st := hubRequests(t, env, path, false); st.Mutations != 0 {
			t.Errorf("the refused uninstall made %d mutating calls (%s): %v", st.Mutations, path, st.ByMethod)
		}
	}
	if n, feature := fleetState(t, env); n != 1 || !feature {
		t.Errorf("after the refused uninstall the fleet has %d memberships and the feature %v", n, feature)
	}
	if got := kubectlWith(t, env, "get", "controlplanerevisions", "-n", "istio-system", "-o", "name"); !strings.Contains(got, "asm-managed") {
		t.Errorf("the refused uninstall removed the managed revision: %q", got)
	}

	iam("grant", perm)
	res, r := meshctlManaged(t, env, "uninstall", "--managed")
	if acts := stepActions(res); r.Code != 0 || acts["unregister"] != "done" || acts["disable-feature"] != "done" {
		t.Fatalf("uninstall --managed with the permission: exit %d %+v\n%s", r.Code, res, r.Stderr)
	}
	if n, feature := fleetState(t, env); n != 0 || feature {
		t.Errorf("after uninstall --managed the fleet has %d memberships and the feature %v", n, feature)
	}
}

// install (asmcli) --enable meshconfig_init: asmcli would initialize the
// Mesh Config API in the cluster's project; a caller without
// meshconfig.projects.init is refused before asmcli runs, with the role
// that grants it. (Granted, the install is asmcli's: TestInstall*.)
func TestPermissionsInstallAsmcliMeshconfigInit(t *testing.T) {
	iamDeny(t, "", "meshconfig.projects.init")
	const rev = "asm-perm-meshconfig"
	refused(t, "meshconfig.projects.init", "project "+simProject,
		"install", "--enable", "meshconfig_init", "--skip-checks", "--revision", rev, "--output-dir", t.TempDir())
	r := lbRun(t, "", meshctlBin, "install", "--enable", "meshconfig_init", "--skip-checks", "--revision", rev, "--output-dir", t.TempDir())
	if !strings.Contains(r.Stderr, "roles/meshconfig.admin") {
		t.Errorf("the refusal does not name Mesh Config Admin:\n%s", r.Stderr)
	}
	if exists(t, "-n", "istio-system", "deployment/istiod-"+rev) {
		t.Error("asmcli ran")
	}
}
