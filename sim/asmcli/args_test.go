package asmcli

import (
	"strings"
	"testing"
)

func noEnv(string) string { return "" }

func TestParseSpellingsAndEnv(t *testing.T) {
	env := map[string]string{"PROJECT_ID": "from-env", "ENABLE_NAMESPACE_CREATION": "1"}
	a, err := Parse([]string{"install", "--cluster-name", "c1", "-l", "us-central1", "--revision_name", "asm-test-1",
		"--output-dir", "/tmp/x", "--option", "envoy-access-log", "--co", "a.yaml", "--enable_cluster_labels"},
		func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if a.Project != "from-env" || a.Cluster != "c1" || a.Location != "us-central1" || a.OutputDir != "/tmp/x" {
		t.Errorf("cluster selection = %+v", a)
	}
	if a.RevisionName() != "asm-test-1" || len(a.Options) != 1 || len(a.CustomOverlays) != 1 {
		t.Errorf("revision/overlays = %s %v %v", a.RevisionName(), a.Options, a.CustomOverlays)
	}
	if !a.Enable["namespace_creation"] || !a.Enable["cluster_labels"] || a.Enable["gcp_apis"] {
		t.Errorf("enable = %v", a.Enable)
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		argv []string
		env  map[string]string
		want string
	}{
		{nil, nil, "no command"},
		{[]string{"frobnicate"}, nil, "Unknown command"},
		{[]string{"install", "--bogus"}, nil, "Unknown option --bogus"},
		{[]string{"install", "--project_id"}, nil, "Missing value"},
		{[]string{"install"}, map[string]string{"ENABLE_ALL": "yes"}, "ENABLE_ALL must be 0 (off) or 1 (on)"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.argv, func(k string) string { return tt.env[k] })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%v) error = %v, want %q", tt.argv, err, tt.want)
		}
	}
}

func TestValidateRules(t *testing.T) {
	ok := func(string) bool { return true }
	base := []string{"install", "-p", "p", "-n", "c", "-l", "l"}
	tests := []struct {
		extra []string
		want  string
	}{
		{[]string{"--kubeconfig", "k", "--context", "x"}, "Incompatible arguments"},
		{[]string{"--ca", "vault"}, "CA must be one of"},
		{[]string{"-r", "Bad_Rev"}, "RFC 1123"},
		{[]string{"--managed", "-r", "asm-1"}, "cannot be specified with --managed"},
		{[]string{"--ca_cert", "a"}, "All four certificate options"},
		{[]string{"-s", "sa@x"}, "Service account and key file must be used together."},
		{[]string{"--only_enable"}, "at least one --enable* flag with --only_enable"},
	}
	for _, tt := range tests {
		a, err := Parse(append(append([]string{}, base...), tt.extra...), noEnv)
		if err != nil {
			t.Fatal(err)
		}
		if errs := strings.Join(a.Validate(ok), "\n"); !strings.Contains(errs, tt.want) {
			t.Errorf("Validate(%v) = %q, want %q", tt.extra, errs, tt.want)
		}
	}
	a, _ := Parse([]string{"validate", "-p", "p", "-n", "c", "-l", "l", "--enable_all"}, noEnv)
	if errs := strings.Join(a.Validate(ok), "\n"); !strings.Contains(errs, "validation cannot be run with any --enable* flag") {
		t.Errorf("validate with --enable_all: %q", errs)
	}
	a, _ = Parse(base, noEnv)
	if errs := a.Validate(ok); len(errs) != 0 || a.RevisionName() != DefaultRevision {
		t.Errorf("valid args rejected: %v (revision %s)", errs, a.RevisionName())
	}
}

func TestPoolVCPUsKeepsAsmcliHeuristic(t *testing.T) {
	c := &gkeCluster{NodePools: make([]gkeNodePool, 2)}
	c.NodePools[0].Config.MachineType = "e2-small"
	c.NodePools[0].InitialNodeCount = 10
	c.NodePools[1].Config.MachineType = "e2-custom-4-8192"
	c.NodePools[1].InitialNodeCount = 1
	c.NodePools[1].Locations = []string{"a"}
	// e2-small's "small" is not a number and is skipped; the custom type reads as 8192 vCPUs.
	if got := poolVCPUs(c); got != 8192 {
		t.Errorf("poolVCPUs = %d, want asmcli's 8192", got)
	}
}
