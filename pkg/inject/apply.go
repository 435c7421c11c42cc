package inject

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// progress counts finished rollouts across namespaces and reports them,
// at most every progressEvery, so that a log is not one line per workload.
type progress struct {
	mu          sync.Mutex
	step        ui.Step
	done, total int
	failed      int
	last        time.Time
}

const progressEvery = 500 * time.Millisecond

func (p *progress) finished(ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if !ok {
		p.failed++
	}
	if now := time.Now(); p.done == p.total || now.Sub(p.last) >= progressEvery {
		p.last = now
		msg := fmt.Sprintf("%d/%d workloads rolled out", p.done-p.failed, p.total)
		if p.failed > 0 {
			msg += fmt.Sprintf(", %d failed", p.failed)
		}
		p.step.Progressf("%s", msg)
	}
}

// apply labels, restarts, waits and verifies, namespace by namespace, up to
// opts.Concurrency namespaces at once. Failures stay in each namespace's
// result; only a cancelled ctx stops the run.
func apply(ctx context.Context, kc kubernetes.Interface, rep ui.Reporter, opts Options, want Want, plans []*nsPlan) error {
	total, nsCount := 0, 0
	for _, p := range plans {
		n := 0
		for _, w := range p.res.Workloads {
			if w.Action == ActionRestart {
				n++
			}
		}
		if n > 0 {
			nsCount++
		}
		total += n
	}
	prog := &progress{step: ui.Discard.Step(""), total: total}
	if total > 0 && !opts.NoRestart {
		prog.step = rep.Step(fmt.Sprintf("restart %d workload(s) in %d namespace(s)", total, nsCount))
	}

	waitCtx, cancel := waitContext(ctx, opts.WaitTimeout)
	defer cancel()
	g := new(errgroup.Group)
	g.SetLimit(opts.Concurrency)
	for _, p := range plans {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			applyNamespace(ctx, waitCtx, kc, rep, opts, want, p, prog)
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		prog.step.Fail(err)
		return err
	}
	if prog.failed > 0 {
		prog.step.Fail(fmt.Errorf("%d of %d workload(s) did not roll out", prog.failed, prog.total))
	} else {
		prog.step.Done()
	}
	return nil
}

// waitContext bounds the rollout waits: by timeout when set, else by ctx's
// deadline less a reserve for verifying and printing.
func waitContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout > 0 {
		return context.WithTimeout(ctx, timeout)
	}
	if dl, ok := ctx.Deadline(); ok {
		reserve := min(15*time.Second, time.Until(dl)/10)
		return context.WithDeadline(ctx, dl.Add(-reserve))
	}
	return context.WithCancel(ctx)
}

// applyNamespace does one namespace: labels, restarts, wait, verification.
func applyNamespace(ctx, waitCtx context.Context, kc kubernetes.Interface, rep ui.Reporter, opts Options, want Want, p *nsPlan, prog *progress) {
	nr := p.res
	failAll := func(err error) {
		nr.Error = err.Error()
		for i := range nr.Workloads {
			if w := &nr.Workloads[i]; w.Action == ActionRestart {
				w.Outcome = OutcomeFailed
				prog.finished(false)
			}
		}
	}
	if nr.Labels.Changed() {
		if err := patchLabels(ctx, kc, nr.Name, nr.Labels); err != nil {
			failAll(err)
			return
		}
		if m := nr.Migration; m != nil {
			rep.Infof("namespace %s: revision %s -> %s", nr.Name, m.From, m.To)
		}
	}

	// Restart what needs it; the same timestamp for the namespace, as
	// kubectl does for one invocation.
	at := opts.Now().Format(time.RFC3339)
	var rollouts []*rollout
	var check []int // the workloads to verify: kept and rolled out
	for i := range nr.Workloads {
		wr := &nr.Workloads[i]
		if wr.Action == ActionKeep {
			check = append(check, i)
		}
		if wr.Action != ActionRestart {
			continue
		}
		w := p.workloads[strings.ToLower(wr.Kind)+"/"+wr.Name]
		switch {
		case opts.NoRestart:
			wr.Outcome = OutcomePending
			wr.Problems = []Problem{{Reason: ReasonRestartPending, Message: "not restarted (--no-restart): " + wr.Why}}
		case w.paused:
			wr.Outcome = OutcomeFailed
			wr.Problems = []Problem{{Reason: ReasonPaused, Message: fmt.Sprintf("the Deployment is paused: run `kubectl rollout resume %s -n %s`, then meshctl inject again", w.ref(), nr.Name)}}
			prog.finished(false)
		case w.onDelete:
			wr.Outcome = OutcomeFailed
			wr.Problems = []Problem{{Reason: ReasonOnDelete, Message: fmt.Sprintf("its update strategy is OnDelete: delete its pods to restart them (%s)", wr.Why)}}
			prog.finished(false)
		default:
			if err := restart(ctx, kc, nr.Name, w, at); err != nil {
				wr.Outcome = OutcomeFailed
				wr.Problems = []Problem{{Reason: ReasonRolloutFailed, Message: err.Error()}}
				prog.finished(false)
				continue
			}
			rollouts = append(rollouts, &rollout{kind: w.Kind, name: w.Name, result: wr})
			check = append(check, i)
		}
	}
	if len(rollouts) > 0 {
		waitRollouts(waitCtx, kc, nr.Name, rollouts, prog)
	}
	if ctx.Err() != nil {
		return
	}

	// Verify. When nothing was restarted the plan's reading still holds.
	snap := p.snap
	if len(rollouts) > 0 {
		s, err := rereadPods(ctx, kc, nr.Name, p.snap)
		if err != nil {
			nr.Error = "verify: " + err.Error()
			return
		}
		snap = s
	}
	verifyResults(ctx, kc, nr, snap, want, check)
}

// verifyResults sets the outcome of the workloads at the indexes in check
// from their pods.
func verifyResults(ctx context.Context, kc kubernetes.Interface, nr *NamespaceResult, snap *snapshot, want Want, check []int) {
	byRef := map[string]*workload{}
	for _, w := range snap.workloads {
		byRef[w.ref()] = w
	}
	var statuses []WorkloadStatus
	var idx []int
	for _, i := range check {
		wr := &nr.Workloads[i]
		w := byRef[strings.ToLower(wr.Kind)+"/"+wr.Name]
		if w == nil {
			wr.Outcome = OutcomeFailed
			wr.Problems = append(wr.Problems, Problem{Reason: ReasonRolloutFailed, Message: "the workload no longer exists"})
			continue
		}
		st := verifyWorkload(w, want)
		// The rollout's own problems first, so events can explain them.
		st.Problems = append(slices.Clone(wr.Problems), st.Problems...)
		statuses = append(statuses, st)
		idx = append(idx, i)
	}
	if err := explainMissing(ctx, kc, nr.Name, snap, statuses); err != nil {
		nr.Notes = append(nr.Notes, "could not read events: "+err.Error())
	}
	for k, st := range statuses {
		wr := &nr.Workloads[idx[k]]
		wr.Pods, wr.OK = st.Pods, st.OK
		wr.Problems = st.Problems
		if len(wr.Problems) == 0 {
			wr.Outcome = OutcomeConverged
		} else {
			wr.Outcome = OutcomeFailed
		}
	}
}

// patchLabels applies c to the namespace with a JSON merge patch (null
// removes a label), as field manager meshctl.
func patchLabels(ctx context.Context, kc kubernetes.Interface, ns string, c LabelChange) error {
	lbls := map[string]any{}
	for k, v := range c.Set {
		lbls[k] = v
	}
	for _, k := range c.Remove {
		lbls[k] = nil
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": lbls}})
	if err != nil {
		return err
	}
	if _, err := kc.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, body, metav1.PatchOptions{FieldManager: kube.FieldManager}); err != nil {
		return fmt.Errorf("label namespace %s: %w", ns, err)
	}
	return nil
}

// restart does what `kubectl rollout restart` does: a strategic merge patch
// of the pod template's restartedAt annotation.
func restart(ctx context.Context, kc kubernetes.Interface, ns string, w *workload, at string) error {
	body, err := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{AnnotationRestartedAt: at}}}}})
	if err != nil {
		return err
	}
	opts := metav1.PatchOptions{FieldManager: kube.FieldManager}
	apps := kc.AppsV1()
	switch w.Kind {
	case KindDeployment:
		_, err = apps.Deployments(ns).Patch(ctx, w.Name, types.StrategicMergePatchType, body, opts)
	case KindStatefulSet:
		_, err = apps.StatefulSets(ns).Patch(ctx, w.Name, types.StrategicMergePatchType, body, opts)
	case KindDaemonSet:
		_, err = apps.DaemonSets(ns).Patch(ctx, w.Name, types.StrategicMergePatchType, body, opts)
	default:
		err = fmt.Errorf("unknown kind %s", w.Kind)
	}
	if err != nil {
		return fmt.Errorf("restart %s: %w", w.ref(), err)
	}
	return nil
}
