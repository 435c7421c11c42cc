package validate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshctl/meshctl/pkg/install"
)

// fakeAsmcli writes a script that answers --version, logs its arguments
// and the lines given, and exits with code.
func fakeAsmcli(t *testing.T, code string, lines ...string) string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "asmcli")
	body := "#!/bin/sh\n[ \"$1\" = --version ] && { echo 1.28.2-asm.4+config1; exit 0; }\necho \"args: $*\" >&2\n"
	for _, l := range lines {
		body += "echo '" + l + "' >&2\n"
	}
	body += "exit " + code + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

func TestRunAsmcli(t *testing.T) {
	cluster := AsmcliCluster{Project: "p", Location: "us-central1", Cluster: "c"}
	warn := "asmcli: [WARNING]: the cluster has fewer nodes than recommended"

	script := fakeAsmcli(t, "0", warn)
	lines, err := RunAsmcli(install.Locator{Explicit: script}, cluster)(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || lines[1] != warn {
		t.Fatalf("lines %q", lines)
	}
	// The cluster's coordinates and an output directory that is gone again.
	args := strings.Fields(strings.TrimPrefix(lines[0], "args: "))
	want := []string{"validate", "--project_id", "p", "--cluster_name", "c", "--cluster_location", "us-central1", "--output_dir"}
	if strings.Join(args[:len(want)], " ") != strings.Join(want, " ") || len(args) != len(want)+1 {
		t.Errorf("args %q", args)
	}
	if _, err := os.Stat(args[len(args)-1]); !os.IsNotExist(err) {
		t.Errorf("output directory %s left behind: %v", args[len(args)-1], err)
	}

	// A failing asmcli: its lines and the exit status.
	lines, err = RunAsmcli(install.Locator{Explicit: fakeAsmcli(t, "3", "asmcli: [ERROR]: no permission")}, cluster)(context.Background())
	if err == nil || !strings.Contains(err.Error(), "asmcli validate: exit status 3") || len(lines) != 2 {
		t.Errorf("failure: %v, lines %q", err, lines)
	}

	// No cluster: nothing runs.
	if _, err := RunAsmcli(install.Locator{Explicit: script}, AsmcliCluster{Project: "p"})(context.Background()); err == nil ||
		!strings.Contains(err.Error(), "asmcli needs --project, --location and --cluster") {
		t.Errorf("no cluster: %v", err)
	}
	// No asmcli to be found.
	if _, err := RunAsmcli(install.Locator{Explicit: filepath.Join(t.TempDir(), "none")}, cluster)(context.Background()); err == nil ||
		!strings.HasPrefix(err.Error(), "find asmcli: ") {
		t.Errorf("no asmcli: %v", err)
	}
}
