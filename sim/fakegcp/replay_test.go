package fakegcp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshctl/meshctl/sim/scenario"
)

// The recorded exchanges with Google (shared/reference/gcp-recorded) are
// replayed against a fresh server per recording by shared/tools/gcp-replay,
// which reports every difference from Google's answers. Each difference the
// fake keeps is listed below with its reason; any other difference fails the
// test, and so does a listed one that no longer occurs.

// knownDifference allows the differences of one differing exchange,
// matched in order within a recording.
type knownDifference struct {
	request string   // method and path after the project, as the replayer names it
	diffs   []string // prefixes of the allowed differences; none: the whole exchange
	why     string
}

// bornDoneOperation: the recordings of URL map writes and of an address's
// setLabels answer an operation already DONE that carries neither
// operationType nor targetLink, with progress 0. The fake also completes
// these at once (DefaultKnobs), but its operations always carry both fields
// and say progress 100 when DONE: gcloud fails on an operation without
// targetLink (field-notes section 10), and the forwarding rule's setLabels
// recording shows a born-DONE operation with progress 100 and both fields.
var bornDoneOperation = []string{".progress: 100, want 0", ".operationType: unexpected", ".targetLink: unexpected"}

const (
	whyBornDone = "operation born DONE: see bornDoneOperation"
	// The chain recording creates two target HTTPS proxies under one
	// placeholder and later deletes both. The replayer can only name the
	// second, so the first is never deleted; everything it references is then
	// rightly still in use, and the operations polled after the refused
	// deletes are the last ones the replayer knows.
	whySharedPlaceholder = "the first proxy cannot be named by the replayer and survives (see the chain comment)"
)

var knownDifferences = map[string][]knownDifference{
	"compute-managed-ssl-certificate.log": {
		{"GET /global/sslCertificates/{sslCertificateID}", []string{".managed.domainStatus: unexpected", ".managed.status: unexpected"},
			"the recording read the certificate before Google filled its status; meshctl polls managed.status, which the fake reports from the start (PROVISIONING)"},
	},
	"compute-url-map.log": {
		{"POST /global/urlMaps", bornDoneOperation, whyBornDone},
		{"PUT /global/urlMaps/{urlMapID}", bornDoneOperation, whyBornDone},
		{"DELETE /global/urlMaps/{urlMapID}", bornDoneOperation, whyBornDone},
	},
	"compute-target-https-proxy.log": {
		{"POST /global/urlMaps", bornDoneOperation, whyBornDone},
		{"POST /global/urlMaps", bornDoneOperation, whyBornDone},
		{"GET /global/targetHttpsProxies/{targetHttpsProxyID}", []string{".sslCertificates: 1 items, want 2", ".urlMap: "},
			"the recorded answer to a PATCH lists the one certificate twice and leaves the new urlMap relative; " +
				"Compute documents JSON merge patch (lists replace) and every other recorded answer expands links"},
		{"DELETE /global/urlMaps/{urlMapID}", bornDoneOperation, whyBornDone},
		{"DELETE /global/urlMaps/{urlMapID}", bornDoneOperation, whyBornDone},
	},
	"compute-https-lb-chain.log": {
		{"POST /global/addresses/{addressID}/setLabels", bornDoneOperation, whyBornDone},
		{"POST /global/urlMaps", bornDoneOperation, whyBornDone},
		{"POST /global/urlMaps", bornDoneOperation, whyBornDone},
		{"GET /global/targetHttpsProxies/{targetHttpsProxyID}", nil, whySharedPlaceholder},
		{"DELETE /global/targetHttpsProxies/{targetHttpsProxyID}", nil, whySharedPlaceholder},
		{"DELETE /global/sslCertificates/{sslCertificateID}", nil, whySharedPlaceholder},
		{"GET /global/operations/{operationID}", []string{".targetLink: "}, whySharedPlaceholder},
		{"DELETE /global/urlMaps/{urlMapID}", bornDoneOperation, whyBornDone},
		{"DELETE /global/urlMaps/{urlMapID}", nil, whySharedPlaceholder},
		{"DELETE /global/backendServices/{backendServiceID}", nil, whySharedPlaceholder},
		{"GET /global/operations/{operationID}", []string{".targetLink: "}, whySharedPlaceholder},
		{"DELETE /global/healthChecks/{healthCheckID}", nil, whySharedPlaceholder},
		{"GET /global/operations/{operationID}", []string{".targetLink: "}, whySharedPlaceholder},
	},
	"gke-cluster-crud.log": {
		{"GET /locations/us-central1-a/clusters/test-{uniqueId}", gkeNormalised, whyGKENormalised},
		{"GET /locations/us-central1-a/clusters/test-{uniqueId}", gkeNormalised, whyGKENormalised},
	},
}

// gkeNormalised: the recording replaces instance group names and the pod
// range's hash with fixed text (gke-containercluster-abcdef,
// default-pool-pods-12345678) and reports currentNodeCount 1 for a pool
// created with three nodes; the fake names groups as GKE does
// (gke-<cluster>-<pool>-<hash>-grp), counts the nodes it simulates, and
// lists each pool's zones in nodePools[].locations, as GKE does and meshctl
// needs.
var gkeNormalised = []string{".currentNodeCount: 3, want 1", ".instanceGroupUrls[0]: ", ".nodePools[0].instanceGroupUrls[0]: ",
	".nodePools[0].networkConfig.podRange: ", ".nodePools[0].locations: unexpected"}

const whyGKENormalised = "normalised values in the recording: see gkeNormalised"

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

type replayReport struct {
	Logs map[string][]struct {
		Request string
		Diffs   []string
	}
}

func TestRecordedExchanges(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	dir := sharedDir(t)
	logs, _ := filepath.Glob(filepath.Join(dir, "reference", "gcp-recorded", "compute-*.log"))
	logs = append(logs, filepath.Join(dir, "reference", "gcp-recorded", "gke-cluster-crud.log"))
	for _, log := range logs {
		name := filepath.Base(log)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			url := replayServer(t)
			out, err := exec.Command(python, filepath.Join(dir, "tools", "gcp-replay"), "--base", url, "--project", project, "--json", log).Output()
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
			differing := 0
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
				allowed = allowed[1:]
			}
			for _, a := range allowed {
				t.Errorf("no longer differs, remove it from knownDifferences: %s (%s)", a.request, a.why)
			}
			t.Logf("%d of %d exchanges match; %d differ, as explained", len(exchanges)-differing, len(exchanges), differing)
		})
	}
}

// replayServer starts a fresh fake for one recording.
//
// Two settings compensate for how recordings are kept: fingerprints in them
// are normalised to one fixed text the fake never issues
// (AcceptUnissuedFingerprints), and they read the project's default network
// before they begin, then name it by a placeholder the replayer cannot bind
// and so names replay-networkid-<n>; networks under those names stand in
// for it.
func replayServer(t *testing.T) string {
	k := testKnobs()
	k.OperationDuration = Duration(2 * time.Millisecond) // RUNNING when answered, DONE when the replayer polls
	k.ClusterOperationDuration = Duration(2 * time.Millisecond)
	k.AcceptUnissuedFingerprints = true
	srv := New(scenario.Default(), Options{Knobs: &k})
	srv.mu.Lock()
	for n := 1; n <= 9; n++ {
		srv.seedNetwork(fmt.Sprintf("replay-networkid-%d", n), time.Now())
	}
	srv.mu.Unlock()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL
}

func shortRequest(r string) string {
	for _, prefix := range []string{"https://compute.googleapis.com/compute/v1/projects/{projectId}", "https://container.googleapis.com/v1/projects/{projectId}"} {
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
