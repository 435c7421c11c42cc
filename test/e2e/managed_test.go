//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The managed control plane needs a cluster without in-cluster revisions,
// so these tests start their own simulator.

// freshSim starts a meshsim of its own with extra `up` flags, stopped when
// the test ends, and returns its `meshsim env`.
func freshSim(t *testing.T, upArgs ...string) []string {
	t.Helper()
	return ownSim(t, upArgs...)
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// runWith runs a command with a simulator's environment.
func runWith(t testing.TB, env []string, name string, args ...string) result {
	t.Helper()
	return runEnv(t, env, "", name, args...)
}

func kubectlWith(t testing.TB, env []string, args ...string) string {
	t.Helper()
	r := runWith(t, env, "kubectl", args...)
	if r.Code != 0 {
		t.Fatalf("kubectl %s: exit %d\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// hubRequests reads (and with reset, clears) the fake fleet's request log.
type hubStats struct {
	Mutations int            `json:"mutations"`
	ByMethod  map[string]int `json:"byMethod"`
}

func hubRequests(t *testing.T, env []string, path string, reset bool) hubStats {
	t.Helper()
	url := envValue(env, "MESHCTL_GKEHUB_ENDPOINT") + path
	method := http.MethodGet
	if reset {
		method = http.MethodDelete
	}
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var st hubStats
	if !reset {
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatalf("%s: %v\n%s", path, err, b)
		}
	}
	return st
}

type managedResult struct {
	Revision        string            `json:"revision"`
	Implementation  string            `json:"implementation"`
	Membership      string            `json:"membership"`
	Channel         string            `json:"channel"`
	Changed         bool              `json:"changed"`
	Notes           []string          `json:"notes"`
	EnabledAPIs     []string          `json:"enabledApis"`
	InjectionLabels []string          `json:"injectionLabels"`
	NextStep        string            `json:"nextStep"`
	Elapsed         string            `json:"elapsed"`
	Timings         map[string]string `json:"timings"`
	Steps           []struct {
		Name, Action, Detail string
	} `json:"steps"`
	Webhook *struct {
		Name         string `json:"name"`
		ClientConfig string `json:"clientConfig"`
		DefaultTag   string `json:"defaultTag"`
	} `json:"webhook"`
	ControlPlaneRevision *struct {
		Name string `json:"name"`
	} `json:"controlPlaneRevision"`
}

func meshctlManaged(t *testing.T, env []string, args ...string) (managedResult, result) {
	t.Helper()
	r := runWith(t, env, meshctlBin, append(args, "-o", "json")...)
	var res managedResult
	if r.Code == 0 {
		if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
			t.Fatalf("meshctl %v -o json: %v\n%s", args, err, r.Stdout)
		}
	}
	return res, r
}

func stepActions(res managedResult) map[string]string {
	out := map[string]string{}
	for _, s := range res.Steps {
		out[s.Name] = s.Action
	}
	return out
}

// sidecarRevisions lists, per running pod of a namespace, the revision of
// its injected istio-proxy ("" when it has none), read with kubectl.
func sidecarRevisions(t testing.TB, env []string, ns string) []string {
	t.Helper()
	out := kubectlWith(t, env, "get", "pods", "-n", ns, "-o", "json")
	var list struct {
		Items []struct {
			Metadata struct {
				Annotations map[string]string `json:"annotations"`
				Deletion    *string           `json:"deletionTimestamp"`
			} `json:"metadata"`
			Spec struct {
				InitContainers []struct{ Name string } `json:"initContainers"`
				Containers     []struct{ Name string } `json:"containers"`
			} `json:"spec"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	var revs []string
	for _, p := range list.Items {
		if p.Metadata.Deletion != nil {
			continue
		}
		proxy := false
		for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
			proxy = proxy || c.Name == "istio-proxy"
		}
		var status struct{ Revision string }
		_ = json.Unmarshal([]byte(p.Metadata.Annotations["sidecar.istio.io/status"]), &status)
		if !proxy {
			status.Revision = ""
		}
		revs = append(revs, status.Revision)
	}
	return revs
}

func allOn(revs []string, rev string, n int) bool {
	if len(revs) != n {
		return false
	}
	for _, r := range revs {
		if r != rev {
			return false
		}
	}
	return true
}

const managedApp = `apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: %[1]s
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
        ports: [{containerPort: 80}]
`

func TestInstallManagedThroughTheFleet(t *testing.T) {
	env := freshSim(t)

	// 1. A fresh cluster: every step runs, mesh.googleapis.com included.
	start := time.Now()
	res, r := meshctlManaged(t, env, "install", "--managed")
	took := time.Since(start)
	if r.Code != 0 {
		t.Fatalf("install --managed: exit %d\n%s", r.Code, r.Stderr)
	}
	t.Logf("install --managed on a fresh cluster: %s (timings %v)", took.Round(100*time.Millisecond), res.Timings)
	acts := stepActions(res)
	if res.Revision != "asm-managed" || res.Implementation != "TRAFFIC_DIRECTOR" || res.Channel != "regular" || !res.Changed ||
		res.Membership != "projects/meshsim-project/locations/us-central1/memberships/meshsim" ||
		strings.Join(res.EnabledAPIs, ",") != "mesh.googleapis.com" ||
		acts["register"] != "done" || acts["enable-feature"] != "done" || acts["set-management"] != "done" {
		t.Errorf("result = %+v", res)
	}
	if res.Webhook == nil || res.Webhook.Name != "istiod-asm-managed" || !strings.HasPrefix(res.Webhook.ClientConfig, "url https://") ||
		res.Webhook.DefaultTag != "istio-revision-tag-default" || strings.Join(res.InjectionLabels, " ") != "istio-injection=enabled istio.io/rev=asm-managed" {
		t.Errorf("webhook %+v labels %v", res.Webhook, res.InjectionLabels)
	}
	for _, want := range []string{"enabling mesh.googleapis.com in project meshsim-project", "control plane PROVISIONING", "control plane ACTIVE (TRAFFIC_DIRECTOR)"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("progress lacks %q:\n%s", want, r.Stderr)
		}
	}
	if !strings.Contains(res.NextStep, "meshctl inject --namespace NAMESPACE --revision asm-managed") {
		t.Errorf("next step %q", res.NextStep)
	}

	// The cluster, read with kubectl: Google's objects, no istiod Deployment.
	if got := kubectlWith(t, env, "get", "controlplanerevisions", "-n", "istio-system", "asm-managed",
		"-o", `jsonpath={.spec.type}/{.spec.channel}/{.status.conditions[?(@.type=="Reconciled")].status}/{.status.conditions[?(@.type=="ProvisioningFinished")].status}`); got != "managed_service/regular/True/True" {
		t.Errorf("ControlPlaneRevision asm-managed: %s", got)
	}
	if got := kubectlWith(t, env, "get", "mutatingwebhookconfiguration", "istiod-asm-managed", "-o", "jsonpath={.webhooks[0].clientConfig.url}"); !strings.HasPrefix(got, "https://") {
		t.Errorf("injection webhook url = %q", got)
	}
	if got := kubectlWith(t, env, "get", "deploy", "-n", "istio-system", "-o", "name"); strings.TrimSpace(got) != "" {
		t.Errorf("the managed control plane runs no istiod in the cluster, found: %s", got)
	}

	// 2. A second run makes no mutating call to any API.
	hubRequests(t, env, "/meshsim/hub/requests", true)
	hubRequests(t, env, "/meshsim/requests", true)
	start = time.Now()
	res, r = meshctlManaged(t, env, "install", "--managed")
	if r.Code != 0 || res.Changed || res.Revision != "asm-managed" {
		t.Fatalf("second install: exit %d %+v\n%s", r.Code, res, r.Stderr)
	}
	t.Logf("second install --managed: %s", time.Since(start).Round(10*time.Millisecond))
	for _, path := range []string{"/meshsim/hub/requests", "/meshsim/requests"} {
		if st := hubRequests(t, env, path, false); st.Mutations != 0 {
			t.Errorf("second run: %d mutating calls (%s): %v", st.Mutations, path, st.ByMethod)
		}
	}

	// 3. gcloud, an independent client, sees the same fleet.
	gcloudSeesTheFleet(t, env, "MANAGEMENT_AUTOMATIC", "ACTIVE")

	// 4. meshctl inject puts a namespace on the managed revision, with real
	// injected proxies.
	kubectlApply2(t, env, fmt.Sprintf(managedApp, "managed-app"))
	eventually(t, 60*time.Second, "managed-app pods running", func() (bool, string) {
		revs := sidecarRevisions(t, env, "managed-app")
		return allOn(revs, "", 2), fmt.Sprint(revs)
	})
	ir := runWith(t, env, meshctlBin, "inject", "--namespace", "managed-app", "--revision", "asm-managed")
	if ir.Code != 0 {
		t.Fatalf("meshctl inject --revision asm-managed: exit %d\n%s%s", ir.Code, ir.Stdout, ir.Stderr)
	}
	eventually(t, 90*time.Second, "managed-app pods on asm-managed", func() (bool, string) {
		revs := sidecarRevisions(t, env, "managed-app")
		return allOn(revs, "asm-managed", 2), fmt.Sprint(revs)
	})
	labels := kubectlWith(t, env, "get", "ns", "managed-app", "-o", `jsonpath={.metadata.labels.istio\.io/rev}/{.metadata.labels.istio-injection}`)
	if labels != "asm-managed/" {
		t.Errorf("namespace labels istio.io/rev/istio-injection = %q, want one label only", labels)
	}
	// The default tag: istio-injection=enabled injects the managed revision too.
	kubectlApply2(t, env, fmt.Sprintf(managedApp, "managed-default"))
	kubectlWith(t, env, "label", "ns", "managed-default", "istio-injection=enabled")
	kubectlWith(t, env, "rollout", "restart", "deploy/web", "-n", "managed-default")
	eventually(t, 90*time.Second, "managed-default pods on asm-managed through the default tag", func() (bool, string) {
		revs := sidecarRevisions(t, env, "managed-default")
		return allOn(revs, "asm-managed", 2), fmt.Sprint(revs)
	})

	// 5. Uninstall with --keep-membership returns the feature to not
	// installed, and the cluster's managed revision goes; the membership
	// and the feature stay.
	start = time.Now()
	res, r = meshctlManaged(t, env, "uninstall", "--managed", "--keep-membership")
	if r.Code != 0 || !res.Changed || !strings.Contains(strings.Join(res.Notes, "\n"), "--keep-membership: the membership meshsim stays registered") {
		t.Fatalf("uninstall --managed --keep-membership: exit %d %+v\n%s", r.Code, res, r.Stderr)
	}
	t.Logf("uninstall --managed: %s", time.Since(start).Round(100*time.Millisecond))
	if got := kubectlWith(t, env, "get", "controlplanerevisions,mutatingwebhookconfigurations", "-A", "-o", "name"); strings.TrimSpace(got) != "" {
		t.Errorf("left in the cluster: %s", got)
	}
	gcloudSeesTheFleet(t, env, "MANAGEMENT_NOT_INSTALLED", "DISABLED")

	// 6. Uninstall without it removes what meshctl made: the membership it
	// registered and the feature it enabled (no other membership uses it).
	res, r = meshctlManaged(t, env, "uninstall", "--managed")
	acts = stepActions(res)
	if r.Code != 0 || !res.Changed || acts["unregister"] != "done" || acts["disable-feature"] != "done" {
		t.Fatalf("uninstall --managed: exit %d %+v\n%s", r.Code, res, r.Stderr)
	}
	gcloudSeesNoMembership(t, env)
	if n, feature := fleetState(t, env); n != 0 || feature {
		t.Errorf("after uninstall --managed the fleet has %d memberships and the feature %v", n, feature)
	}
	res, r = meshctlManaged(t, env, "uninstall", "--managed")
	if r.Code != 0 || res.Changed {
		t.Errorf("third uninstall: exit %d %+v\n%s", r.Code, res, r.Stderr)
	}
}

// fleetState reads the fake fleet's state: how many memberships, and
// whether the servicemesh feature is enabled.
func fleetState(t *testing.T, env []string) (memberships int, feature bool) {
	t.Helper()
	var state struct {
		Memberships []any          `json:"memberships"`
		Feature     map[string]any `json:"feature"`
	}
	resp, err := http.Get(envValue(env, "MESHCTL_GKEHUB_ENDPOINT") + "/meshsim/hub/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&state); err != nil {
		t.Fatal(err)
	}
	return len(state.Memberships), state.Feature != nil
}

func kubectlApply2(t *testing.T, env []string, manifest string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", "apply", "-f", "-")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(manifest)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}

// gcloudSeesTheFleet runs `gcloud container fleet mesh describe` and
// `gcloud container fleet memberships list` against the simulator.
func gcloudSeesTheFleet(t *testing.T, env []string, management, cpState string) {
	t.Helper()
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		t.Log("gcloud is not on PATH: skipping its view")
		return
	}
	must := gcloudOnFleet(t, env, gcloud)

	var mems []struct {
		Name     string                `json:"name"`
		State    struct{ Code string } `json:"state"`
		Endpoint struct {
			GkeCluster struct {
				ResourceLink string `json:"resourceLink"`
			} `json:"gkeCluster"`
		} `json:"endpoint"`
	}
	if err := json.Unmarshal([]byte(must("container", "fleet", "memberships", "list", "--format=json")), &mems); err != nil {
		t.Fatal(err)
	}
	if len(mems) != 1 || mems[0].Name != "projects/meshsim-project/locations/us-central1/memberships/meshsim" || mems[0].State.Code != "READY" ||
		mems[0].Endpoint.GkeCluster.ResourceLink != "//container.googleapis.com/projects/meshsim-project/locations/us-central1/clusters/meshsim" {
		t.Errorf("gcloud container fleet memberships list: %+v", mems)
	}
	table := must("container", "fleet", "memberships", "list")
	if !strings.Contains(table, "meshsim") || !strings.Contains(table, "us-central1") {
		t.Errorf("memberships table:\n%s", table)
	}

	var feat struct {
		MembershipSpecs map[string]struct {
			Mesh struct{ Management string } `json:"mesh"`
		} `json:"membershipSpecs"`
		MembershipStates map[string]struct {
			Servicemesh struct {
				ControlPlaneManagement struct {
					State, Implementation string
				} `json:"controlPlaneManagement"`
			} `json:"servicemesh"`
		} `json:"membershipStates"`
	}
	if err := json.Unmarshal([]byte(must("container", "fleet", "mesh", "describe", "--format=json")), &feat); err != nil {
		t.Fatal(err)
	}
	key := "projects/123456789012/locations/us-central1/memberships/meshsim"
	if got := feat.MembershipSpecs[key].Mesh.Management; got != management {
		t.Errorf("gcloud container fleet mesh describe: management %q, want %q (%+v)", got, management, feat.MembershipSpecs)
	}
	if got := feat.MembershipStates[key].Servicemesh.ControlPlaneManagement.State; got != cpState {
		t.Errorf("gcloud container fleet mesh describe: control plane %q, want %q", got, cpState)
	}
}

// gcloudOnFleet configures gcloud for the simulator's fleet API and returns
// a runner that fails the test when gcloud fails.
func gcloudOnFleet(t *testing.T, env []string, gcloud string) func(args ...string) string {
	t.Helper()
	genv := append(append([]string{}, env...), "CLOUDSDK_CONFIG="+t.TempDir(), "CLOUDSDK_CORE_DISABLE_PROMPTS=1",
		"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true", "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true")
	must := func(args ...string) string {
		t.Helper()
		r := runWith(t, genv, gcloud, args...)
		if r.Code != 0 {
			t.Fatalf("gcloud %s: exit %d\n%s", strings.Join(args, " "), r.Code, r.Stderr)
		}
		return r.Stdout
	}
	must("config", "set", "api_endpoint_overrides/gkehub", envValue(env, "MESHCTL_GKEHUB_ENDPOINT")+"/")
	must("config", "set", "auth/disable_credentials", "true")
	must("config", "set", "core/project", "meshsim-project")
	return must
}

// gcloudSeesNoMembership: `gcloud container fleet memberships list` finds
// no membership.
func gcloudSeesNoMembership(t *testing.T, env []string) {
	t.Helper()
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		t.Log("gcloud is not on PATH: skipping its view")
		return
	}
	if out := strings.TrimSpace(gcloudOnFleet(t, env, gcloud)("container", "fleet", "memberships", "list", "--format=json")); out != "[]" {
		t.Errorf("gcloud container fleet memberships list after uninstall: %s", out)
	}
}

func TestInstallManagedWithoutWorkloadIdentity(t *testing.T) {
	env := freshSim(t, "--no-workload-identity")

	// meshctl's own check stops before any change, with check's finding.
	_, r := meshctlManaged(t, env, "install", "--managed")
	if r.Code != 3 || !strings.Contains(r.Stderr, "Error [MC0140] (cluster meshsim) workload identity is off") ||
		!strings.Contains(r.Stderr, "nothing was changed") ||
		!strings.Contains(r.Stderr, "gcloud container clusters update meshsim --workload-pool meshsim-project.svc.id.goog --location us-central1 --project meshsim-project") {
		t.Errorf("install --managed without workload identity: exit %d\n%s", r.Code, r.Stderr)
	}
	if st := hubRequests(t, env, "/meshsim/hub/requests", false); st.Mutations != 0 {
		t.Errorf("half-made: %d mutating fleet calls: %v", st.Mutations, st.ByMethod)
	}
	if n, feature := fleetState(t, env); n != 0 || feature {
		t.Errorf("the fleet has %d memberships and feature %v", n, feature)
	}

	// Past meshctl's check, the fleet itself refuses, with the documented
	// condition, and meshctl explains it.
	_, r = meshctlManaged(t, env, "install", "--managed", "--skip-checks", "--timeout", "2m")
	if r.Code != 1 || !strings.Contains(r.Stderr, "the fleet cannot provision the managed control plane for meshsim (control plane FAILED_PRECONDITION") ||
		!strings.Contains(r.Stderr, "WORKLOAD_IDENTITY_REQUIRED") || !strings.Contains(r.Stderr, "--workload-pool=meshsim-project.svc.id.goog") {
		t.Errorf("install --managed --skip-checks: exit %d\n%s", r.Code, r.Stderr)
	}
	if out := kubectlWith(t, env, "get", "crd", "-o", "name"); strings.Contains(out, "controlplanerevisions") {
		t.Errorf("the fleet installed into a cluster it refused: %s", out)
	}
}
