// Package inject puts workloads into the mesh, takes them out, or moves them
// to another control-plane revision, and proves the result: it labels
// namespaces for a revision's injection webhook (istio.io/rev, never together
// with istio-injection: istioctl's IST0123), restarts the Deployments,
// StatefulSets and DaemonSets whose pods do not already run the wanted
// istio-proxy (as `kubectl rollout restart` does), waits for the rollouts as
// `kubectl rollout status` does, and checks every pod afterwards.
//
// Run is desired state: a second run with nothing changed relabels nothing
// and restarts nothing. VerifyNamespace is the verification on its own; the
// revisions, namespace labels and pod checks it applies are pkg/mesh's, so
// `meshctl validate` and `meshctl expose` judge a cluster the same way.
package inject

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// DefaultConcurrency is how many namespaces are worked on at once.
const DefaultConcurrency = 10

// Options say what to inject where.
type Options struct {
	// Namespaces names the namespaces; Selector picks them by label
	// instead (or as well).
	Namespaces []string
	Selector   string
	// Revision is the revision (or revision tag) to label namespaces for;
	// empty means the only installed one.
	Revision string
	// Disable takes the namespaces out of the mesh instead:
	// istio-injection=disabled and no istio.io/rev.
	Disable bool
	// Force allows system namespaces (kube-system, istio-system, gke-*...)
	// and a revision that cannot be found in the cluster.
	Force bool
	// NoRestart only labels; pods change at their next restart.
	NoRestart bool
	// DryRun only plans.
	DryRun bool
	// Concurrency bounds the namespaces worked on at once
	// (DefaultConcurrency when 0).
	Concurrency int
	// WaitTimeout bounds the wait for rollouts. Zero means until ctx's
	// deadline, less a little time to verify and report, so that a stuck
	// rollout is reported rather than cut off.
	WaitTimeout time.Duration
	// Now gives the restartedAt timestamp; time.Now when nil.
	Now func() time.Time
	// Preflight checks, before the first label or restart, that the
	// caller may patch what the plan changes; nil checks nothing.
	Preflight *preflight.Checker
}

// Mode is what Run does to the namespaces.
type Mode string

// Modes.
const (
	ModeEnable  Mode = "enable"
	ModeDisable Mode = "disable"
)

// Action is what Run does (or, for a dry run, would do) to a workload, in
// pkg/plan's vocabulary, which expose and the load balancer share.
type Action = plan.Action

// The actions on workloads.
const (
	ActionRestart = plan.Restart
	ActionKeep    = plan.Keep
	ActionSkip    = plan.Skip
)

// Outcome is where a workload ended up.
type Outcome string

// Outcomes.
const (
	// OutcomePlanned: a dry run.
	OutcomePlanned Outcome = "planned"
	// OutcomeConverged: every pod runs what was wanted.
	OutcomeConverged Outcome = "converged"
	// OutcomeFailed: it did not converge; Problems say why.
	OutcomeFailed Outcome = "failed"
	// OutcomeSkipped: left alone (opted out, host network).
	OutcomeSkipped Outcome = "skipped"
	// OutcomePending: labelled but not restarted (--no-restart).
	OutcomePending Outcome = "pending"
)

// Result is what Run did, per namespace and workload.
type Result struct {
	Mode Mode `json:"mode"`
	// Revision is the istio.io/rev value set (a revision or a tag);
	// ProxyRevision the revision pods must run (differs for a tag).
	Revision      string `json:"revision,omitempty"`
	ProxyRevision string `json:"proxyRevision,omitempty"`
	// RevisionSource is "flag" or "detected".
	RevisionSource string `json:"revisionSource,omitempty"`
	DryRun         bool   `json:"dryRun"`
	NoRestart      bool   `json:"noRestart,omitempty"`
	// Namespaces are sorted by name.
	Namespaces []NamespaceResult `json:"namespaces"`
	// SkippedNamespaces matched --selector but were left alone.
	SkippedNamespaces []SkippedNamespace `json:"skippedNamespaces,omitempty"`
	Summary           Summary            `json:"summary"`
	// Permissions are what the changes need, as the check before the
	// first one found them.
	Permissions *preflight.Report `json:"permissions,omitempty"`
}

// SkippedNamespace is a namespace the selector matched that Run left alone.
type SkippedNamespace struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Summary counts the result.
type Summary struct {
	Namespaces int `json:"namespaces"`
	Relabelled int `json:"relabelled"`
	Migrated   int `json:"migrated"`
	Workloads  int `json:"workloads"`
	Restarted  int `json:"restarted"`
	Unchanged  int `json:"unchanged"`
	Skipped    int `json:"skipped"`
	Pending    int `json:"pending"`
	Failed     int `json:"failed"`
}

// NamespaceResult is one namespace's labels and workloads.
type NamespaceResult struct {
	Name   string      `json:"name"`
	Labels LabelChange `json:"labels"`
	// Migration is set when the namespace moves from one revision to
	// another (a canary upgrade).
	Migration *Migration `json:"migration,omitempty"`
	// Workloads are sorted by kind (Deployment, StatefulSet, DaemonSet)
	// and name.
	Workloads []WorkloadResult `json:"workloads"`
	// Notes are things worth knowing that are not failures.
	Notes []string `json:"notes,omitempty"`
	// Error is set when the namespace could not be worked on at all.
	Error string `json:"error,omitempty"`
}

// LabelChange is the change to a namespace's injection labels.
type LabelChange struct {
	// Before holds the injection labels (istio.io/rev, istio-injection)
	// the namespace had.
	Before map[string]string `json:"before,omitempty"`
	Set    map[string]string `json:"set,omitempty"`
	Remove []string          `json:"remove,omitempty"`
}

// Changed reports whether the labels change.
func (c LabelChange) Changed() bool { return len(c.Set) > 0 || len(c.Remove) > 0 }

// Migration is a namespace's move between revisions. From is "default" for
// a namespace labelled istio-injection=enabled.
type Migration struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// WorkloadResult is one workload: what Run did and where it ended up.
type WorkloadResult struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Action Action `json:"action"`
	// Why explains the action: which pods lack what, or why it is skipped.
	Why     string  `json:"why"`
	Outcome Outcome `json:"outcome"`
	// Pods counts its pods after the run; OK those in the wanted state.
	Pods     int       `json:"pods"`
	OK       int       `json:"ok"`
	Problems []Problem `json:"problems,omitempty"`
}

// Failed reports whether any workload or namespace failed to converge.
func (r *Result) Failed() bool { return r.Summary.Failed > 0 }

// nsPlan is one namespace's plan with what Apply needs.
type nsPlan struct {
	res       *NamespaceResult
	snap      *snapshot
	workloads map[string]*workload // by ref
}

// Run works out what to change, and unless opts.DryRun, changes it, waits
// and verifies. Bad input is reported before anything changes. Failures of
// single namespaces or workloads are in the result (Result.Failed), not in
// the error, which is for failures that stop the whole run.
func Run(ctx context.Context, kc kubernetes.Interface, rep ui.Reporter, opts Options) (*Result, error) {
	if rep == nil {
		rep = ui.Discard
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := validate(opts); err != nil {
		return nil, err
	}
	res := &Result{Mode: ModeEnable, DryRun: opts.DryRun, NoRestart: opts.NoRestart}
	var want Want
	if opts.Disable {
		res.Mode = ModeDisable
	} else {
		if err := resolveRevision(ctx, kc, opts, res); err != nil {
			return nil, err
		}
		want = Want{Revision: res.ProxyRevision}
	}
	namespaces, err := selectNamespaces(ctx, kc, opts, res)
	if err != nil {
		return nil, err
	}

	plans := make([]*nsPlan, len(namespaces))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Concurrency)
	for i, ns := range namespaces {
		g.Go(func() error {
			p, err := planNamespace(gctx, kc, ns, res, want)
			plans[i] = p
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, p := range plans {
		res.Namespaces = append(res.Namespaces, *p.res)
	}
	res.Permissions = opts.Preflight.Check(ctx, res.Changes(opts.NoRestart))
	if !opts.DryRun {
		if err := res.Permissions.Err(); err != nil {
			return nil, err
		}
		if err := apply(ctx, kc, rep, opts, want, plans); err != nil {
			return nil, err
		}
		for i, p := range plans {
			res.Namespaces[i] = *p.res
		}
	}
	res.Summary = summarize(res)
	return res, nil
}

func validate(opts Options) error {
	if len(opts.Namespaces) == 0 && opts.Selector == "" {
		return failure.Usagef("name the namespaces with --namespace, or pick them with --selector")
	}
	if opts.Disable && opts.Revision != "" {
		return failure.Usagef("--disable and --revision do not go together: --disable takes namespaces out of the mesh")
	}
	for _, n := range opts.Namespaces {
		if n == "" {
			return failure.Usagef("empty namespace name")
		}
	}
	if opts.Selector != "" {
		if _, err := labels.Parse(opts.Selector); err != nil {
			return failure.Usage(fmt.Errorf("--selector %q: %w", opts.Selector, err), "use kubectl's syntax, e.g. --selector team=payments,env!=dev")
		}
	}
	return nil
}

// resolveRevision picks the target revision: --revision (checked against
// the cluster), or the only installed one.
func resolveRevision(ctx context.Context, kc kubernetes.Interface, opts Options, res *Result) error {
	revs, err := mesh.ReadRevisions(ctx, kc)
	if err != nil {
		return err
	}
	if opts.Revision != "" {
		rev, installed := revs.Resolve(opts.Revision)
		if !installed && !opts.Force {
			return failure.WithHint(fmt.Errorf("revision %q is not installed in the cluster (installed: %s)", opts.Revision, revs),
				"pass an installed revision, or --force if its webhook exists under another name (e.g. a managed control plane)")
		}
		res.Revision, res.ProxyRevision, res.RevisionSource = opts.Revision, rev, "flag"
		return nil
	}
	names := revs.Names()
	switch len(names) {
	case 0:
		return failure.WithHint(errors.New("no Istio control plane revision found: no istiod Deployment or injection webhook is labelled istio.io/rev"),
			"install one first (meshctl install, or asmcli install), or name it with --revision and --force")
	case 1:
		res.Revision, res.ProxyRevision, res.RevisionSource = names[0], names[0], "detected"
		return nil
	}
	hints := make([]string, 0, len(names))
	for _, r := range names {
		hints = append(hints, "--revision "+r)
	}
	return failure.Usage(fmt.Errorf("%d revisions are installed (%s): say which one the namespaces should use", len(names), revs),
		"add one of: "+strings.Join(hints, ", "))
}

// SystemNamespace reports whether name belongs to Kubernetes, GKE or the
// mesh's control plane, where injection breaks things.
func SystemNamespace(name string) bool {
	switch name {
	case "kube-system", "kube-public", "kube-node-lease", mesh.IstioSystem, "asm-system",
		"config-management-system", "config-management-monitoring", "resource-group-system":
		return true
	}
	return strings.HasPrefix(name, "gke-") || strings.HasPrefix(name, "gmp-") || strings.HasPrefix(name, "kube-")
}

// selectNamespaces resolves --namespace and --selector to namespaces,
// refusing before any change what must not be touched.
func selectNamespaces(ctx context.Context, kc kubernetes.Interface, opts Options, res *Result) ([]*corev1.Namespace, error) {
	picked := map[string]*corev1.Namespace{}
	var missing, system []string
	for _, name := range opts.Namespaces {
		if picked[name] != nil {
			continue
		}
		if SystemNamespace(name) && !opts.Force {
			system = append(system, name)
			continue
		}
		ns, err := kc.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			missing = append(missing, name)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read namespace %s: %w", name, err)
		}
		picked[name] = ns
	}
	if len(system) > 0 {
		return nil, failure.Usage(fmt.Errorf("refusing to inject into system namespace %s", strings.Join(system, ", ")),
			"the mesh's sidecars do not belong there; pass --force if you mean it")
	}
	if len(missing) > 0 {
		return nil, failure.WithHint(fmt.Errorf("namespace %s not found", strings.Join(missing, ", ")),
			"check the name and the kubeconfig context (kubectl get namespaces)")
	}
	if opts.Selector != "" {
		list, err := kc.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: opts.Selector})
		if err != nil {
			return nil, fmt.Errorf("list namespaces matching %q: %w", opts.Selector, err)
		}
		matched := 0
		for i := range list.Items {
			ns := &list.Items[i]
			switch {
			case picked[ns.Name] != nil:
			case SystemNamespace(ns.Name) && !opts.Force:
				res.SkippedNamespaces = append(res.SkippedNamespaces, SkippedNamespace{Name: ns.Name, Reason: "system namespace (--force to include)"})
			case ns.Status.Phase == corev1.NamespaceTerminating || ns.DeletionTimestamp != nil:
				res.SkippedNamespaces = append(res.SkippedNamespaces, SkippedNamespace{Name: ns.Name, Reason: "terminating"})
			default:
				picked[ns.Name] = ns
				matched++
			}
		}
		if matched == 0 && len(opts.Namespaces) == 0 {
			return nil, failure.WithHint(fmt.Errorf("no namespace matches --selector %q", opts.Selector),
				fmt.Sprintf("check with kubectl get namespaces -l '%s'", opts.Selector))
		}
	}
	out := make([]*corev1.Namespace, 0, len(picked))
	for _, name := range slices.Sorted(maps.Keys(picked)) {
		if ns := picked[name]; ns.DeletionTimestamp != nil {
			return nil, fmt.Errorf("namespace %s is being deleted", name)
		}
		out = append(out, picked[name])
	}
	return out, nil
}

// labelChange computes the injection labels' change for ns.
func labelChange(ns *corev1.Namespace, mode Mode, revision string) (LabelChange, *Migration) {
	var c LabelChange
	inj, hasInj := ns.Labels[mesh.LabelInjection]
	rev, hasRev := ns.Labels[mesh.LabelRevision]
	if hasInj || hasRev {
		c.Before = map[string]string{}
		if hasInj {
			c.Before[mesh.LabelInjection] = inj
		}
		if hasRev {
			c.Before[mesh.LabelRevision] = rev
		}
	}
	if mode == ModeDisable {
		if inj != "disabled" {
			c.Set = map[string]string{mesh.LabelInjection: "disabled"}
		}
		if hasRev {
			c.Remove = []string{mesh.LabelRevision}
		}
		return c, nil
	}
	if !hasRev || rev != revision {
		c.Set = map[string]string{mesh.LabelRevision: revision}
	}
	if hasInj {
		c.Remove = []string{mesh.LabelInjection}
	}
	var m *Migration
	switch {
	case hasRev && rev != revision && !(hasInj && inj == "enabled"):
		m = &Migration{From: rev, To: revision}
	case hasInj && inj == "enabled" && revision != "default":
		m = &Migration{From: "default", To: revision}
	}
	return c, m
}

// planNamespace reads a namespace and decides, per workload, whether it
// needs a restart to reach want.
func planNamespace(ctx context.Context, kc kubernetes.Interface, ns *corev1.Namespace, res *Result, want Want) (*nsPlan, error) {
	snap, err := readNamespace(ctx, kc, ns.Name)
	if err != nil {
		return nil, err
	}
	lc, mig := labelChange(ns, res.Mode, res.Revision)
	nr := &NamespaceResult{Name: ns.Name, Labels: lc, Migration: mig, Workloads: []WorkloadResult{}}
	p := &nsPlan{res: nr, snap: snap, workloads: map[string]*workload{}}
	for _, w := range snap.workloads {
		p.workloads[w.ref()] = w
		wr := WorkloadResult{Kind: w.Kind, Name: w.Name, Pods: len(w.pods), Outcome: OutcomePlanned}
		if reason := skipReason(w); reason != "" && res.Mode == ModeEnable {
			wr.Action, wr.Outcome = ActionSkip, OutcomeSkipped
			wr.Why = skipMessage(reason)
		} else if why := restartWhy(w, want); why != "" {
			wr.Action, wr.Why = ActionRestart, why
		} else {
			wr.Action, wr.Why = ActionKeep, keepMessage(w, want)
		}
		nr.Workloads = append(nr.Workloads, wr)
	}
	if snap.bare > 0 {
		nr.Notes = append(nr.Notes, fmt.Sprintf("%d pod(s) belong to no Deployment, StatefulSet or DaemonSet; recreate them yourself", snap.bare))
	}
	return p, nil
}

func skipMessage(r Reason) string {
	switch r {
	case mesh.ReasonOptedOut:
		return "opted out: its pod template sets " + mesh.AnnotationInject + "=false"
	case mesh.ReasonHostNetwork:
		return "its pods use the host network, which Istio never injects"
	}
	return string(r)
}

func keepMessage(w *workload, want Want) string {
	if len(w.pods) == 0 {
		return "no pods to restart"
	}
	if want.Revision == "" {
		return fmt.Sprintf("no istio-proxy in its %s", plural(len(w.pods), "pod"))
	}
	return fmt.Sprintf("istio-proxy of revision %s in all its %s", want.Revision, plural(len(w.pods), "pod"))
}

func summarize(r *Result) Summary {
	s := Summary{Namespaces: len(r.Namespaces)}
	for _, ns := range r.Namespaces {
		if ns.Labels.Changed() {
			s.Relabelled++
		}
		if ns.Migration != nil {
			s.Migrated++
		}
		if ns.Error != "" {
			s.Failed++
		}
		for _, w := range ns.Workloads {
			s.Workloads++
			switch {
			case w.Action == ActionSkip:
				s.Skipped++
			case w.Action == ActionKeep:
				s.Unchanged++
			case w.Action == ActionRestart && w.Outcome != OutcomePending && !restartBlocked(w):
				s.Restarted++
			}
			switch w.Outcome {
			case OutcomeFailed:
				s.Failed++
			case OutcomePending:
				s.Pending++
			}
		}
	}
	return s
}

// restartBlocked reports whether w needed a restart that meshctl could not
// do (a paused Deployment, the OnDelete strategy).
func restartBlocked(w WorkloadResult) bool {
	return len(w.Problems) > 0 && (w.Problems[0].Reason == ReasonPaused || w.Problems[0].Reason == ReasonOnDelete)
}

// plural returns "1 pod", "2 pods".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
