//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meshctl/meshctl/pkg/migrate"
)

// The migration removes the in-cluster revision and installs the managed
// one, which the shared simulator's other tests rely on not being there:
// these tests start their own.

// migrateFrom is the in-cluster revision asmcli installs for a migration.
const migrateFrom = "asm-1281-mig"

// asmcliInstall installs an in-cluster revision with the asmcli stand-in
// in env's simulator.
func asmcliInstall(t testing.TB, env []string, revision string) {
	t.Helper()
	r := runEnv(t, env, "", "asmcli", "install", "--project_id", simProject, "--cluster_name", simCluster,
		"--cluster_location", simLocation, "--output_dir", filepath.Join(t.TempDir(), "asm-out"),
		"--revision_name", revision, "--enable_all", "--ca", "mesh_ca")
	if r.Code != 0 || !strings.Contains(r.Stderr, "Successfully installed ASM.") {
		t.Fatalf("asmcli install: exit %d\n%s", r.Code, r.Stderr)
	}
}

// deployApps creates the namespaces, each labelled with label, with
// deployments deployments of replicas pods each.
func deployApps(t testing.TB, env []string, label string, namespaces []string, deployments, replicas int) {
	t.Helper()
	var b strings.Builder
	for _, ns := range namespaces {
		fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels: {%s}\n---\n", ns, label)
		for i := range deployments {
			b.WriteString(workloadApp("Deployment", ns, fmt.Sprintf("web-%d", i), replicas, ""))
			b.WriteString("\n---\n")
		}
	}
	r := runEnv(t, env, b.String(), "kubectl", "apply", "-f", "-")
	if r.Code != 0 {
		t.Fatalf("kubectl apply: exit %d\n%s", r.Code, r.Stderr)
	}
}

// waitAllOn waits until every namespace has n running pods, each with
// istio-proxy of revision rev, read from the API server.
func waitAllOn(t testing.TB, env []string, rev string, n int, namespaces ...string) {
	t.Helper()
	for _, ns := range namespaces {
		eventually(t, 3*time.Minute, fmt.Sprintf("%d pods of %s on %q", n, ns, rev), func() (bool, string) {
			revs := sidecarRevisions(t, env, ns)
			return allOn(revs, rev, n), fmt.Sprint(revs)
		})
	}
}

func migrateJSON(t *testing.T, env []string, args ...string) (migrate.Result, result) {
	t.Helper()
	r := runWith(t, env, meshctlBin, append([]string{"migrate", "--to", "managed", "-o", "json"}, args...)...)
	var res migrate.Result
	if r.Code == 0 {
		if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
			t.Fatalf("meshctl migrate -o json: %v\n%s", err, r.Stdout)
		}
	}
	return res, r
}

func migrateSteps(res migrate.Result) map[string]string {
	out := map[string]string{}
	for _, s := range res.Steps {
		out[s.Name] = s.Action
	}
	return out
}

// TestMigrateToManagedKilledMidwayThenRerun is the case: an asmcli
// install with three namespaces (two labelled with the revision, one with a
// tag), migrated one namespace per batch; the first run is killed (-9)
// while it moves the second batch, the second run finishes: every pod on
// the managed revision, the in-cluster istiod and its objects gone; a third
// run changes nothing.
func TestMigrateToManagedKilledMidwayThenRerun(t *testing.T) {
	env := ownSim(t)
	asmcliInstall(t, env, migrateFrom)
	nss := []string{"mig-a", "mig-b", "mig-c"}
	deployApps(t, env, "istio.io/rev: "+migrateFrom, nss[:2], 1, 2)
	if r := runWith(t, env, meshctlBin, "revision", "tag", "set", "mig-prod", "--revision", migrateFrom); r.Code != 0 {
		t.Fatalf("revision tag set: exit %d\n%s", r.Code, r.Stderr)
	}
	deployApps(t, env, "istio.io/rev: mig-prod", nss[2:], 1, 2)
	waitAllOn(t, env, migrateFrom, 2, nss...)

	// The plan changes nothing and shows the three batches.
	plan, r := migrateJSON(t, env, "--batch", "1", "--dry-run")
	if r.Code != 0 || !plan.DryRun || plan.From != migrateFrom || plan.To != "asm-managed" || len(plan.Batches) != 3 ||
		plan.Batches[2].Namespaces[0] != "mig-c" || plan.Batches[2].Restart != 1 || plan.Uninstall == nil || len(plan.Uninstall.Changes) == 0 {
		t.Fatalf("dry run: exit %d %+v\n%s", r.Code, plan, r.Stderr)
	}
	if got := kubectlWith(t, env, "get", "mutatingwebhookconfigurations", "-o", "name"); strings.Contains(got, "asm-managed") {
		t.Fatalf("the dry run installed the managed revision: %s", got)
	}

	// Killed while it moves the second batch.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, meshctlBin, "migrate", "--to", "managed", "--batch", "1")
	cmd.Env = append(append(os.Environ(), env...), "NO_COLOR=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Minute, "the first run relabels mig-b", func() (bool, string) {
		got := kubectlWith(t, env, "get", "ns", "mig-b", "-o", `jsonpath={.metadata.labels.istio\.io/rev}`)
		return got == "asm-managed", got
	})
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	t.Logf("killed after %s:\n%s", time.Since(start).Round(100*time.Millisecond), stderr.String())
	if got := kubectlWith(t, env, "get", "deploy", "-n", "istio-system", "istiod-"+migrateFrom, "-o", "name"); strings.TrimSpace(got) == "" {
		t.Fatal("the killed run got to the end")
	}
	if got := kubectlWith(t, env, "get", "ns", "mig-c", "-o", `jsonpath={.metadata.labels.istio\.io/rev}`); got != "mig-prod" {
		t.Fatalf("the killed run reached the third batch: mig-c labelled %q", got)
	}

	// The re-run continues and completes.
	start = time.Now()
	res, r := migrateJSON(t, env, "--batch", "1")
	if r.Code != 0 {
		t.Fatalf("re-run: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	t.Logf("re-run after the kill: %s (timings %v)", time.Since(start).Round(100*time.Millisecond), res.Timings)
	acts := migrateSteps(res)
	if !res.Changed || res.From != migrateFrom || res.To != "asm-managed" || acts[migrate.StepProvision] != "skipped" ||
		acts[migrate.StepRemove] != "done" || acts[migrate.StepConfirm] != "checked" {
		t.Errorf("re-run: %+v", res)
	}
	// mig-a moved in the first run; the re-run starts from what is left.
	for _, b := range res.Batches {
		if b.Namespaces[0] == "mig-a" {
			t.Errorf("the re-run moved mig-a again: %+v", res.Batches)
		}
	}

	// The cluster, read with kubectl: every pod on the managed revision,
	// no in-cluster istiod, none of the old revision's objects.
	waitAllOn(t, env, "asm-managed", 2, nss...)
	if got := kubectlWith(t, env, "get", "deploy", "-n", "istio-system", "-o", "name"); strings.TrimSpace(got) != "" {
		t.Errorf("istio-system still runs: %s", got)
	}
	if got := kubectlWith(t, env, "get", "pods", "-n", "istio-system", "-l", "app=istiod", "-o", "name"); strings.TrimSpace(got) != "" {
		t.Errorf("istiod pods left: %s", got)
	}
	hooks := kubectlWith(t, env, "get", "mutatingwebhookconfigurations,validatingwebhookconfigurations", "-o", "name")
	if strings.Contains(hooks, migrateFrom) || strings.Contains(hooks, "mig-prod") || !strings.Contains(hooks, "istiod-asm-managed") {
		t.Errorf("webhooks after the migration:\n%s", hooks)
	}
	for _, ns := range nss {
		if got := kubectlWith(t, env, "get", "ns", ns, "-o", `jsonpath={.metadata.labels.istio\.io/rev}`); got != "asm-managed" {
			t.Errorf("namespace %s labelled istio.io/rev=%q", ns, got)
		}
	}

	// Again: nothing to do, no mutating call to the fleet.
	hubRequests(t, env, "/meshsim/hub/requests", true)
	res, r = migrateJSON(t, env, "--batch", "1")
	if r.Code != 0 || res.Changed || res.From != "" || len(res.Batches) != 0 {
		t.Errorf("third run: exit %d %+v\n%s", r.Code, res, r.Stderr)
	}
	if st := hubRequests(t, env, "/meshsim/hub/requests", false); st.Mutations != 0 {
		t.Errorf("third run: %d mutating fleet calls: %v", st.Mutations, st.ByMethod)
	}
	waitAllOn(t, env, "asm-managed", 2, nss...)
}
