package inject

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshctl/meshctl/internal/ui"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func ptr[T any](v T) *T { return &v }

func TestRolloutStatusLikeKubectl(t *testing.T) {
	dep := func(mod func(*appsv1.Deployment)) runtime.Object {
		d := deployment("ns", "web", 3)
		mod(d)
		return d
	}
	sts := func(mod func(*appsv1.StatefulSet)) runtime.Object {
		s := statefulSet("ns", "db", 3)
		mod(s)
		return s
	}
	ds := func(mod func(*appsv1.DaemonSet)) runtime.Object {
		d := daemonSet("ns", "agent", 3)
		mod(d)
		return d
	}
	tests := []struct {
		name string
		obj  runtime.Object
		done bool
		msg  string // substring of the message, or of the error when fails
		fail bool
	}{
		{"deployment rolled out", dep(func(*appsv1.Deployment) {}), true, "successfully rolled out", false},
		{"deployment spec not observed", dep(func(d *appsv1.Deployment) { d.Generation = 2 }), false, "spec update to be observed", false},
		{"deployment updating", dep(func(d *appsv1.Deployment) { d.Status.UpdatedReplicas = 1 }), false, "1 out of 3 new replicas", false},
		{"deployment old replicas left", dep(func(d *appsv1.Deployment) { d.Status.Replicas = 4 }), false, "1 old replicas are pending termination", false},
		{"deployment not available", dep(func(d *appsv1.Deployment) { d.Status.AvailableReplicas = 2 }), false, "2 of 3 updated replicas are available", false},
		{"deployment past its deadline", dep(func(d *appsv1.Deployment) {
			d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Reason: "ProgressDeadlineExceeded", Message: "ReplicaSet web-1 has timed out progressing."}}
		}), false, "exceeded its progress deadline", true},
		{"statefulset rolled out", sts(func(*appsv1.StatefulSet) {}), true, "rolling update complete", false},
		{"statefulset never observed", sts(func(s *appsv1.StatefulSet) { s.Status.ObservedGeneration = 0 }), false, "spec update to be observed", false},
		{"statefulset pods not ready", sts(func(s *appsv1.StatefulSet) { s.Status.ReadyReplicas = 1 }), false, "waiting for 2 pods to be ready", false},
		{"statefulset revisions differ", sts(func(s *appsv1.StatefulSet) { s.Status.UpdateRevision = "db-2"; s.Status.UpdatedReplicas = 1 }),
			false, "1 pods at revision db-2", false},
		{"statefulset partition done", sts(func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr(int32(1))}
			s.Status.UpdatedReplicas = 2
			s.Status.UpdateRevision = "db-2"
		}), true, "partitioned roll out complete", false},
		{"statefulset partition pending", sts(func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr(int32(0))}
			s.Status.UpdatedReplicas = 2
		}), false, "2 out of 3 new pods", false},
		{"statefulset OnDelete", sts(func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType }),
			false, "only available for the RollingUpdate strategy", true},
		{"daemonset rolled out", ds(func(*appsv1.DaemonSet) {}), true, "successfully rolled out", false},
		{"daemonset updating", ds(func(d *appsv1.DaemonSet) { d.Status.UpdatedNumberScheduled = 1 }), false, "1 out of 3 new pods", false},
		{"daemonset not available", ds(func(d *appsv1.DaemonSet) { d.Status.NumberAvailable = 2 }), false, "2 of 3 updated pods are available", false},
		{"daemonset spec not observed", ds(func(d *appsv1.DaemonSet) { d.Generation = 5 }), false, "spec update to be observed", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, done, err := rolloutStatus(tt.obj)
			if tt.fail {
				if err == nil || !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("err = %v, want one containing %q", err, tt.msg)
				}
				return
			}
			if err != nil || done != tt.done || !strings.Contains(msg, tt.msg) {
				t.Errorf("= %q, %v, %v; want %q, %v", msg, done, err, tt.msg, tt.done)
			}
		})
	}
}

// newProgress returns a progress that records into a Recorder.
func newProgress(total int) (*progress, *ui.Recorder) {
	rec := &ui.Recorder{}
	return &progress{step: rec.Step("roll out"), total: total}, rec
}

func TestWaitRolloutsWatchesUntilDone(t *testing.T) {
	started := func(d *appsv1.Deployment) { d.Generation = 2 } // patched, not yet observed
	c := newFakeCluster(t, deployment("shop", "web", 2, started), deployment("shop", "api", 1, started),
		deployment("shop", "unrelated", 1, started), statefulSet("shop", "db", 1))
	// The controller finishes the rollouts after a while. It writes again
	// and again, as a controller's status updates do, so the test does not
	// depend on when the watch starts.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const delay = 300 * time.Millisecond
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(delay)
		for ctx.Err() == nil {
			for _, name := range []string{"web", "api"} {
				d, err := c.AppsV1().Deployments("shop").Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return
				}
				d.Status.ObservedGeneration = d.Generation
				d.ResourceVersion = ""
				_, _ = c.AppsV1().Deployments("shop").UpdateStatus(ctx, d, metav1.UpdateOptions{})
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	web := &rollout{kind: KindDeployment, name: "web", result: &WorkloadResult{}}
	api := &rollout{kind: KindDeployment, name: "api", result: &WorkloadResult{}}
	db := &rollout{kind: KindStatefulSet, name: "db", result: &WorkloadResult{}}
	prog, rec := newProgress(3)
	start := time.Now()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	waitRollouts(wctx, c, "shop", []*rollout{web, api, db}, prog)
	took := time.Since(start)
	cancel()
	wg.Wait()

	if took < delay {
		t.Errorf("wait returned after %s, before the controller finished (%s)", took, delay)
	}
	if took > 5*time.Second {
		t.Errorf("wait took %s", took)
	}
	for _, r := range []*rollout{web, api, db} {
		if !r.done || len(r.result.Problems) > 0 {
			t.Errorf("%s: done %v problems %v", r.name, r.done, r.result.Problems)
		}
	}
	if prog.done != 3 || prog.failed != 0 {
		t.Errorf("progress %d done, %d failed; want 3, 0", prog.done, prog.failed)
	}
	if got := rec.Lines(); !strings.Contains(strings.Join(got, "\n"), "3/3 workloads rolled out") {
		t.Errorf("progress lines %v", got)
	}
	// Watches, not polling: one list and one watch per kind.
	verbs := map[string]int{}
	for _, a := range c.Actions() {
		if a.GetResource().Resource == "deployments" || a.GetResource().Resource == "statefulsets" {
			verbs[a.GetVerb()+" "+a.GetResource().Resource]++
		}
	}
	for _, v := range []string{"list deployments", "watch deployments", "list statefulsets", "watch statefulsets"} {
		if verbs[v] != 1 {
			t.Errorf("%s: %d times, want 1 (all: %v)", v, verbs[v], verbs)
		}
	}
}

func TestWaitRolloutsReportsStuckAndFailed(t *testing.T) {
	stuck := deployment("shop", "stuck", 3, func(d *appsv1.Deployment) { d.Status.AvailableReplicas = 1 })
	dead := deployment("shop", "dead", 1, func(d *appsv1.Deployment) {
		d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Reason: "ProgressDeadlineExceeded"}}
	})
	c := newFakeCluster(t, stuck, dead)
	rs := []*rollout{
		{kind: KindDeployment, name: "stuck", result: &WorkloadResult{}},
		{kind: KindDeployment, name: "dead", result: &WorkloadResult{}},
		{kind: KindDaemonSet, name: "gone", result: &WorkloadResult{}},
	}
	prog, _ := newProgress(3)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	waitRollouts(ctx, c, "shop", rs, prog)

	want := map[string]string{
		"stuck": "RolloutStuck: rollout not finished in time: 1 of 3 updated replicas are available",
		"dead":  `RolloutFailed: deployment "dead" exceeded its progress deadline`,
		"gone":  "RolloutStuck: rollout not finished in time: waiting for the rollout to start",
	}
	for _, r := range rs {
		if len(r.result.Problems) != 1 {
			t.Errorf("%s: problems %v", r.name, r.result.Problems)
			continue
		}
		p := r.result.Problems[0]
		if got := string(p.Reason) + ": " + p.Message; !strings.HasPrefix(got, want[r.name]) {
			t.Errorf("%s: %q, want %q", r.name, got, want[r.name])
		}
	}
	if prog.done != 3 || prog.failed != 3 {
		t.Errorf("progress %d done %d failed, want 3 and 3", prog.done, prog.failed)
	}
}

func TestWaitContextLeavesTimeToReport(t *testing.T) {
	parent, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	ctx, stop := waitContext(parent, 0)
	defer stop()
	dl, _ := ctx.Deadline()
	pdl, _ := parent.Deadline()
	if left := pdl.Sub(dl); left < 9*time.Second || left > 16*time.Second {
		t.Errorf("wait ends %s before the command's deadline, want about 10s", left)
	}
	ctx2, stop2 := waitContext(parent, time.Second)
	defer stop2()
	if dl2, _ := ctx2.Deadline(); time.Until(dl2) > time.Second {
		t.Errorf("explicit wait timeout not applied")
	}
}
