//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// vmCmdNamespace is meshctl vm's namespace, in the mesh; vmCmdOutside is
// one that is not.
const (
	vmCmdNamespace = "e2e-vm-cmd"
	vmCmdOutside   = "e2e-vm-outside"
)

func vmCmdManifests(revision string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s
  labels: {istio.io/rev: %[2]s}
---
apiVersion: v1
kind: Namespace
metadata:
  name: %[3]s
---
apiVersion: v1
kind: Service
metadata:
  name: db
  namespace: %[1]s
spec:
  selector: {app: db}
  ports:
  - {name: mysql, port: 3306}
`, vmCmdNamespace, revision, vmCmdOutside)
}

// TestVMCommands: meshctl vm add on cluster a (the VM on the cluster's
// network, istiod exposed through the east-west gateway as Istio's VM
// guide has it) writes a bundle whose files match the real istioctl x
// workload entry configure's for the same group; meshsim vm connects with
// only that bundle and istiod registers the VM (read from the API server)
// and holds its endpoint for a Service selecting the group
// (/debug/endpointShardz); vm list shows the entry; once the VM stops,
// validate reports the group without entries (MC0500); vm remove leaves
// nothing. Bad input first: a namespace outside the mesh is refused and
// nothing is made.
func TestVMCommands(t *testing.T) {
	mc, a, _, _, _ := vmMeshSim(t, vmCmdManifests(ewRevision))
	meshctl := func(args ...string) result {
		return runEnv(t, mc.env, "", meshctlBin, append(args, "--context", a.Context)...)
	}

	// Refused: a namespace outside the mesh; nothing made.
	r := meshctl("vm", "add", "db", "--namespace", vmCmdOutside, "--port", "mysql:3306", "--bundle", filepath.Join(t.TempDir(), "b"))
	if r.Code == 0 || !strings.Contains(r.Stderr, "not in the mesh") {
		t.Errorf("vm add in a namespace outside the mesh: exit %d, want a refusal naming it\n%s", r.Code, r.Stderr)
	}
	if out := mc.run(t, "", "kubectl", "--context", a.Context, "get", "serviceaccounts,workloadgroups", "-n", vmCmdOutside, "-l", "meshctl.io/vm", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("the refused vm add left %s", out)
	}

	eventually(t, 60*time.Second, "the east-west gateway gets an internal address", func() (bool, string) {
		ip := runEnv(t, mc.env, "", "kubectl", "--context", a.Context, "get", "service", "-n", "istio-system",
			"istio-eastwestgateway", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}").Stdout
		return strings.TrimSpace(ip) != "", ""
	})
	config := t.TempDir()
	zone, vmIP := mc.createInstance(t, config, "e2e-vm-db", a, "--tags", "mesh-vm")

	// The dry run changes nothing; add makes the group and the bundle.
	bundle := filepath.Join(t.TempDir(), "db-bundle")
	if r := meshctl("vm", "add", "db", "-n", vmCmdNamespace, "--port", "mysql:3306", "--dry-run", "--bundle", bundle, "-o", "json"); r.Code != 0 || !strings.Contains(r.Stdout, `"dryRun": true`) {
		t.Fatalf("vm add --dry-run: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if _, err := os.Stat(bundle); err == nil {
		t.Errorf("vm add --dry-run wrote the bundle %s", bundle)
	}
	start := time.Now()
	if r := meshctl("vm", "add", "db", "-n", vmCmdNamespace, "--port", "mysql:3306", "--bundle", bundle); r.Code != 0 {
		t.Fatalf("vm add: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	t.Logf("vm add took %.1fs", time.Since(start).Seconds())
	for name, want := range map[string]os.FileMode{"istio-token": 0o600, "cluster.env": 0o644, "install.sh": 0o755} {
		if fi, err := os.Stat(filepath.Join(bundle, name)); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v mode %v, want %v", name, err, fi.Mode().Perm(), want)
		}
	}

	// The real istioctl, for the group vm add made.
	mc.compareWithIstioctl(t, a, vmCmdNamespace, "db", bundle)

	// token-refresh writes a token the API server signed for the lifetime
	// asked and records its expiry on the group; the VM below connects
	// with that token.
	token := func() string {
		b, err := os.ReadFile(filepath.Join(bundle, "istio-token"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	oldToken := token()
	expiry := func() string {
		return strings.TrimSpace(mc.kubectl(t, a, "get", "workloadgroup", "db", "-n", vmCmdNamespace, "-o", `jsonpath={.metadata.annotations.meshctl\.io/vm-token-expires}`))
	}
	// A caller who may request the token but not record its expiry on the
	// group is refused before either write: the bundle and the group keep
	// theirs.
	oldExpiry := expiry()
	limited := limitedKubeFor(t, mc, a, "e2e-vm-cmd-user", `- {apiGroups: [""], resources: [serviceaccounts/token], verbs: [create]}`)
	r = runEnv(t, append(slices.Clone(mc.env), limited...), "", meshctlBin, "vm", "token-refresh", "db", "-n", vmCmdNamespace, "--bundle", bundle, "--context", a.Context)
	if r.Code == 0 || !strings.Contains(r.Stderr, "workloadgroups") || token() != oldToken || expiry() != oldExpiry {
		t.Errorf("token-refresh without patch on workloadgroups: exit %d, token kept %v, expiry kept %v; want the refusal naming it\n%s",
			r.Code, token() == oldToken, expiry() == oldExpiry, r.Stderr)
	}
	if r := meshctl("vm", "token-refresh", "db", "-n", vmCmdNamespace, "--bundle", bundle, "--token-duration", "2h"); r.Code != 0 {
		t.Fatalf("vm token-refresh: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	claims := jwtClaims(t, token())
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	recorded := expiry()
	if token() == oldToken || exp-iat != 7200 || recorded != time.Unix(int64(exp), 0).UTC().Format(time.RFC3339) {
		t.Errorf("token-refresh: token changed %v, lifetime %vs (want 7200), group records expiry %q, token's %v",
			token() != oldToken, exp-iat, recorded, time.Unix(int64(exp), 0).UTC())
	}

	// The simulated VM connects with only the bundle.
	agent, exited, vmLog := startSimVM(t, mc, bundle, "zones/"+zone+"/instances/e2e-vm-db", vmIP)
	debug := a.istiodDebug(t, ewRevision)
	host := "db." + vmCmdNamespace + ".svc.cluster.local"
	eventually(t, 60*time.Second, "istiod registers the VM and holds its endpoint for Service db", func() (bool, string) {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(vmLog)
			t.Fatalf("meshsim vm exited: %v\n%s", err, log)
		default:
		}
		entries := strings.Fields(mc.run(t, "", "kubectl", "--context", a.Context, "get", "workloadentries", "-n", vmCmdNamespace,
			"-o", `jsonpath={range .items[*]}{.spec.address}{"\n"}{end}`))
		addrs, err := allShardAddresses(debug, host, vmCmdNamespace)
		return slices.Equal(entries, []string{vmIP}) && slices.Equal(addrs, []string{vmIP}), fmt.Sprintf("entries %v, endpoints %v%s", entries, addrs, errString(err))
	})
	var listed struct {
		Groups []struct {
			Name    string `json:"name"`
			Entries []struct {
				Address        string `json:"address"`
				AutoRegistered bool   `json:"autoRegistered"`
			} `json:"entries"`
		} `json:"groups"`
	}
	r = meshctl("vm", "list", "-n", vmCmdNamespace, "-o", "json")
	if err := json.Unmarshal([]byte(r.Stdout), &listed); err != nil || len(listed.Groups) != 1 || len(listed.Groups[0].Entries) != 1 ||
		listed.Groups[0].Entries[0].Address != vmIP || !listed.Groups[0].Entries[0].AutoRegistered {
		t.Errorf("vm list: want group db with the entry %s: %v\n%s%s", vmIP, err, r.Stdout, r.Stderr)
	}

	// The VM stops: istiod deletes its entry; validate reports the group.
	if err := agent.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-exited
	eventually(t, 90*time.Second, "istiod deletes the VM's entry after its grace period", func() (bool, string) {
		out := mc.run(t, "", "kubectl", "--context", a.Context, "get", "workloadentries", "-n", vmCmdNamespace, "-o", "name")
		return strings.TrimSpace(out) == "", out
	})
	r = meshctl("validate", "--skip-asmcli", "--skip-lb", "-n", vmCmdNamespace, "-o", "json")
	var v struct {
		Findings []struct {
			Code   string `json:"code"`
			Object string `json:"object"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil {
		t.Fatalf("validate -o json: exit %d: %v\n%s%s", r.Code, err, r.Stdout, r.Stderr)
	}
	found := false
	for _, f := range v.Findings {
		found = found || (f.Code == "MC0500" && f.Object == "WorkloadGroup "+vmCmdNamespace+"/db")
	}
	if !found {
		t.Errorf("validate does not report the disconnected group (MC0500): %+v", v.Findings)
	}

	// remove leaves nothing of what add made.
	if r := meshctl("vm", "remove", "db", "-n", vmCmdNamespace); r.Code != 0 {
		t.Fatalf("vm remove: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if out := mc.run(t, "", "kubectl", "--context", a.Context, "get", "serviceaccounts,workloadgroups,workloadentries", "-n", vmCmdNamespace, "-o", "name"); strings.Contains(out, "workload") || strings.Contains(out, "serviceaccount/db") {
		t.Errorf("vm remove left %s", out)
	}
}

// compareBundles checks meshctl's bundle file by file against istioctl's:
// cluster.env and mesh.yaml value by value, the root certificate and hosts
// byte for byte, and the tokens by what istiod checks (audience, subject).
func compareBundles(t *testing.T, got, want string) {
	t.Helper()
	read := func(dir, name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	env := func(s string) map[string]string {
		m := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			k, v, _ := strings.Cut(l, "=")
			m[k] = v
		}
		return m
	}
	g, w := env(read(got, "cluster.env")), env(read(want, "cluster.env"))
	for _, k := range slices.Sorted(maps.Keys(w)) {
		if g[k] != w[k] {
			t.Errorf("cluster.env %s: meshctl %q, istioctl %q", k, g[k], w[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(g)) {
		if _, ok := w[k]; !ok {
			t.Errorf("cluster.env %s=%s: istioctl writes no such key", k, g[k])
		}
	}
	var gm, wm map[string]any
	if err := yaml.Unmarshal([]byte(read(got, "mesh.yaml")), &gm); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(read(want, "mesh.yaml")), &wm); err != nil {
		t.Fatal(err)
	}
	gd, _ := gm["defaultConfig"].(map[string]any)
	wd, _ := wm["defaultConfig"].(map[string]any)
	for _, k := range slices.Sorted(maps.Keys(wd)) {
		if gj, wj := jsonOf(gd[k]), jsonOf(wd[k]); gj != wj {
			t.Errorf("mesh.yaml defaultConfig.%s:\nmeshctl  %s\nistioctl %s", k, gj, wj)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(gd)) {
		if _, ok := wd[k]; !ok {
			t.Errorf("mesh.yaml defaultConfig.%s: istioctl writes no such field", k)
		}
	}
	for _, name := range []string{"root-cert.pem", "hosts"} {
		if read(got, name) != read(want, name) {
			t.Errorf("%s differs:\nmeshctl  %s\nistioctl %s", name, read(got, name), read(want, name))
		}
	}
	gc, wc := jwtClaims(t, read(got, "istio-token")), jwtClaims(t, read(want, "istio-token"))
	for _, k := range []string{"aud", "sub"} {
		if jsonOf(gc[k]) != jsonOf(wc[k]) {
			t.Errorf("istio-token %s: meshctl %s, istioctl %s", k, jsonOf(gc[k]), jsonOf(wc[k]))
		}
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// createInstance creates a Compute instance on cluster c's network and
// subnet, in a zone of its region as Compute lists them (europe-west1 has
// no -a zone), with gcloud; it returns the zone and the internal address.
func (mc *mcSim) createInstance(t *testing.T, config, name string, c mcCluster, flags ...string) (zone, ip string) {
	t.Helper()
	for _, z := range strings.Fields(mc.gcloudOut(t, config, "compute", "zones", "list", "--format", "value(name)")) {
		if strings.HasPrefix(z, c.Location+"-") {
			zone = z
			break
		}
	}
	if zone == "" {
		t.Fatalf("Compute lists no zone in %s", c.Location)
	}
	mc.gcloudOut(t, config, append([]string{"compute", "instances", "create", name, "--zone", zone, "--network", c.Network,
		"--subnet", c.Network + "-" + c.Location}, flags...)...)
	var inst struct {
		NetworkInterfaces []struct {
			NetworkIP string `json:"networkIP"`
		} `json:"networkInterfaces"`
	}
	if err := json.Unmarshal([]byte(mc.gcloudOut(t, config, "compute", "instances", "describe", name, "--zone", zone, "--format", "json")), &inst); err != nil || len(inst.NetworkInterfaces) == 0 {
		t.Fatalf("gcloud compute instances describe %s: %v", name, err)
	}
	return zone, inst.NetworkInterfaces[0].NetworkIP
}

// compareWithIstioctl runs the real `istioctl x workload entry configure`
// for the WorkloadGroup namespace/name in cluster c (with extra flags such
// as --internalIP) and compares its files with bundle, field by field.
func (mc *mcSim) compareWithIstioctl(t *testing.T, c mcCluster, namespace, name, bundle string, extra ...string) {
	t.Helper()
	group := mc.run(t, "", "kubectl", "--context", c.Context, "get", "workloadgroup", "-n", namespace, name, "-o", "yaml")
	groupFile := filepath.Join(t.TempDir(), "wg.yaml")
	if err := os.WriteFile(groupFile, []byte(group), 0o644); err != nil {
		t.Fatal(err)
	}
	ref := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"x", "workload", "entry", "configure", "-f", groupFile, "-o", ref,
		"--clusterID", c.MeshClusterID, "--revision", ewRevision, "--autoregister", "--context", c.Context}, extra...)
	cmd := exec.CommandContext(ctx, lookPathIn(mc.env, "istioctl"), args...)
	cmd.Env = append(os.Environ(), mc.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("istioctl x workload entry configure: %v\n%s", err, out)
	}
	compareBundles(t, bundle, ref)
}
