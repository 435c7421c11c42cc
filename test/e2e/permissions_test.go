//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meshctl/meshctl/pkg/revision"
)

// The permission tests take one permission a command's plan needs from
// meshctl's principal (POST /meshsim/iam/deny), run the command, and
// expect the up-front refusal naming it with nothing changed (the
// simulator's request log holds no mutating call, the cluster no new
// object); with the permission granted back the same command succeeds.

// iamChange denies or grants (verb "deny", "grant") permissions to
// meshctl's principal, in project (every project when empty).
func iamChange(tb testing.TB, verb, project string, perms ...string) {
	tb.Helper()
	body := map[string]any{"permissions": perms}
	if project != "" {
		body["project"] = project
	}
	lbSimAPI(tb, http.MethodPost, "/meshsim/iam/"+verb, body, nil)
}

// iamDeny takes perms away until the test ends.
func iamDeny(tb testing.TB, project string, perms ...string) {
	tb.Helper()
	iamChange(tb, "deny", project, perms...)
	tb.Cleanup(func() { iamChange(tb, "grant", project, perms...) })
}

// googleMutations are the mutating Google API calls logged since the last
// reset (every fake API's, Compute's and the fleet's).
func googleMutations(tb testing.TB) []string {
	tb.Helper()
	return loggedMutations(tb, "/meshsim/requests")
}

// refused runs meshctl expecting the permission check's refusal of perm
// in where, and no Google change.
func refused(t *testing.T, perm, where string, args ...string) {
	t.Helper()
	lbResetRequests(t)
	r := lbRun(t, "", meshctlBin, args...)
	if r.Code == 0 {
		t.Fatalf("meshctl %s succeeded without %s:\n%s", strings.Join(args, " "), perm, r.Stdout)
	}
	for _, want := range []string{"lacks 1 permission", perm + " in " + where, "nothing was changed", "add-iam-policy-binding"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("meshctl %s: stderr lacks %q:\n%s", strings.Join(args, " "), want, r.Stderr)
		}
	}
	if m := googleMutations(t); len(m) != 0 {
		t.Errorf("meshctl %s changed Google resources before refusing: %v", strings.Join(args, " "), m)
	}
}

func succeeds(t *testing.T, args ...string) result {
	t.Helper()
	r := lbRun(t, "", meshctlBin, args...)
	if r.Code != 0 {
		t.Fatalf("meshctl %s: exit %d\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// expose and unexpose: a load balancer permission missing stops the
// command before the gateway's first Kubernetes object and the load
// balancer's first Google object.
func TestPermissionsExposeAndUnexpose(t *testing.T) {
	ensureRevision(t, "asm-test-1")
	const ns = "e2e-perm-expose"
	t.Cleanup(func() { lbRun(t, "", "kubectl", "delete", "namespace", ns, "--wait=false") })
	lbKubectl(t, webApp(ns, "asm-test-1", 1), "apply", "-f", "-")
	expose := []string{"expose", "svc", "web", "-n", ns, "--host", "web." + ns + ".example.com"}
	project := "project " + simProject

	iamDeny(t, "", "compute.backendServices.create")
	refused(t, "compute.backendServices.create", project, expose...)
	if made := exposeVersions(t, "app.kubernetes.io/managed-by=meshctl,meshctl.io/service-namespace="+ns); len(made) != 0 {
		t.Errorf("the refused expose created the gateway's objects: %v", made)
	}
	iamChange(t, "grant", "", "compute.backendServices.create")
	succeeds(t, expose...)

	unexpose := []string{"unexpose", "svc", "web", "-n", ns}
	iamDeny(t, "", "compute.backendServices.delete")
	refused(t, "compute.backendServices.delete", project, unexpose...)
	if left := lbOwned(t, simCluster+"/"+ns+"/web"); len(left) != 13 {
		t.Errorf("the refused unexpose left %d of the load balancer's 13 objects", len(left))
	}
	iamChange(t, "grant", "", "compute.backendServices.delete")
	succeeds(t, unexpose...)
	if left := lbOwned(t, simCluster+"/"+ns+"/web"); len(left) != 0 {
		t.Errorf("left after unexpose: %v", left)
	}
}

// check --permissions: an administrator preparing a CI principal sees,
// per command, what is missing and what to grant, without any plan.
func TestPermissionsCheckForCommands(t *testing.T) {
	iamDeny(t, simProject, "compute.securityPolicies.create")
	lbResetRequests(t)
	r := lbRun(t, "", meshctlBin, "check", "--permissions", "--for", "expose,inject", "-o", "json")
	if r.Code != 3 {
		t.Fatalf("exit %d, want 3\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	var res struct {
		Commands []struct {
			Command     string `json:"command"`
			Missing     int    `json:"missing"`
			Permissions []struct {
				Permission string `json:"permission"`
				Status     string `json:"status"`
			} `json:"permissions"`
			Grants []struct {
				Commands []string `json:"commands"`
			} `json:"grants"`
		} `json:"commands"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil || len(res.Commands) != 2 {
		t.Fatalf("%v\n%s", err, r.Stdout)
	}
	exp, inj := res.Commands[0], res.Commands[1]
	if exp.Command != "expose" || exp.Missing != 1 || len(exp.Grants) != 1 ||
		!strings.Contains(strings.Join(exp.Grants[0].Commands, "\n"), "gcloud projects add-iam-policy-binding "+simProject+" --member=PRINCIPAL --role=roles/compute.securityAdmin") {
		t.Errorf("expose: %+v", exp)
	}
	if inj.Command != "inject" || inj.Missing != 0 || len(inj.Permissions) == 0 {
		t.Errorf("inject: %+v", inj)
	}
	if m := googleMutations(t); len(m) != 0 {
		t.Errorf("check --permissions changed %v", m)
	}
	iamChange(t, "grant", simProject, "compute.securityPolicies.create")
	if r := lbRun(t, "", meshctlBin, "check", "--permissions", "--for", "expose"); r.Code != 0 || !strings.Contains(r.Stdout, "all held") {
		t.Errorf("granted back: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}

// install --managed: a fleet permission missing stops it before the
// membership is registered. (With every permission it installs:
// TestInstallManagedThroughTheFleet, on a simulator of its own, since the
// managed control plane would change the shared cluster for other tests.)
func TestPermissionsInstallManaged(t *testing.T) {
	ensureRevision(t, "asm-test-1")
	iamDeny(t, "", "gkehub.memberships.create")
	refused(t, "gkehub.memberships.create", "project "+simProject, "install", "--managed")
}

// limitedKube is a kubeconfig for the shared simulator's cluster that acts
// as user (the admin's credentials, impersonating: client-go sends
// Impersonate-User, and the API server authorizes, and answers
// SelfSubjectAccessReviews, as that user), bound to a ClusterRole holding
// reads of everything plus rules (YAML list items). setRules replaces the
// rules. Everything goes when the test ends.
func limitedKube(t *testing.T, user string) (env []string, setRules func(rules string)) {
	t.Helper()
	path := impersonatingKubeconfig(t, lbKubectl(t, "", "config", "view", "--raw", "--minify", "--flatten", "-o", "json"), user)
	setRules = func(rules string) {
		t.Helper()
		lbKubectl(t, readsPlusRules(user, rules), "apply", "-f", "-")
	}
	t.Cleanup(func() {
		lbRun(t, "", "kubectl", "delete", "clusterrolebinding,clusterrole", user, "--ignore-not-found")
	})
	return append(slices.Clone(simEnv), "KUBECONFIG="+path), setRules
}

// impersonatingKubeconfig writes raw (a minified, flattened kubeconfig in
// JSON) with each user acting as user, and returns its path.
func impersonatingKubeconfig(t *testing.T, raw, user string) string {
	t.Helper()
	var cfg map[string]any
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	for _, u := range cfg["users"].([]any) {
		u.(map[string]any)["user"].(map[string]any)["as"] = user
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// readsPlusRules is a ClusterRole named user granting reads of everything
// plus rules (YAML list items), bound to user.
func readsPlusRules(user, rules string) string {
	return fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: %[1]s}
rules:
- {apiGroups: ["*"], resources: ["*"], verbs: [get, list, watch]}
%[2]s
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: %[1]s}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: %[1]s}]
`, user, rules)
}

// kubeRefused runs meshctl in env expecting the permission check's
// refusal of exactly one Kubernetes permission, want, with a grant.
func kubeRefused(t *testing.T, env []string, want string, args ...string) {
	t.Helper()
	r := runEnv(t, env, "", meshctlBin, args...)
	if r.Code == 0 {
		t.Fatalf("meshctl %s succeeded without %s:\n%s", strings.Join(args, " "), want, r.Stdout)
	}
	for _, s := range []string{"lacks 1 permission", want, "nothing was changed", "kubectl create "} {
		if !strings.Contains(r.Stderr, s) {
			t.Errorf("meshctl %s: stderr lacks %q:\n%s", strings.Join(args, " "), s, r.Stderr)
		}
	}
}

// revision tag set and remove, uninstall --revision: a caller whose
// Kubernetes RBAC lacks one permission the plan needs is refused before
// the first write, named by the SelfSubjectAccessReview that denied it;
// with it granted the same command, as the same caller, succeeds.
func TestPermissionsRevisionTagsAndUninstall(t *testing.T) {
	ensureRevision(t, "asm-test-1")
	const tag = "e2e-perm"
	hook := "mutatingwebhookconfiguration/" + revision.TagWebhookName(tag)
	t.Cleanup(func() { lbRun(t, "", meshctlBin, "revision", "tag", "remove", tag, "--force") })
	env, setRules := limitedKube(t, "e2e-perm-tagger")
	set := []string{"revision", "tag", "set", tag, "--revision", "asm-test-1"}

	// patch but not create of webhooks: the new tag's webhook is refused.
	setRules(`- {apiGroups: [admissionregistration.k8s.io], resources: [mutatingwebhookconfigurations], verbs: [patch]}
- {apiGroups: [""], resources: [services], verbs: [create, patch, delete]}`)
	kubeRefused(t, env, "create mutatingwebhookconfigurations.admissionregistration.k8s.io in cluster, to create MutatingWebhookConfiguration "+revision.TagWebhookName(tag), set...)
	if exists(t, hook) || exists(t, "-n", "istio-system", "service/"+revision.TagServiceName(tag)) {
		t.Fatal("the refused tag set wrote the tag's objects")
	}
	// A dry run lists what it needs, with what the check found.
	if r := runEnv(t, env, "", meshctlBin, append(set, "--dry-run")...); r.Code != 0 || !strings.Contains(r.Stdout, "1 missing") {
		t.Errorf("dry run: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}

	// create granted: the same caller sets the tag.
	setRules(`- {apiGroups: [admissionregistration.k8s.io], resources: [mutatingwebhookconfigurations], verbs: [create, patch]}
- {apiGroups: [""], resources: [services], verbs: [create, patch, delete]}`)
	if r := runEnv(t, env, "", meshctlBin, set...); r.Code != 0 || !exists(t, hook) {
		t.Fatalf("tag set with the permissions: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}

	// remove: delete of webhooks is missing.
	kubeRefused(t, env, "delete mutatingwebhookconfigurations.admissionregistration.k8s.io "+revision.TagWebhookName(tag)+" in cluster", "revision", "tag", "remove", tag)
	if !exists(t, hook) || !exists(t, "-n", "istio-system", "service/"+revision.TagServiceName(tag)) {
		t.Fatal("the refused tag remove deleted the tag's objects")
	}
	setRules(`- {apiGroups: [admissionregistration.k8s.io], resources: [mutatingwebhookconfigurations], verbs: [create, patch, delete]}
- {apiGroups: [""], resources: [services], verbs: [create, patch, delete]}`)
	if r := runEnv(t, env, "", meshctlBin, "revision", "tag", "remove", tag); r.Code != 0 || exists(t, hook) {
		t.Fatalf("tag remove with the permissions: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}

	// uninstall --revision, of a revision of this test's own: every kind
	// of its objects may be deleted but Deployments; refused, naming
	// istiod's, with nothing deleted. Granted, the same caller removes it.
	const rev = "asm-perm-1"
	ensureRevision(t, rev)
	uninstallRules := func(deployments string) string {
		return `- {apiGroups: [admissionregistration.k8s.io], resources: [mutatingwebhookconfigurations, validatingwebhookconfigurations], verbs: [delete]}
- {apiGroups: [""], resources: [services, configmaps, serviceaccounts], verbs: [delete]}
- {apiGroups: [autoscaling], resources: [horizontalpodautoscalers], verbs: [delete]}
- {apiGroups: [policy], resources: [poddisruptionbudgets], verbs: [delete]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [roles, rolebindings, clusterroles, clusterrolebindings], verbs: [delete]}
- {apiGroups: [apps], resources: [deployments], verbs: [` + deployments + `]}`
	}
	setRules(uninstallRules("patch"))
	kubeRefused(t, env, "delete deployments.apps istiod-"+rev+" in namespace istio-system, to delete Deployment istio-system/istiod-"+rev, "uninstall", "--revision", rev)
	if !exists(t, "-n", "istio-system", "deployment/istiod-"+rev) || !exists(t, "mutatingwebhookconfiguration/istio-sidecar-injector-"+rev) {
		t.Fatal("the refused uninstall deleted the revision's objects")
	}
	setRules(uninstallRules("patch, delete"))
	if r := runEnv(t, env, "", meshctlBin, "uninstall", "--revision", rev); r.Code != 0 || exists(t, "-n", "istio-system", "deployment/istiod-"+rev) {
		t.Fatalf("uninstall with the permissions: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}

// install (asmcli): with --enable-all asmcli may update the cluster (the
// mesh_id label, Workload Identity); a caller without
// container.clusters.update is refused before asmcli runs. (Granted, the
// install is asmcli's: TestInstall* install revisions this way.)
func TestPermissionsInstallAsmcli(t *testing.T) {
	iamDeny(t, "", "container.clusters.update")
	refused(t, "container.clusters.update", "project "+simProject,
		"install", "--enable-all", "--skip-checks", "--revision", "asm-perm-refused", "--output-dir", t.TempDir())
	if exists(t, "-n", "istio-system", "deployment/istiod-asm-perm-refused") {
		t.Error("asmcli ran")
	}
}
