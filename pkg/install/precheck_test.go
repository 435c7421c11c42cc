package install

import (
	"context"
	"errors"
	"strings"
	"testing"

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
	found, err := pre(context.Background())
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
	_, err = CheckPrecheck(clients, check.Options{Project: "p"})(context.Background())
	if err == nil || failure.HintOf(err) == "" {
		t.Errorf("no cluster: %v", err)
	}
}
