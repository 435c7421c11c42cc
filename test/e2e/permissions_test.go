//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
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
	var log struct {
		Requests []lbRequest `json:"requests"`
	}
	lbSimAPI(tb, http.MethodGet, "/meshsim/requests", nil, &log)
	var out []string
	for _, r := range log.Requests {
		if r.Mutation {
			out = append(out, r.HTTPMethod+" "+r.Path)
		}
	}
	return out
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
