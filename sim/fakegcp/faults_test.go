package fakegcp

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"
)

// getStatuses sends n raw GETs and returns the statuses, checking every
// injected error has Google's shape.
func getStatuses(t *testing.T, url string, n int) []int {
	t.Helper()
	var statuses []int
	for i := 0; i < n; i++ {
		resp, err := http.Get(url + "/compute/v1/projects/" + project + "/global/healthChecks")
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct {
				Code   int
				Errors []struct{ Reason, Domain, Message string }
			}
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			if body.Error.Code != 429 || body.Error.Errors[0].Reason != "rateLimitExceeded" || body.Error.Errors[0].Domain != "usageLimits" {
				t.Fatalf("429 body: %+v", body)
			}
		case http.StatusServiceUnavailable:
			if body.Error.Code != 503 || body.Error.Errors[0].Reason != "backendError" {
				t.Fatalf("503 body: %+v", body)
			}
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
		statuses = append(statuses, resp.StatusCode)
	}
	return statuses
}

func TestFaultRateIsAFractionAndRepeatable(t *testing.T) {
	faults := func(seed int64) func(*Knobs) {
		return func(k *Knobs) { k.Faults = Faults{Rate: 0.3, Seed: seed} }
	}
	first := getStatuses(t, newEnv(t, faults(7)).url, 200)
	second := getStatuses(t, newEnv(t, faults(7)).url, 200)
	other := getStatuses(t, newEnv(t, faults(8)).url, 200)
	if !slices.Equal(first, second) {
		t.Error("the same seed gave a different sequence of faults")
	}
	if slices.Equal(first, other) {
		t.Error("another seed gave the same sequence of faults")
	}
	failed, kinds := 0, map[int]int{}
	for _, s := range first {
		if s != http.StatusOK {
			failed++
			kinds[s]++
		}
	}
	if failed < 35 || failed > 85 || kinds[429] == 0 || kinds[503] == 0 {
		t.Errorf("%d of 200 requests faulted (%v), want about 60 of both kinds", failed, kinds)
	}
}

func TestFaultRateOnlyForChosenMethods(t *testing.T) {
	e := newEnv(t, func(k *Knobs) {
		k.Faults = Faults{Rate: 1, Status: 429, Methods: []string{"compute.backendServices."}}
	})
	for _, s := range getStatuses(t, e.url, 20) {
		if s != http.StatusOK {
			t.Fatalf("a health check list faulted (%d) though only backend services should", s)
		}
	}
	_, err := e.bs.Get(e.ctx, &computepb.GetBackendServiceRequest{Project: project, BackendService: "x"})
	wantAPIError(t, err, 429, "rateLimitExceeded")
}

// TestFailNextCallsOfAMethod: the next N calls fail, the one after works,
// and other methods never notice.
func TestFailNextCallsOfAMethod(t *testing.T) {
	e := newEnv(t, func(k *Knobs) {
		k.Faults.FailNext = map[string]MethodFailure{"compute.healthChecks.insert": {Count: 2, Code: 503}}
	})
	insert := func() error {
		_, err := insertTCPCheck(e, "hc", nil)
		return err
	}
	wantAPIError(t, insert(), 503, "backendError")
	if _, err := e.bs.List(e.ctx, &computepb.ListBackendServicesRequest{Project: project}).Next(); !errors.Is(err, iterator.Done) {
		t.Errorf("another method failed: %v", err)
	}
	wantAPIError(t, insert(), 503, "backendError")
	if err := insert(); err != nil {
		t.Errorf("third insert: %v", err)
	}
	if left := e.srv.Knobs().Faults.FailNext; len(left) != 0 {
		t.Errorf("failNext left %v", left)
	}
}

// TestClientRetriesAReadOn503 shows the Go client's own retry of reads
// (503 and 504 only) at work against an injected 503.
func TestClientRetriesAReadOn503(t *testing.T) {
	e := newEnv(t, func(k *Knobs) {
		k.Faults.FailNext = map[string]MethodFailure{"compute.networks.get": {Count: 1, Code: 503}}
	})
	if _, err := e.nets.Get(e.ctx, &computepb.GetNetworkRequest{Project: project, Network: "default"}); err != nil {
		t.Fatalf("Get after one 503: %v", err)
	}
	if n := e.srv.Requests().ByMethod["compute.networks.get"]; n != 2 {
		t.Errorf("networks.get served %d times, want 2 (a 503, then the retry)", n)
	}
}

func TestLatencyIsAddedToEveryRequest(t *testing.T) {
	e := newEnv(t, func(k *Knobs) { k.Latency = Duration(80 * time.Millisecond) })
	start := time.Now()
	if _, err := e.nets.Get(e.ctx, &computepb.GetNetworkRequest{Project: project, Network: "default"}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 80*time.Millisecond {
		t.Errorf("request took %v, want at least the 80ms latency", took)
	}
}

// TestControlsOverHTTP drives the knobs, the request log and the state dump
// through /meshsim/.
func TestControlsOverHTTP(t *testing.T) {
	e := newEnv(t)
	post := func(path, body string) *http.Response {
		resp, err := http.Post(e.url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := post("/meshsim/knobs", `{"latency":"1ms","faults":{"failNext":{"compute.healthChecks.get":{"count":1,"code":429}}}}`)
	var knobs Knobs
	_ = json.NewDecoder(resp.Body).Decode(&knobs)
	resp.Body.Close()
	if knobs.Latency != Duration(time.Millisecond) || knobs.OperationDuration != Duration(20*time.Millisecond) {
		t.Errorf("knobs after merge: %+v (the operation duration must be kept)", knobs)
	}
	_, err := e.hc.Get(e.ctx, &computepb.GetHealthCheckRequest{Project: project, HealthCheck: "x"})
	wantAPIError(t, err, 429, "rateLimitExceeded")
	e.done(t)(e.hc.Insert(e.ctx, &computepb.InsertHealthCheckRequest{Project: project,
		HealthCheckResource: &computepb.HealthCheck{Name: proto.String("hc"), Type: proto.String("TCP")}}))

	var stats RequestStats
	getJSON(t, e.url+"/meshsim/requests", &stats)
	if stats.ByMethod["compute.healthChecks.get"] != 1 || stats.ByMethod["compute.healthChecks.insert"] != 1 ||
		stats.Mutations != 1 || stats.Errors != 1 || !stats.Requests[0].Injected {
		t.Errorf("request log: %+v", stats)
	}
	req, _ := http.NewRequest(http.MethodDelete, e.url+"/meshsim/requests", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	if got := e.srv.Requests(); got.Total != 0 {
		t.Errorf("after reset: %+v", got)
	}

	var state StateDump
	getJSON(t, e.url+"/meshsim/state", &state)
	found := false
	for _, r := range state.Resources {
		found = found || str(r, "selfLink") == globalLink("healthChecks", "hc")
	}
	if !found || state.Scenario.Cluster != "meshsim" || len(state.Clusters) != 1 || len(state.Operations) != 1 {
		t.Errorf("state: %d resources (health check found: %v), %d clusters, %d operations", len(state.Resources), found, len(state.Clusters), len(state.Operations))
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
