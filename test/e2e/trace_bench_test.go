//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshctl/meshctl/pkg/trace"
)

// traceCall is one Google API request in the simulator's log.
type traceCall struct {
	Time    time.Time `json:"time"`
	Method  string    `json:"method"`
	Latency string    `json:"latency"`
}

// traceCallNeeds is what each of trace's Compute reads needs to have been
// read first (by what trace reads, not by when it did): the NEGs' health and
// endpoints come from a backend service; the firewall rules and the nodes
// are read once an endpoint is unhealthy. Every other read (the lists of
// the front-end kinds) needs nothing.
var traceCallNeeds = map[string]string{
	"compute.backendServices.getHealth":                  "compute.backendServices.list",
	"compute.networkEndpointGroups.listNetworkEndpoints": "compute.backendServices.list",
	"compute.firewalls.list":                             "compute.backendServices.getHealth",
	"compute.instances.aggregatedList":                   "compute.backendServices.getHealth",
}

// traceChain is the longest chain of dependent calls among the methods
// called, by traceCallNeeds.
func traceChain(methods []string) int {
	var depth func(m string) int
	depth = func(m string) int {
		if need, ok := traceCallNeeds[m]; ok && slices.Contains(methods, need) {
			return depth(need) + 1
		}
		return 1
	}
	longest := 0
	for _, m := range methods {
		longest = max(longest, depth(m))
	}
	return longest
}

// traceCalls returns the Compute and Certificate Manager methods logged
// since the last reset.
func traceCalls(tb testing.TB) []string {
	tb.Helper()
	var log struct {
		Requests []traceCall `json:"requests"`
	}
	lbSimAPI(tb, http.MethodGet, "/meshsim/requests", nil, &log)
	var out []string
	for _, r := range log.Requests {
		out = append(out, r.Method)
	}
	return out
}

// BenchmarkTraceAgainstCallChain traces an exposed Service with every
// Google API call taking 50 ms, healthy and then with its endpoints shut
// out by a missing firewall rule, and holds the wall time of `meshctl
// trace` (the process, DNS answered by --address) to 3 times the longest
// chain of dependent calls it made.
func BenchmarkTraceAgainstCallChain(b *testing.B) {
	const ns, host = "e2e-trace-bench", "web.e2e-trace-bench.example.com"
	const latency = 50 * time.Millisecond
	ensureRevisionTB(b, "asm-test-1")
	b.Cleanup(func() {
		lbRun(b, "", meshctlBin, "unexpose", "svc", "web", "-n", ns)
		lbRun(b, "", "kubectl", "delete", "namespace", ns, "--wait=false")
	})
	lbKubectl(b, webApp(ns, "asm-test-1", 1), "apply", "-f", "-")
	if r := lbRun(b, "", meshctlBin, "expose", "svc", "web", "-n", ns, "--host", host, "--waf", "xss", "-o", "json"); r.Code != 0 {
		b.Fatalf("meshctl expose: exit %d\n%s", r.Code, r.Stderr)
	}
	waitFor := func(what string, done func(*trace.Result, result) bool) {
		b.Helper()
		deadline := time.Now().Add(3 * time.Minute)
		for {
			r := lbRun(b, "", meshctlBin, "trace", host, "-o", "json")
			var res trace.Result
			if err := json.Unmarshal([]byte(r.Stdout), &res); err == nil && done(&res, r) {
				return
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: still exit %d after 3 minutes\n%s", what, r.Code, r.Stdout)
			}
			time.Sleep(time.Second)
		}
	}
	waitFor("healthy", func(res *trace.Result, r result) bool { return r.Code == 0 && res.Answer == nil })
	// The address DNS would give: the benchmark times the API calls, not
	// this machine's resolver.
	address := traceOwned(b, "addresses", ns+"/web")["address"]
	rep := newBenchReport(b)
	measure := func(name string) {
		b.Helper()
		lbKnobs(b, map[string]any{"latency": latency.String()})
		args := []string{"trace", host, "-o", "json", "--address", address}
		lbRun(b, "", meshctlBin, args...) // warms the page cache
		var best, own time.Duration
		var methods []string
		for range max(b.N, 3) {
			lbResetRequests(b)
			start := time.Now()
			r := lbRun(b, "", meshctlBin, args...)
			d := time.Since(start)
			if r.Code != 0 && r.Code != 3 {
				b.Fatalf("meshctl trace: exit %d\n%s", r.Code, r.Stderr)
			}
			var res trace.Result
			if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
				b.Fatalf("meshctl trace -o json: %v", err)
			}
			if own == 0 || res.Duration < own {
				own, methods = res.Duration, traceCalls(b)
			}
			if best == 0 || d < best {
				best = d
			}
		}
		lbKnobs(b, map[string]any{"latency": "0s"})
		chain := traceChain(methods)
		b.Logf("%s: %d calls, chain %d: %s", name, len(methods), chain, strings.Join(methods, " "))
		rep.add(name+" calls", float64(len(methods)), "calls")
		rep.add(name+" chain of dependent calls", float64(chain), "calls")
		// The process around the trace (start-up, kubeconfig, clients)
		// is a figure; the trace itself has the limit.
		rep.add(name+" meshctl process wall time", float64(best.Microseconds())/1000, "ms")
		rep.limit(name+" trace time", float64(own.Microseconds())/1000, "ms", "<=", 3*float64(chain)*float64(latency.Milliseconds()))
	}
	b.ResetTimer()
	measure("healthy")
	b.StopTimer()
	fw := traceOwned(b, "firewalls", ns+"/web")["name"]
	if code := lbComputeCall(b, http.MethodDelete, "/global/firewalls/"+fw, nil); code != http.StatusOK {
		b.Fatalf("delete firewall %s: HTTP %d", fw, code)
	}
	waitFor("the NEG broken", func(res *trace.Result, r result) bool {
		return r.Code == 3 && res.Answer != nil && res.Answer.Kind == trace.HopNEG
	})
	b.StartTimer()
	measure("firewall missing")
	b.StopTimer()
	rep.add("latency per call", float64(latency.Milliseconds()), "ms")
	rep.print(os.Stdout)
	fmt.Fprintln(os.Stdout)
}

// traceOwned returns the string fields of the global Compute object of
// kind that meshctl made for the Service key ("namespace/name"), by the
// owner marker in its description (the services it serves, or the load
// balancer's key, which ends with the Service's).
func traceOwned(tb testing.TB, kind, key string) map[string]string {
	tb.Helper()
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if code := lbComputeCall(tb, http.MethodGet, "/global/"+kind, &list); code != http.StatusOK {
		tb.Fatalf("list %s: HTTP %d", kind, code)
	}
	for _, it := range list.Items {
		if d, _ := it["description"].(string); strings.Contains(d, "/"+key+`"`) || strings.Contains(d, `"`+key+`"`) {
			out := map[string]string{}
			for k, v := range it {
				if s, ok := v.(string); ok {
					out[k] = s
				}
			}
			return out
		}
	}
	tb.Fatalf("no %s made by meshctl for %s", kind, key)
	return nil
}
