package cli

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/scenario"
)

func TestCheckFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
		hint string
	}{
		{name: "no cluster", args: []string{"check"}, want: "project, location and cluster are required", hint: "--cluster"},
		{name: "unknown release", env: map[string]string{"MESHCTL_PROJECT": "p", "MESHCTL_LOCATION": "l", "MESHCTL_CLUSTER": "c"},
			args: []string{"check", "--mesh-version", "1.12"}, want: `unknown mesh release "1.12"`, hint: "--mesh-version"},
		{name: "bad --fail-on", args: []string{"check", "--fail-on", "fatal"}, want: "error, warning or info"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			for k, v := range tc.env {
				h.env[k] = v
			}
			r := h.run(t, tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, tc.hint) {
				t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
			}
		})
	}
}

// TestCheckAgainstFakeGCP runs the command against the simulator's Google
// APIs in-process, without a kubeconfig: the Google checks run, the
// Kubernetes ones say why they could not, and the exit code is 3.
func TestCheckAgainstFakeGCP(t *testing.T) {
	sc := scenario.Default()
	sc.Private = true
	srv := httptest.NewServer(fakegcp.New(sc, fakegcp.Options{}).Handler())
	defer srv.Close()
	h := newHarness(t)
	for k, v := range map[string]string{"MESHCTL_COMPUTE_ENDPOINT": srv.URL, "MESHCTL_CONTAINER_ENDPOINT": srv.URL,
		"MESHCTL_PROJECT": sc.Project, "MESHCTL_LOCATION": sc.Location, "MESHCTL_CLUSTER": sc.Cluster} {
		h.env[k] = v
	}
	r := h.run(t, "check", "-o", "json")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\n%s%s", r.code, r.stdout, r.stderr)
	}
	var res struct {
		Ready  bool `json:"ready"`
		Checks []struct{ ID, Status, Message, Hint string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	status := map[string]string{}
	for _, c := range res.Checks {
		status[c.ID] = c.Status
		if c.ID == "MC0131" && !strings.HasPrefix(c.Hint, "gcloud compute firewall-rules create meshctl-webhook-meshsim-") {
			t.Errorf("MC0131 hint %q", c.Hint)
		}
	}
	want := map[string]string{"MC0110": "ok", "MC0121": "ok", "MC0122": "ok", "MC0131": "error", "MC0140": "ok", "MC0143": "ok", "MC0151": "unavailable"}
	for id, st := range want {
		if status[id] != st {
			t.Errorf("%s: %s, want %s", id, status[id], st)
		}
	}
}
