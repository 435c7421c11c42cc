package inject

import (
	"context"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// rollout is one restarted workload being waited for.
type rollout struct {
	kind, name string
	result     *WorkloadResult
	// done: rolled out; err: failed for good; msg: the latest status, for
	// a rollout that runs out of time.
	done bool
	err  error
	msg  string
}

// waitRollouts waits until every rollout in namespace ns is finished or has
// failed, or ctx ends, the way `kubectl rollout status` judges them. It
// watches (one informer per kind in the namespace) rather than polls, so
// many namespaces at once cost a few watches each, not a stream of GETs.
// Rollouts still running when ctx ends get a RolloutStuck problem.
func waitRollouts(ctx context.Context, kc kubernetes.Interface, ns string, rollouts []*rollout, prog *progress) {
	byKind := map[string]map[string]*rollout{}
	for _, r := range rollouts {
		if byKind[r.kind] == nil {
			byKind[r.kind] = map[string]*rollout{}
		}
		byKind[r.kind][r.name] = r
		r.msg = "waiting for the rollout to start"
	}
	var wg sync.WaitGroup
	for kind, names := range byKind {
		wg.Add(1)
		go func() {
			defer wg.Done()
			waitKind(ctx, kc, ns, kind, names, prog)
		}()
	}
	wg.Wait()
	for _, r := range rollouts {
		switch {
		case r.err != nil:
			r.result.Problems = append(r.result.Problems, Problem{Reason: ReasonRolloutFailed, Message: r.err.Error()})
		case !r.done:
			r.result.Problems = append(r.result.Problems, Problem{Reason: ReasonRolloutStuck, Message: "rollout not finished in time: " + r.msg})
			prog.finished(false)
		}
	}
}

// waitKind watches one kind's objects in ns until all named ones are
// finished.
func waitKind(ctx context.Context, kc kubernetes.Interface, ns, kind string, names map[string]*rollout, prog *progress) {
	sel := fields.Everything()
	if len(names) == 1 {
		for n := range names {
			sel = fields.OneTermEqualSelector("metadata.name", n)
		}
	}
	lw, obj := listWatch(kc, ns, kind, sel.String())
	pending := len(names)
	cond := func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Error || ev.Type == watch.Bookmark {
			return false, nil
		}
		m, err := metaOf(ev.Object)
		if err != nil {
			return false, nil
		}
		r := names[m.GetName()]
		if r == nil || r.done || r.err != nil {
			return pending == 0, nil
		}
		if ev.Type == watch.Deleted {
			r.err = fmt.Errorf("%s was deleted during the rollout", kind)
		} else {
			r.msg, r.done, r.err = rolloutStatus(ev.Object)
		}
		if r.done || r.err != nil {
			pending--
			prog.finished(r.done)
		}
		return pending == 0, nil
	}
	// The error is ctx's end (or a watch failure that outlived the
	// retries); the rollouts not finished say so themselves.
	_, _ = watchtools.UntilWithSync(ctx, lw, obj, nil, cond)
}

func metaOf(o runtime.Object) (metav1.Object, error) {
	switch v := o.(type) {
	case *appsv1.Deployment:
		return v, nil
	case *appsv1.StatefulSet:
		return v, nil
	case *appsv1.DaemonSet:
		return v, nil
	}
	return nil, fmt.Errorf("unexpected object %T", o)
}

// listWatch lists and watches one kind of workload in ns.
func listWatch(kc kubernetes.Interface, ns, kind, fieldSelector string) (cache.ListerWatcher, runtime.Object) {
	apps := kc.AppsV1()
	var (
		list    func(context.Context, metav1.ListOptions) (runtime.Object, error)
		watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error)
		obj     runtime.Object
	)
	switch kind {
	case KindDeployment:
		c := apps.Deployments(ns)
		list = func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) }
		watchFn, obj = c.Watch, &appsv1.Deployment{}
	case KindStatefulSet:
		c := apps.StatefulSets(ns)
		list = func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) }
		watchFn, obj = c.Watch, &appsv1.StatefulSet{}
	default:
		c := apps.DaemonSets(ns)
		list = func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) }
		watchFn, obj = c.Watch, &appsv1.DaemonSet{}
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = fieldSelector
			return list(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = fieldSelector
			return watchFn(ctx, o)
		},
	}
	// Passes on whether kc can stream the initial list in the watch
	// (fakes cannot).
	return cache.ToListWatcherWithWatchListSemantics(lw, kc), obj
}

// rolloutStatus judges a workload's rollout as `kubectl rollout status`
// does: msg describes the state, done says it finished, err that it failed
// for good.
func rolloutStatus(o runtime.Object) (msg string, done bool, err error) {
	switch v := o.(type) {
	case *appsv1.Deployment:
		return deploymentStatus(v)
	case *appsv1.StatefulSet:
		return statefulSetStatus(v)
	case *appsv1.DaemonSet:
		return daemonSetStatus(v)
	}
	return "", false, fmt.Errorf("unexpected object %T", o)
}

func deploymentStatus(d *appsv1.Deployment) (string, bool, error) {
	if d.Generation > d.Status.ObservedGeneration {
		return "waiting for the deployment spec update to be observed", false, nil
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return "", false, fmt.Errorf("deployment %q exceeded its progress deadline: %s", d.Name, c.Message)
		}
	}
	st := d.Status
	switch {
	case d.Spec.Replicas != nil && st.UpdatedReplicas < *d.Spec.Replicas:
		return fmt.Sprintf("%d out of %d new replicas have been updated", st.UpdatedReplicas, *d.Spec.Replicas), false, nil
	case st.Replicas > st.UpdatedReplicas:
		return fmt.Sprintf("%d old replicas are pending termination", st.Replicas-st.UpdatedReplicas), false, nil
	case st.AvailableReplicas < st.UpdatedReplicas:
		return fmt.Sprintf("%d of %d updated replicas are available", st.AvailableReplicas, st.UpdatedReplicas), false, nil
	}
	return "successfully rolled out", true, nil
}

func statefulSetStatus(s *appsv1.StatefulSet) (string, bool, error) {
	if s.Spec.UpdateStrategy.Type != "" && s.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		return "", false, fmt.Errorf("rollout status is only available for the RollingUpdate strategy (statefulset %q uses %s)", s.Name, s.Spec.UpdateStrategy.Type)
	}
	st := s.Status
	if st.ObservedGeneration == 0 || s.Generation > st.ObservedGeneration {
		return "waiting for the statefulset spec update to be observed", false, nil
	}
	if s.Spec.Replicas != nil && st.ReadyReplicas < *s.Spec.Replicas {
		return fmt.Sprintf("waiting for %d pods to be ready", *s.Spec.Replicas-st.ReadyReplicas), false, nil
	}
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil && s.Spec.Replicas != nil {
		if want := *s.Spec.Replicas - *ru.Partition; st.UpdatedReplicas < want {
			return fmt.Sprintf("partitioned roll out: %d out of %d new pods have been updated", st.UpdatedReplicas, want), false, nil
		}
		return "partitioned roll out complete", true, nil
	}
	if st.UpdateRevision != st.CurrentRevision {
		return fmt.Sprintf("waiting for the rolling update to complete: %d pods at revision %s", st.UpdatedReplicas, st.UpdateRevision), false, nil
	}
	return "rolling update complete", true, nil
}

func daemonSetStatus(d *appsv1.DaemonSet) (string, bool, error) {
	if d.Spec.UpdateStrategy.Type != "" && d.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType {
		return "", false, fmt.Errorf("rollout status is only available for the RollingUpdate strategy (daemonset %q uses %s)", d.Name, d.Spec.UpdateStrategy.Type)
	}
	if d.Generation > d.Status.ObservedGeneration {
		return "waiting for the daemonset spec update to be observed", false, nil
	}
	st := d.Status
	switch {
	case st.UpdatedNumberScheduled < st.DesiredNumberScheduled:
		return fmt.Sprintf("%d out of %d new pods have been updated", st.UpdatedNumberScheduled, st.DesiredNumberScheduled), false, nil
	case st.NumberAvailable < st.DesiredNumberScheduled:
		return fmt.Sprintf("%d of %d updated pods are available", st.NumberAvailable, st.DesiredNumberScheduled), false, nil
	}
	return "successfully rolled out", true, nil
}
