package computeclient

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	compute "google.golang.org/api/compute/v1"
)

// TestDoWaitsWhereTheOperationLives: a zonal, regional or global operation
// is waited on through its own collection, and a failed one is an
// *OperationError.
func TestDoWaitsWhereTheOperationLives(t *testing.T) {
	var waited []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		waited = append(waited, r.Method+" "+r.URL.Path)
		switch r.URL.Path {
		case "/compute/v1/projects/p/global/operations/gone/wait":
			http.Error(w, `{"error":{"code":404,"message":"not found"}}`, http.StatusNotFound)
		case "/compute/v1/projects/p/regions/europe-west1/operations/failed/wait":
			_ = json.NewEncoder(w).Encode(compute.Operation{Name: "failed", Status: "DONE",
				Error: &compute.OperationError{Errors: []*compute.OperationErrorErrors{{Code: "RESOURCE_NOT_READY", Message: "not yet"}}}})
		default:
			_ = json.NewEncoder(w).Encode(compute.Operation{Name: "op", Status: "DONE"})
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	svc, err := New(ctx, srv.URL+"/", "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	running := func(op compute.Operation) func(string) (*compute.Operation, error) {
		return func(id string) (*compute.Operation, error) {
			if id == "" {
				t.Error("no requestId")
			}
			op.Status = "RUNNING"
			return &op, nil
		}
	}

	zone := "https://www.googleapis.com/compute/v1/projects/p/zones/europe-west1-b"
	if err := Do(ctx, svc, "p", running(compute.Operation{Name: "op", Zone: zone})); err != nil {
		t.Errorf("zonal: %v", err)
	}
	err = Do(ctx, svc, "p", running(compute.Operation{Name: "failed", Region: "regions/europe-west1"}))
	var oe *OperationError
	if !errors.As(err, &oe) || oe.Code != "RESOURCE_NOT_READY" || err.Error() != "operation failed: RESOURCE_NOT_READY: not yet" {
		t.Errorf("regional: %v", err)
	}
	if err := Do(ctx, svc, "p", running(compute.Operation{Name: "gone"})); !IsNotFound(err) {
		t.Errorf("global: %v, want a 404", err)
	}
	want := []string{
		"POST /compute/v1/projects/p/zones/europe-west1-b/operations/op/wait",
		"POST /compute/v1/projects/p/regions/europe-west1/operations/failed/wait",
		"POST /compute/v1/projects/p/global/operations/gone/wait",
	}
	if len(waited) != len(want) {
		t.Fatalf("waited %v, want %v", waited, want)
	}
	for i := range want {
		if waited[i] != want[i] {
			t.Errorf("wait %d: %s, want %s", i, waited[i], want[i])
		}
	}

	called := false
	refused := Do(ctx, svc, "p", func(string) (*compute.Operation, error) {
		called = true
		return nil, errors.New("refused")
	})
	if !called || refused == nil || refused.Error() != "refused" {
		t.Errorf("a refused call: %v", refused)
	}
	if IsNotFound(errors.New("404")) {
		t.Error("a plain error is not Compute's 404")
	}
}
