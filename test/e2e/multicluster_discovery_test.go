//go:build e2e

package e2e

import (
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMulticlusterDiscoveryFollowsGKESettings: two private clusters in two
// regions, the mesh installed in both by the asmcli stand-in, remote
// secrets both ways made by the real istioctl with the private endpoints.
// Each istiod reports the other cluster unsynced while GKE's settings keep
// its control plane out of reach, and, once gcloud adds the caller's Pod
// range to the authorized networks and turns master global access on,
// synced, holding the other cluster's probe endpoints. Everything is read
// from istiod's own debug endpoints.
func TestMulticlusterDiscoveryFollowsGKESettings(t *testing.T) {
	if _, err := exec.LookPath("gcloud"); err != nil {
		t.Skip("gcloud is not on PATH")
	}
	const revision = "asm-mc-1"
	mc := multiClusterSim(t, "two clusters")
	mc.installMesh(t, revision)
	a, b := mc.status.Clusters[0], mc.status.Clusters[1]
	if a.Context != "gke_meshsim-project_us-central1_meshsim-1" || b.Context != "gke_meshsim-project_europe-west1_meshsim-2" ||
		a.PrivateEndpoint == b.PrivateEndpoint || a.Proxy == "" {
		t.Fatalf("clusters: %+v", mc.status.Clusters)
	}
	contexts := strings.Fields(mc.run(t, "", "kubectl", "config", "get-contexts", "-o", "name"))
	if !slices.Equal(contexts, []string{b.Context, a.Context}) || strings.TrimSpace(mc.run(t, "", "kubectl", "config", "current-context")) != a.Context {
		t.Errorf("kubeconfig contexts %v", contexts)
	}
	probes := map[string][]string{a.Name: mc.deployProbe(t, a, revision), b.Name: mc.deployProbe(t, b, revision)}

	// Remote secrets as a user makes them for private clusters: the
	// other cluster's private endpoint, its installed cluster name.
	for _, pair := range [][2]mcCluster{{a, b}, {b, a}} {
		local, remote := pair[0], pair[1]
		secret := mc.run(t, "", "istioctl", "create-remote-secret", "--context", remote.Context, "--name", remote.MeshClusterID,
			"--server", "https://"+remote.PrivateEndpoint)
		if !strings.Contains(secret, "server: https://"+remote.PrivateEndpoint) {
			t.Fatalf("remote secret for %s:\n%s", remote.Name, secret)
		}
		mc.run(t, secret, "kubectl", "--context", local.Context, "apply", "-f", "-")
	}
	applied := time.Now()

	// Out of reach: istiod waits for the remote cluster, then gives up
	// (PILOT_REMOTE_CLUSTER_TIMEOUT, 30 s); it never syncs.
	for _, pair := range [][2]mcCluster{{a, b}, {b, a}} {
		local, remote := pair[0], pair[1]
		debug := local.istiodDebug(t, revision)
		eventually(t, 90*time.Second, local.Name+"'s istiod gives up on "+remote.Name, func() (bool, string) {
			st, err := remoteSync(debug, remote.MeshClusterID)
			if st == "synced" {
				t.Fatalf("%s's istiod synced %s, whose control plane GKE would not let it reach", local.Name, remote.Name)
			}
			return st == "timeout", st + errString(err)
		})
		if addrs, err := shardAddresses(debug, probeHost, probeNamespace, remote.MeshClusterID); err != nil || len(addrs) != 0 {
			t.Errorf("%s's istiod holds %s's probe endpoints %v (%v) while unsynced", local.Name, remote.Name, addrs, err)
		}
	}
	t.Logf("unreachable remote clusters reported as syncStatus=timeout %.1fs after the remote secrets were applied", time.Since(applied).Seconds())
	for _, p := range mc.reach(t).Paths {
		if p.Allowed || !strings.Contains(p.Reason, "master global access is off") {
			t.Errorf("reach path before the updates: %+v", p)
		}
	}

	// gcloud, as an independent client: each cluster admits the other's
	// Pod range, then turns master global access on.
	config := t.TempDir()
	var wg sync.WaitGroup
	for _, pair := range [][2]mcCluster{{a, b}, {b, a}} {
		target, caller := pair[0], pair[1]
		wg.Add(1)
		go func() {
			defer wg.Done()
			mc.gcloud(t, config, "container", "clusters", "update", target.Name, "--location", target.Location,
				"--enable-master-authorized-networks", "--master-authorized-networks", target.SubnetCIDR+","+caller.PodCIDR)
		}()
	}
	wg.Wait()
	for _, p := range mc.reach(t).Paths {
		if p.Allowed || !strings.Contains(p.Reason, "master global access is off") {
			t.Errorf("with authorized networks alone, across regions: %+v", p)
		}
	}
	for _, c := range []mcCluster{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mc.gcloud(t, config, "container", "clusters", "update", c.Name, "--location", c.Location, "--enable-master-global-access")
		}()
	}
	wg.Wait()
	opened := time.Now()
	for _, p := range mc.reach(t).Paths {
		if !p.Allowed {
			t.Errorf("after the updates: %+v", p)
		}
	}

	// Reachable: each istiod syncs the other cluster and holds exactly its
	// probe pods' addresses.
	for _, pair := range [][2]mcCluster{{a, b}, {b, a}} {
		local, remote := pair[0], pair[1]
		debug := local.istiodDebug(t, revision)
		eventually(t, 120*time.Second, local.Name+"'s istiod syncs "+remote.Name+" and holds its probe endpoints", func() (bool, string) {
			st, err := remoteSync(debug, remote.MeshClusterID)
			if err != nil || st != "synced" {
				return false, st + errString(err)
			}
			addrs, err := shardAddresses(debug, probeHost, probeNamespace, remote.MeshClusterID)
			return err == nil && slices.Equal(addrs, probes[remote.Name]), strings.Join(addrs, ",") + errString(err)
		})
		own, _ := shardAddresses(debug, probeHost, probeNamespace, local.MeshClusterID)
		if !slices.Equal(own, probes[local.Name]) {
			t.Errorf("%s's istiod holds its own probe endpoints %v, want %v", local.Name, own, probes[local.Name])
		}
	}
	t.Logf("both istiods synced and held the remote probe endpoints %.1fs after the last gcloud update returned", time.Since(opened).Seconds())
	connected := map[string]bool{}
	for _, at := range mc.reach(t).Attempts {
		if at.Allowed {
			connected[at.Caller+">"+at.Target] = true
		}
	}
	if !connected[a.Name+">"+b.Name] || !connected[b.Name+">"+a.Name] {
		t.Errorf("the proxy saw no connection both ways: %v", connected)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}
