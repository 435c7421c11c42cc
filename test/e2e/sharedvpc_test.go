//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshctl/meshctl/pkg/preflight"
)

// sharedVPCHost owns the network of the Shared VPC simulator's cluster.
const sharedVPCHost = "e2e-vpc-host"

// TestSharedVPC runs expose on a cluster whose network is a Shared VPC
// (its own simulator, `meshsim up --shared-vpc`): the GFE firewall rule is
// made in the host project, where it makes the backends HEALTHY, and
// validate is clean; a caller who lacks compute.firewalls.create in the
// host project is refused up front with the role and the rule to hand to
// the network administrator, and nothing changes.
func TestSharedVPC(t *testing.T) {
	s := startCheckSim(t, "--shared-vpc", sharedVPCHost)
	run := func(name string, args ...string) result {
		t.Helper()
		return s.run(t, nil, name, args...)
	}
	must := func(name string, args ...string) result {
		t.Helper()
		r := run(name, args...)
		if r.Code != 0 {
			t.Fatalf("%s %s: exit %d\n%s%s", name, strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
		}
		return r
	}
	must("asmcli", "install", "--project_id", simProject, "--cluster_name", simCluster, "--cluster_location", simLocation,
		"--output_dir", filepath.Join(t.TempDir(), "asm-out"), "--revision_name", "asm-test-1", "--enable_all", "--ca", "mesh_ca")
	const ns = "e2e-sharedvpc"
	apply := exec.Command("kubectl", "apply", "-f", "-")
	apply.Env, apply.Stdin = append(os.Environ(), s.env...), strings.NewReader(webApp(ns, "asm-test-1", 1))
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	expose := []string{"expose", "svc", "web", "-n", ns, "--host", "web." + ns + ".example.com"}

	// Denied in the host project only: refused before any change, naming
	// the project and a role, with the rule for the network admin.
	s.api(t, http.MethodPost, "/meshsim/iam/deny", map[string]any{"project": sharedVPCHost, "permissions": []string{"compute.firewalls.create"}}, nil)
	s.api(t, http.MethodDelete, "/meshsim/requests", nil, nil)
	r := run(meshctlBin, expose...)
	if r.Code == 0 {
		t.Fatalf("expose succeeded without compute.firewalls.create in %s:\n%s", sharedVPCHost, r.Stdout)
	}
	for _, want := range []string{"compute.firewalls.create in project " + sharedVPCHost, "nothing was changed",
		"gcloud projects add-iam-policy-binding " + sharedVPCHost, "gcloud compute firewall-rules create ",
		"--project " + sharedVPCHost, "--network projects/" + sharedVPCHost + "/global/networks/"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("refusal lacks %q:\n%s", want, r.Stderr)
		}
	}
	var log struct {
		Requests []lbRequest `json:"requests"`
	}
	s.api(t, http.MethodGet, "/meshsim/requests", nil, &log)
	for _, req := range log.Requests {
		if req.Mutation {
			t.Errorf("the refused expose changed Google resources: %s %s", req.HTTPMethod, req.Path)
		}
	}
	// check --permissions finds the same gap: it reads the cluster's
	// network and asks for the firewall permissions in the host project.
	r = run(meshctlBin, "check", "--permissions", "--for", "expose,check-fix", "-o", "json")
	var perms struct {
		Commands []struct {
			Command     string                 `json:"command"`
			Missing     int                    `json:"missing"`
			Permissions []preflight.Permission `json:"permissions"`
		} `json:"commands"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &perms); err != nil || r.Code != 3 || len(perms.Commands) != 2 {
		t.Fatalf("check --permissions: exit %d, %v\n%s%s", r.Code, err, r.Stdout, r.Stderr)
	}
	for _, c := range perms.Commands {
		missing := slices.IndexFunc(c.Permissions, func(p preflight.Permission) bool { return p.Status == preflight.Missing })
		if c.Missing != 1 || missing < 0 || c.Permissions[missing].Permission != "compute.firewalls.create" || c.Permissions[missing].Project != sharedVPCHost {
			t.Errorf("check --permissions for %s: %+v", c.Command, c)
		}
	}
	s.api(t, http.MethodPost, "/meshsim/iam/grant", map[string]any{"project": sharedVPCHost, "permissions": []string{"compute.firewalls.create"}}, nil)

	must(meshctlBin, expose...)
	env := sharedVPCGcloud(t, s.endpoint)
	var rules []map[string]any
	sharedVPCGcloudJSON(t, env, &rules, "compute", "firewall-rules", "list", "--project", sharedVPCHost, "--filter", "description~meshctl")
	if len(rules) != 1 || !strings.Contains(fmt.Sprint(rules[0]["network"]), "projects/"+sharedVPCHost+"/global/networks/") {
		t.Fatalf("meshctl's firewall rules in host project %s: %v, want one on its network", sharedVPCHost, rules)
	}
	var own []map[string]any
	sharedVPCGcloudJSON(t, env, &own, "compute", "firewall-rules", "list", "--project", simProject, "--filter", "description~meshctl")
	if len(own) != 0 {
		t.Errorf("meshctl made firewall rules in the service project too: %v", own)
	}
	var backends []map[string]any
	sharedVPCGcloudJSON(t, env, &backends, "compute", "backend-services", "list", "--project", simProject, "--filter", "description~meshctl")
	if len(backends) != 1 {
		t.Fatalf("backend services: %v", backends)
	}
	bs := fmt.Sprint(backends[0]["name"])
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var health []map[string]any
		sharedVPCGcloudJSON(t, env, &health, "compute", "backend-services", "get-health", bs, "--global", "--project", simProject)
		if states := fmt.Sprint(health); strings.Contains(states, "HEALTHY") && !strings.Contains(states, "UNHEALTHY") {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("backends not HEALTHY with the rule in the host project: %s", states)
		}
		time.Sleep(time.Second)
	}
	// The rule is found where it is: no MC0235 (no rule admits Google's
	// front ends), which listing the service project alone would report.
	if r := run(meshctlBin, "validate", "-n", ns, "--skip-asmcli"); r.Code != 0 || strings.Contains(r.Stdout+r.Stderr, "MC0235") {
		t.Errorf("validate: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	must(meshctlBin, "unexpose", "svc", "web", "-n", ns)
	sharedVPCGcloudJSON(t, env, &rules, "compute", "firewall-rules", "list", "--project", sharedVPCHost, "--filter", "description~meshctl")
	if len(rules) != 0 {
		t.Errorf("unexpose left meshctl's rules in the host project: %v", rules)
	}
}

// sharedVPCGcloud is a gcloud configuration pointed at the simulator at endpoint.
func sharedVPCGcloud(tb testing.TB, endpoint string) []string {
	tb.Helper()
	env := []string{"CLOUDSDK_CONFIG=" + tb.TempDir(), "CLOUDSDK_CORE_DISABLE_PROMPTS=1",
		"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true", "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true"}
	for _, kv := range [][2]string{
		{"api_endpoint_overrides/compute", endpoint + "/compute/v1/"},
		{"auth/disable_credentials", "true"},
		{"core/project", simProject},
	} {
		cmd := exec.Command("gcloud", "config", "set", kv[0], kv[1])
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("gcloud config set %s: %v\n%s", kv[0], err, out)
		}
	}
	return env
}

func sharedVPCGcloudJSON(tb testing.TB, env []string, out any, args ...string) {
	tb.Helper()
	cmd := exec.Command("gcloud", append(args, "--format=json")...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("gcloud %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		tb.Fatalf("gcloud %s: %v\n%s", strings.Join(args, " "), err, stdout.String())
	}
}
