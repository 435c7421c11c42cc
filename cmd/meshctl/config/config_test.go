package config

import (
	"strings"
	"testing"

	"github.com/meshctl/meshctl/cmd/meshctl/cmdtest"
	"github.com/meshctl/meshctl/internal/config"
	"github.com/meshctl/meshctl/internal/ui"
)

func TestNewCmdView(t *testing.T) {
	s := &config.Settings{Project: "p1"}
	f, _ := cmdtest.Factory(s, nil)
	var got *ViewOptions
	if err := cmdtest.Execute(NewCmdView(f, cmdtest.Capture(&got))); err != nil {
		t.Fatal(err)
	}
	if got.Settings != s || got.Printer != f.Printer || got.LookupEnv == nil {
		t.Errorf("options %+v", got)
	}
	got = nil
	if err := cmdtest.Execute(NewCmdView(f, cmdtest.Capture(&got)), "x"); err == nil || got != nil {
		t.Errorf("an argument: %v", err)
	}
}

// The resolution of the settings is the root command's (its tests cover
// precedence); view shows what it was given, and which credentials each
// API gets.
func TestRunView(t *testing.T) {
	f, out := cmdtest.Factory(&config.Settings{Output: ui.FormatText}, nil)
	s := &config.Settings{Project: "p1", ContainerEndpoint: "http://localhost:9000", ComputeEndpoint: "https://compute.example.com"}
	err := runView(&ViewOptions{Printer: f.Printer, Settings: s, LookupEnv: func(k string) (string, bool) {
		if k == "XDG_CONFIG_HOME" {
			return "/cfg", true
		}
		return "", false
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Config file: none (looked for /cfg/meshctl/config.yaml)",
		"container            none (loopback endpoint)",
		"compute              application default credentials",
		"gkehub               application default credentials",
		"cloudresourcemanager application default credentials",
		"certificatemanager   application default credentials",
	} {
		if !strings.Contains(out.Out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.Out.String())
		}
	}
}
