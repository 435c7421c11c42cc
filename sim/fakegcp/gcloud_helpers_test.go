package fakegcp

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// gcloudCLI runs the real gcloud against a fake, with a throw-away
// configuration and the endpoint overrides meshsim env exports.
type gcloudCLI struct {
	t   *testing.T
	ctx context.Context
	bin string
	env []string
}

// newGcloud skips the test when gcloud is not installed.
func newGcloud(t *testing.T, e *env) *gcloudCLI {
	t.Helper()
	bin, err := exec.LookPath("gcloud")
	if err != nil {
		t.Skip("gcloud is not on PATH")
	}
	env := append(os.Environ(), "CLOUDSDK_CONFIG="+t.TempDir(), "CLOUDSDK_CORE_DISABLE_PROMPTS=1",
		"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true", "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true",
		"CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true", "CLOUDSDK_CORE_PROJECT="+project,
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE="+e.url+"/compute/v1/",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER="+e.url+"/",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_CERTIFICATEMANAGER="+e.url+"/certificatemanager/")
	// gcloud takes a second or more per call, several on a busy machine:
	// the test's Go clients get as long.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	e.ctx = ctx
	return &gcloudCLI{t: t, ctx: ctx, bin: bin, env: env}
}

func (g *gcloudCLI) run(args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(g.ctx, g.bin, args...)
	cmd.Env = g.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// must runs gcloud and fails the test when it fails.
func (g *gcloudCLI) must(args ...string) string {
	g.t.Helper()
	out, errOut, err := g.run(args...)
	if err != nil {
		g.t.Fatalf("gcloud %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// describe runs a describe command and checks fields of its JSON answer
// (dotted paths) against the values wanted; a nil want means absent.
func (g *gcloudCLI) describe(args []string, fields map[string]any) map[string]any {
	g.t.Helper()
	var got map[string]any
	if err := json.Unmarshal([]byte(g.must(append(args, "--format=json")...)), &got); err != nil {
		g.t.Fatalf("gcloud %s: %v", strings.Join(args, " "), err)
	}
	for path, want := range fields {
		if v, _ := lookupPath(got, path); v != want {
			g.t.Errorf("gcloud %s: %s = %v, want %v", strings.Join(args, " "), path, v, want)
		}
	}
	return got
}

// refused runs a command that must fail with every one of the texts in its
// error output.
func (g *gcloudCLI) refused(args []string, texts ...string) {
	g.t.Helper()
	_, errOut, err := g.run(args...)
	if err == nil {
		g.t.Errorf("gcloud %s succeeded, want it refused", strings.Join(args, " "))
		return
	}
	for _, text := range texts {
		if !strings.Contains(errOut, text) {
			g.t.Errorf("gcloud %s: error does not say %q:\n%s", strings.Join(args, " "), text, errOut)
		}
	}
}

// leftBehind fails the test for every object but the project's own
// infrastructure.
func (e *env) leftBehind(t *testing.T) {
	t.Helper()
	for _, r := range e.srv.State().Resources {
		if k := str(r, "kind"); !projectInfrastructure[k] {
			t.Errorf("left behind: %s", str(r, "selfLink"))
		}
	}
}

func regionalLink(collection, name string) string {
	return computeBase + "projects/" + project + "/regions/us-central1/" + collection + "/" + name
}
