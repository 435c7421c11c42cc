package migrate

import (
	"strings"
	"testing"

	"github.com/meshctl/meshctl/cmd/meshctl/cmdtest"
	"github.com/meshctl/meshctl/internal/config"
	"github.com/meshctl/meshctl/pkg/install/managed"
	"github.com/meshctl/meshctl/pkg/migrate"
)

func TestNewCmdMigrate(t *testing.T) {
	named := &config.Settings{Project: "p", Location: "us-central1", Cluster: "c"}
	tests := []struct {
		name     string
		settings *config.Settings
		args     []string
		want     migrate.Options
		err      string
	}{
		{name: "defaults", settings: named, args: []string{"--to", "managed"}, want: migrate.Options{Batch: migrate.DefaultBatch}},
		{name: "all flags", settings: named, args: []string{"--to", "managed", "--from", "asm-1", "--batch", "3", "--channel", "rapid", "--skip-checks", "--dry-run"},
			want: migrate.Options{From: "asm-1", Batch: 3, SkipChecks: true, DryRun: true, Managed: managed.Options{Channel: "rapid"}}},
		{name: "no --to", settings: named, args: nil, err: `required flag(s) "to" not set`},
		{name: "unknown destination", settings: named, args: []string{"--to", "elsewhere"}, err: `--to "elsewhere"`},
		{name: "batch 0", settings: named, args: []string{"--to", "managed", "--batch", "0"}, err: "--batch must be at least 1"},
		{name: "bad channel", settings: named, args: []string{"--to", "managed", "--channel", "beta"}, err: `--channel "beta"`},
		{name: "cluster not named", settings: &config.Settings{Project: "p"}, args: []string{"--to", "managed"}, err: "set --location, --cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := cmdtest.Factory(tt.settings, nil)
			var got *MigrateOptions
			err := cmdtest.Execute(NewCmdMigrate(f, cmdtest.Capture(&got)), tt.args...)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || got != nil {
					t.Errorf("err %v, ran %v; want %q", err, got != nil, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			o := got.Migrate
			if o.From != tt.want.From || o.Batch != tt.want.Batch || o.SkipChecks != tt.want.SkipChecks || o.DryRun != tt.want.DryRun ||
				o.Managed.Channel != tt.want.Managed.Channel {
				t.Errorf("options %+v, want %+v", o, tt.want)
			}
			if m := o.Managed; m.Project != "p" || m.Location != "us-central1" || m.Cluster != "c" {
				t.Errorf("cluster %+v", m)
			}
		})
	}
}
