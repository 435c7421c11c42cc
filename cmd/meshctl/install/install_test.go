package install

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/meshctl/meshctl/cmd/meshctl/cmdtest"
	"github.com/meshctl/meshctl/internal/config"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/install"
	"github.com/meshctl/meshctl/pkg/install/managed"
	"github.com/meshctl/meshctl/pkg/meshca"
	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/fakehub"
	"github.com/meshctl/meshctl/sim/scenario"
)

var cluster = &config.Settings{Project: "p", Location: "l", Cluster: "c", Context: "gke_p_l_c"}

func TestNewCmdInstall(t *testing.T) {
	outDir, _ := filepath.Abs("out")
	tests := []struct {
		name     string
		settings *config.Settings
		args     []string
		want     install.Options
		asmcli   string
	}{
		{name: "defaults", settings: cluster,
			want: install.Options{Project: "p", Location: "l", Cluster: "c", CA: "mesh_ca", OutputDir: install.DefaultOutputDir("p", "l", "c")}},
		{name: "asmcli flags", settings: cluster,
			args: []string{"--asmcli", "/bin/asmcli", "--output-dir", "out", "--revision", "asm-1", "--ca", "gcp_cas", "--ca-pool", "projects/p/locations/l/caPools/x",
				"--fleet-id", "f", "--enable", "namespace_creation,registration", "--option", "cni-gcp", "--custom-overlay", "a.yaml", "--custom-overlay", "b.yaml",
				"--egress-registry-only", "--access-logging", "--skip-checks", "--dry-run", "--mesh-version", "1.30"},
			asmcli: "/bin/asmcli",
			want: install.Options{Project: "p", Location: "l", Cluster: "c", OutputDir: outDir, Revision: "asm-1", MeshVersion: "1.30", CA: "gcp_cas", CAPool: "projects/p/locations/l/caPools/x",
				FleetID: "f", Enable: []string{"namespace_creation", "registration"}, Options: []string{"cni-gcp"}, CustomOverlays: []string{"a.yaml", "b.yaml"},
				EgressRegistryOnly: true, AccessLogging: true, SkipChecks: true, DryRun: true}},
		// --root-cert is the shared root's, not a custom CA's.
		{name: "shared CA", settings: cluster,
			args: []string{"--ca", "shared", "--root-cert", "root.pem", "--root-key", "root-key.pem", "--ca-dir", "ca", "--ca-key-type", "ecdsa"},
			want: install.Options{Project: "p", Location: "l", Cluster: "c", CA: "shared", OutputDir: install.DefaultOutputDir("p", "l", "c"),
				SharedCA: meshca.Options{Dir: "ca", RootCert: "root.pem", RootKey: "root-key.pem", KeyType: meshca.ECDSA}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := cmdtest.Factory(tt.settings, nil)
			var got *InstallOptions
			if err := cmdtest.Execute(NewCmdInstall(f, cmdtest.Capture(&got)), tt.args...); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Install, tt.want) || got.Asmcli != tt.asmcli || got.Managed {
				t.Errorf("options %+v (asmcli %q, managed %v)\nwant %+v", got.Install, got.Asmcli, got.Managed, tt.want)
			}
			if got.Kube == nil || got.Precheck == nil || got.Printer != f.Printer || got.Reporter != f.Reporter {
				t.Error("clients, precheck, printer or reporter not handed over")
			}
		})
	}

	t.Run("managed", func(t *testing.T) {
		f, _ := cmdtest.Factory(cluster, nil)
		var got *InstallOptions
		err := cmdtest.Execute(NewCmdInstall(f, cmdtest.Capture(&got)), "--managed", "--channel", "stable", "--membership", "prod-1",
			"--fleet-project", "fleet", "--skip-checks", "--dry-run")
		if err != nil {
			t.Fatal(err)
		}
		want := managed.Options{Project: "p", Location: "l", Cluster: "c", FleetProject: "fleet", Membership: "prod-1", Channel: "stable", SkipChecks: true, DryRun: true}
		if !got.Managed || got.ManagedOptions != want || got.ManagedInstaller == nil {
			t.Errorf("options %+v, want %+v", got.ManagedOptions, want)
		}
	})
}

func TestNewCmdInstallErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
		code int
	}{
		{[]string{"--managed", "--revision", "asm-1", "--enable-all"}, "--revision, --enable-all apply to the asmcli install, not --managed", failure.ExitUsage},
		{[]string{"--managed", "--fleet-id", "f"}, "use --fleet-project instead of --fleet-id", failure.ExitUsage},
		{[]string{"--channel", "rapid"}, "--channel need --managed", failure.ExitUsage},
		{[]string{"--managed", "--channel", "fast"}, `--channel "fast": want one of rapid, regular, stable`, failure.ExitUsage},
		{[]string{"--managed", "--membership", "Not_Valid"}, "RFC 1123", failure.ExitUsage},
		{[]string{"--mesh-version", "1.25"}, `unknown mesh release "1.25": meshctl knows 1.21, 1.24, 1.26, 1.27, 1.28, 1.29, 1.30, 1.31`, failure.ExitUsage},
		{[]string{"--managed", "--mesh-version", "1.31"}, "--mesh-version apply to the asmcli install, not --managed", failure.ExitUsage},
		{[]string{"--ca-key-type", "ecdsa"}, "--ca-key-type goes with --ca shared", failure.ExitUsage},
		{[]string{"--ca", "shared", "--ca-key-type", "dsa"}, `--ca-key-type "dsa": rsa or ecdsa`, failure.ExitUsage},
		{[]string{"--managed", "--ca-dir", "ca"}, "--ca-dir apply to the asmcli install, not --managed", failure.ExitUsage},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f, _ := cmdtest.Factory(cluster, nil)
			var got *InstallOptions
			err := cmdtest.Execute(NewCmdInstall(f, cmdtest.Capture(&got)), tt.args...)
			// The hint counts: it is printed below the error.
			if err == nil || !strings.Contains(err.Error()+" "+failure.HintOf(err), tt.want) || failure.ExitCode(err) != tt.code || got != nil {
				t.Errorf("err %v (hint %q, exit %d), ran %v; want %q, exit %d", err, failure.HintOf(err), failure.ExitCode(err), got != nil, tt.want, tt.code)
			}
		})
	}
	// The managed install needs the whole cluster named.
	f, _ := cmdtest.Factory(&config.Settings{Project: "p"}, nil)
	err := cmdtest.Execute(NewCmdInstall(f, func(*InstallOptions) error { t.Error("ran"); return nil }), "--managed")
	if failure.ExitCode(err) != failure.ExitUsage || !strings.Contains(err.Error(), "set --location, --cluster") {
		t.Errorf("err %v", err)
	}
}

func TestNewCmdUninstallRevision(t *testing.T) {
	f, _ := cmdtest.Factory(cluster, nil)
	var got *UninstallOptions
	if err := cmdtest.Execute(NewCmdUninstall(f, cmdtest.Capture(&got)), "--revision", "asm-1", "--dry-run"); err != nil {
		t.Fatal(err)
	}
	if got.Revision.Revision != "asm-1" || !got.Revision.DryRun || got.Managed || got.Objects == nil || got.Printer != f.Printer || got.Reporter != f.Reporter {
		t.Errorf("options %+v", got)
	}
}

func TestNewCmdUninstall(t *testing.T) {
	f, _ := cmdtest.Factory(cluster, nil)
	var got *UninstallOptions
	if err := cmdtest.Execute(NewCmdUninstall(f, cmdtest.Capture(&got)), "--managed", "--membership", "m", "--fleet-project", "fp", "--dry-run", "--keep-membership"); err != nil {
		t.Fatal(err)
	}
	want := managed.Options{Project: "p", Location: "l", Cluster: "c", Membership: "m", FleetProject: "fp", DryRun: true, KeepMembership: true}
	if !got.Managed || got.ManagedOptions != want || got.ManagedInstaller == nil || got.Printer != f.Printer {
		t.Errorf("options %+v, want %+v", got.ManagedOptions, want)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "say what to remove: --revision REV"},
		{[]string{"--revision", "asm-1", "--managed"}, "none of the others can be"},
		{[]string{"--managed", "--channel", "rapid"}, "unknown flag: --channel"},
	} {
		got = nil
		err := cmdtest.Execute(NewCmdUninstall(f, cmdtest.Capture(&got)), tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) || got != nil {
			t.Errorf("%v: err %v, want %q", tt.args, err, tt.want)
		}
	}
}

// TestRunManagedDryRunAgainstTheSimulator drives install --managed
// --dry-run from its flags through the real clients against meshsim's
// in-process fakes: endpoints, the three APIs, and the plan as JSON, with
// nothing changed.
func TestRunManagedDryRunAgainstTheSimulator(t *testing.T) {
	sc := scenario.Default()
	gke := fakegcp.New(sc, fakegcp.Options{})
	hub := fakehub.New(gke, fakehub.Options{})
	defer hub.Close()
	srv := httptest.NewServer(fakehub.Compose(hub, gke.Handler()))
	defer srv.Close()
	f, out := cmdtest.Factory(&config.Settings{Project: sc.Project, Location: sc.Location, Cluster: sc.Cluster, Output: ui.FormatJSON,
		ContainerEndpoint: srv.URL, GKEHubEndpoint: srv.URL, ServiceUsageEndpoint: srv.URL}, nil)
	var opts *InstallOptions
	if err := cmdtest.Execute(NewCmdInstall(f, cmdtest.Capture(&opts)), "--managed", "--dry-run", "--channel", "rapid"); err != nil {
		t.Fatal(err)
	}
	if err := runInstall(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	var res managed.Result
	if err := json.Unmarshal(out.Out.Bytes(), &res); err != nil {
		t.Fatalf("%v\n%s", err, out.Out.String())
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
