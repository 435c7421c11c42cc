// Package migrate is `meshctl migrate --to managed`: an in-cluster (asmcli)
// control plane's namespaces moved to Google's managed control plane, and
// the in-cluster revision removed, in one command that can be stopped
// anywhere and run again. It composes what the other capabilities do:
// prechecks (its own MC0273-MC0275 and install --managed's), the managed
// install (pkg/install/managed), the move of namespaces in batches
// (pkg/inject: relabel, restart, verify the pods), the confirmation that no
// pod runs the old revision and its removal (pkg/revision).
//
// No state is kept on the side: every run reads the cluster and the fleet
// and works out what is left, so a run interrupted anywhere is finished by
// running it again, and a run after the end changes nothing.
package migrate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/inject"
	"github.com/meshctl/meshctl/pkg/install/managed"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
	"github.com/meshctl/meshctl/pkg/revision"
)

// DefaultBatch is how many namespaces move at once.
const DefaultBatch = 5

// Options say what to migrate.
type Options struct {
	// Managed names the cluster, fleet and channel of the managed install.
	Managed managed.Options
	// From is the in-cluster revision to leave; empty means the only one
	// installed.
	From string
	// Batch is how many namespaces move at once (DefaultBatch when 0).
	Batch int
	// SkipChecks skips migrate's prechecks and install --managed's.
	SkipChecks bool
	DryRun     bool
	// ConfirmTimeout bounds the wait for the old revision's last pods to
	// go after the last batch (default two minutes); Poll paces it.
	ConfirmTimeout, Poll time.Duration
	// Preflight checks the permissions of the managed install and of each
	// batch before their first change; nil checks nothing.
	Preflight *preflight.Checker
}

// Provisioner installs the managed control plane (managed.Installer).
type Provisioner interface {
	Install(ctx context.Context, o managed.Options) (managed.Result, error)
}

// Mover moves namespaces to a revision and verifies their pods
// (inject.Run).
type Mover interface {
	Inject(ctx context.Context, rep ui.Reporter, o inject.Options) (*inject.Result, error)
}

// Migrator runs a migration against one cluster.
type Migrator struct {
	// Objects reads the cluster and removes the old revision.
	Objects  kube.Objects
	Managed  Provisioner
	Mover    Mover
	Reporter ui.Reporter
	Now      func() time.Time
}

// Step names, in order; the batches are move-batch-1, move-batch-2...
const (
	StepPrechecks = "prechecks"
	StepProvision = "provision-managed"
	StepMove      = "move-batch-"
	StepConfirm   = "confirm-none-left"
	StepRemove    = "remove-revision"
)

// Step actions, as install --managed records them.
const (
	ActionDone    = managed.ActionDone
	ActionSkipped = managed.ActionSkipped
	ActionPlanned = managed.ActionPlanned
	ActionChecked = managed.ActionChecked
)

// StepResult is one step and what became of it.
type StepResult struct {
	Name   string `json:"name"`
	Action string `json:"action"`
	Detail string `json:"detail"`
}

// Batch is one batch of namespaces and what moving it did (or would do).
type Batch struct {
	Number     int      `json:"number"`
	Namespaces []string `json:"namespaces"`
	// Restart counts the workloads restarted (or, for a dry run, to
	// restart).
	Restart int `json:"restart"`
	// Pods counts the pods verified on the managed revision afterwards.
	Pods int `json:"pods,omitempty"`
}

// Result is what a migration did, or for a dry run, would do.
type Result struct {
	// From is the in-cluster revision left; To the managed revision.
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	DryRun bool   `json:"dryRun,omitempty"`
	// Precheck are migrate's findings (MC0273-MC0275); install --managed's
	// are in Managed.Precheck.
	Precheck []findings.Finding `json:"precheck,omitempty"`
	Managed  *managed.Result    `json:"managed,omitempty"`
	Batches  []Batch            `json:"batches"`
	// Uninstall is the removal of the old revision (for a dry run, its
	// objects).
	Uninstall *revision.UninstallResult `json:"uninstall,omitempty"`
	Steps     []StepResult              `json:"steps"`
	// WayBack are the commands that return a failed batch (and those
	// before it) to the old revision.
	WayBack  []string          `json:"wayBack,omitempty"`
	Changed  bool              `json:"changed"`
	NextStep string            `json:"nextStep,omitempty"`
	Elapsed  string            `json:"elapsed"`
	Timings  map[string]string `json:"timings,omitempty"`
}

func (r *Result) step(name, action, detail string) {
	r.Steps = append(r.Steps, StepResult{Name: name, Action: action, Detail: detail})
	if action == ActionDone {
		r.Changed = true
	}
}

func (m Migrator) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m Migrator) reporter() ui.Reporter {
	if m.Reporter == nil {
		return ui.Discard
	}
	return m.Reporter
}

// Run migrates: it reads the cluster, checks, and unless o.DryRun,
// provisions the managed control plane, moves the namespaces batch by
// batch, confirms that no pod is left on the old revision and removes it.
// Each step skips what is already done.
func (m Migrator) Run(ctx context.Context, o Options) (res *Result, err error) {
	start := m.now()
	res = &Result{DryRun: o.DryRun, Batches: []Batch{}, Steps: []StepResult{}, Timings: map[string]string{}}
	defer func() { res.Elapsed = m.now().Sub(start).Round(time.Millisecond).String() }()
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	o.Managed.SkipChecks = o.SkipChecks
	snap, err := revision.ReadSnapshot(ctx, m.Objects)
	if err != nil {
		return res, fmt.Errorf("read the cluster's revisions: %w", err)
	}
	if res.From, err = source(snap, o.From); err != nil {
		return res, err
	}

	// Prechecks first, the managed install's included (a dry run of it),
	// so that nothing changes when either would refuse.
	if res.From != "" && !o.SkipChecks {
		if res.Precheck, err = prechecks(ctx, m.Objects, snap, res.From); err != nil {
			return res, err
		}
	}
	if err := refuse(res.Precheck); err != nil {
		res.step(StepPrechecks, ActionChecked, fmt.Sprintf("%d problem(s)", len(res.Precheck)))
		return res, err
	}
	if o.DryRun {
		return res, m.plan(ctx, o, snap, res)
	}
	res.step(StepPrechecks, ActionChecked, checkedDetail(res.Precheck, o.SkipChecks))

	var batches [][]string
	steps := []plan.Step{m.provisionStep(o, res)}
	if res.From == "" {
		// Nothing in-cluster is left: the migration ended; the managed
		// install is confirmed (it changes nothing when done).
		steps = append(steps, plan.Step{Name: StepConfirm, Title: plan.Title("no in-cluster revision left"),
			Run: func(context.Context, ui.Step) (string, error) { return "no in-cluster revision installed", nil }})
		return res, m.run(ctx, res, steps)
	}
	// The namespaces to move are read after the install: a default tag the
	// fleet adds may already send some of them to the managed revision.
	steps = append(steps, plan.Step{Name: "read-namespaces", Title: plan.Title("find what runs on " + res.From),
		Run: func(ctx context.Context, _ ui.Step) (string, error) {
			snap, err := revision.ReadSnapshot(ctx, m.Objects)
			if err != nil {
				return "", err
			}
			batches = split(toMove(snap, res.From), o.Batch)
			return fmt.Sprintf("%d namespace(s) in %d batch(es)", countAll(batches), len(batches)), nil
		}})
	if err := m.run(ctx, res, steps); err != nil {
		return res, err
	}
	delete(res.Timings, "read-namespaces")
	res.Steps = slices.DeleteFunc(res.Steps, func(s StepResult) bool { return s.Name == "read-namespaces" })

	steps = nil
	var moved []string
	for i, ns := range batches {
		steps = append(steps, m.moveStep(o, res, i+1, ns, &moved))
	}
	steps = append(steps, m.confirmStep(o, res), m.removeStep(res))
	if err := m.run(ctx, res, steps); err != nil {
		return res, err
	}
	res.NextStep = "meshctl validate (every namespace on " + res.To + ")"
	return res, nil
}

// run runs steps with the named-steps runner, recording each.
func (m Migrator) run(ctx context.Context, res *Result, steps []plan.Step) error {
	return plan.RunSteps(ctx, m.reporter(), m.now, steps, func(s plan.Step, detail string, took time.Duration) {
		res.Timings[s.Name] = took.Round(time.Millisecond).String()
		action := ActionChecked
		if a, ok := stepActions[s.Name]; ok {
			action = a(res, detail)
		} else if strings.HasPrefix(s.Name, StepMove) {
			action = ActionDone
		}
		res.step(s.Name, action, detail)
	})
}

// stepActions say what a finished step did, from the result it left.
var stepActions = map[string]func(*Result, string) string{
	StepProvision: func(r *Result, _ string) string {
		if r.Managed != nil && r.Managed.Changed {
			return ActionDone
		}
		return ActionSkipped
	},
	StepRemove: func(r *Result, _ string) string {
		if r.Uninstall != nil && len(r.Uninstall.Changes) > 0 {
			return ActionDone
		}
		return ActionSkipped
	},
}

// source is the in-cluster revision to leave: from (when installed in the
// cluster), or the only in-cluster revision; "" when none is left.
func source(snap *revision.Snapshot, from string) (string, error) {
	var inCluster []string
	for _, n := range snap.Revisions.Names() {
		if r := snap.Revisions.Revision(n); r.Istiod != nil && !r.Managed {
			inCluster = append(inCluster, n)
		}
	}
	if from != "" {
		if r := snap.Revisions.Revision(from); r != nil && r.Managed && r.Istiod == nil {
			return "", failure.Usagef("--from %s is a managed revision: migrate moves an in-cluster revision to the managed control plane", from)
		}
		if !slices.Contains(inCluster, from) {
			// Removed by an earlier run: nothing left to move.
			return "", nil
		}
		return from, nil
	}
	switch len(inCluster) {
	case 0:
		return "", nil
	case 1:
		return inCluster[0], nil
	}
	return "", failure.Usage(fmt.Errorf("%d in-cluster revisions are installed (%s)", len(inCluster), strings.Join(inCluster, ", ")),
		"say which to migrate with --from REVISION; the others stay")
}

// provisionStep is the managed install; it skips what is already done.
func (m Migrator) provisionStep(o Options, res *Result) plan.Step {
	return plan.Step{Name: StepProvision, Title: plan.Title("provision the managed control plane (install --managed)"),
		Run: func(ctx context.Context, _ ui.Step) (string, error) {
			mr, err := m.Managed.Install(ctx, o.Managed)
			res.Managed = &mr
			if err != nil {
				return "", err
			}
			res.To = mr.Revision
			if !mr.Changed {
				return "revision " + mr.Revision + " already ready", nil
			}
			return "revision " + mr.Revision + " ready", nil
		}}
}

// moveStep moves one batch: inject relabels each namespace for the managed
// revision, restarts the workloads whose pods are not on it and verifies
// every pod. A failed batch stops the run with the way back.
func (m Migrator) moveStep(o Options, res *Result, n int, namespaces []string, moved *[]string) plan.Step {
	return plan.Step{Name: fmt.Sprintf("%s%d", StepMove, n),
		Title: plan.Title(fmt.Sprintf("move batch %d to %s: %s", n, res.To, strings.Join(namespaces, ", "))),
		Run: func(ctx context.Context, progress ui.Step) (string, error) {
			*moved = append(*moved, namespaces...)
			ir, err := m.Mover.Inject(ctx, ui.Discard, inject.Options{Namespaces: namespaces, Revision: res.To,
				Concurrency: len(namespaces), Preflight: o.Preflight})
			b := Batch{Number: n, Namespaces: namespaces}
			if ir != nil {
				b.Restart, b.Pods = ir.Summary.Restarted, podsOK(ir)
			}
			res.Batches = append(res.Batches, b)
			if err == nil && ir.Failed() {
				err = fmt.Errorf("batch %d did not converge: %s", n, failedWorkloads(ir))
			}
			if err != nil {
				res.WayBack = wayBack(res.From, namespaces, *moved)
				return "", failure.WithHint(fmt.Errorf("move batch %d (%s) to %s: %w", n, strings.Join(namespaces, ", "), res.To, err),
					"the later batches did not start; the way back:\n  "+strings.Join(res.WayBack, "\n  ")+
						"\nor fix the cause and run meshctl migrate --to managed again: it continues where it stopped")
			}
			return fmt.Sprintf("%d workload(s) restarted, %d pod(s) on %s", b.Restart, b.Pods, res.To), nil
		}}
}

// confirmStep waits until nothing uses the old revision any more: no
// namespace selects it and no running pod has its proxy.
func (m Migrator) confirmStep(o Options, res *Result) plan.Step {
	return plan.Step{Name: StepConfirm, Title: plan.Title("confirm no pod runs " + res.From),
		Run: func(ctx context.Context, progress ui.Step) (string, error) {
			limit, poll := o.ConfirmTimeout, o.Poll
			if limit <= 0 {
				limit = 2 * time.Minute
			}
			if poll <= 0 {
				poll = time.Second
			}
			deadline := m.now().Add(limit)
			for {
				snap, err := revision.ReadSnapshot(ctx, m.Objects)
				if err != nil {
					return "", err
				}
				u := snap.Usage(res.From)
				if !u.InUse() {
					return "no namespace or pod uses " + res.From, nil
				}
				progress.Progressf("still on %s: %s", res.From, u)
				if m.now().After(deadline) {
					res.Precheck = append(res.Precheck, u.Findings()...)
					return "", failure.WithHint(fmt.Errorf("%s still uses revision %s after %s", u, res.From, limit),
						"the findings say what and how to move it; then run meshctl migrate --to managed again")
				}
				select {
				case <-ctx.Done():
					return "", ctx.Err()
				case <-time.After(poll):
				}
			}
		}}
}

// removeStep removes the old revision (uninstall --revision), which itself
// refuses while anything still uses it.
func (m Migrator) removeStep(res *Result) plan.Step {
	return plan.Step{Name: StepRemove, Title: plan.Title("remove revision " + res.From + " (uninstall --revision)"),
		Run: func(ctx context.Context, _ ui.Step) (string, error) {
			ur, err := revision.Uninstall(ctx, m.Objects, ui.Discard, revision.UninstallOptions{Revision: res.From})
			res.Uninstall = ur
			if err != nil {
				return "", err
			}
			if ur.Refused {
				res.Precheck = append(res.Precheck, ur.Findings...)
				return "", failure.WithHint(fmt.Errorf("revision %s is still in use: %s", res.From, ur.Usage), ur.NextStep)
			}
			return fmt.Sprintf("deleted %d object(s) of %s", len(ur.Changes), res.From), nil
		}}
}

// plan is the dry run: every step with what it would do, read-only.
func (m Migrator) plan(ctx context.Context, o Options, snap *revision.Snapshot, res *Result) error {
	res.step(StepPrechecks, ActionChecked, checkedDetail(res.Precheck, o.SkipChecks))
	mo := o.Managed
	mo.DryRun = true
	mr, err := m.Managed.Install(ctx, mo)
	res.Managed = &mr
	if err != nil {
		return err
	}
	res.To = mr.Revision
	if res.To == "" {
		res.To = managed.RevisionForChannel(mr.Channel)
	}
	provision := ActionSkipped
	if !managedReady(snap, res.To) {
		provision = ActionPlanned
	}
	res.step(StepProvision, provision, "revision "+res.To+" through the fleet (channel "+mr.Channel+")")
	if res.From == "" {
		res.step(StepConfirm, ActionChecked, "no in-cluster revision installed")
		return nil
	}
	namespaces := toMove(snap, res.From)
	restarts := map[string]int{}
	if len(namespaces) > 0 {
		// inject's own dry run says which workloads each namespace restarts.
		// Force: the managed revision may not be installed yet.
		ir, err := m.Mover.Inject(ctx, ui.Discard, inject.Options{Namespaces: namespaces, Revision: res.To, DryRun: true, Force: true})
		if err != nil {
			return fmt.Errorf("plan the moves: %w", err)
		}
		for _, ns := range ir.Namespaces {
			for _, w := range ns.Workloads {
				if w.Action == inject.ActionRestart {
					restarts[ns.Name]++
				}
			}
		}
	}
	for i, batch := range split(namespaces, o.Batch) {
		b := Batch{Number: i + 1, Namespaces: batch}
		for _, ns := range batch {
			b.Restart += restarts[ns]
		}
		res.Batches = append(res.Batches, b)
		res.step(fmt.Sprintf("%s%d", StepMove, b.Number), ActionPlanned,
			fmt.Sprintf("relabel %s istio.io/rev=%s, restart %d workload(s), verify their pods", strings.Join(batch, ", "), res.To, b.Restart))
	}
	res.step(StepConfirm, ActionPlanned, "wait until no namespace or pod uses "+res.From)
	ur, err := revision.Uninstall(ctx, m.Objects, ui.Discard, revision.UninstallOptions{Revision: res.From, DryRun: true})
	if err != nil {
		return err
	}
	ur.Refused, ur.Findings, ur.NextStep = false, nil, ""
	res.Uninstall = ur
	res.step(StepRemove, ActionPlanned, fmt.Sprintf("delete %d object(s) of %s", len(ur.Changes), res.From))
	res.NextStep = "meshctl migrate --to managed (without --dry-run)"
	return nil
}

// managedReady reports whether the cluster already has the managed
// revision's injection webhook.
func managedReady(snap *revision.Snapshot, rev string) bool {
	r := snap.Revisions.Revision(rev)
	return r != nil && r.Managed
}

// toMove are the namespaces to move off revision from: those whose label
// (or tag) selects it, and those with running pods on it, but for the
// system namespaces (MC0274 reports those), sorted.
func toMove(snap *revision.Snapshot, from string) []string {
	u := snap.Usage(from)
	seen := map[string]bool{}
	var out []string
	add := func(ns string) {
		if !seen[ns] && !inject.SystemNamespace(ns) {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	for _, ns := range u.Namespaces {
		add(ns.Name)
	}
	for _, w := range u.Workloads {
		add(w.Namespace)
	}
	slices.Sort(out)
	return out
}

// split cuts namespaces into batches of at most n.
func split(namespaces []string, n int) [][]string {
	var out [][]string
	for len(namespaces) > 0 {
		k := min(n, len(namespaces))
		out = append(out, namespaces[:k:k])
		namespaces = namespaces[k:]
	}
	return out
}

func countAll(batches [][]string) int {
	n := 0
	for _, b := range batches {
		n += len(b)
	}
	return n
}

// podsOK counts the pods inject verified.
func podsOK(ir *inject.Result) int {
	n := 0
	for _, ns := range ir.Namespaces {
		for _, w := range ns.Workloads {
			n += w.OK
		}
	}
	return n
}

// failedWorkloads names what did not converge, with inject's reasons.
func failedWorkloads(ir *inject.Result) string {
	var out []string
	for _, ns := range ir.Namespaces {
		if ns.Error != "" {
			out = append(out, "namespace "+ns.Name+": "+ns.Error)
		}
		for _, w := range ns.Workloads {
			if w.Outcome != inject.OutcomeFailed {
				continue
			}
			why := make([]string, 0, len(w.Problems))
			for _, p := range w.Problems {
				why = append(why, p.Message)
			}
			out = append(out, fmt.Sprintf("%s/%s/%s (%s)", ns.Name, w.Kind, w.Name, strings.Join(why, "; ")))
		}
	}
	return strings.Join(out, ", ")
}

// wayBack are the commands that put the failed batch, and then every
// namespace moved so far, back on the old revision.
func wayBack(from string, batch, moved []string) []string {
	cmd := func(nss []string) string {
		return "meshctl inject --revision " + from + " --namespace " + strings.Join(nss, " --namespace ")
	}
	out := []string{cmd(batch)}
	if len(moved) > len(batch) {
		out = append(out, cmd(moved)+"   # also the earlier batches")
	}
	return out
}

func checkedDetail(found []findings.Finding, skipped bool) string {
	if skipped {
		return "--skip-checks"
	}
	if len(found) == 0 {
		return "CA, pods outside the moved namespaces, EnvoyFilters: no problem"
	}
	return fmt.Sprintf("%d warning(s)", len(found))
}

// refuse is the error of error-level findings: nothing changes.
func refuse(found []findings.Finding) error {
	var lines, fixes []string
	for _, f := range found {
		if f.Level != findings.Error {
			continue
		}
		lines = append(lines, f.String())
		if f.Hint != "" {
			fixes = append(fixes, f.Hint)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return &failure.Error{Err: fmt.Errorf("the migration would break the mesh; nothing was changed:\n  %s", strings.Join(lines, "\n  ")),
		Code: failure.ExitProblems,
		Hint: strings.Join(append(fixes, "then run meshctl migrate --to managed again (or skip these checks with --skip-checks)"), "\n")}
}
