package install

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
)

func base() Options {
	return Options{Project: "p", Location: "us-central1", Cluster: "c", OutputDir: "/tmp/out", CA: "mesh_ca"}
}

func TestValidateRejectsWhatAsmcliRejects(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "f.pem")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"kubeconfig with names", func(o *Options) { o.Kubeconfig, o.Context = "k", "gke_p_l_c" }, "Incompatible arguments"},
		{"kubeconfig without context", func(o *Options) { o.Project, o.Location, o.Cluster, o.Kubeconfig = "", "", "", "k" }, "needs --context"},
		{"cluster not named", func(o *Options) { o.Cluster = "" }, "set --cluster"},
		{"unknown CA", func(o *Options) { o.CA = "vault" }, "mesh_ca, citadel, gcp_cas or managed_cas"},
		{"gcp_cas without pool", func(o *Options) { o.CA = "gcp_cas" }, "Malformed ca-name"},
		{"pool without gcp_cas", func(o *Options) { o.CAPool = "projects/a/locations/b/caPools/c" }, "only used with --ca gcp_cas"},
		{"revision not RFC 1123", func(o *Options) { o.Revision = "ASM_1" }, "RFC 1123"},
		{"revision too long", func(o *Options) { o.Revision = strings.Repeat("a", 64) }, "RFC 1123"},
		{"partial custom CA", func(o *Options) { o.CACert = file }, "All four certificate options"},
		{"custom CA without citadel", func(o *Options) { o.CACert, o.CAKey, o.RootCert, o.CertChain = file, file, file, file }, "--ca citadel"},
		{"unknown enable", func(o *Options) { o.Enable = []string{"everything"} }, `--enable "everything"`},
		{"missing overlay", func(o *Options) { o.CustomOverlays = []string{filepath.Join(tmp, "nope.yaml")} }, "nope.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.change(&o)
			err := o.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error naming %q", err, tt.want)
			}
		})
	}
	ok := base()
	ok.CA, ok.CACert, ok.CAKey, ok.RootCert, ok.CertChain = "citadel", file, file, file, file
	if err := ok.Validate(); err != nil {
		t.Errorf("valid custom-CA options rejected: %v", err)
	}
}

func TestArgs(t *testing.T) {
	o := base()
	o.Revision, o.FleetID = "asm-1", "fleet"
	o.Enable = []string{"namespace_creation", "cluster_labels"}
	o.Options = []string{"envoy-access-log"}
	o.CustomOverlays = []string{"/x/mine.yaml"}
	o.EgressRegistryOnly = true
	got := strings.Join(o.Args(), " ")
	want := "install --project_id p --cluster_name c --cluster_location us-central1 --output_dir /tmp/out --revision_name asm-1 --ca mesh_ca --fleet_id fleet --enable_namespace_creation --enable_cluster_labels --option envoy-access-log --custom_overlay /x/mine.yaml --custom_overlay /tmp/out/meshctl-overlay-egress-registry-only.yaml --verbose"
	if got != want {
		t.Errorf("Args()\n got %s\nwant %s", got, want)
	}
	o.EnableAll = true
	if args := strings.Join(o.Args(), " "); !strings.Contains(args, "--enable_all") || strings.Contains(args, "--enable_namespace_creation") {
		t.Errorf("--enable-all should replace the granular flags: %s", args)
	}
	k := Options{Kubeconfig: "/k", Context: "gke_p_l_c", OutputDir: "/o"}
	if args := strings.Join(k.Args(), " "); !strings.HasPrefix(args, "install --kubeconfig /k --context gke_p_l_c --output_dir /o") {
		t.Errorf("kubeconfig selection: %s", args)
	}
}

func TestGeneratedOverlays(t *testing.T) {
	o := base()
	o.EgressRegistryOnly, o.AccessLogging = true, true
	ovs := o.GeneratedOverlays()
	if len(ovs) != 2 || !strings.Contains(ovs[0].Content, "mode: REGISTRY_ONLY") || !strings.Contains(ovs[1].Content, "accessLogFile: /dev/stdout") {
		t.Errorf("overlays = %+v", ovs)
	}
}

func readLog(t *testing.T, name string) []Event {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var events []Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if e, ok := ParseLine(sc.Text()); ok {
			events = append(events, e)
		}
	}
	return events
}

func TestParseRecordedLogs(t *testing.T) {
	events := readLog(t, "asmcli-install-success.log")
	rev := ""
	for _, e := range events {
		if r, ok := RevisionFromLine(e.Message); ok {
			rev = r
		}
	}
	if rev != "asm-test-1" {
		t.Errorf("revision from the outro = %q, want asm-test-1", rev)
	}
	events = readLog(t, "asmcli-validate-failure.log")
	var levels []string
	for _, e := range events {
		if e.Level != "info" {
			levels = append(levels, e.Level)
		}
	}
	if strings.Join(levels, ",") != "error,error,error,warning" {
		t.Errorf("levels = %v", levels)
	}
	if h := hintFor(events[6].Message, base()); !strings.Contains(h, "--workload-pool=p.svc.id.goog") {
		t.Errorf("hint for workload identity = %q", h)
	}
	if _, ok := ParseLine("Error: something from istioctl"); ok {
		t.Error("a line without the asmcli prefix was taken as asmcli's")
	}
}

// TestParseTimestampedLog reads asmcli's log as it comes with --verbose when
// moreutils' ts is installed: the testdata file is the success log with
// each asmcli line piped through `TZ=utc ts '%Y-%m-%dT%.T'` (lib/log.sh's
// info), as the real ts wrote it, plus the warning asmcli gives for an
// output directory of another version.
func TestParseTimestampedLog(t *testing.T) {
	plain, stamped := readLog(t, "asmcli-install-success.log"), readLog(t, "asmcli-install-success-ts.log")
	if len(stamped) != len(plain)+1 {
		t.Fatalf("%d events from the timestamped log, want %d (the plain log's and one warning)", len(stamped), len(plain)+1)
	}
	if w := stamped[1]; w.Level != "warning" || !strings.HasPrefix(w.Message, "The existing configuration in /tmp/asmout2 is from a different version") {
		t.Errorf("warning = %+v", w)
	}
	stamped = append(stamped[:1], stamped[2:]...)
	rev := ""
	for i, e := range stamped {
		if e.Time == "" || !strings.HasPrefix(e.Time, "2026-") {
			t.Errorf("event %d has no timestamp: %+v", i, e)
		}
		if e.Level != plain[i].Level || e.Message != plain[i].Message {
			t.Errorf("event %d = %s %q, the plain log's %s %q", i, e.Level, e.Message, plain[i].Level, plain[i].Message)
		}
		if r, ok := RevisionFromLine(e.Message); ok {
			rev = r
		}
	}
	if rev != "asm-test-1" {
		t.Errorf("revision from the timestamped outro = %q, want asm-test-1", rev)
	}
	for _, line := range []string{
		"2026-11-03T14:02:07 asmcli: [ERROR]: Unable to find cluster us-central1/c.", // ts with %T
		"2026-11-03T14:02:07.123456 asmcli: [ERROR]: Unable to find cluster us-central1/c.",
	} {
		if e, ok := ParseLine(line); !ok || e.Level != "error" || e.Message != "Unable to find cluster us-central1/c." {
			t.Errorf("ParseLine(%q) = %+v, %v", line, e, ok)
		}
	}
	if _, ok := ParseLine("2026-11-03T14:02:07.123456 client version: 1.31.1"); ok {
		t.Error("a timestamped line without the asmcli prefix was taken as asmcli's")
	}
}

// fakeAsmcli writes a script that prints the given stderr and exits.
func fakeAsmcli(t *testing.T, stderr string, code int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "asmcli")
	script := fmt.Sprintf("#!/bin/sh\nif [ \"$1\" = --version ]; then echo 1.31.1-asm.19+config1; exit 0; fi\ncat >&2 <<'LOG'\n%sLOG\nexit %d\n", stderr, code)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func istiod(rev string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "istiod-" + rev, Namespace: "istio-system",
		Labels: map[string]string{"app": "istiod", "istio.io/rev": rev}}}
}

func allTools(string) (string, error) { return "/usr/bin/x", nil }

func TestRunCapturesAndConfirmsRevision(t *testing.T) {
	success, _ := os.ReadFile("testdata/asmcli-install-success.log")
	o := base()
	o.OutputDir = t.TempDir()
	o.AccessLogging = true
	in := Installer{Locator: Locator{Explicit: fakeAsmcli(t, string(success), 0)}, Kube: fake.NewClientset(istiod("asm-test-1")),
		Reporter: ui.Discard, LookPath: allTools}
	res, err := in.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Revision != "asm-test-1" || res.Istiod != "istio-system/istiod-asm-test-1" || res.AsmcliVersion != "1.31.1-asm.19+config1" ||
		res.Target.Release != "1.31" {
		t.Errorf("result = %+v", res)
	}
	if _, err := os.Stat(filepath.Join(o.OutputDir, "meshctl-overlay-access-logging.yaml")); err != nil {
		t.Errorf("generated overlay not written: %v", err)
	}

	// The same install with asmcli's log timestamped (--verbose with ts).
	stamped, _ := os.ReadFile("testdata/asmcli-install-success-ts.log")
	in.Locator.Explicit = fakeAsmcli(t, string(stamped), 0)
	res, err = in.Run(context.Background(), o)
	if err != nil || res.Revision != "asm-test-1" || len(res.Warnings) != 1 || len(res.Events) != 1 || res.Events[0].Time == "" {
		t.Errorf("timestamped log: err %v, revision %q, warnings %q, events %+v", err, res.Revision, res.Warnings, res.Events)
	}

	in.Kube = fake.NewClientset() // asmcli says it installed, the cluster disagrees
	if _, err := in.Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "no istiod Deployment") {
		t.Errorf("unconfirmed revision: err = %v", err)
	}
}

func TestRunReportsDiagnosedProblemsAndCrashes(t *testing.T) {
	failureLog, _ := os.ReadFile("testdata/asmcli-validate-failure.log")
	o := base()
	o.OutputDir = t.TempDir()
	in := Installer{Locator: Locator{Explicit: fakeAsmcli(t, string(failureLog), 2)}, Kube: fake.NewClientset(), Reporter: ui.Discard, LookPath: allTools}
	res, err := in.Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "Workload identity is not enabled on prod") || !strings.Contains(failure.HintOf(err), "--update-labels mesh_id=") {
		t.Errorf("exit 2: err = %v, hint = %q", err, failure.HintOf(err))
	}
	if len(res.Warnings) != 1 {
		t.Errorf("warnings = %v", res.Warnings)
	}

	in.Locator.Explicit = fakeAsmcli(t, "asmcli: Installing ASM control plane...\nError: failed to install manifests\n", 1)
	_, err = in.Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "stopped mid-step (exit 1)") || !strings.Contains(err.Error(), "failed to install manifests") ||
		!strings.Contains(failure.HintOf(err), "re-running") {
		t.Errorf("crash: err = %v, hint = %q", err, failure.HintOf(err))
	}
}

func TestRunStopsBeforeAsmcli(t *testing.T) {
	o := base()
	o.OutputDir = t.TempDir()
	marker := filepath.Join(o.OutputDir, "ran")
	script := filepath.Join(t.TempDir(), "asmcli")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = --version ] && { echo 1.28; exit 0; }\ntouch "+marker+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	legacy := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "istio-ingressgateway", Namespace: "istio-system"}}
	tests := []struct {
		name     string
		in       Installer
		o        Options
		want     string
		wantCode int
	}{
		{"missing tool", Installer{LookPath: func(n string) (string, error) {
			if n == "jq" || n == "csplit" {
				return "", errors.New("not found")
			}
			return "/bin/" + n, nil
		}}, o, "not found on PATH: jq, csplit", failure.ExitFailure},
		{"legacy gateway", Installer{Kube: fake.NewClientset(legacy), LookPath: allTools}, o, "legacy istio-ingressgateway", failure.ExitFailure},
		{"prechecks fail", Installer{LookPath: allTools, Precheck: func(context.Context, Target) ([]findings.Finding, error) {
			return []findings.Finding{{Code: "MC0131", Level: findings.Error, Object: "cluster c", Message: "no firewall rule admits tcp:15017", Hint: "gcloud compute firewall-rules create ..."}}, nil
		}}, o, "not ready for the mesh:\n  Error [MC0131] (cluster c) no firewall rule admits tcp:15017\n    fix: gcloud compute firewall-rules create ...", failure.ExitProblems},
		{"bad options", Installer{LookPath: allTools}, Options{OutputDir: o.OutputDir}, "not fully named", failure.ExitUsage},
		{"mesh version of another asmcli", Installer{LookPath: allTools}, func() Options { m := o; m.MeshVersion = "1.29"; return m }(),
			"--mesh-version 1.29 asks for CSM 1.29, but asmcli 1.28 from --asmcli", failure.ExitFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Locator = Locator{Explicit: script}
			tt.in.Reporter = ui.Discard
			_, err := tt.in.Run(context.Background(), tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) || failure.ExitCode(err) != tt.wantCode {
				t.Errorf("err = %v (exit %d), want %q (exit %d)", err, failure.ExitCode(err), tt.want, tt.wantCode)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Error("asmcli ran")
			}
		})
	}
	// --dry-run builds the command and runs nothing.
	res, err := Installer{Locator: Locator{Explicit: script}, Reporter: ui.Discard}.Run(context.Background(), Options{
		Project: "p", Location: "l", Cluster: "c", OutputDir: o.OutputDir, DryRun: true, EgressRegistryOnly: true})
	if err != nil || !strings.Contains(strings.Join(res.Command, " "), "--custom_overlay "+o.OutputDir+"/meshctl-overlay-egress-registry-only.yaml") {
		t.Errorf("dry run: %v %v", res.Command, err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("dry run ran asmcli")
	}
}

// TestDownload fetches the release's script (the pinned one by default, the
// asked one with Locator.Release) and its checksum from Google's layout.
func TestDownload(t *testing.T) {
	scriptOf := func(v string) []byte { return []byte("#!/bin/sh\necho " + v + "\n") }
	sumOf := func(b []byte, name string) string {
		sum := sha256.Sum256(b)
		return hex.EncodeToString(sum[:]) + "  " + name + "\n"
	}
	pinned := scriptOf(PinnedVersion)
	tests := []struct {
		name        string
		release     string
		sums, body  string
		scriptCode  int
		wantErr     string
		wantVersion string
	}{
		{"success", "", sumOf(pinned, "asmcli_"+PinnedRelease), string(pinned), 200, "", PinnedVersion},
		{"asked release", "1.30", sumOf(scriptOf("1.30.5-asm.11+config1"), "asmcli_1.30"), string(scriptOf("1.30.5-asm.11+config1")), 200, "", "1.30.5-asm.11+config1"},
		{"bad checksum", "", strings.Repeat("0", 64) + "  asmcli_" + PinnedRelease + "\n", string(pinned), 200, "has SHA-256", ""},
		{"server error", "", sumOf(pinned, "asmcli_"+PinnedRelease), "", 503, "503", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rel := PinnedRelease
			if tt.release != "" {
				rel = tt.release
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/asm/asmcli_" + rel + ".sha256":
					fmt.Fprint(w, tt.sums)
				case "/asm/asmcli_" + rel:
					w.WriteHeader(tt.scriptCode)
					fmt.Fprint(w, tt.body)
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			l := Locator{Release: tt.release, CacheDir: t.TempDir(), DownloadBase: srv.URL + "/asm",
				LookPath: func(string) (string, error) { return "", errors.New("not on PATH") }}
			a, err := l.Locate(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if _, statErr := os.Stat(filepath.Join(l.CacheDir, "asmcli_"+rel)); statErr == nil {
					t.Error("a rejected download was installed")
				}
				return
			}
			if err != nil || a.Source != "download" || a.Version != tt.wantVersion {
				t.Fatalf("Locate() = %+v, %v", a, err)
			}
			// check finds the downloaded script without downloading again.
			srv.Close()
			found, ok, err := l.Find(context.Background())
			if err != nil || !ok || found.Source != "cache" || found.Version != tt.wantVersion {
				t.Errorf("Find() after the download = %+v, %v, %v", found, ok, err)
			}
		})
	}
}
