package install

import (
	"context"
	"errors"
	"strings"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/pkg/check"
	"github.com/meshctl/meshctl/pkg/findings"
)

// The install's precheck is check's run: its error-level findings stop the
// install as findings (code, object, fix), and its clients are built only
// when it runs.
func TestCheckPrecheck(t *testing.T) {
	opts := check.Options{Project: "p", Location: "us-central1", Cluster: "c"}
	built := 0
	clients := func(context.Context) (check.Clients, error) {
		built++
		// Every API unreachable: check reports each as MC0100, an error.
		down := errors.New("connection refused")
		return check.Clients{GKEErr: down, ComputeErr: down, KubeErr: down}, nil
	}
	pre := CheckPrecheck(clients, opts)
	if built != 0 {
		t.Fatal("clients built before the precheck ran")
	}
	found, err := pre(context.Background(), Target{Version: PinnedVersion, Release: PinnedRelease, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if built != 1 || len(found) == 0 {
		t.Fatalf("built %d times, %d findings", built, len(found))
	}
	for _, f := range found {
		if f.Level != findings.Error || f.Code != "MC0100" {
			t.Errorf("finding %+v, want MC0100 errors", f)
		}
	}
	err = &NotReadyError{Findings: found}
	if !strings.HasPrefix(err.Error(), "the cluster is not ready for the mesh:\n  Error [MC0100]") {
		t.Errorf("error text:\n%s", err)
	}

	// Options check cannot run with are the precheck's error, not findings.
	_, err = CheckPrecheck(clients, check.Options{Project: "p"})(context.Background(), Target{Version: PinnedVersion})
	if err == nil || failure.HintOf(err) == "" {
		t.Errorf("no cluster: %v", err)
	}
}

// gkeAt is a GKE API whose cluster runs one control plane version.
type gkeAt string

func (v gkeAt) GetCluster(context.Context, string) (*containerpb.Cluster, error) {
	return &containerpb.Cluster{CurrentMasterVersion: string(v)}, nil
}

// TestPrecheckChecksTheReleaseInstalled: the precheck checks the cluster
// against the release asmcli installs, not check's default. GKE 1.32 is in
// CSM 1.29's window (1.32 to 1.35) and below 1.31's (1.33 to 1.36).
func TestPrecheckChecksTheReleaseInstalled(t *testing.T) {
	clients := func(context.Context) (check.Clients, error) {
		down := errors.New("not needed here")
		return check.Clients{GKE: gkeAt("1.32.9-gke.100"), ComputeErr: down, KubeErr: down}, nil
	}
	pre := CheckPrecheck(clients, check.Options{Project: "p", Location: "us-central1", Cluster: "c"})
	versionFindings := func(v string) []string {
		found, err := pre(context.Background(), Target{Version: v, Source: "asmcli " + v})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range found {
			if f.Code == findings.MasterVersionUnsupported.Code {
				out = append(out, f.Message)
			}
		}
		return out
	}
	if got := versionFindings("1.29.8-asm.11+config1"); len(got) != 0 {
		t.Errorf("asmcli 1.29 on GKE 1.32: %v, want no version finding", got)
	}
	if got := versionFindings("1.31.1-asm.19+config1"); len(got) != 1 || !strings.Contains(got[0], "older than CSM 1.31 supports") {
		t.Errorf("asmcli 1.31 on GKE 1.32: %v, want MC0110", got)
	}
}
