package version

import (
	"strings"
	"testing"

	"github.com/meshctl/meshctl/cmd/meshctl/cmdtest"
	"github.com/meshctl/meshctl/internal/buildinfo"
	"github.com/meshctl/meshctl/internal/config"
	"github.com/meshctl/meshctl/internal/ui"
)

func TestNewCmdVersion(t *testing.T) {
	f, _ := cmdtest.Factory(nil, nil)
	var got *VersionOptions
	if err := cmdtest.Execute(NewCmdVersion(f, cmdtest.Capture(&got))); err != nil {
		t.Fatal(err)
	}
	if got.Build != buildinfo.Get() || got.Printer != f.Printer {
		t.Errorf("options %+v", got)
	}
	got = nil
	if err := cmdtest.Execute(NewCmdVersion(f, cmdtest.Capture(&got)), "x"); err == nil || got != nil {
		t.Errorf("an argument: %v", err)
	}
}

func TestRun(t *testing.T) {
	f, out := cmdtest.Factory(&config.Settings{Output: ui.FormatText}, nil)
	b := buildinfo.Info{Version: "v1.2.3", Commit: "abc", Date: "2026-01-02", GoVersion: "go1.26", Platform: "linux/amd64"}
	if err := run(&VersionOptions{Printer: f.Printer, Build: b}); err != nil {
		t.Fatal(err)
	}
	want := "meshctl v1.2.3\n  commit:   abc\n  built:    2026-01-02\n  go:       go1.26\n  platform: linux/amd64\n"
	if out.Out.String() != want {
		t.Errorf("got %q, want %q", out.Out.String(), want)
	}
	f, out = cmdtest.Factory(&config.Settings{Output: ui.FormatJSON}, nil)
	if err := run(&VersionOptions{Printer: f.Printer, Build: b}); err != nil || !strings.Contains(out.Out.String(), `"commit": "abc"`) {
		t.Errorf("json: %v\n%s", err, out.Out.String())
	}
}
