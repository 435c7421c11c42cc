package install

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/preflight"
	"github.com/meshctl/meshctl/sim/fakeiam"
)

// denyIAM holds every Google permission but denied.
type denyIAM struct{ denied []string }

func (d denyIAM) TestIamPermissions(_ context.Context, _ string, perms []string) ([]string, error) {
	var held []string
	for _, p := range perms {
		if !slices.Contains(d.denied, p) {
			held = append(held, p)
		}
	}
	return held, nil
}

// Each --enable_* asmcli is given adds the Google permission of the
// change it lets asmcli make, in the project asmcli makes it in; without
// any, asmcli changes only the cluster. Every name exists (Resource
// Manager refuses a whole request for one that does not).
func TestAsmcliPermissionsFollowItsFlags(t *testing.T) {
	google := func(o Options) []string {
		var out []string
		for _, p := range preflight.Required(o.Changes()) {
			if p.Kubernetes == nil {
				if err := fakeiam.Validate(p.Permission); err != nil {
					t.Errorf("%s: %v", p.Permission, err)
				}
				out = append(out, p.Project+" "+p.Permission)
			}
		}
		return out
	}
	o := base()
	if got := google(o); len(got) != 0 {
		t.Errorf("no --enable: %v", got)
	}
	o.Enable, o.FleetID = []string{"registration", "cluster_labels"}, "fleet"
	want := []string{"fleet gkehub.memberships.create", "fleet gkehub.operations.get", "p container.clusters.update", "p container.operations.get"}
	if got := google(o); !slices.Equal(got, want) {
		t.Errorf("registration, cluster_labels: %v, want %v", got, want)
	}
	o.Enable, o.EnableAll = nil, true
	if got := google(o); !slices.Contains(got, "p serviceusage.services.enable") || !slices.Contains(got, "p resourcemanager.projects.setIamPolicy") {
		t.Errorf("--enable_all: %v", got)
	}
	// meshconfig init: the fleet's project too when asmcli uses the
	// fleet's workload identity pool (Mesh CA on a cluster it registers),
	// the cluster's alone with istiod's own CA.
	for _, tc := range []struct {
		ca     string
		enable []string
		want   []string
	}{
		{"", nil, []string{"fleet", "p"}},
		{"citadel", nil, []string{"p"}},
		{"", []string{"meshconfig_init"}, []string{"p"}},
		{"", []string{"cluster_labels"}, nil},
	} {
		o.CA, o.Enable, o.EnableAll = tc.ca, tc.enable, tc.enable == nil
		var in []string
		for _, g := range google(o) {
			if project, perm, _ := strings.Cut(g, " "); perm == "meshconfig.projects.init" {
				in = append(in, project)
			}
		}
		if !slices.Equal(in, tc.want) {
			t.Errorf("--ca %q, --enable %v: meshconfig.projects.init in %v, want %v", tc.ca, tc.enable, in, tc.want)
		}
	}
}

// A caller missing one permission asmcli's changes need is refused
// before asmcli runs, naming it; a dry run lists it.
func TestMissingPermissionStopsAsmcli(t *testing.T) {
	o := base()
	o.OutputDir, o.EnableAll = t.TempDir(), true
	marker := filepath.Join(o.OutputDir, "ran")
	script := filepath.Join(t.TempDir(), "asmcli")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = --version ] && { echo 1.28; exit 0; }\ntouch "+marker+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	in := Installer{Locator: Locator{Explicit: script}, Reporter: ui.Discard, LookPath: allTools,
		Preflight: &preflight.Checker{IAM: denyIAM{denied: []string{"container.clusters.update"}}}}
	_, err := in.Run(context.Background(), o)
	var missing *preflight.MissingError
	if !errors.As(err, &missing) || !strings.Contains(err.Error(), "container.clusters.update in project p, to update clusters c") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("asmcli ran")
	}
	o.DryRun = true
	res, err := in.Run(context.Background(), o)
	if err != nil || res.Permissions == nil || res.Permissions.Missing != 1 {
		t.Errorf("dry run: %v %+v", err, res.Permissions)
	}
}
