//go:build e2e

package e2e

import (
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMeshConnectManagedClusters: two private clusters in two regions with
// Google's managed control plane (meshctl install --managed through the
// fake fleet, which provisions each membership's cluster: its own
// ControlPlaneRevision and its own istiod, registered under that cluster's
// name, read from the fleet API and istiod). connect refuses while the
// network blocks them and names the fleet discovery switch that is off; --fix opens the network and
// turns discovery on (asm-options multicluster_mode: connected, read with
// kubectl) and makes no remote secret; a re-run changes nothing;
// disconnect restores the user's asm-options as they were, deletes the
// one it made, and leaves the network as before.
//
// The simulator runs no managed control plane that reads asm-options, so
// what is proven is the settings that block the fleet's discovery, read
// back from the cluster and the fake GKE and Compute APIs, not discovery
// itself.
func TestMeshConnectManagedClusters(t *testing.T) {
	mc := startSimFor(t, "e2e-mcm-", "managed mesh connect", "--clusters", "2", "--regions", "us-central1,europe-west1", "--private")
	mc.refreshStatus(t)
	a, b := mc.status.Clusters[0], mc.status.Clusters[1]
	installStart := time.Now()
	var wg sync.WaitGroup
	for _, c := range []mcCluster{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := runEnv(t, mc.env, "", meshctlBin, "install", "--managed", "--context", c.Context); r.Code != 0 {
				t.Errorf("install --managed in %s: exit %d\n%s", c.Name, r.Code, r.Stderr)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("install --managed in two clusters at once: %.1fs", time.Since(installStart).Seconds())
	mc.refreshStatus(t)
	a, b = mc.status.Clusters[0], mc.status.Clusters[1]
	fleetProvisionedEach(t, mc, a, b)
	// The user's own asm-options in b, with another key connect must keep.
	mc.run(t, `apiVersion: v1
kind: ConfigMap
metadata:
  name: asm-options
  namespace: istio-system
data:
  multicluster_mode: manual
  ASM_OPTION_X: keep-me
`, "kubectl", "--context", b.Context, "apply", "-f", "-")
	netsBefore := map[string][]string{}
	for _, c := range []mcCluster{a, b} {
		netsBefore[c.Name], _ = mc.gkeCluster(t, c)
	}
	firewallsBefore := mc.firewallNames(t)
	asmOptions := func(c mcCluster) string {
		r := runEnv(t, mc.env, "", "kubectl", "--context", c.Context, "get", "configmap", "-n", "istio-system", "asm-options",
			"-o", `jsonpath={.data.multicluster_mode}/{.data.ASM_OPTION_X}`)
		if r.Code != 0 {
			return "absent"
		}
		return r.Stdout
	}

	res := mc.connect(t, 3)
	want := []string{"MC0311 network " + simProject + "/default", "MC0312 cluster " + a.Name, "MC0312 cluster " + b.Name,
		"MC0313 cluster " + a.Name, "MC0313 cluster " + b.Name, "MC0322 cluster " + a.Name, "MC0322 cluster " + b.Name}
	if got := codesOf(res, "error"); !slices.Equal(got, want) {
		t.Errorf("without --fix: errors %v, want %v", got, want)
	}
	if got := asmOptions(a) + " " + asmOptions(b); got != "absent manual/keep-me" {
		t.Errorf("asm-options changed without --fix: %s", got)
	}

	start := time.Now()
	res = mc.connect(t, 0, "--fix")
	t.Logf("connect --fix of two managed clusters: %.1fs", time.Since(start).Seconds())
	if errs := codesOf(res, "error"); len(errs) != 0 {
		t.Errorf("after --fix: errors %v", errs)
	}
	if got := asmOptions(a) + " " + asmOptions(b); got != "connected/ connected/keep-me" {
		t.Errorf("asm-options after --fix: %s", got)
	}
	for _, pair := range [][2]mcCluster{{a, b}, {b, a}} {
		local, remote := pair[0], pair[1]
		nets, global := mc.gkeCluster(t, remote)
		if !global || !slices.Contains(nets, local.PodCIDR) {
			t.Errorf("%s: global access %v, authorized %v; want on and %s", remote.Name, global, nets, local.PodCIDR)
		}
		if s := mc.kubectl(t, local, "get", "secrets", "-A", "-l", "istio/multiCluster=true", "-o", "name"); s != "" {
			t.Errorf("remote secrets in managed %s: %s", local.Name, s)
		}
	}
	if fw := mc.firewallNames(t); len(fw) != len(firewallsBefore)+1 {
		t.Errorf("firewalls after --fix %v, before %v: want one rule added", fw, firewallsBefore)
	}

	for _, p := range mc.connect(t, 0, "--fix").Plan {
		if p.Action != "keep" {
			t.Errorf("re-run plans %s %s %s", p.Action, p.Kind, p.Name)
		}
	}

	if r := runEnv(t, mc.env, "", meshctlBin, "mesh", "disconnect", a.Context, b.Context); r.Code != 0 {
		t.Fatalf("disconnect: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if got := asmOptions(a) + " " + asmOptions(b); got != "absent manual/keep-me" {
		t.Errorf("asm-options after disconnect: %s, want them as before connect", got)
	}
	for _, c := range []mcCluster{a, b} {
		if nets, _ := mc.gkeCluster(t, c); !slices.Equal(nets, netsBefore[c.Name]) {
			t.Errorf("%s's authorized networks %v, before connect %v", c.Name, nets, netsBefore[c.Name])
		}
	}
	if fw := mc.firewallNames(t); !slices.Equal(fw, firewallsBefore) {
		t.Errorf("firewalls after disconnect %v, before connect %v", fw, firewallsBefore)
	}
	if s := strings.TrimSpace(mc.kubectl(t, a, "get", "configmaps", "-n", "istio-system", "-l", "app.kubernetes.io/managed-by=meshctl", "-o", "name")); s != "" {
		t.Errorf("meshctl's ConfigMaps left in %s: %s", a.Name, s)
	}
}

// fleetProvisionedEach checks that the fleet provisioned the managed
// control plane of each cluster in that cluster: the fleet reports each
// membership (named after its cluster) ACTIVE on asm-managed in the feature;
// each cluster's API server holds its own reconciled ControlPlaneRevision;
// and each cluster has a managed istiod of its own that registers under the
// cluster's name and has synced that cluster (istiod's /debug/clusterz).
func fleetProvisionedEach(t *testing.T, mc *mcSim, clusters ...mcCluster) {
	t.Helper()
	// The servicemesh feature as gcloud reads it (v1), its per-membership
	// states keyed projects/NUMBER/locations/LOCATION/memberships/NAME.
	var feature struct {
		MembershipStates map[string]struct {
			Servicemesh struct {
				ControlPlaneManagement struct {
					State   string `json:"state"`
					Details []struct {
						Details string `json:"details"`
					} `json:"details"`
				} `json:"controlPlaneManagement"`
			} `json:"servicemesh"`
		} `json:"membershipStates"`
	}
	if err := getJSON(envValue(mc.env, "MESHCTL_GKEHUB_ENDPOINT")+"/v1/projects/"+simProject+"/locations/global/features/servicemesh", &feature); err != nil {
		t.Fatal(err)
	}
	active := map[string]string{}
	for key, m := range feature.MembershipStates {
		cp := m.Servicemesh.ControlPlaneManagement
		st := cp.State
		if len(cp.Details) > 0 {
			st += " " + cp.Details[0].Details
		}
		active[key[strings.LastIndex(key, "/")+1:]] = st
	}
	for _, c := range clusters {
		if got := active[c.Name]; got != "ACTIVE Ready: asm-managed" {
			t.Errorf("fleet: membership of %s is %q, want ACTIVE Ready: asm-managed (all: %v)", c.Name, got, active)
		}
		cpr := mc.kubectl(t, c, "get", "controlplanerevisions.mesh.cloud.google.com", "-n", "istio-system", "asm-managed",
			"-o", `jsonpath={.status.conditions[?(@.type=="Reconciled")].status}`)
		if cpr != "True" {
			t.Errorf("%s: ControlPlaneRevision asm-managed Reconciled %q, want True", c.Name, cpr)
		}
		// The istiod the fleet runs for this cluster: found in the
		// cluster's own istiod directory entry, registered as this cluster.
		debug := c.istiodDebug(t, "asm-managed")
		q := url.Values{"project": {simProject}, "location": {c.Location}, "cluster": {c.Name}}
		var dirList struct {
			Istiods []istiodEntry `json:"istiods"`
		}
		if err := getJSON(envValue(mc.env, "MESHCTL_ISTIOD_ENDPOINTS")+"?"+q.Encode(), &dirList); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(dirList.Istiods, istiodEntry{Revision: "asm-managed", DebugURL: debug}) {
			t.Errorf("%s: the istiod directory lists %+v, want asm-managed at %s", c.Name, dirList.Istiods, debug)
		}
		if st, err := remoteSync(debug, c.MeshClusterID); err != nil || st != "synced" {
			t.Errorf("%s: its managed istiod's /debug/clusterz says %q of %s (%v), want synced", c.Name, st, c.MeshClusterID, err)
		}
	}
}

// istiodEntry is an entry of meshsim's istiod directory.
type istiodEntry struct {
	Revision string `json:"revision"`
	DebugURL string `json:"debugURL"`
}
