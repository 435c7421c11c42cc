package fakegcp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshctl/meshctl/sim/fakecertmanager"
	"github.com/meshctl/meshctl/sim/scenario"
)

// The recorded exchanges with Google (shared/reference/gcp-recorded, both
// folders) are replayed against a fresh simulator per recording by
// shared/tools/gcp-replay, which reports every difference from Google's
// answers. Each difference the simulator keeps is listed in
// replay_known_test.go with its reason; any other difference fails the
// test, and so does a listed one that no longer occurs.

// replayFloor is the share of exchanges (in percent) that must match
// exactly, overall; explained differences count as differing. (85.0 since
// instances show their interfaces' addresses: four recorded instance reads
// from Config Connector's mock lack them; see instanceNIC.)
const replayFloor = 85.0

type replayReport struct {
	Logs map[string][]struct {
		Request string
		Diffs   []string
	}
}

// sharedDir finds the shared reference material next to the checkout.
func sharedDir(t *testing.T) string {
	dir := os.Getenv("MESHCTL_SHARED_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(dir, "tools", "gcp-replay")); err != nil {
		t.Fatalf("gcp-replay not found under %s (set MESHCTL_SHARED_DIR): %v", dir, err)
	}
	return dir
}

func TestRecordedExchanges(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	dir := sharedDir(t)
	recorded := filepath.Join(dir, "reference", "gcp-recorded")
	logs, _ := filepath.Glob(filepath.Join(recorded, "*.log"))
	more, _ := filepath.Glob(filepath.Join(recorded, "*", "*.log"))
	logs = append(logs, more...)
	if len(logs) == 0 {
		t.Fatalf("no recordings under %s", recorded)
	}
	var mu sync.Mutex
	figures := map[string]replayFigure{}
	t.Run("recordings", func(t *testing.T) {
		for _, log := range logs {
			name := filepath.Base(log)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				f := replayOne(t, python, dir, log)
				mu.Lock()
				figures[name] = f
				mu.Unlock()
			})
		}
	})
	matching, total, byCause := 0, 0, map[cause]int{}
	for _, name := range sortedKeys(figures) {
		f := figures[name]
		matching, total = matching+f.matching, total+f.total
		for c, n := range f.byCause {
			byCause[c] += n
		}
		t.Logf("%-50s %3d of %3d", name, f.matching, f.total)
	}
	share := 100 * float64(matching) / float64(total)
	t.Logf("overall: %d of %d exchanges match (%.1f%%); the others differ as explained: %d %s, %d %s, %d %s, %d %s",
		matching, total, share, byCause[causeNormalised], causeNormalised, byCause[causeNaming], causeNaming, byCause[causeDeliberate], causeDeliberate, byCause[causeRecording], causeRecording)
	if share < replayFloor {
		t.Errorf("%.1f%% of the recorded exchanges match, below the floor of %.1f%%", share, replayFloor)
	}
}

// replayFigure is how one recording replays: exchanges matching, in all,
// and the explained differences by cause.
type replayFigure struct {
	matching, total int
	byCause         map[cause]int
}

// replayOne replays one recording against a fresh simulator and checks its
// differences against the known ones.
func replayOne(t *testing.T, python, dir, log string) replayFigure {
	name := filepath.Base(log)
	text, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	base := replayServer(t, string(text))
	cmd := exec.Command(python, filepath.Join(dir, "tools", "gcp-replay"), "--base", base, "--project", project, "--json",
		"--api-base", "certificatemanager.googleapis.com="+base+"/certificatemanager", log)
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && (!errors.As(err, &exit) || exit.ExitCode() != 1) { // 1 means "differences found"
		t.Fatalf("gcp-replay: %v", err)
	}
	var report replayReport
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("gcp-replay output: %v\n%s", err, out)
	}
	exchanges := report.Logs[log]
	allowed := knownDifferences[name]
	differing, byCause := 0, map[cause]int{}
	for _, x := range exchanges {
		if len(x.Diffs) == 0 {
			continue
		}
		differing++
		req := shortRequest(x.Request)
		if len(allowed) == 0 || allowed[0].request != req {
			t.Errorf("%s differs: %s", req, strings.Join(x.Diffs, "; "))
			continue
		}
		for _, d := range x.Diffs {
			if !hasAnyPrefix(d, allowed[0].diffs) {
				t.Errorf("%s: difference %q is not one explained (%s)", req, d, allowed[0].why)
			}
		}
		byCause[allowed[0].cause]++
		allowed = allowed[1:]
	}
	for _, a := range allowed {
		t.Errorf("no longer differs, remove it from knownDifferences: %s (%s)", a.request, a.why)
	}
	t.Logf("%d of %d exchanges match; %d differ, as explained", len(exchanges)-differing, len(exchanges), differing)
	return replayFigure{matching: len(exchanges) - differing, total: len(exchanges), byCause: byCause}
}

// replayServer starts a fresh simulator for one recording: Compute, GKE,
// Cloud Storage and, under /certificatemanager/, Certificate Manager.
//
// Three settings compensate for how recordings are kept: operations finish
// almost at once (the recordings poll each operation once), fingerprints
// and IP addresses in them are normalised to values the simulator never
// issues (AcceptUnissuedFingerprints, AcceptNormalisedAddresses), and the
// objects a recording reads before it begins are seeded (priorObjects).
func replayServer(t *testing.T, recording string) string {
	k := testKnobs()
	k.OperationDuration = Duration(2 * time.Millisecond) // RUNNING when answered, DONE when the replayer polls
	k.ClusterOperationDuration = Duration(2 * time.Millisecond)
	k.AcceptUnissuedFingerprints = true
	k.AcceptNormalisedAddresses = true
	srv := New(scenario.Default(), Options{Knobs: &k})
	for _, obj := range priorObjects(recording) {
		srv.seedRecorded(t, obj)
	}
	cmKnobs := fakecertmanager.DefaultKnobs()
	cmKnobs.OperationDuration, cmKnobs.ProvisioningDelay = 0, 0 // done by the time the replayer asks
	handler, _ := meshsimHandler(t, srv, cmKnobs)
	hs := httptest.NewServer(handler)
	t.Cleanup(hs.Close)
	return hs.URL
}

// priorObject is an object a recording reads (GET 200) under a name the
// replayer cannot know, because the project had it before the recording
// began (the default network). The replayer names such a placeholder
// replay-<placeholder>-<n>, n counting every name it makes up, so the
// object is seeded under the first nine of those names.
type priorObject struct {
	path         string         // after projects/<project>/, with placeholders
	body         map[string]any // the recorded answer
	placeholders []string
}

var (
	placeholderRE = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)
	nonAlnumRE    = regexp.MustCompile(`[^A-Za-z0-9]`)
)

// priorObjects finds the Compute objects a recording reads before any of
// its requests could have named them.
func priorObjects(recording string) []priorObject {
	known := map[string]bool{"projectId": true, "projectNumber": true, "uniqueId": true}
	var out []priorObject
	for _, block := range strings.Split(recording, "\n---\n") {
		lines := strings.Split(strings.Trim(block, "\n"), "\n")
		method, url, ok := strings.Cut(lines[0], " ")
		if !ok {
			continue
		}
		path := strings.Split(url, "?")[0]
		var unknown []string
		for _, m := range placeholderRE.FindAllStringSubmatch(path, -1) {
			if !known[m[1]] {
				unknown = append(unknown, m[1])
			}
		}
		status, body := recordedAnswer(lines)
		const compute = "https://compute.googleapis.com/compute/v1/projects/${projectId}/"
		if method == "GET" && status == "200" && len(unknown) > 0 {
			if rest, isCompute := strings.CutPrefix(path, compute); isCompute {
				var obj map[string]any
				if json.Unmarshal([]byte(body), &obj) == nil {
					out = append(out, priorObject{path: rest, body: obj, placeholders: unknown})
				}
			}
			continue // the replayer skips it, and learns nothing
		}
		for _, m := range placeholderRE.FindAllStringSubmatch(block, -1) {
			known[m[1]] = true
		}
	}
	return out
}

// recordedAnswer reads the status and body of an exchange's answer.
var statusLineRE = regexp.MustCompile(`^\d{3} `)

func recordedAnswer(lines []string) (status, body string) {
	for i, l := range lines {
		if !statusLineRE.MatchString(l) {
			continue
		}
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) != "" {
			j++ // the answer's headers
		}
		if j < len(lines) {
			body = strings.Join(lines[j+1:], "\n")
		}
		return l[:3], body
	}
	return "", ""
}

// seedRecorded stores a prior object under each name the replayer may give it.
func (s *Server) seedRecorded(t *testing.T, obj priorObject) {
	segs := strings.Split(obj.path, "/")
	scope, collection := "global", segs[len(segs)-2]
	if segs[0] == "regions" || segs[0] == "zones" {
		scope = segs[0] + "/" + segs[1]
	}
	k := kindAt(scope, collection)
	if k == nil {
		t.Fatalf("the recording reads a prior %s, which the simulator does not store", obj.path)
	}
	raw, _ := json.Marshal(obj.body)
	s.mu.Lock()
	defer s.mu.Unlock()
	for n := 1; n <= 9; n++ {
		text := strings.ReplaceAll(string(raw), "${projectId}", project)
		path := obj.path
		for _, p := range obj.placeholders {
			name := fmt.Sprintf("replay-%s-%d", strings.ToLower(nonAlnumRE.ReplaceAllString(p, "")), n)
			text, path = strings.ReplaceAll(text, "${"+p+"}", name), strings.ReplaceAll(path, "${"+p+"}", name)
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(text), &body); err != nil {
			t.Fatal(err)
		}
		s.seed(k, scope, lastSegment(path), k.inputOf(body), time.Now())
	}
}

func shortRequest(r string) string {
	for _, prefix := range []string{
		"https://compute.googleapis.com/compute/v1/projects/{projectId}", "https://container.googleapis.com/v1/projects/{projectId}",
		"https://certificatemanager.googleapis.com/v1/projects/{projectId}/locations/global",
	} {
		r = strings.Replace(r, prefix, "", 1)
	}
	return r
}

func hasAnyPrefix(s string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
