package fakegcp

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestGcloudAgainstTheFake drives the real gcloud CLI through the load
// balancer's life: create, describe, a refused out-of-order delete, the
// teardown, and a GKE describe. gcloud takes most of a second per call, so
// this test does only that.
func TestGcloudAgainstTheFake(t *testing.T) {
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		t.Skip("gcloud is not on PATH")
	}
	e := newEnv(t)
	config := t.TempDir()
	run := func(args ...string) (string, string, error) {
		t.Helper()
		cmd := exec.CommandContext(e.ctx, gcloud, args...)
		cmd.Env = append(os.Environ(), "CLOUDSDK_CONFIG="+config, "CLOUDSDK_CORE_DISABLE_PROMPTS=1",
			"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true", "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, errOut, err := run(args...)
		if err != nil {
			t.Fatalf("gcloud %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
		return out
	}
	must("config", "set", "api_endpoint_overrides/compute", e.url+"/compute/v1/")
	must("config", "set", "api_endpoint_overrides/container", e.url+"/")
	must("config", "set", "auth/disable_credentials", "true")
	must("config", "set", "core/project", project)

	must("compute", "health-checks", "create", "http", "gw-hc", "--global", "--port", "15021", "--request-path", "/healthz/ready")
	must("compute", "backend-services", "create", "gw-bs", "--global", "--load-balancing-scheme", "EXTERNAL_MANAGED",
		"--protocol", "HTTP2", "--health-checks", "gw-hc")
	must("compute", "url-maps", "create", "web-map", "--default-service", "gw-bs", "--global")
	must("compute", "ssl-certificates", "create", "web-cert", "--domains", "www.example.com", "--global")
	must("compute", "target-https-proxies", "create", "web-https", "--url-map", "web-map", "--ssl-certificates", "web-cert", "--global")
	must("compute", "forwarding-rules", "create", "web-443", "--global", "--load-balancing-scheme", "EXTERNAL_MANAGED",
		"--target-https-proxy", "web-https", "--ports", "443")

	describe := func(group, name string, fields map[string]string) {
		t.Helper()
		var got map[string]any
		args := []string{"compute", group, "describe", name, "--global", "--format=json"}
		if err := json.Unmarshal([]byte(must(args...)), &got); err != nil {
			t.Fatalf("describe %s: %v", name, err)
		}
		for path, want := range fields {
			if v, _ := lookupPath(got, path); v != want {
				t.Errorf("%s %s: %s = %v, want %s", group, name, path, v, want)
			}
		}
	}
	describe("health-checks", "gw-hc", map[string]string{"type": "HTTP", "httpHealthCheck.requestPath": "/healthz/ready"})
	describe("backend-services", "gw-bs", map[string]string{"protocol": "HTTP2", "loadBalancingScheme": "EXTERNAL_MANAGED"})
	describe("url-maps", "web-map", map[string]string{"defaultService": globalLink("backendServices", "gw-bs")})
	// The forwarding rule made the certificate serve; the (test) provisioning
	// delay is far shorter than a gcloud call.
	describe("ssl-certificates", "web-cert", map[string]string{"type": "MANAGED", "managed.status": "ACTIVE"})
	describe("target-https-proxies", "web-https", map[string]string{"urlMap": globalLink("urlMaps", "web-map")})
	describe("forwarding-rules", "web-443", map[string]string{"portRange": "443-443", "target": globalLink("targetHttpsProxies", "web-https")})

	_, errOut, err := run("compute", "health-checks", "delete", "gw-hc", "--global", "--log-http")
	if err == nil || !strings.Contains(errOut, "resourceInUseByAnotherResource") || !strings.Contains(errOut, "is already being used by") {
		t.Errorf("deleting the health check in use: err %v\n%s", err, errOut)
	}

	for _, del := range [][]string{
		{"forwarding-rules", "web-443"}, {"target-https-proxies", "web-https"}, {"ssl-certificates", "web-cert"},
		{"url-maps", "web-map"}, {"backend-services", "gw-bs"}, {"health-checks", "gw-hc"},
	} {
		must("compute", del[0], "delete", del[1], "--global")
	}
	for _, r := range e.srv.State().Resources {
		if k := str(r, "kind"); !projectInfrastructure[k] {
			t.Errorf("left behind: %s", str(r, "selfLink"))
		}
	}
	// gcloud waits on every operation still RUNNING: all inserts and deletes
	// but the URL map's two, which are born DONE.
	if waits := e.srv.Requests().ByMethod["compute.globalOperations.wait"]; waits != 10 {
		t.Errorf("gcloud waited on %d operations, want 10", waits)
	}

	var cluster map[string]any
	if err := json.Unmarshal([]byte(must("container", "clusters", "describe", "meshsim", "--region", "us-central1", "--format=json")), &cluster); err != nil {
		t.Fatal(err)
	}
	if cluster["name"] != "meshsim" || cluster["status"] != "RUNNING" || cluster["currentMasterVersion"] != e.srv.Scenario().MasterVersion {
		t.Errorf("cluster: name %v status %v version %v", cluster["name"], cluster["status"], cluster["currentMasterVersion"])
	}
}
