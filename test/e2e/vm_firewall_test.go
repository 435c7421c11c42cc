//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// vmFwNamespace is TestVMFirewall's namespace, in the mesh.
const vmFwNamespace = "e2e-vm-fw"

// vmRule is a firewall rule as gcloud lists it.
type vmRule struct {
	Name              string   `json:"name"`
	Network           string   `json:"network"`
	Description       string   `json:"description"`
	SourceRanges      []string `json:"sourceRanges"`
	DestinationRanges []string `json:"destinationRanges"`
	TargetTags        []string `json:"targetTags"`
	Allowed           []struct {
		IPProtocol string   `json:"IPProtocol"`
		Ports      []string `json:"ports"`
	} `json:"allowed"`
	SelfLink string `json:"selfLink"`
}

// TestVMFirewall: vm add --instance on cluster a reads the fake Compute
// instance and makes two firewall rules, checked with gcloud in the
// network's project: the VM's address to istiod's 15012 at the east-west
// gateway's address on the nodes' tag (GKE's own rules name the tag), and
// the mesh's Pod ranges (b's too when a holds its remote secret) to the
// VM's port on its tag and address. The
// bundle carries the instance's address where istioctl's --internalIP puts
// it. A re-run plans only keep and leaves the rules as they were; remove
// leaves no rule of meshctl's and GKE's own rules stay. Bad input first,
// each refused with nothing made (no ServiceAccount, WorkloadGroup or
// rule): an instance on a VPC network peered with nothing (no route to
// the gateway), a missing instance, a missing compute.firewalls.create in the
// network's project, and a caller whose RBAC lacks serviceaccounts/token.
func TestVMFirewall(t *testing.T) {
	start := time.Now()
	mc, a, b, _, gatewayIP := vmMeshSim(t, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels: {istio.io/rev: %s}\n", vmFwNamespace, ewRevision))
	meshctl := func(env []string, args ...string) result {
		return runEnv(t, append(slices.Clone(mc.env), env...), "", meshctlBin, append(args, "--context", a.Context)...)
	}

	config := t.TempDir()
	zoneA, vmIP := mc.createInstance(t, config, "e2e-vm-fw", a, "--tags", "mesh-db")
	islandZone := mc.islandInstance(t, config, "e2e-vm-fw-island", a)
	rules := func() []vmRule {
		var rs []vmRule
		out := mc.gcloudOut(t, config, "compute", "firewall-rules", "list", "--project", simProject, "--format", "json")
		if err := json.Unmarshal([]byte(out), &rs); err != nil {
			t.Fatalf("gcloud compute firewall-rules list: %v\n%s", err, out)
		}
		return rs
	}
	meshctlRules := func() []vmRule {
		return slices.DeleteFunc(rules(), func(r vmRule) bool { return !strings.HasPrefix(r.Name, "meshctl-vm-") })
	}
	nothingMade := func(what string) {
		t.Helper()
		if out := mc.run(t, "", "kubectl", "--context", a.Context, "get", "serviceaccounts,workloadgroups", "-n", vmFwNamespace, "-l", "meshctl.io/vm", "-o", "name"); strings.TrimSpace(out) != "" {
			t.Errorf("%s left %s", what, out)
		}
		if rs := meshctlRules(); len(rs) > 0 {
			t.Errorf("%s left firewall rules %+v", what, rs)
		}
	}
	add := func(env []string, extra ...string) result {
		return meshctl(env, append([]string{"vm", "add", "db", "-n", vmFwNamespace, "--port", "mysql:3306", "--bundle", filepath.Join(t.TempDir(), "b")}, extra...)...)
	}

	// Refused, nothing made: a VM on the other VPC network, a missing
	// instance, compute.firewalls.create denied, serviceaccounts/token
	// not granted.
	for _, tc := range []struct {
		what string
		args []string
		want []string
	}{
		{"an instance on a network peered with nothing", []string{"--instance", "e2e-vm-fw-island", "--zone", islandZone},
			[]string{"e2e-vm-fw-island", "is on VPC network " + simProject + "/" + islandNetwork, "no active VPC Network Peering", "nothing was changed"}},
		{"a missing instance", []string{"--instance", "e2e-vm-gone", "--zone", zoneA}, []string{"no instance e2e-vm-gone in zone " + zoneA}},
	} {
		r := add(nil, tc.args...)
		for _, w := range tc.want {
			if r.Code == 0 || !strings.Contains(r.Stderr, w) {
				t.Errorf("vm add with %s: exit %d, want a refusal saying %q\n%s", tc.what, r.Code, w, r.Stderr)
			}
		}
		nothingMade("vm add with " + tc.what)
	}
	mc.iam(t, "deny", simProject, "compute.firewalls.create")
	r := add(nil, "--instance", "e2e-vm-fw", "--zone", zoneA)
	mc.iam(t, "grant", simProject, "compute.firewalls.create")
	for _, w := range []string{"compute.firewalls.create in project " + simProject, "nothing was changed", "gcloud compute firewall-rules create meshctl-vm-db-"} {
		if r.Code == 0 || !strings.Contains(r.Stderr, w) {
			t.Errorf("vm add without compute.firewalls.create: exit %d, want stderr saying %q\n%s", r.Code, w, r.Stderr)
		}
	}
	nothingMade("vm add without compute.firewalls.create")
	limited := limitedKubeFor(t, mc, a, "e2e-vm-fw-user", `- {apiGroups: [""], resources: [serviceaccounts], verbs: [create, patch]}
- {apiGroups: [networking.istio.io], resources: [workloadgroups], verbs: [create, patch]}`)
	r = add(limited)
	if r.Code == 0 || !strings.Contains(r.Stderr, "create serviceaccounts/token in namespace "+vmFwNamespace) || !strings.Contains(r.Stderr, "nothing was changed") {
		t.Errorf("vm add without serviceaccounts/token: exit %d, want the refusal naming it\n%s", r.Code, r.Stderr)
	}
	nothingMade("vm add without serviceaccounts/token")

	// The dry run lists the two rules and makes none.
	type addJSON struct {
		Changes []struct {
			Kind, Name, Action, Note string
		} `json:"changes"`
	}
	r = add(nil, "--instance", "e2e-vm-fw", "--zone", zoneA, "--dry-run", "-o", "json")
	var plan addJSON
	if err := json.Unmarshal([]byte(r.Stdout), &plan); r.Code != 0 || err != nil {
		t.Fatalf("vm add --dry-run: exit %d: %v\n%s%s", r.Code, err, r.Stdout, r.Stderr)
	}
	var planned []string
	for _, c := range plan.Changes {
		if c.Kind == "firewalls" {
			planned = append(planned, c.Action+" "+c.Name)
		}
	}
	if len(planned) != 2 || !strings.HasPrefix(planned[0], "create meshctl-vm-db-") || !strings.HasPrefix(planned[1], "create meshctl-vm-db-") {
		t.Errorf("vm add --dry-run plans %v, want two rules to create", planned)
	}
	nothingMade("vm add --dry-run")

	// add makes them.
	bundle := filepath.Join(t.TempDir(), "db-bundle")
	began := time.Now()
	if r := meshctl(nil, "vm", "add", "db", "-n", vmFwNamespace, "--port", "mysql:3306", "--bundle", bundle, "--instance", "e2e-vm-fw", "--zone", zoneA); r.Code != 0 {
		t.Fatalf("vm add --instance: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	t.Logf("vm add --instance took %.1fs", time.Since(began).Seconds())
	var nodeTag string
	for _, rl := range rules() {
		if strings.HasPrefix(rl.Name, "gke-"+a.Name+"-") && strings.HasSuffix(rl.Name, "-all") && len(rl.TargetTags) > 0 {
			nodeTag = rl.TargetTags[0]
		}
	}
	// The Pods of every cluster a's istiod discovers reach the VM: b's too
	// when a holds a remote secret (another test of this simulator may
	// have made one).
	pods := []string{a.PodCIDR}
	if strings.TrimSpace(mc.run(t, "", "kubectl", "--context", a.Context, "get", "secrets", "-n", "istio-system", "-l", "istio/multiCluster=true", "-o", "name")) != "" {
		pods = append(pods, b.PodCIDR)
		slices.Sort(pods)
	}
	made := meshctlRules()
	if len(made) != 2 {
		t.Fatalf("gcloud lists %d rules of meshctl's, want 2: %+v", len(made), made)
	}
	for _, rl := range made {
		// Compute keeps a relative network link as it was sent (the
		// recordings show it), so either form names the network.
		if !strings.HasSuffix("/"+rl.Network, "/projects/"+simProject+"/global/networks/"+a.Network) || !strings.Contains(rl.SelfLink, "/projects/"+simProject+"/") ||
			!strings.Contains(rl.Description, `"managedBy":"meshctl"`) || len(rl.Allowed) != 1 || rl.Allowed[0].IPProtocol != "tcp" {
			t.Errorf("rule %s: network %s, project %s, description %s, allowed %+v", rl.Name, rl.Network, rl.SelfLink, rl.Description, rl.Allowed)
		}
		switch {
		case strings.HasSuffix(rl.Name, "-istiod"):
			if !slices.Equal(rl.SourceRanges, []string{vmIP + "/32"}) || !slices.Equal(rl.DestinationRanges, []string{gatewayIP + "/32"}) ||
				nodeTag == "" || !slices.Equal(rl.TargetTags, []string{nodeTag}) || !slices.Equal(rl.Allowed[0].Ports, []string{"15012"}) {
				t.Errorf("rule to istiod %s: from %v to %v on tags %v (nodes' %q) ports %+v; want from %s/32 to %s/32 tcp:15012",
					rl.Name, rl.SourceRanges, rl.DestinationRanges, rl.TargetTags, nodeTag, rl.Allowed, vmIP, gatewayIP)
			}
		case strings.HasSuffix(rl.Name, "-ports"):
			if !slices.Equal(rl.SourceRanges, pods) || !slices.Equal(rl.DestinationRanges, []string{vmIP + "/32"}) ||
				!slices.Equal(rl.TargetTags, []string{"mesh-db"}) || !slices.Equal(rl.Allowed[0].Ports, []string{"3306"}) {
				t.Errorf("rule to the VM %s: from %v to %v on tags %v ports %+v; want from %v to %s/32 on mesh-db tcp:3306",
					rl.Name, rl.SourceRanges, rl.DestinationRanges, rl.TargetTags, rl.Allowed, pods, vmIP)
			}
		default:
			t.Errorf("unexpected rule %s", rl.Name)
		}
	}

	// The instance's address is in the bundle where the real istioctl's
	// --internalIP puts it.
	mc.compareWithIstioctl(t, a, vmFwNamespace, "db", bundle, "--internalIP", vmIP)
	if env, _ := os.ReadFile(filepath.Join(bundle, "cluster.env")); !strings.Contains(string(env), "ISTIO_SVC_IP='"+vmIP+"'") {
		t.Errorf("cluster.env lacks ISTIO_SVC_IP=%s:\n%s", vmIP, env)
	}

	// A re-run keeps the rules as they are.
	r = meshctl(nil, "vm", "add", "db", "-n", vmFwNamespace, "--port", "mysql:3306", "--bundle", bundle, "--instance", "e2e-vm-fw", "--zone", zoneA, "-o", "json")
	if err := json.Unmarshal([]byte(r.Stdout), &plan); r.Code != 0 || err != nil {
		t.Fatalf("vm add again: exit %d: %v\n%s%s", r.Code, err, r.Stdout, r.Stderr)
	}
	for _, c := range plan.Changes {
		if c.Kind == "firewalls" && c.Action != "keep" {
			t.Errorf("re-run plans %s %s (%s), want keep", c.Action, c.Name, c.Note)
		}
	}
	if again := meshctlRules(); !rulesEqual(again, made) {
		t.Errorf("re-run changed the rules:\nbefore %+v\nafter  %+v", made, again)
	}

	// remove deletes exactly meshctl's rules.
	before := len(rules())
	if r := meshctl(nil, "vm", "remove", "db", "-n", vmFwNamespace); r.Code != 0 {
		t.Fatalf("vm remove: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if after := rules(); len(after) != before-2 || len(meshctlRules()) != 0 {
		t.Errorf("vm remove: %d rules before, %d after (want 2 fewer, none of meshctl's): %+v", before, len(after), meshctlRules())
	}
	nothingMade("vm remove")
	t.Logf("TestVMFirewall %.1fs", time.Since(start).Seconds())
}

func rulesEqual(a, b []vmRule) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// limitedKubeFor is a kubeconfig for cluster c acting as user (the
// admin's credentials, impersonating), bound to reads of everything plus
// rules; it returns the environment that selects it. It all goes when the
// test ends.
func limitedKubeFor(t *testing.T, mc *mcSim, c mcCluster, user, rules string) []string {
	t.Helper()
	path := impersonatingKubeconfig(t, mc.run(t, "", "kubectl", "config", "view", "--raw", "--minify", "--flatten", "--context", c.Context, "-o", "json"), user)
	mc.run(t, readsPlusRules(user, rules), "kubectl", "--context", c.Context, "apply", "-f", "-")
	t.Cleanup(func() {
		runEnv(t, mc.env, "", "kubectl", "--context", c.Context, "delete", "clusterrolebinding,clusterrole", user, "--ignore-not-found")
	})
	return []string{"KUBECONFIG=" + path}
}
