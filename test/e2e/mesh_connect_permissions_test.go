//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func (mc *mcSim) envVar(t *testing.T, key string) string {
	t.Helper()
	for _, kv := range mc.env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	t.Fatalf("meshsim env exports no %s", key)
	return ""
}

// iam denies or grants (verb "deny", "grant") permissions to meshctl's
// principal in project, or in every project of this simulator when
// project is empty.
func (mc *mcSim) iam(t *testing.T, verb, project string, perms ...string) {
	t.Helper()
	simAPIAt(t, mc.envVar(t, "MESHCTL_COMPUTE_ENDPOINT"), http.MethodPost, "/meshsim/iam/"+verb, map[string]any{"project": project, "permissions": perms}, nil)
}

// mutations are the mutating Google calls logged since the last reset.
func (mc *mcSim) mutations(t *testing.T) []string {
	t.Helper()
	var log lbRequestLog
	simAPIAt(t, mc.envVar(t, "MESHCTL_COMPUTE_ENDPOINT"), http.MethodGet, "/meshsim/requests", nil, &log)
	var out []string
	for _, r := range log.Requests {
		if r.Mutation {
			out = append(out, r.HTTPMethod+" "+r.Path)
		}
	}
	return out
}

// TestMeshConnectPermissions: two private clusters in two regions need
// master global access, a GKE cluster update. Without
// container.clusters.update, connect --fix stops before its first change,
// naming the permission, the project and what needs it: the simulator's
// request log shows no mutating call and neither cluster has a remote
// secret. The dry run lists it as missing. Granted, the same command
// connects the clusters. disconnect, which takes connect's blocks out of
// the authorized networks, is refused the same way with every link left,
// and granted it removes them. It has a simulator of its own, so no other
// test runs as a principal missing a permission.
func TestMeshConnectPermissions(t *testing.T) {
	mc := startSimFor(t, "e2e-mcp-", "mesh connect permissions", "--clusters", "2", "--regions", "us-central1,europe-west1", "--private")
	mc.refreshStatus(t)
	mc.installMesh(t, connectRevision)
	a, b := mc.status.Clusters[0], mc.status.Clusters[1]
	args := []string{"mesh", "connect", simProject + "/" + a.Location + "/" + a.Name, simProject + "/" + b.Location + "/" + b.Name, "--fix"}
	const perm = "container.clusters.update"

	mc.iam(t, "deny", "", perm)
	t.Cleanup(func() { mc.iam(t, "grant", "", perm) })

	// The dry run lists the permission as missing, and succeeds.
	r := runEnv(t, mc.env, "", meshctlBin, append(args, "--dry-run", "-o", "json")...)
	var dry struct {
		Permissions struct {
			Missing     int `json:"missing"`
			Permissions []struct {
				Permission string `json:"permission"`
				Project    string `json:"project"`
				Status     string `json:"status"`
				Kubernetes *struct {
					Cluster string `json:"cluster"`
				} `json:"kubernetes"`
			} `json:"permissions"`
		} `json:"permissions"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &dry); err != nil {
		t.Fatalf("dry run: exit %d: %v\n%s%s", r.Code, err, r.Stdout, r.Stderr)
	}
	clusters := map[string]bool{}
	missing := ""
	for _, p := range dry.Permissions.Permissions {
		if p.Kubernetes != nil && p.Status == "held" {
			clusters[p.Kubernetes.Cluster] = true
		}
		if p.Status == "missing" {
			missing += p.Permission + " in " + p.Project + " "
		}
	}
	if dry.Permissions.Missing != 1 || missing != perm+" in "+simProject+" " {
		t.Errorf("dry run: missing %d: %s\n%s", dry.Permissions.Missing, missing, r.Stdout)
	}
	// Each cluster's own API server answered for its objects.
	if !clusters[a.Context] || !clusters[b.Context] {
		t.Errorf("dry run: Kubernetes permissions held in %v, want both %s and %s", clusters, a.Context, b.Context)
	}

	simAPIAt(t, mc.envVar(t, "MESHCTL_COMPUTE_ENDPOINT"), http.MethodDelete, "/meshsim/requests", nil, nil)
	r = runEnv(t, mc.env, "", meshctlBin, args...)
	if r.Code == 0 {
		t.Fatalf("connect succeeded without %s:\n%s", perm, r.Stdout)
	}
	for _, want := range []string{"lacks 1 permission", perm + " in project " + simProject + ", to update clusters ", "nothing was changed", "add-iam-policy-binding " + simProject} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.Stderr)
		}
	}
	if m := mc.mutations(t); len(m) != 0 {
		t.Errorf("connect changed Google resources before refusing: %v", m)
	}
	for _, c := range mc.status.Clusters {
		if s := mc.kubectl(t, c, "-n", "istio-system", "get", "secrets", "-l", "istio/multiCluster=true", "-o", "name"); strings.TrimSpace(s) != "" {
			t.Errorf("cluster %s has remote secrets after the refusal: %s", c.Name, s)
		}
	}
	if _, global := mc.gkeCluster(t, b); global {
		t.Errorf("cluster %s has master global access after the refusal", b.Name)
	}

	mc.iam(t, "grant", "", perm)
	res := mc.connect(t, 0, "--fix")
	if !res.Connected {
		t.Errorf("connect with the permission granted: not connected: %+v", res)
	}
	if _, global := mc.gkeCluster(t, b); !global {
		t.Errorf("cluster %s: master global access still off after connect", b.Name)
	}

	remoteSecrets := func() int {
		n := 0
		for _, c := range mc.status.Clusters {
			n += len(strings.Fields(mc.kubectl(t, c, "-n", "istio-system", "get", "secrets", "-l", "istio/multiCluster=true", "-o", "name")))
		}
		return n
	}
	if n := remoteSecrets(); n != 2 {
		t.Fatalf("%d remote secrets after connect, want 2", n)
	}

	disconnect := []string{"mesh", "disconnect", simProject + "/" + a.Location + "/" + a.Name, simProject + "/" + b.Location + "/" + b.Name}
	mc.iam(t, "deny", "", perm)
	simAPIAt(t, mc.envVar(t, "MESHCTL_COMPUTE_ENDPOINT"), http.MethodDelete, "/meshsim/requests", nil, nil)
	r = runEnv(t, mc.env, "", meshctlBin, disconnect...)
	if r.Code == 0 {
		t.Fatalf("disconnect succeeded without %s:\n%s", perm, r.Stdout)
	}
	for _, want := range []string{"lacks 1 permission", perm + " in project " + simProject + ", to update clusters ", "nothing was changed"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("disconnect: stderr lacks %q:\n%s", want, r.Stderr)
		}
	}
	if m := mc.mutations(t); len(m) != 0 {
		t.Errorf("disconnect changed Google resources before refusing: %v", m)
	}
	if n := remoteSecrets(); n != 2 {
		t.Errorf("%d remote secrets after the refused disconnect, want 2", n)
	}
	mc.iam(t, "grant", "", perm)
	if r := runEnv(t, mc.env, "", meshctlBin, disconnect...); r.Code != 0 {
		t.Fatalf("disconnect with the permission: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if n := remoteSecrets(); n != 0 {
		t.Errorf("%d remote secrets after disconnect", n)
	}
}
