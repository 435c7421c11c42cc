package fakeapi

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestDurationReadsTextAndNanoseconds(t *testing.T) {
	for in, want := range map[string]time.Duration{`"150ms"`: 150 * time.Millisecond, `"2s"`: 2 * time.Second, `3000000`: 3 * time.Millisecond} {
		var d Duration
		if err := json.Unmarshal([]byte(in), &d); err != nil || time.Duration(d) != want {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", in, time.Duration(d), err, want)
		}
	}
	var d Duration
	if err := json.Unmarshal([]byte(`"soon"`), &d); err == nil {
		t.Error(`Unmarshal("soon") succeeded`)
	}
	if b, _ := json.Marshal(Duration(1500 * time.Millisecond)); string(b) != `"1.5s"` {
		t.Errorf("Marshal(1.5s) = %s", b)
	}
}

func TestLogCountsEverythingAndKeepsTheLatest(t *testing.T) {
	l := &Log{Max: 2}
	l.Add(Record{Method: "a.insert", Status: 200, Mutation: true})
	l.Add(Record{Method: "a.get", Status: 404})
	l.Add(Record{Method: "a.get", Status: 200})
	got := l.Stats()
	if got.Total != 3 || got.Mutations != 1 || got.Errors != 1 || got.ByMethod["a.get"] != 2 {
		t.Errorf("stats = %+v", got)
	}
	if len(got.Requests) != 2 || got.Requests[0].Status != 404 {
		t.Errorf("kept %+v, want the last two requests", got.Requests)
	}
	got.ByMethod["a.get"] = 99 // a copy: the log is not changed
	if l.Stats().ByMethod["a.get"] != 2 {
		t.Error("Stats shares its map with the log")
	}
	l.Reset()
	if s := l.Stats(); s.Total != 0 || len(s.Requests) != 0 || s.ByMethod == nil {
		t.Errorf("after Reset: %+v", s)
	}
}

func TestErrorBodyHasTheShapeOfItsAPI(t *testing.T) {
	compute := (&Error{Code: 404, Message: "gone", Reason: "notFound"}).Body()["error"].(map[string]any)
	if errs, _ := compute["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["domain"] != "global" || compute["status"] != nil {
		t.Errorf("Compute error = %v, want errors[] with domain global and no status", compute)
	}
	grpc := (&Error{Code: 404, Message: "gone", Status: "NOT_FOUND"}).Body()["error"].(map[string]any)
	if grpc["status"] != "NOT_FOUND" || grpc["errors"] != nil || grpc["code"] != 404 {
		t.Errorf("gRPC-style error = %v, want status and no errors[]", grpc)
	}
}

func TestControlsMergeKnobsAndServeViews(t *testing.T) {
	type knobs struct{ A, B int }
	k := knobs{A: 1, B: 2}
	log := &Log{}
	log.Add(Record{Method: "x.get", Status: 200})
	c := Controls[knobs]{
		Prefix: "/meshsim/x/", Knobs: func() knobs { return k }, SetKnobs: func(n knobs) { k = n }, Log: log,
		Views:  map[string]func() any{"state": func() any { return map[string]int{"n": 1} }},
		Errors: func(code int, message string) *Error { return &Error{Code: code, Message: message, Status: "X"} },
	}
	do := func(method, path, body string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		c.ServeHTTP(w, httptest.NewRequest(method, path, strings.NewReader(body)))
		return w
	}
	if w := do("POST", "/meshsim/x/knobs", `{"B": 5}`); w.Code != 200 || k != (knobs{A: 1, B: 5}) {
		t.Errorf("POST knobs: %d, knobs %+v; want A kept and B changed", w.Code, k)
	}
	if w := do("POST", "/meshsim/x/knobs", `{"B": "x"}`); w.Code != 400 {
		t.Errorf("bad knobs: %d, want 400", w.Code)
	}
	if w := do("GET", "/meshsim/x/state", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"n": 1`) {
		t.Errorf("GET state: %d %s", w.Code, w.Body)
	}
	if w := do("DELETE", "/meshsim/x/requests", ""); w.Code != 200 || log.Stats().Total != 0 {
		t.Errorf("DELETE requests: %d, log %+v", w.Code, log.Stats())
	}
	if w := do("GET", "/meshsim/x/nothing", ""); w.Code != 404 {
		t.Errorf("unknown path: %d, want 404", w.Code)
	}
}

// A failure aimed at one caller is left for it: the simulator's own
// controllers, calling the same method meanwhile, do not take it.
func TestTakeFailureForOneCaller(t *testing.T) {
	failures := map[string]MethodFailure{"compute.firewalls.list": {Count: 1, Code: 403, UserAgent: "meshctl/"}}
	if _, ok := TakeFailure(failures, "compute.firewalls.list", "google-api-go-client/0.5 meshsim-gkegateway"); ok {
		t.Fatal("another caller took the failure")
	}
	if _, ok := TakeFailure(failures, "compute.firewalls.get", "meshctl/v0.1.0"); ok {
		t.Fatal("another method took the failure")
	}
	if f, ok := TakeFailure(failures, "compute.firewalls.list", "google-api-go-client/0.5 meshctl/v0.1.0"); !ok || f.Code != 403 {
		t.Fatalf("meshctl's call: %+v %v", f, ok)
	}
	if _, ok := TakeFailure(failures, "compute.firewalls.list", "meshctl/v0.1.0"); ok || len(failures) != 0 {
		t.Fatalf("the one failure was taken twice: %v", failures)
	}
}
