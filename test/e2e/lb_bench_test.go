//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/meshctl/meshctl/pkg/lb"
)

// The load balancer's benchmarks against meshsim (`make bench` runs them
// with -benchtime 1x). Each prints its figures as a table and as one JSON
// line (prefix BENCH_JSON) and fails when a figure misses its limit.

// benchFigure is one measured figure and the limit it must keep.
type benchFigure struct {
	Benchmark string  `json:"benchmark"`
	Metric    string  `json:"metric"`
	Value     float64 `json:"value"`
	Unit      string  `json:"unit"`
	// Limit is e.g. "<= 1.25" or ">= 4"; empty for context figures.
	Limit string `json:"limit,omitempty"`
	Pass  *bool  `json:"pass,omitempty"`
}

// benchReport collects a benchmark's figures.
type benchReport struct {
	b    *testing.B
	rows []benchFigure
}

func newBenchReport(b *testing.B) *benchReport { return &benchReport{b: b} }

// add records a context figure.
func (r *benchReport) add(metric string, value float64, unit string) {
	r.rows = append(r.rows, benchFigure{Benchmark: r.b.Name(), Metric: metric, Value: value, Unit: unit})
}

// limit records a figure with its limit; op is "<=" or ">=".
func (r *benchReport) limit(metric string, value float64, unit, op string, bound float64) {
	pass := value <= bound
	if op == ">=" {
		pass = value >= bound
	}
	r.rows = append(r.rows, benchFigure{Benchmark: r.b.Name(), Metric: metric, Value: value, Unit: unit,
		Limit: fmt.Sprintf("%s %g", op, bound), Pass: &pass})
}

// print writes the table and the JSON line, reports the figures to the
// benchmark framework and fails for a missed limit.
func (r *benchReport) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BENCHMARK\tMETRIC\tVALUE\tLIMIT\tOK")
	for _, f := range r.rows {
		ok := ""
		if f.Pass != nil {
			ok = map[bool]string{true: "yes", false: "NO"}[*f.Pass]
		}
		fmt.Fprintf(tw, "%s\t%s\t%.3g %s\t%s\t%s\n", f.Benchmark, f.Metric, f.Value, f.Unit, f.Limit, ok)
	}
	_ = tw.Flush()
	var j bytes.Buffer
	enc := json.NewEncoder(&j)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(r.rows)
	fmt.Fprintf(w, "BENCH_JSON %s", j.String())
	for _, f := range r.rows {
		r.b.ReportMetric(f.Value, strings.ReplaceAll(f.Metric, " ", "_")+"/"+f.Unit)
		if f.Pass != nil && !*f.Pass {
			r.b.Errorf("%s = %.3g %s, limit %s", f.Metric, f.Value, f.Unit, f.Limit)
		}
	}
}

// benchOps makes every Compute operation take d (URL map writes too).
func benchOps(b *testing.B, d time.Duration, latency time.Duration) {
	b.Helper()
	lbSimAPI(b, http.MethodPost, "/meshsim/knobs", map[string]any{"operationDurations": nil}, nil)
	lbSimAPI(b, http.MethodPost, "/meshsim/knobs", map[string]any{"operationDuration": d.String(), "latency": latency.String()}, nil)
}

// chainLength is the number of nodes on the longest dependency chain of an
// apply: with every operation taking d, no schedule beats length × d.
func chainLength(ts []lb.NodeTiming) int {
	ran := map[string]lb.NodeTiming{}
	for _, t := range ts {
		ran[t.ID] = t
	}
	memo := map[string]int{}
	var depth func(id string) int
	depth = func(id string) int {
		if d, ok := memo[id]; ok {
			return d
		}
		best := 0
		for _, d := range ran[id].Deps {
			if _, ok := ran[d]; ok {
				best = max(best, depth(d))
			}
		}
		memo[id] = best + 1
		return memo[id]
	}
	longest := 0
	for id := range ran {
		longest = max(longest, depth(id))
	}
	return longest
}

func timed(fn func()) time.Duration {
	start := time.Now()
	fn()
	return time.Since(start)
}

// BenchmarkLBBuildAgainstCriticalPath builds one service's load balancer
// with every operation taking 2 s and compares the wall time with the
// critical path: the longest chain of dependent operations times 2 s.
func BenchmarkLBBuildAgainstCriticalPath(b *testing.B) {
	const op = 2 * time.Second
	sv := lbGateways(b, "bench-lb-build", "web")[0]
	spec := lbSpec("", sv)
	lbKnobs(b, map[string]any{})
	cl := lbClient(b, nil)
	var wall time.Duration
	var res *lb.Result
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		benchOps(b, op, 0)
		b.StartTimer()
		wall = timed(func() { res = lbApply(b, cl, spec) })
		b.StopTimer()
		benchOps(b, 50*time.Millisecond, 0)
		lbTeardown(b, cl, spec)
		b.StartTimer()
	}
	chain := chainLength(res.Timings)
	critical := time.Duration(chain) * op
	measured, path := lb.CriticalPath(res.Timings)
	r := newBenchReport(b)
	r.add("operations", float64(res.Mutations), "count")
	r.add("critical path", critical.Seconds(), "s")
	r.add("measured critical path", measured.Seconds(), "s")
	r.add("build wall time", wall.Seconds(), "s")
	r.limit("wall / critical path", wall.Seconds()/critical.Seconds(), "x", "<=", 1.25)
	r.print(os.Stdout)
	fmt.Printf("critical path: %s\n", strings.Join(path, " → "))
}

// BenchmarkLBVersusGcloudRunbook builds the same load balancer twice on
// the same simulator, operations taking 2 s: once with meshctl's graph,
// once with hack/gcloud-runbook.sh (the runbook's gcloud commands in order).
func BenchmarkLBVersusGcloudRunbook(b *testing.B) {
	if _, err := exec.LookPath("gcloud"); err != nil {
		b.Skip("gcloud is not on PATH")
	}
	const op = 2 * time.Second
	svs := lbGateways(b, "bench-lb-gcloud", "meshctl", "runbook")
	spec := lbSpec("", svs[0])
	lbKnobs(b, map[string]any{})
	cl := lbClient(b, nil)
	gcloudEnv := lbGcloudConfig(b)
	rb := svs[1]
	runbook := func(verb string) {
		b.Helper()
		cmd := exec.Command("bash", filepath.Join(repoRoot, "hack", "gcloud-runbook.sh"), verb)
		cmd.Env = append(append(os.Environ(), gcloudEnv...),
			"NAME=bench-runbook", "NEG="+rb.NEG.Name, "ZONES="+strings.Join(rb.NEG.Zones, " "), "HOST="+rb.Hosts[0],
			"NETWORK="+lbNetwork(b), "NODE_TAG="+lbNodeTag(b))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			b.Fatalf("gcloud-runbook.sh %s: %v\n%s", verb, err, out.String())
		}
	}
	var meshctlWall, gcloudWall time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		benchOps(b, op, 0)
		b.StartTimer()
		meshctlWall = timed(func() { lbApply(b, cl, spec) })
		gcloudWall = timed(func() { runbook("up") })
		b.StopTimer()
		benchOps(b, 50*time.Millisecond, 0)
		lbTeardown(b, cl, spec)
		runbook("down")
		b.StartTimer()
	}
	r := newBenchReport(b)
	r.add("meshctl build", meshctlWall.Seconds(), "s")
	r.add("gcloud runbook build", gcloudWall.Seconds(), "s")
	r.limit("gcloud / meshctl", gcloudWall.Seconds()/meshctlWall.Seconds(), "x", ">=", 4)
	r.print(os.Stdout)
}

// BenchmarkLBNoChangeRerun re-runs a built load balancer with 50 ms added
// to every API call: it must change nothing and take at most a second.
func BenchmarkLBNoChangeRerun(b *testing.B) {
	sv := lbGateways(b, "bench-lb-rerun", "web")[0]
	spec := lbSpec("", sv)
	lbKnobs(b, map[string]any{})
	benchOps(b, 50*time.Millisecond, 0)
	cl := lbClient(b, nil)
	lbApply(b, cl, spec)
	var wall time.Duration
	var log lbRequestLog
	var res *lb.Result
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		benchOps(b, 50*time.Millisecond, 50*time.Millisecond)
		lbResetRequests(b)
		b.StartTimer()
		wall = timed(func() { res = lbApply(b, cl, spec) })
		b.StopTimer()
		log = lbRequests(b)
		b.StartTimer()
	}
	b.StopTimer()
	benchOps(b, 50*time.Millisecond, 0)
	lbTeardown(b, cl, spec)
	r := newBenchReport(b)
	r.add("API calls", float64(log.Total), "count")
	r.limit("mutations (request log)", float64(log.Mutations), "count", "<=", 0)
	r.limit("mutations (meshctl)", float64(res.Mutations), "count", "<=", 0)
	r.limit("re-run wall time", wall.Seconds(), "s", "<=", 1)
	r.print(os.Stdout)
}

// BenchmarkLBTwentyServicesOneRun puts 20 services on one shared load
// balancer in one run and compares the wall time with one service's, every
// operation taking 2 s.
func BenchmarkLBTwentyServicesOneRun(b *testing.B) {
	const op = 2 * time.Second
	var names []string
	for i := 0; i <= 20; i++ {
		names = append(names, fmt.Sprintf("s%02d", i))
	}
	svs := lbGateways(b, "bench-lb-many", names...)
	one := lbSpec("bench-one", svs[0])
	many := lbSpec("bench-many", svs[1:]...)
	// A proxy holds at most 15 certificates and meshctl gives each Service
	// its own, so twenty Services on one load balancer take one certificate
	// brought for all their hosts (--certificate), as meshctl's refusal
	// says; the one Service brings one too, so both do the same work.
	hostsOf := func(svs []lb.Service) (hosts []string) {
		for _, sv := range svs {
			hosts = append(hosts, sv.Hosts...)
		}
		return hosts
	}
	one.Certificate = lbBroughtCertificate(b, "bench-one-cert", hostsOf(svs[:1]))
	many.Certificate = lbBroughtCertificate(b, "bench-many-cert", hostsOf(svs[1:]))
	lbKnobs(b, map[string]any{})
	cl := lbClient(b, nil)
	var oneWall, manyWall time.Duration
	var manyRes *lb.Result
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		benchOps(b, op, 0)
		b.StartTimer()
		oneWall = timed(func() { lbApply(b, cl, one) })
		manyWall = timed(func() { manyRes = lbApply(b, cl, many) })
		b.StopTimer()
		benchOps(b, 50*time.Millisecond, 0)
		lbTeardown(b, cl, one)
		lbTeardown(b, cl, many)
		b.StartTimer()
	}
	r := newBenchReport(b)
	r.add("one service", oneWall.Seconds(), "s")
	r.add("20 services", manyWall.Seconds(), "s")
	r.add("20-service operations", float64(manyRes.Mutations), "count")
	r.limit("20 services / one", manyWall.Seconds()/oneWall.Seconds(), "x", "<=", 1.5)
	r.print(os.Stdout)
}

// lbNetwork is the cluster's network, as GKE reports it.
func lbNetwork(tb testing.TB) string {
	tb.Helper()
	url := fmt.Sprintf("%s/v1/projects/%s/locations/%s/clusters/%s", lbSimVar(tb, "MESHCTL_CONTAINER_ENDPOINT"), simProject, simLocation, simCluster)
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var cl struct {
		Network string `json:"network"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cl); err != nil || cl.Network == "" {
		tb.Fatalf("GKE cluster network: %v", err)
	}
	return cl.Network
}

// lbNodeTag is the network tag on the cluster's node VMs.
func lbNodeTag(tb testing.TB) string {
	tb.Helper()
	var agg struct {
		Items map[string]struct {
			Instances []struct {
				Tags struct {
					Items []string `json:"items"`
				} `json:"tags"`
			} `json:"instances"`
		} `json:"items"`
	}
	lbComputeCall(tb, http.MethodGet, "/aggregated/instances", &agg)
	for _, scope := range agg.Items {
		for _, in := range scope.Instances {
			if len(in.Tags.Items) > 0 {
				return in.Tags.Items[0]
			}
		}
	}
	tb.Fatal("no node instance carries a network tag")
	return ""
}

// BenchmarkLBExposeTwentyServicesOneRun is item 8 end to end: `meshctl
// expose svc` of twenty Services in one run (twenty gateways rolled out
// together, one shared load balancer planned and built in one graph)
// against `meshctl expose svc` of one, every Compute operation taking 2 s.
// The twenty may take at most 1.5x the one's wall time.
func BenchmarkLBExposeTwentyServicesOneRun(b *testing.B) {
	const op = 2 * time.Second
	const ns = "bench-expose-many"
	ensureRevisionTB(b, "asm-test-1")
	manifests := webApp(ns, "asm-test-1", 1)
	var names []string
	for i := 0; i <= 20; i++ {
		name := fmt.Sprintf("s%02d", i)
		names = append(names, name)
		manifests += fmt.Sprintf("---\napiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: %s}\nspec:\n  selector: {app: web}\n  ports: [{name: http, port: 80, targetPort: 8080}]\n", name, ns)
	}
	lbKubectl(b, manifests, "apply", "-f", "-")
	b.Cleanup(func() { lbRun(b, "", "kubectl", "delete", "namespace", ns, "--wait=false") })
	type lbOut struct {
		Mutations int64 `json:"mutations"`
	}
	// One certificate brought per load balancer (see
	// BenchmarkLBTwentyServicesOneRun).
	hosts := func(svcs []string) (out []string) {
		for _, sv := range svcs {
			out = append(out, sv+".bench.example.com")
		}
		return out
	}
	certs := map[string]string{
		"bench-one":  lbBroughtCertificate(b, "bench-expose-one-cert", hosts(names[:1])),
		"bench-many": lbBroughtCertificate(b, "bench-expose-many-cert", hosts(names[1:])),
	}
	// Each run's progress lines are kept: their step timings say where the
	// wall time went.
	stderrOf := map[string]string{}
	expose := func(lbName string, svcs ...string) *lbOut {
		args := append([]string{"expose", "svc"}, svcs...)
		args = append(args, "-n", ns, "--host", "{service}.bench.example.com", "--lb", lbName, "--certificate", certs[lbName],
			"--replicas", "1:1", "--no-armor", "-o", "json")
		r := lbRun(b, "", meshctlBin, args...)
		stderrOf[lbName] = r.Stderr
		if r.Code != 0 {
			b.Fatalf("meshctl %s: exit %d\n%s", strings.Join(args, " "), r.Code, r.Stderr)
		}
		var out struct {
			LoadBalancer *lbOut `json:"loadBalancer"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || out.LoadBalancer == nil {
			b.Fatalf("meshctl %s: %v\n%s", strings.Join(args, " "), err, r.Stdout)
		}
		return out.LoadBalancer
	}
	// Leave the shared simulator as it was: every Service's part of the
	// load balancers and its gateway go, twenty unexposes at once. Each
	// plans while the others are still routed, so each plans to shrink
	// the shared load balancer: the last to leave finds that out and
	// removes all of it (lb's removeWhole), which Compute then shows.
	unexposeAll := func() {
		defer func() {
			for _, lbName := range []string{"bench-one", "bench-many"} {
				for _, path := range []string{"/global/urlMaps/mclb-" + lbName + "-um", "/global/targetHttpsProxies/mclb-" + lbName + "-https", "/global/addresses/mclb-" + lbName + "-ip"} {
					if code := lbComputeCall(b, http.MethodGet, path, nil); code != http.StatusNotFound {
						b.Errorf("after every Service left load balancer %s, GET %s: HTTP %d, want 404", lbName, path, code)
					}
				}
			}
		}()
		var wg sync.WaitGroup
		for _, name := range names {
			lbName := "bench-many"
			if name == names[0] {
				lbName = "bench-one"
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r := lbRun(b, "", meshctlBin, "unexpose", "svc", name, "-n", ns, "--lb", lbName); r.Code != 0 {
					b.Errorf("unexpose %s: exit %d\n%s", name, r.Code, r.Stderr)
				}
			}()
		}
		wg.Wait()
	}
	var oneWall, manyWall time.Duration
	var manyRes *lbOut
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		benchOps(b, op, 0)
		b.StartTimer()
		oneWall = timed(func() { expose("bench-one", names[0]) })
		manyWall = timed(func() { manyRes = expose("bench-many", names[1:]...) })
		b.StopTimer()
		benchOps(b, 50*time.Millisecond, 0)
		unexposeAll()
		b.StartTimer()
	}
	r := newBenchReport(b)
	r.add("one service (meshctl expose)", oneWall.Seconds(), "s")
	r.add("20 services (one meshctl expose)", manyWall.Seconds(), "s")
	r.add("20-service load balancer operations", float64(manyRes.Mutations), "count")
	for _, run := range []struct{ label, lb string }{{"one", "bench-one"}, {"20", "bench-many"}} {
		steps := stepTimings(stderrOf[run.lb])
		for _, phase := range exposePhases {
			r.add(run.label+": "+phase+" (longest)", steps.longest(phase).Seconds(), "s")
		}
	}
	r.limit("20 services / one", manyWall.Seconds()/oneWall.Seconds(), "x", "<=", 1.5)
	r.print(os.Stdout)
	for _, lbName := range []string{"bench-one", "bench-many"} {
		fmt.Printf("--- progress of the %s run\n%s", lbName, stderrOf[lbName])
	}
}

// exposePhases are the steps of `meshctl expose` whose durations say where
// its wall time goes; the benchmark reports the longest of each (for many
// Services they run side by side, so the longest is what the run waits for).
var exposePhases = []string{"check Service ", "plan the gateway's objects", "roll out gateway ", "wait for NEGs of Service ", "plan Google's load balancer"}

// stepTimes are the durations of a command's finished steps, by name, read
// from its progress lines ("15:04:05 ✓ NAME (1.2s)").
type stepTimes map[string]time.Duration

func stepTimings(stderr string) stepTimes {
	out := stepTimes{}
	for _, line := range strings.Split(stderr, "\n") {
		_, rest, ok := strings.Cut(line, " ✓ ")
		if !ok {
			continue
		}
		name, d := rest, time.Duration(0)
		if i := strings.LastIndex(rest, " ("); i > 0 && strings.HasSuffix(rest, ")") {
			if parsed, err := time.ParseDuration(rest[i+2 : len(rest)-1]); err == nil {
				name, d = rest[:i], parsed
			}
		}
		out[name] = max(out[name], d)
	}
	return out
}

// longest is the longest step whose name starts with prefix.
func (s stepTimes) longest(prefix string) time.Duration {
	var best time.Duration
	for name, d := range s {
		if strings.HasPrefix(name, prefix) {
			best = max(best, d)
		}
	}
	return best
}

// lbBroughtCertificate creates a Google-managed certificate for domains, as
// a user would before passing it with --certificate, waits until Compute
// serves it, and deletes it when the benchmark ends; it returns its name.
func lbBroughtCertificate(tb testing.TB, name string, domains []string) string {
	tb.Helper()
	lbSimAPI(tb, http.MethodPost, "/compute/v1/projects/"+simProject+"/global/sslCertificates",
		map[string]any{"name": name, "type": "MANAGED", "managed": map[string]any{"domains": domains}}, nil)
	eventually(tb, time.Minute, "certificate "+name+" exists", func() (bool, string) {
		return lbComputeCall(tb, http.MethodGet, "/global/sslCertificates/"+name, nil) == http.StatusOK, ""
	})
	tb.Cleanup(func() {
		lbComputeCall(tb, http.MethodDelete, "/global/sslCertificates/"+name, nil)
	})
	return name
}
