package install

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// RequiredTools are the commands asmcli's validate_cli_dependencies checks.
var RequiredTools = []string{"awk", "gcloud", "git", "grep", "jq", "kubectl", "sed", "tr", "head", "csplit"}

// Installer runs asmcli install.
type Installer struct {
	Locator  Locator
	Kube     kubernetes.Interface
	Reporter ui.Reporter
	// Precheck, when set, runs first unless Options.SkipChecks.
	Precheck Prechecker
	LookPath func(string) (string, error)
	// Env is asmcli's environment (nil: this process's).
	Env []string
	// Preflight checks, before asmcli runs, that the caller may make the
	// changes asmcli will (Options.Changes); nil checks nothing.
	Preflight *preflight.Checker
}

// Result is what an install did.
type Result struct {
	Revision      string `json:"revision,omitempty"`
	Asmcli        Asmcli `json:"asmcli"`
	AsmcliVersion string `json:"asmcliVersion"`
	// Target is the release asmcli installs, the one the prechecks
	// checked the cluster against.
	Target    Target    `json:"target"`
	OutputDir string    `json:"outputDir"`
	LogFile   string    `json:"logFile"`
	Command   []string  `json:"command"`
	Overlays  []Overlay `json:"overlays,omitempty"`
	// CA is what --ca shared did (or, in a dry run, would do).
	CA       *SharedCA `json:"ca,omitempty"`
	Warnings []string  `json:"warnings,omitempty"`
	// Events are asmcli's warnings and errors as it logged them, with the
	// time it gave each when it timestamps its log (--verbose with ts).
	Events []Event `json:"events,omitempty"`
	DryRun bool    `json:"dryRun,omitempty"`
	Istiod string  `json:"istiod,omitempty"`
	// Permissions are what asmcli's changes need, as the check before it
	// ran found them.
	Permissions *preflight.Report `json:"permissions,omitempty"`
	NextStep    string            `json:"nextStep,omitempty"`
	Elapsed     string            `json:"elapsed"`
}

// Run installs (or, with DryRun, shows how it would).
func (in Installer) Run(ctx context.Context, o Options) (Result, error) {
	start := time.Now()
	res := Result{OutputDir: o.OutputDir, DryRun: o.DryRun, Overlays: o.GeneratedOverlays(), LogFile: filepath.Join(o.OutputDir, "logs.txt")}
	if err := o.Validate(); err != nil {
		return res, failure.Usage(err, "")
	}
	step := in.Reporter.Step("find asmcli")
	a, err := in.locate(ctx, o.DryRun)
	if err != nil {
		step.Fail(err)
		return res, failure.WithHint(err, "install asmcli (https://cloud.google.com/service-mesh/docs/unified-install/install-dependent-tools) or pass --asmcli PATH")
	}
	step.Progressf("%s (%s, from %s)", a.Path, a.Version, a.Source)
	step.Done()
	res.Asmcli, res.AsmcliVersion = a, a.Version
	res.Command = append([]string{a.Path}, o.Args()...)
	target, err := targetOf(a, o.MeshVersion)
	res.Target = target
	// An asmcli of a release meshctl does not know can still install when
	// nothing needs its release: no --mesh-version, no prechecks.
	if err != nil && (o.MeshVersion != "" || (!o.SkipChecks && in.Precheck != nil)) {
		return res, err
	}
	res.Permissions = in.Preflight.Check(ctx, o.Changes())
	if o.DryRun {
		if o.CA == "shared" {
			res.CA = o.planSharedCA()
		}
		res.Elapsed = time.Since(start).Round(time.Millisecond).String()
		return res, nil
	}
	if err := res.Permissions.Err(); err != nil {
		return res, err
	}

	if err := in.checkTools(o); err != nil {
		return res, err
	}
	if in.Precheck != nil && !o.SkipChecks {
		step := in.Reporter.Step("meshctl check for CSM " + target.Release)
		problems, err := in.Precheck(ctx, target)
		if err != nil {
			step.Fail(err)
			return res, failure.WithHint(fmt.Errorf("prechecks could not run: %w", err), "fix the cause, or skip them with --skip-checks")
		}
		if len(problems) > 0 {
			err := &NotReadyError{Findings: problems}
			step.Fail(err)
			return res, &failure.Error{Err: err, Hint: "fix these (see `meshctl check`), or skip the prechecks with --skip-checks", Code: failure.ExitProblems}
		}
		step.Done()
	}
	if err := in.checkLegacyGateway(ctx, o); err != nil {
		return res, err
	}
	if o.CA == "shared" {
		if res.CA, err = in.installSharedCA(ctx, o); err != nil {
			return res, err
		}
	}
	if err := os.MkdirAll(o.OutputDir, 0o755); err != nil {
		return res, err
	}
	for _, ov := range res.Overlays {
		if err := os.WriteFile(ov.Path, []byte(ov.Content), 0o644); err != nil {
			return res, err
		}
	}

	rev, events, err := in.runAsmcli(ctx, a.Path, o)
	res.Events = events
	for _, e := range events {
		if e.Level == "warning" {
			res.Warnings = append(res.Warnings, e.Message)
		}
	}
	if err != nil {
		return res, err
	}
	if rev == "" {
		return res, fmt.Errorf("asmcli finished but did not name the installed revision (log: %s)", res.LogFile)
	}
	res.Revision = rev
	step = in.Reporter.Step("confirm revision " + rev + " in the cluster")
	istiod, err := confirmRevision(ctx, in.Kube, rev)
	if err != nil {
		step.Fail(err)
		return res, err
	}
	step.Done()
	res.Istiod = istiod
	if res.CA != nil && res.CA.Secret == plan.Create {
		if old := in.runningIstiods(ctx, rev); len(old) > 0 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s started before the cacerts Secret and still sign with their own CA: restart them (kubectl rollout restart -n %s deployment/NAME) to move them to the shared root",
				strings.Join(old, ", "), mesh.IstioSystem))
		}
	}
	res.NextStep = "meshctl inject --namespace NAMESPACE --revision " + rev
	res.Elapsed = time.Since(start).Round(time.Millisecond).String()
	return res, nil
}

func (in Installer) checkTools(o Options) error {
	lookPath := in.LookPath
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	tools := RequiredTools
	if o.CACert != "" {
		tools = append(append([]string{}, tools...), "openssl")
	}
	var missing []string
	for _, t := range tools {
		if _, err := lookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return failure.WithHint(fmt.Errorf("asmcli needs these tools, not found on PATH: %s", strings.Join(missing, ", ")),
			"install them (Debian/Ubuntu: apt-get install "+strings.Join(missing, " ")+"; gcloud: https://cloud.google.com/sdk/docs/install) and retry")
	}
	return nil
}

// checkLegacyGateway stops before asmcli would: with stdin closed, asmcli's
// "Continue? [y/N]" prompt about a legacy istio-ingressgateway ends the run.
func (in Installer) checkLegacyGateway(ctx context.Context, o Options) error {
	if in.Kube == nil || contains(o.Options, "legacy-default-ingressgateway") {
		return nil
	}
	_, svcErr := in.Kube.CoreV1().Services(mesh.IstioSystem).Get(ctx, "istio-ingressgateway", metav1.GetOptions{})
	_, depErr := in.Kube.AppsV1().Deployments(mesh.IstioSystem).Get(ctx, "istio-ingressgateway", metav1.GetOptions{})
	if svcErr == nil || depErr == nil {
		return failure.WithHint(errors.New("a legacy istio-ingressgateway exists in istio-system: asmcli would stop at an interactive prompt and the install would remove it"),
			"keep it with --option legacy-default-ingressgateway, or move its traffic to a per-service gateway (meshctl expose) and delete it first")
	}
	return nil
}

// runAsmcli runs asmcli with stdin closed, turning its stderr into progress
// and events, and returns the revision named in its closing lines.
func (in Installer) runAsmcli(ctx context.Context, path string, o Options) (string, []Event, error) {
	cmd := exec.CommandContext(ctx, path, o.Args()...)
	cmd.Env = in.Env
	cmd.Stdin = nil // /dev/null: asmcli's prompts get EOF instead of hanging CI
	// Ctrl-C reaches asmcli as SIGINT so it can stop between steps; if it
	// does not exit, it is killed.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", nil, err
	}
	cmd.Stdout = io.Discard // asmcli writes its log to stderr; stdout only carries --version
	step := in.Reporter.Step("asmcli install")
	if err := cmd.Start(); err != nil {
		step.Fail(err)
		return "", nil, err
	}
	var (
		events   []Event
		revision string
		tail     []string // the last lines, for a crash report
	)
	scanner := bufio.NewScanner(stderr)
	scanner.Buffer(make([]byte, 64*1024), 1024*1024)
	for scanner.Scan() {
		line := scanner.Text()
		tail = append(tail, line)
		if len(tail) > 8 {
			tail = tail[1:]
		}
		e, ok := ParseLine(line)
		if !ok || strings.TrimSpace(e.Message) == "" {
			continue
		}
		switch e.Level {
		case "error", "warning":
			events = append(events, e)
			if e.Level == "warning" {
				in.Reporter.Warnf("asmcli: %s", e.Message)
			}
		default:
			if r, ok := RevisionFromLine(e.Message); ok {
				revision = r
			}
			if !strings.HasPrefix(e.Message, "Running: ") && !strings.HasPrefix(e.Message, "---") && !strings.HasPrefix(e.Message, "***") {
				step.Progressf("%s", e.Message)
			}
		}
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		step.Fail(ctx.Err())
		return "", events, fmt.Errorf("asmcli stopped: %w (log: %s; re-running resumes)", ctx.Err(), filepath.Join(o.OutputDir, "logs.txt"))
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		logFile := filepath.Join(o.OutputDir, "logs.txt")
		if exitErr.ExitCode() == 2 {
			var msgs, fixes []string
			for _, e := range events {
				if e.Level != "error" {
					continue
				}
				msgs = append(msgs, e.Message)
				if h := hintFor(e.Message, o); h != "" && !contains(fixes, h) {
					fixes = append(fixes, h)
				}
			}
			diag := fmt.Errorf("asmcli found problems (exit 2):\n  %s", strings.Join(msgs, "\n  "))
			step.Fail(diag)
			hint := strings.Join(fixes, "\n")
			if hint == "" {
				hint = "see asmcli's log: " + logFile
			}
			return "", events, failure.WithHint(diag, hint)
		}
		crash := fmt.Errorf("asmcli stopped mid-step (exit %d); its last lines:\n  %s", exitErr.ExitCode(), strings.Join(tail, "\n  "))
		step.Fail(crash)
		return "", events, failure.WithHint(crash, "the full log is "+logFile+"; re-running `meshctl install` with the same options resumes")
	}
	if err != nil {
		step.Fail(err)
		return "", events, err
	}
	step.Done()
	return revision, events, nil
}

// confirmRevision finds the revision's istiod Deployment in istio-system.
func confirmRevision(ctx context.Context, kc kubernetes.Interface, rev string) (string, error) {
	if kc == nil {
		return "", nil
	}
	deploys, err := kc.AppsV1().Deployments(mesh.IstioSystem).List(ctx, metav1.ListOptions{LabelSelector: "app=" + mesh.IstiodApp + "," + mesh.LabelRevision + "=" + rev})
	if apierrors.IsForbidden(err) {
		return "", failure.WithHint(fmt.Errorf("cannot confirm revision %s: %w", rev, err), "meshctl needs to list Deployments in istio-system")
	}
	if err != nil {
		return "", fmt.Errorf("confirm revision %s: %w", rev, err)
	}
	if len(deploys.Items) == 0 {
		return "", fmt.Errorf("asmcli reported revision %s, but istio-system has no istiod Deployment labelled istio.io/rev=%s", rev, rev)
	}
	return mesh.IstioSystem + "/" + deploys.Items[0].Name, nil
}

// RenderText prints the result for a person.
func (r Result) RenderText(w io.Writer, s ui.Styles) error {
	if r.DryRun {
		fmt.Fprintln(w, s.Heading("Would run"))
		fmt.Fprintf(w, "  %s\n", shellJoin(r.Command))
		fmt.Fprintf(w, "  asmcli %s (%s, from %s)\n", r.AsmcliVersion, r.Asmcli.Path, r.Asmcli.Source)
		if r.Target.Release != "" {
			fmt.Fprintf(w, "  installs CSM %s (%s)\n", r.Target.Release, r.Target.Source)
		}
		if r.CA != nil {
			root := "root " + r.CA.Root
			if r.CA.RootCreated {
				root = "a new root in " + r.CA.Root + " (key 0600, kept on this machine)"
			}
			fmt.Fprintf(w, "  first: the cacerts Secret in %s, an intermediate CA of %s for %s\n", mesh.IstioSystem, root, r.CA.Cluster)
		}
		for _, ov := range r.Overlays {
			fmt.Fprintf(w, "%s\n", s.Heading("Overlay "+ov.Path))
			fmt.Fprint(w, indent(ov.Content))
		}
		if r.Permissions != nil && len(r.Permissions.Permissions) > 0 {
			fmt.Fprintln(w)
			return r.Permissions.RenderText(w, s)
		}
		return nil
	}
	fmt.Fprintf(w, "%s mesh revision %s installed (%s)\n", s.OK("✓"), r.Revision, r.Istiod)
	fmt.Fprintf(w, "  asmcli     %s (%s)\n", r.AsmcliVersion, r.Asmcli.Path)
	if r.Target.Release != "" {
		fmt.Fprintf(w, "  release    CSM %s, checked against the cluster before the install\n", r.Target.Release)
	}
	if r.CA != nil {
		fmt.Fprintf(w, "  shared CA  root %s (SHA-256 %s); cacerts: %s", r.CA.Root, r.CA.SHA256, r.CA.Secret)
		if r.CA.Files != "" {
			fmt.Fprintf(w, ", intermediate in %s", r.CA.Files)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  output     %s\n", r.OutputDir)
	fmt.Fprintf(w, "  log        %s\n", r.LogFile)
	fmt.Fprintf(w, "  took       %s\n", r.Elapsed)
	for _, wmsg := range r.Warnings {
		fmt.Fprintf(w, "%s %s\n", s.Warning("!"), wmsg)
	}
	fmt.Fprintf(w, "Next: %s\n", r.NextStep)
	return nil
}

func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}
