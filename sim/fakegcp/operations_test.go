package fakegcp

import (
	"strconv"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

func insertTCPCheck(e *env, name string, requestID *string) (*computepb.Operation, error) {
	op, err := e.hc.Insert(e.ctx, &computepb.InsertHealthCheckRequest{Project: project, RequestId: requestID,
		HealthCheckResource: &computepb.HealthCheck{Name: proto.String(name), Type: proto.String("TCP")}})
	if err != nil {
		return nil, err
	}
	return op.Proto(), nil
}

// TestOperationRunsThenTheChangeShows: the insert answers a RUNNING
// operation and the object is not there until the operation is DONE.
func TestOperationRunsThenTheChangeShows(t *testing.T) {
	e := newEnv(t, func(k *Knobs) { k.OperationDuration = Duration(500 * time.Millisecond) })
	op, err := insertTCPCheck(e, "hc", nil)
	if err != nil {
		t.Fatal(err)
	}
	if op.GetStatus() != computepb.Operation_RUNNING || op.GetProgress() != 0 || op.GetOperationType() != "insert" ||
		op.GetTargetLink() != globalLink("healthChecks", "hc") || op.GetInsertTime() == "" || op.GetStartTime() == "" ||
		op.GetSelfLink() != globalLink("operations", op.GetName()) || op.GetEndTime() != "" {
		t.Fatalf("new operation: %v", op)
	}
	_, err = e.hc.Get(e.ctx, &computepb.GetHealthCheckRequest{Project: project, HealthCheck: "hc"})
	wantAPIError(t, err, 404, "notFound")

	final, err := e.gops.Wait(e.ctx, &computepb.WaitGlobalOperationRequest{Project: project, Operation: op.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if final.GetStatus() != computepb.Operation_DONE || final.GetProgress() != 100 || final.GetEndTime() == "" {
		t.Fatalf("waited operation: %v", final)
	}
	hc, err := e.hc.Get(e.ctx, &computepb.GetHealthCheckRequest{Project: project, HealthCheck: "hc"})
	if err != nil {
		t.Fatal(err)
	}
	if strconv.FormatUint(hc.GetId(), 10) != strconv.FormatUint(final.GetTargetId(), 10) {
		t.Errorf("targetId %d, object id %d", final.GetTargetId(), hc.GetId())
	}
	if _, err := time.Parse(googleTimeFormat, hc.GetCreationTimestamp()); err != nil {
		t.Errorf("creationTimestamp %q: %v", hc.GetCreationTimestamp(), err)
	}
	it := e.gops.List(e.ctx, &computepb.ListGlobalOperationsRequest{Project: project})
	if listed, err := it.Next(); err != nil || listed.GetName() != op.GetName() {
		t.Errorf("operations list: %v %v", listed, err)
	}
}

func TestWaitReturnsAtItsCap(t *testing.T) {
	e := newEnv(t, func(k *Knobs) {
		k.OperationDuration = Duration(5 * time.Second)
		k.OperationWaitCap = Duration(100 * time.Millisecond)
	})
	op, err := insertTCPCheck(e, "hc", nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := e.gops.Wait(e.ctx, &computepb.WaitGlobalOperationRequest{Project: project, Operation: op.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); got.GetStatus() != computepb.Operation_RUNNING || waited < 100*time.Millisecond || waited > 2*time.Second {
		t.Errorf("wait answered %v after %v, want RUNNING after the 100ms cap", got.GetStatus(), waited)
	}
}

// TestClientSideOperationWait uses the Go client's own polling Wait once
// (it sleeps about a second between polls, so only here).
func TestClientSideOperationWait(t *testing.T) {
	e := newEnv(t)
	op, err := e.hc.Insert(e.ctx, &computepb.InsertHealthCheckRequest{Project: project,
		HealthCheckResource: &computepb.HealthCheck{Name: proto.String("hc"), Type: proto.String("TCP")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(e.ctx); err != nil || !op.Done() {
		t.Fatalf("Wait: %v done=%v", err, op.Done())
	}
	if _, err := e.hc.Get(e.ctx, &computepb.GetHealthCheckRequest{Project: project, HealthCheck: "hc"}); err != nil {
		t.Error(err)
	}
}

// TestRequestIDMakesARetrySafe: a mutation repeated with the same requestId
// answers the first operation and changes nothing.
func TestRequestIDMakesARetrySafe(t *testing.T) {
	e := newEnv(t)
	id := proto.String("8b6a2a3c-5f0e-4b7e-9d3a-2f1c0e9d8b7a")
	first, err := insertTCPCheck(e, "hc", id)
	if err != nil {
		t.Fatal(err)
	}
	again, err := insertTCPCheck(e, "hc", id) // without the requestId this would be 409
	if err != nil {
		t.Fatal(err)
	}
	if again.GetName() != first.GetName() {
		t.Errorf("retry answered operation %s, want %s", again.GetName(), first.GetName())
	}
	if _, err := e.gops.Wait(e.ctx, &computepb.WaitGlobalOperationRequest{Project: project, Operation: first.GetName()}); err != nil {
		t.Fatal(err)
	}
	e.done(t)(e.hc.Delete(e.ctx, &computepb.DeleteHealthCheckRequest{Project: project, HealthCheck: "hc"}))
	late, err := insertTCPCheck(e, "hc", id) // the object is gone; the retry still must not recreate it
	if err != nil {
		t.Fatal(err)
	}
	if late.GetName() != first.GetName() || late.GetStatus() != computepb.Operation_DONE {
		t.Errorf("late retry answered %s %v", late.GetName(), late.GetStatus())
	}
	_, err = e.hc.Get(e.ctx, &computepb.GetHealthCheckRequest{Project: project, HealthCheck: "hc"})
	wantAPIError(t, err, 404, "notFound")
	if got := e.srv.Requests(); got.Mutations != 2 || got.ByMethod["compute.healthChecks.insert"] != 3 {
		t.Errorf("mutations %d, inserts %d; want 2 mutations (insert, delete) of 3 inserts", got.Mutations, got.ByMethod["compute.healthChecks.insert"])
	}
}

// TestOperationThatFails: an injected asynchronous failure ends the
// operation DONE with error.errors[] and leaves nothing behind; the Go
// client's Wait reports it.
func TestOperationThatFails(t *testing.T) {
	e := newEnv(t, func(k *Knobs) {
		k.Faults.FailOperations = map[string]OperationFailure{"compute.healthChecks.insert": {Count: 1, Code: "QUOTA_EXCEEDED", Message: "Quota exceeded.", HTTPStatus: 403}}
	})
	op, err := e.hc.Insert(e.ctx, &computepb.InsertHealthCheckRequest{Project: project,
		HealthCheckResource: &computepb.HealthCheck{Name: proto.String("hc"), Type: proto.String("TCP")}})
	if err != nil {
		t.Fatal(err)
	}
	final := e.finish(t)(op, nil)
	if errs := final.GetError().GetErrors(); len(errs) != 1 || errs[0].GetCode() != "QUOTA_EXCEEDED" || final.GetHttpErrorStatusCode() != 403 || final.GetHttpErrorMessage() != "FORBIDDEN" {
		t.Errorf("failed operation: %v", final)
	}
	if err := op.Wait(e.ctx); err == nil {
		t.Error("client Wait on a failed operation returned no error")
	}
	_, err = e.hc.Get(e.ctx, &computepb.GetHealthCheckRequest{Project: project, HealthCheck: "hc"})
	wantAPIError(t, err, 404, "notFound")
	e.done(t)(e.hc.Insert(e.ctx, &computepb.InsertHealthCheckRequest{Project: project, // only the next one fails
		HealthCheckResource: &computepb.HealthCheck{Name: proto.String("hc"), Type: proto.String("TCP")}}))
}
