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
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshctl/meshctl/pkg/check"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// checkSim is a meshsim of its own shape (private, small nodes, old
// version), started for one test and stopped when it ends.
type checkSim struct {
	env      []string
	endpoint string // the fake Google APIs
}

func startCheckSim(tb testing.TB, args ...string) *checkSim {
	tb.Helper()
	s := &checkSim{env: ownSim(tb, args...)}
	for _, kv := range s.env {
		if v, ok := strings.CutPrefix(kv, "MESHCTL_COMPUTE_ENDPOINT="); ok {
			s.endpoint = v
		}
	}
	if s.endpoint == "" {
		tb.Fatalf("meshsim env names no Google API endpoint: %v", s.env)
	}
	return s
}

// run runs a command with this simulator's environment.
func (s *checkSim) run(tb testing.TB, extraEnv []string, name string, args ...string) result {
	tb.Helper()
	return runEnv(tb, append(append([]string{}, s.env...), extraEnv...), "", name, args...)
}

// api calls the simulator's Google API (or its /meshsim/ controls).
func (s *checkSim) api(tb testing.TB, method, path string, body any, out any) int {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.endpoint+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			tb.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// requestLog is the fake's log of API requests.
type requestLog struct {
	Mutations int `json:"mutations"`
	Requests  []struct {
		Method string `json:"method"`
		Path   string `json:"path"`
	} `json:"requests"`
}

func (s *checkSim) requests(tb testing.TB) requestLog {
	var l requestLog
	s.api(tb, http.MethodGet, "/meshsim/requests", nil, &l)
	return l
}

func (s *checkSim) resetRequests(tb testing.TB) {
	s.api(tb, http.MethodDelete, "/meshsim/requests", nil, nil)
}

// meshctlCheck runs `meshctl check -o json ARGS` and decodes the report.
func meshctlCheck(tb testing.TB, s *checkSim, wantCode int, args ...string) *check.Result {
	tb.Helper()
	var r result
	args = append([]string{"check", "-o", "json"}, args...)
	if s == nil {
		r = runIn(tb.(*testing.T), "", meshctlBin, args...)
	} else {
		r = s.run(tb, nil, meshctlBin, args...)
	}
	if r.Code != wantCode {
		tb.Fatalf("meshctl %s: exit %d, want %d\n%s%s", strings.Join(args, " "), r.Code, wantCode, r.Stdout, r.Stderr)
	}
	var res check.Result
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		tb.Fatalf("meshctl %s: %v\n%s", strings.Join(args, " "), err, r.Stdout)
	}
	return &res
}

func resultCheck(tb testing.TB, res *check.Result, id string) check.CheckResult {
	tb.Helper()
	for _, c := range res.Checks {
		if c.ID == id {
			return c
		}
	}
	tb.Fatalf("no check %s in the report", id)
	return check.CheckResult{}
}

func resultFindings(res *check.Result, code string) []findings.Finding {
	var out []findings.Finding
	for _, f := range res.Findings {
		if f.Code == code {
			out = append(out, f)
		}
	}
	return out
}

// The shared simulator is a healthy public cluster: every check passes
// (warnings may come from other tests' Services) and the exit code is 0.
func TestCheckHealthyPublicCluster(t *testing.T) {
	res := meshctlCheck(t, nil, 0)
	if !res.Ready || res.Summary.Errors != 0 || res.MeshRelease != check.Releases[len(check.Releases)-1].Mesh {
		t.Fatalf("ready %v, summary %+v, release %s: %+v", res.Ready, res.Summary, res.MeshRelease, res.Findings)
	}
	want := map[string]check.Status{
		"MC0110": check.StatusOK, "MC0111": check.StatusOK, "MC0121": check.StatusOK, "MC0122": check.StatusOK,
		"MC0131": check.StatusSkipped, "MC0140": check.StatusOK, "MC0142": check.StatusOK, "MC0143": check.StatusOK,
		"MC0150": check.StatusInfo, "MC0151": check.StatusOK,
	}
	for id, st := range want {
		if c := resultCheck(t, res, id); c.Status != st {
			t.Errorf("%s %s: %s %q", id, c.Title, c.Status, c.Message)
		}
	}
	if c := resultCheck(t, res, "MC0122"); !strings.Contains(c.Message, "e2-standard-4 (4 vCPUs, 16 GB)") {
		t.Errorf("MC0122 %q: want the real shape from Compute", c.Message)
	}
	r := runIn(t, "", meshctlBin, "check")
	if r.Code != 0 || !strings.Contains(r.Stdout, "✓ ready for CSM") || !strings.Contains(r.Stdout, "Webhook port 15017") {
		t.Errorf("text: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}

// A Service with a badly named port is flagged with a kubectl command
// that, run as given, clears the finding.
func TestCheckFlagsBadlyNamedPort(t *testing.T) {
	kubectlApply(t, `apiVersion: v1
kind: Namespace
metadata:
  name: e2e-check-ports
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: e2e-check-ports
spec:
  selector: {app: web}
  ports:
  - name: http-ok
    port: 80
  - name: web
    port: 8080
`)
	t.Cleanup(func() { runIn(t, "", "kubectl", "delete", "namespace", "e2e-check-ports", "--wait=false") })
	var f *findings.Finding
	res := meshctlCheck(t, nil, 0)
	for _, x := range resultFindings(res, "MC0156") {
		if x.Object == "Service e2e-check-ports/web port 8080" {
			f = &x
		}
		if strings.Contains(x.Object, "port 80") && strings.Contains(x.Object, "e2e-check-ports") && !strings.Contains(x.Object, "8080") {
			t.Errorf("well-named port flagged: %+v", x)
		}
	}
	if f == nil || f.Level != findings.Warning || !strings.HasPrefix(f.Hint, "kubectl -n e2e-check-ports patch service web") {
		t.Fatalf("MC0156 for the port: %+v (all: %+v)", f, res.Findings)
	}
	// Warnings count only when asked.
	meshctlCheck(t, nil, 3, "--fail-on", "warning")

	if r := runIn(t, "", "sh", "-c", f.Hint); r.Code != 0 {
		t.Fatalf("the hint failed: %s\n%s%s", f.Hint, r.Stdout, r.Stderr)
	}
	res = meshctlCheck(t, nil, 0)
	for _, x := range resultFindings(res, "MC0156") {
		if strings.Contains(x.Object, "e2e-check-ports") {
			t.Errorf("still flagged after the hint: %+v", x)
		}
	}
}

// A private cluster without the 15017 rule fails with the exact gcloud
// command; --fix creates the rule and the next run passes and changes
// nothing; the hint, run through gcloud, does the same.
func TestCheckPrivateClusterWebhookRule(t *testing.T) {
	s := startCheckSim(t, "--private")

	// A missing permission is explained, and the rest still runs. The
	// failure is meshctl's alone: the simulator's GKE Gateway controller
	// lists firewalls too, on its resyncs.
	s.api(t, http.MethodPost, "/meshsim/knobs", map[string]any{"faults": map[string]any{"failNext": map[string]any{
		"compute.firewalls.list": map[string]any{"count": 1, "code": 403, "reason": "forbidden", "userAgent": "meshctl/",
			"message": "Required 'compute.firewalls.list' permission for 'projects/meshsim-project'"}}}}, nil)
	res := meshctlCheck(t, s, 3)
	if c := resultCheck(t, res, "MC0131"); c.Status != check.StatusUnavailable {
		t.Errorf("MC0131 with firewalls.list denied: %s %q", c.Status, c.Message)
	}
	if fs := resultFindings(res, "MC0100"); len(fs) != 1 || !strings.Contains(fs[0].Message, "compute.firewalls.list") ||
		!strings.Contains(fs[0].Hint, "roles/compute.networkViewer") {
		t.Errorf("MC0100: %+v", fs)
	}
	if c := resultCheck(t, res, "MC0121"); c.Status != check.StatusOK {
		t.Errorf("MC0121 did not run beside the failure: %s", c.Status)
	}

	res = meshctlCheck(t, s, 3)
	c := resultCheck(t, res, "MC0131")
	if c.Status != check.StatusError || !c.Fixable || !strings.Contains(c.Message, "allows only tcp:10250,tcp:443") {
		t.Fatalf("MC0131: %+v", c)
	}
	hint := c.Hint
	if !strings.HasPrefix(hint, "gcloud compute firewall-rules create meshctl-webhook-meshsim-") ||
		!strings.Contains(hint, "--rules tcp:15017 --source-ranges 172.16.0.0/28 --target-tags gke-meshsim-") {
		t.Fatalf("hint %q", hint)
	}
	ruleName := strings.Fields(hint)[4]
	r := s.run(t, nil, meshctlBin, "check")
	if r.Code != 3 || !strings.Contains(r.Stdout, "hint: "+hint) || !strings.Contains(r.Stdout, "meshctl check --fix") {
		t.Errorf("text output: exit %d\n%s", r.Code, r.Stdout)
	}

	// Without compute.firewalls.create in the project, --fix is refused
	// before the rule, naming the permission; granted back, the fix runs.
	s.resetRequests(t)
	perm := map[string]any{"permissions": []string{"compute.firewalls.create"}, "project": "meshsim-project"}
	s.api(t, http.MethodPost, "/meshsim/iam/deny", perm, nil)
	r = s.run(t, nil, meshctlBin, "check", "--fix")
	if r.Code == 0 || !strings.Contains(r.Stderr, "compute.firewalls.create in project meshsim-project, to create firewalls "+ruleName) ||
		!strings.Contains(r.Stderr, "--role=roles/compute.securityAdmin") {
		t.Errorf("--fix without compute.firewalls.create: exit %d\n%s", r.Code, r.Stderr)
	}
	if l := s.requests(t); l.Mutations != 0 {
		t.Errorf("the refused fix changed %d things", l.Mutations)
	}

	// --fix --dry-run, still without the permission: the fix it would
	// make, where, and the permission it lacks; nothing changes (the
	// simulator logged no mutating request, and the rule does not exist).
	res = meshctlCheck(t, s, 3, "--fix", "--dry-run")
	if !res.DryRun || len(res.Fixes) != 1 || res.Fixes[0].Error != "" ||
		!strings.HasPrefix(res.Fixes[0].Action, "create firewall rule "+ruleName+" in project meshsim-project: tcp:15017 from 172.16.0.0/28") {
		t.Errorf("dry run %v, fixes %+v", res.DryRun, res.Fixes)
	}
	if len(res.Changes) != 1 || res.Changes[0].Name != ruleName || res.Changes[0].Action != "create" {
		t.Errorf("changes %+v", res.Changes)
	}
	if p := res.Permissions; p == nil || p.Missing != 1 || !slices.ContainsFunc(p.Permissions, func(x preflight.Permission) bool {
		return x.Permission == "compute.firewalls.create" && x.Status == preflight.Missing && x.Project == "meshsim-project"
	}) {
		t.Errorf("permissions %+v", res.Permissions)
	}
	if c := resultCheck(t, res, "MC0131"); c.Status != check.StatusError {
		t.Errorf("MC0131 after a dry run: %s", c.Status)
	}
	r = s.run(t, nil, meshctlBin, "check", "--fix", "--dry-run")
	if r.Code != 3 || !strings.Contains(r.Stdout, "Fixes --fix would make (dry run: nothing was changed)") ||
		!strings.Contains(r.Stdout, "create firewall rule "+ruleName) || !strings.Contains(r.Stdout, "compute.firewalls.create") {
		t.Errorf("text dry run: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if l := s.requests(t); l.Mutations != 0 {
		t.Errorf("the dry runs changed %d things", l.Mutations)
	}
	if code := s.api(t, http.MethodGet, "/compute/v1/projects/meshsim-project/global/firewalls/"+ruleName, nil, nil); code != http.StatusNotFound {
		t.Errorf("GET the rule after the dry runs: HTTP %d, want 404", code)
	}
	s.api(t, http.MethodPost, "/meshsim/iam/grant", perm, nil)

	res = meshctlCheck(t, s, 0, "--fix")
	if len(res.Fixes) != 1 || res.Fixes[0].Error != "" || !strings.Contains(res.Fixes[0].Action, ruleName) {
		t.Fatalf("fixes %+v", res.Fixes)
	}
	var rule struct {
		Description  string   `json:"description"`
		SourceRanges []string `json:"sourceRanges"`
		TargetTags   []string `json:"targetTags"`
		Allowed      []struct {
			IPProtocol string   `json:"IPProtocol"`
			Ports      []string `json:"ports"`
		} `json:"allowed"`
	}
	if code := s.api(t, http.MethodGet, "/compute/v1/projects/meshsim-project/global/firewalls/"+ruleName, nil, &rule); code != 200 {
		t.Fatalf("GET the rule: %d", code)
	}
	if !strings.HasPrefix(rule.Description, "Created by meshctl for GKE cluster projects/meshsim-project/locations/us-central1/clusters/meshsim") ||
		fmt.Sprint(rule.SourceRanges) != "[172.16.0.0/28]" || len(rule.Allowed) != 1 || fmt.Sprint(rule.Allowed[0].Ports) != "[15017]" {
		t.Errorf("rule %+v", rule)
	}

	s.resetRequests(t)
	res = meshctlCheck(t, s, 0, "--fix")
	if c := resultCheck(t, res, "MC0131"); c.Status != check.StatusOK || !strings.Contains(c.Message, ruleName) || len(res.Fixes) != 0 {
		t.Errorf("next run: %+v, fixes %+v", c, res.Fixes)
	}
	if l := s.requests(t); l.Mutations != 0 {
		t.Errorf("the next run changed %d things", l.Mutations)
	}

	// The hint is exact: run as printed (through gcloud against the
	// simulator), it makes the check pass as well.
	if _, err := exec.LookPath("gcloud"); err != nil {
		t.Skip("gcloud is not on PATH")
	}
	if code := s.api(t, http.MethodDelete, "/compute/v1/projects/meshsim-project/global/firewalls/"+ruleName, nil, nil); code != 200 {
		t.Fatalf("delete the rule: %d", code)
	}
	eventually(t, 30*time.Second, "the rule is gone and the check fails again", func() (bool, string) {
		r := s.run(t, nil, meshctlBin, "check", "-o", "json")
		var res check.Result
		_ = json.Unmarshal([]byte(r.Stdout), &res)
		c := resultCheck(t, &res, "MC0131")
		return r.Code == 3 && c.Hint == hint, string(c.Status)
	})
	gcloudEnv := []string{"CLOUDSDK_CONFIG=" + t.TempDir(), "CLOUDSDK_CORE_DISABLE_PROMPTS=1", "CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE=" + s.endpoint + "/compute/v1/", "CLOUDSDK_CORE_PROJECT=meshsim-project",
		"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true", "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true"}
	if r := s.run(t, gcloudEnv, "sh", "-c", hint); r.Code != 0 {
		t.Fatalf("the hint failed: exit %d\n%s\n%s%s", r.Code, hint, r.Stdout, r.Stderr)
	}
	res = meshctlCheck(t, s, 0)
	if c := resultCheck(t, res, "MC0131"); c.Status != check.StatusOK {
		t.Errorf("after the gcloud hint: %+v", c)
	}
}

// Small nodes fail, with the command that adds a pool that fits.
func TestCheckSmallNodes(t *testing.T) {
	s := startCheckSim(t, "--machine-type", "e2-small")
	res := meshctlCheck(t, s, 3)
	c := resultCheck(t, res, "MC0121")
	if c.Status != check.StatusError || !strings.Contains(c.Message, "e2-small (2 vCPUs shared, 2 GB)") ||
		c.Hint != "gcloud container node-pools create mesh-pool --cluster meshsim --machine-type e2-standard-4 --num-nodes 1 --location us-central1 --project meshsim-project" {
		t.Errorf("MC0121: %+v", c)
	}
}

// A GKE version outside the release's window fails; a release that
// supports it passes.
func TestCheckUnsupportedVersion(t *testing.T) {
	s := startCheckSim(t, "--k8s-version", "1.28.3-gke.100")
	res := meshctlCheck(t, s, 3)
	c := resultCheck(t, res, "MC0110")
	if c.Status != check.StatusError || !strings.Contains(c.Message, "GKE 1.28.3-gke.100 is older than CSM") ||
		!strings.Contains(c.Hint, "gcloud container clusters upgrade meshsim --master --cluster-version 1.29") ||
		!strings.Contains(c.Hint, "--mesh-version 1.21") {
		t.Errorf("MC0110: %+v", c)
	}
	res = meshctlCheck(t, s, 0, "--mesh-version", "1.21")
	if c := resultCheck(t, res, "MC0110"); c.Status != check.StatusOK || res.MeshRelease != "1.21" {
		t.Errorf("with --mesh-version 1.21: %+v", c)
	}
}

// BenchmarkCheckLatency: with 50 ms added to every Google API call,
// `meshctl check` (a whole process: start, clients, every check, output)
// must finish in less than 3 times its slowest chain of dependent calls
// (clusters.get, then machineTypes.get or firewalls.list), measured by
// making that chain by hand against the same simulator; and it must read
// no object twice.
func BenchmarkCheckLatency(b *testing.B) {
	const latency = 50 * time.Millisecond
	s := startCheckSim(b, "--private")
	s.api(b, http.MethodPost, "/meshsim/knobs", map[string]any{"latency": latency.String()}, nil)

	// The slowest chain, by hand: each dependent pair, sequentially.
	const base = "/v1/projects/meshsim-project/locations/us-central1/clusters/meshsim"
	chains := [][]string{
		{base, "/compute/v1/projects/meshsim-project/zones/us-central1-a/machineTypes/e2-standard-4"},
		{base, "/compute/v1/projects/meshsim-project/global/firewalls"},
		{base, "/compute/v1/projects/meshsim-project"},
	}
	var chain time.Duration
	for _, c := range chains {
		var best time.Duration
		for range 3 {
			start := time.Now()
			for _, p := range c {
				if code := s.api(b, http.MethodGet, p, nil, nil); code != 200 {
					b.Fatalf("GET %s: %d", p, code)
				}
			}
			if d := time.Since(start); best == 0 || d < best {
				best = d
			}
		}
		chain = max(chain, best)
	}

	// One run first, untimed: the page cache then holds the binary, as it
	// does for a user's second command. Then at least seven timed runs
	// (`make bench` asks for one iteration).
	s.run(b, nil, meshctlBin, "check", "-o", "json")
	samples := max(b.N, 7)
	var times []time.Duration
	calls, repeated := 0, 0
	b.ResetTimer()
	for range samples {
		s.resetRequests(b)
		start := time.Now()
		r := s.run(b, nil, meshctlBin, "check", "-o", "json")
		times = append(times, time.Since(start))
		if r.Code != 3 { // the private cluster lacks the 15017 rule
			b.Fatalf("exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
		seen := map[string]int{}
		for _, req := range s.requests(b).Requests {
			seen[req.Method+" "+req.Path]++
			calls++
		}
		for k, n := range seen {
			if n > 1 {
				repeated += n - 1
				b.Errorf("fetched %d times: %s", n, k)
			}
		}
	}
	b.StopTimer()
	// What any meshctl command costs before its first API call.
	start := time.Now()
	s.run(b, nil, meshctlBin, "version")
	process := time.Since(start)

	slices.Sort(times)
	best, median, slowest := times[0], times[len(times)/2], times[len(times)-1]
	// The chain is the best of three, so the check is judged on its best
	// run too: on a shared machine the minimum is what the code costs, the
	// rest is other processes' load. The median and the slowest are shown.
	ratio := float64(best) / float64(chain)
	b.ReportMetric(float64(median.Nanoseconds()), "ns/op")
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	r := newBenchReport(b)
	r.add("latency per Google call", ms(latency), "ms")
	r.add("slowest call chain", ms(chain), "ms")
	r.add("check best", ms(best), "ms")
	r.add("check median", ms(median), "ms")
	r.add("check slowest", ms(slowest), "ms")
	r.add("check median / chain", float64(median)/float64(chain), "x")
	r.add("version command", ms(process), "ms")
	r.add("runs", float64(samples), "runs")
	r.add("Google calls per run", float64(calls)/float64(samples), "calls")
	r.limit("check best / chain", ratio, "x", "<=", 3)
	r.limit("repeated fetches per run", float64(repeated)/float64(samples), "fetches", "<=", 0)
	r.print(os.Stdout)
	if ratio >= 3 { // the report's limit admits 3.0 itself; the issue asks for less
		b.Errorf("meshctl check took %s at best, %.2f× the slowest chain (%s): want under 3×", best, ratio, chain)
	}
}
