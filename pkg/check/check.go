// Package check answers "is this GKE cluster ready for the mesh, and if not,
// what exactly do I run?". Each check has a stable code from the findings
// catalog, reads what it needs from the GKE, Compute and Kubernetes APIs
// (each object fetched once per run, independent fetches concurrently) and
// reports a one-line result plus, when it fails, the command that fixes it.
// A check whose API call fails is reported as unavailable, with the failure
// explained as finding MC0100; the others still run.
package check

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// Options say which cluster to check and against what.
type Options struct {
	Project  string
	Location string
	Cluster  string
	// MeshVersion is the target mesh release ("1.31", "1.31.2-asm.3",
	// "1.31.1-asm.19+config1" as asmcli prints it); empty means the newest
	// in Releases.
	MeshVersion string
	// MeshVersionSource says where MeshVersion came from, for the report
	// ("--mesh-version", "asmcli 1.31.1-asm.19+config1 on PATH", ...);
	// empty means the default.
	MeshVersionSource string
	// Fix creates what check knows how to create (the webhook firewall
	// rule), then checks again.
	Fix bool
	// DryRun, with Fix, says what the fixes would change and checks the
	// permissions they need, but changes nothing.
	DryRun bool
	// FailOn is the lowest level that makes the cluster not ready; empty
	// means error.
	FailOn findings.Level
	// KubeContext names the kubeconfig context in use, for the report.
	KubeContext string
	// KubeTimeout bounds each Kubernetes API call (an unreachable private
	// endpoint otherwise hangs); zero means 20 seconds.
	KubeTimeout time.Duration
	// Preflight checks, before --fix changes anything, that the caller
	// may make the fixes' changes; nil checks nothing.
	Preflight *preflight.Checker
}

// DefaultTargetSource is MeshVersionSource when nothing chose the target.
const DefaultTargetSource = "the default, the newest release meshctl knows"

// Validate rejects options no API call can fix.
// Each error carries the hint that says what to set.
func (o Options) Validate() error {
	if o.Project == "" || o.Location == "" || o.Cluster == "" {
		return failure.WithHint(fmt.Errorf("project, location and cluster are required (got project %q, location %q, cluster %q)", o.Project, o.Location, o.Cluster),
			"set --project, --location and --cluster (or MESHCTL_PROJECT, ...), or use the kube context `gcloud container clusters get-credentials` writes")
	}
	if _, err := LookupRelease(o.MeshVersion); err != nil {
		return failure.WithHint(err, "pass --mesh-version with one of the releases listed")
	}
	return nil
}

// ClusterName is the cluster's resource name in the GKE API.
func (o Options) ClusterName() string {
	return "projects/" + o.Project + "/locations/" + o.Location + "/clusters/" + o.Cluster
}

// Status is the outcome of one check.
type Status string

// Statuses. A failed check takes its catalog level as status (error,
// warning); an info check reports a fact (info).
const (
	StatusOK          Status = "ok"
	StatusInfo        Status = "info"
	StatusWarning     Status = "warning"
	StatusError       Status = "error"
	StatusUnavailable Status = "unavailable" // an API call it needs failed (see MC0100)
	StatusSkipped     Status = "skipped"     // does not apply to this cluster
)

// CheckResult is one check's line in the report.
type CheckResult struct {
	ID      string         `json:"id"`
	Group   string         `json:"group"`
	Title   string         `json:"title"`
	Level   findings.Level `json:"level"`
	Status  Status         `json:"status"`
	Message string         `json:"message"`
	Hint    string         `json:"hint,omitempty"`
	// Fixable is true when `meshctl check --fix` can fix a failure.
	Fixable bool `json:"fixable,omitempty"`
	// Findings counts this check's entries in Result.Findings.
	Findings int `json:"findings,omitempty"`
}

// Fix is one change --fix made, tried to, or (dry run) would make.
type Fix struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	Error  string `json:"error,omitempty"`
}

// Result is the report of one run.
type Result struct {
	Cluster     string `json:"cluster"`
	KubeContext string `json:"kubeContext,omitempty"`
	MeshRelease string `json:"meshRelease"`
	// MeshReleaseSource says where the target release came from: the
	// --mesh-version flag, the asmcli install would run, or the default.
	MeshReleaseSource string `json:"meshReleaseSource"`
	// SupportedGKE is the release's window, e.g. "GKE 1.33 to 1.36".
	SupportedGKE string             `json:"supportedGKE"`
	Checks       []CheckResult      `json:"checks"`
	Findings     []findings.Finding `json:"findings"`
	Fixes        []Fix              `json:"fixes,omitempty"`
	// DryRun is true when Fixes are what --fix would do: nothing was
	// changed.
	DryRun bool `json:"dryRun,omitempty"`
	// Changes are the objects the fixes change (--fix only), as every
	// plan of meshctl's names them.
	Changes []plan.Change    `json:"changes,omitempty"`
	Summary findings.Summary `json:"summary"`
	// Permissions are what the fixes need, as the check before the
	// first one found them (--fix only).
	Permissions *preflight.Report `json:"permissions,omitempty"`
	FailOn      findings.Level    `json:"failOn"`
	// Ready is true when no finding is at FailOn or above.
	Ready bool `json:"ready"`
}

// HasProblems reports whether the command must exit with code 3.
func (r *Result) HasProblems() bool { return !r.Ready }

// Run checks the cluster. It returns an error only for invalid options;
// everything the APIs say, failures included, is in the Result.
func Run(ctx context.Context, clients Clients, rep ui.Reporter, opts Options) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	release, _ := LookupRelease(opts.MeshVersion)
	if opts.MeshVersionSource == "" {
		opts.MeshVersionSource = DefaultTargetSource
	}
	if opts.FailOn == "" {
		opts.FailOn = findings.Error
	}
	if rep == nil {
		rep = ui.Discard
	}
	go warmTypes()
	f := newFacts(ctx, clients, opts, release)
	step := rep.Step(fmt.Sprintf("checking cluster %s (%s, project %s) for CSM %s", opts.Cluster, opts.Location, opts.Project, release.Mesh))
	outcomes := runChecks(f, Checks)
	step.Done()

	if !opts.Fix {
		return buildResult(f, outcomes, nil), nil
	}
	// The fixes' permissions are checked before the first one: missing
	// ones stop them all, and the error names them. A dry run reports
	// them and stops there either way.
	changes := fixChanges(f, outcomes)
	perms := opts.Preflight.Check(ctx, changes)
	var fixes []Fix
	err := perms.Err()
	switch {
	case opts.DryRun:
		fixes, err = planFixes(f, outcomes), nil
	case err == nil:
		fixes = applyFixes(f, rep, outcomes)
	}
	res := buildResult(f, outcomes, fixes)
	res.Permissions, res.Changes, res.DryRun = perms, changes, opts.DryRun
	return res, err
}

// checkDef is one check: its catalog entry, where it shows, how it runs
// and, for some, how --fix repairs it.
type checkDef struct {
	typ   findings.Type
	group string
	title string
	run   func(f *facts) outcome
	// fix repairs a failure and returns what it did; the check then runs
	// again on fresh data. With dryRun it only says what it would do.
	fix func(f *facts, dryRun bool) (string, error)
	// changes are what fix would change, for the permission check.
	changes func(f *facts) []plan.Change
}

// outcome is what a check found.
type outcome struct {
	status   Status // empty: derived from err and findings
	message  string
	hint     string
	findings []findings.Finding
	err      error // an API call it needs failed
}

func unavailable(err error) outcome { return outcome{err: err} }

// ran pairs a definition with its outcome.
type ran struct {
	def *checkDef
	out outcome
}

// runChecks runs every check concurrently; they share the facts, so each
// API object is fetched once however many checks read it.
func runChecks(f *facts, defs []checkDef) []ran {
	out := make([]ran, len(defs))
	var wg sync.WaitGroup
	for i := range defs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = ran{def: &defs[i], out: defs[i].run(f)}
		}()
	}
	wg.Wait()
	return out
}

func (r ran) status() Status {
	switch {
	case r.out.err != nil:
		return StatusUnavailable
	case len(r.out.findings) > 0:
		return Status(r.def.typ.Level)
	case r.out.status != "":
		return r.out.status
	}
	return StatusOK
}

func buildResult(f *facts, outcomes []ran, fixes []Fix) *Result {
	res := &Result{
		Cluster:           f.opts.ClusterName(),
		KubeContext:       f.opts.KubeContext,
		MeshRelease:       f.release.Mesh,
		MeshReleaseSource: f.opts.MeshVersionSource,
		SupportedGKE:      f.release.Window(),
		Fixes:             fixes,
		FailOn:            f.opts.FailOn,
		Findings:          []findings.Finding{},
	}
	res.Findings = append(res.Findings, f.failureFindings()...)
	for _, r := range outcomes {
		cr := CheckResult{
			ID: r.def.typ.Code, Group: r.def.group, Title: r.def.title, Level: r.def.typ.Level,
			Status: r.status(), Message: r.out.message, Hint: r.out.hint,
			Fixable: r.def.fix != nil, Findings: len(r.out.findings),
		}
		if r.out.err != nil {
			cr.Message = "not checked: " + r.out.err.Error() + " (see " + findings.APIUnavailable.Code + ")"
		}
		if cr.Message == "" && len(r.out.findings) > 0 {
			cr.Message = r.out.findings[0].Message
			if n := len(r.out.findings); n > 1 {
				cr.Message = fmt.Sprintf("%d problems: %s", n, summarizeObjects(r.out.findings))
			}
		}
		if cr.Hint == "" && len(r.out.findings) == 1 {
			cr.Hint = r.out.findings[0].Hint
		}
		res.Checks = append(res.Checks, cr)
		res.Findings = append(res.Findings, r.out.findings...)
	}
	res.Summary = findings.Summarize(res.Findings)
	res.Ready = !findings.Fails(res.Findings, res.FailOn)
	return res
}

func summarizeObjects(fs []findings.Finding) string {
	const show = 3
	s := ""
	for i, x := range fs {
		if i == show {
			return s + fmt.Sprintf(" and %d more", len(fs)-show)
		}
		if i > 0 {
			s += ", "
		}
		s += x.Object
	}
	return s
}

// applyFixes runs the fix of every failed fixable check, then runs the check
// again on fresh data and replaces its outcome.
func applyFixes(f *facts, rep ui.Reporter, outcomes []ran) []Fix {
	var fixes []Fix
	for i, r := range outcomes {
		if r.def.fix == nil || len(r.out.findings) == 0 {
			continue
		}
		step := rep.Step("fixing " + r.def.typ.Code + " " + r.def.title)
		action, err := r.def.fix(f, false)
		fx := Fix{ID: r.def.typ.Code, Action: action}
		if err != nil {
			fx.Error = err.Error()
			step.Fail(err)
		} else {
			step.Done()
		}
		fixes = append(fixes, fx)
		outcomes[i].out = r.def.run(f)
	}
	return fixes
}

// planFixes says what the fix of every failed fixable check would do,
// changing nothing (--fix --dry-run).
func planFixes(f *facts, outcomes []ran) []Fix {
	var fixes []Fix
	for _, r := range outcomes {
		if r.def.fix == nil || len(r.out.findings) == 0 {
			continue
		}
		action, err := r.def.fix(f, true)
		fx := Fix{ID: r.def.typ.Code, Action: action}
		if err != nil {
			fx.Error = err.Error()
		}
		fixes = append(fixes, fx)
	}
	return fixes
}
