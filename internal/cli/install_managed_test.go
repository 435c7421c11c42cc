package cli

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meshctl/meshctl/pkg/install/managed"
	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/fakehub"
	"github.com/meshctl/meshctl/sim/scenario"
)

func TestInstallManagedFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"install", "--managed", "--revision", "asm-1", "--enable-all"}, "--revision, --enable-all apply to the asmcli install, not --managed"},
		{[]string{"install", "--managed", "--fleet-id", "f"}, "use --fleet-project instead of --fleet-id"},
		{[]string{"install", "--channel", "rapid"}, "--channel need --managed"},
		{[]string{"install", "--managed", "--channel", "fast", "--project", "p", "--location", "l", "--cluster", "c"}, `--channel "fast": want one of rapid, regular, stable`},
		{[]string{"install", "--managed", "--membership", "Not_Valid", "--project", "p", "--location", "l", "--cluster", "c"}, "RFC 1123"},
		{[]string{"install", "--managed", "--project", "p"}, "set --location, --cluster"},
		{[]string{"uninstall"}, "give --managed"},
		{[]string{"uninstall", "--managed", "--channel", "rapid"}, "unknown flag: --channel"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := newHarness(t).run(t, tt.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", r.code, r.stderr, tt.want)
			}
		})
	}
}

// TestInstallManagedDryRunAgainstTheSimulator drives the command through
// the real clients against meshsim's in-process fakes: endpoints, the three
// APIs, and the plan as JSON, with nothing changed.
func TestInstallManagedDryRunAgainstTheSimulator(t *testing.T) {
	sc := scenario.Default()
	gke := fakegcp.New(sc, fakegcp.Options{})
	hub := fakehub.New(gke, fakehub.Options{})
	defer hub.Close()
	srv := httptest.NewServer(fakehub.Compose(hub, gke.Handler()))
	defer srv.Close()
	h := newHarness(t)
	for _, k := range []string{"MESHCTL_CONTAINER_ENDPOINT", "MESHCTL_GKEHUB_ENDPOINT", "MESHCTL_SERVICEUSAGE_ENDPOINT"} {
		h.env[k] = srv.URL
	}
	r := h.run(t, "install", "--managed", "--dry-run", "-o", "json", "--channel", "rapid",
		"--project", sc.Project, "--location", sc.Location, "--cluster", sc.Cluster)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var res managed.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if !res.DryRun || res.Revision != "asm-managed-rapid" || res.Membership != "projects/meshsim-project/locations/us-central1/memberships/meshsim" {
		t.Errorf("result = %+v", res)
	}
	var planned []string
	for _, s := range res.Steps {
		if s.Action == managed.ActionPlanned {
			planned = append(planned, s.Name)
		}
	}
	if strings.Join(planned, ",") != "register,enable-feature,set-management" {
		t.Errorf("planned %v", res.Steps)
	}
	if st := hub.Requests(); st.Mutations != 0 || st.ByMethod["gkehub.projects.locations.memberships.list"] != 1 {
		t.Errorf("fleet requests: %+v", st.ByMethod)
	}
}
