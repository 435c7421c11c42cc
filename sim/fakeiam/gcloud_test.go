package fakeiam_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGcloudSeesGooglesDenials drives the real gcloud CLI, an independent
// client, against the stack: its own error printing shows each API's
// denial, a denied change (also inside a batch) leaves nothing behind, a
// grant over /meshsim/iam/ lets the same command through, and a token
// file makes gcloud another principal. gcloud has no command for
// projects.testIamPermissions, so the Resource Manager is left to the Go
// clients' tests.
func TestGcloudSeesGooglesDenials(t *testing.T) {
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		t.Skip("gcloud is not on PATH")
	}
	const ci = "serviceAccount:ci@meshsim-project.iam.gserviceaccount.com"
	s := newStack(t, fakeiamConfig(`{"principals": {
		"default": {"allow": null, "deny": ["compute.healthChecks.create", "compute.healthChecks.delete",
			"container.clusters.get", "serviceusage.services.enable"]},
		"`+ci+`": {"allow": ["compute.healthChecks.list"]}}}`))
	config := t.TempDir()
	run := func(extraEnv []string, args ...string) (string, error) {
		t.Helper()
		cmd := exec.CommandContext(s.ctx, gcloud, args...)
		cmd.Env = append(append(os.Environ(), "CLOUDSDK_CONFIG="+config, "CLOUDSDK_CORE_DISABLE_PROMPTS=1",
			"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true", "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true"), extraEnv...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	must := func(args ...string) {
		t.Helper()
		if out, err := run(nil, args...); err != nil {
			t.Fatalf("gcloud %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	denied := func(want string, extraEnv []string, args ...string) {
		t.Helper()
		out, err := run(extraEnv, args...)
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("gcloud %s: %v, want the error %q in:\n%s", strings.Join(args, " "), err, want, out)
		}
	}
	for _, api := range []string{"container", "gkehub", "serviceusage"} {
		must("config", "set", "api_endpoint_overrides/"+api, s.url+"/")
	}
	must("config", "set", "api_endpoint_overrides/compute", s.url+"/compute/v1/")
	must("config", "set", "auth/disable_credentials", "true")
	must("config", "set", "core/project", project)
	must("config", "set", "core/should_prompt_to_enable_api", "false")

	createHC := []string{"compute", "health-checks", "create", "tcp", "gw-hc", "--global", "--port", "15021"}
	denied("Required 'compute.healthChecks.create' permission for 'projects/meshsim-project/global/healthChecks/gw-hc'", nil, createHC...)
	if n := s.gcp.Requests().Mutations; n != 0 || s.healthChecks() != 0 {
		t.Fatalf("after the denied create: %d mutations, %d health checks", n, s.healthChecks())
	}
	post(t, s.url+"/meshsim/iam/grant", "", `{"permissions":["compute.healthChecks.create"]}`)
	must(createHC...)
	must("compute", "health-checks", "create", "tcp", "gw-hc-2", "--global", "--port", "15021")

	// Two names in one delete go through gcloud's batch endpoint: each part
	// is refused and both health checks stay. (gcloud retries a batch's
	// 403s five times, 6 s apart, in case the API was being enabled, unless
	// core/should_prompt_to_enable_api is off; set below.)
	s.gcp.ResetRequests()
	denied("Required 'compute.healthChecks.delete' permission for 'projects/meshsim-project/global/healthChecks/gw-hc'", nil,
		"compute", "health-checks", "delete", "gw-hc", "gw-hc-2", "--global")
	log := s.gcp.Requests()
	if log.ByMethod["compute.healthChecks.delete"] != 2 || log.Mutations != 0 || s.healthChecks() != 2 {
		t.Errorf("batch delete: %+v, %d health checks left", log.ByMethod, s.healthChecks())
	}
	must("compute", "health-checks", "describe", "gw-hc-2", "--global")

	denied(`Required "container.clusters.get" permission(s) for "projects/meshsim-project/locations/us-central1/clusters/meshsim".`, nil,
		"container", "clusters", "describe", "meshsim", "--region", "us-central1")
	denied("Permission denied to enable service [mesh.googleapis.com]", nil, "services", "enable", "mesh.googleapis.com")

	// Another principal: gcloud sends the token file's text as the bearer token.
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte(ci), 0o600); err != nil {
		t.Fatal(err)
	}
	asCI := []string{"CLOUDSDK_AUTH_DISABLE_CREDENTIALS=false", "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE=" + token}
	if out, err := run(asCI, "compute", "health-checks", "list", "--format=value(name)"); err != nil || !strings.Contains(out, "gw-hc-2") {
		t.Errorf("list as %s: %v\n%s", ci, err, out)
	}
	denied("Required 'compute.healthChecks.get' permission for 'projects/meshsim-project/global/healthChecks/gw-hc'", asCI,
		"compute", "health-checks", "describe", "gw-hc", "--global")
}
