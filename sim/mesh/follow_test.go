package mesh

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/meshctl/meshctl/sim/proc"
	"github.com/meshctl/meshctl/sim/state"
)

// TestIstiodFollowsItsDeployment: deleting a revision's istiod Deployment
// stops that revision's local istiod, and only that one.
func TestIstiodFollowsItsDeployment(t *testing.T) {
	dir := state.Dir(t.TempDir())
	if err := os.MkdirAll(dir.Logs(), 0o755); err != nil {
		t.Fatal(err)
	}
	kc := fake.NewClientset()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, rev := range []string{"asm-1", "asm-2", "asm-managed"} {
		// A stand-in for pilot-discovery: a process that runs until stopped.
		pid, _, err := dir.Pids().Start(proc.Spec{Name: "istiod-" + rev, Path: "sleep", Args: []string{"300"}, LogFile: dir.Log("istiod-" + rev)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = dir.Pids().Stop("istiod-"+rev, time.Second) })
		if err := dir.SaveIstiod(state.Istiod{Revision: rev, Cluster: "meshsim", Pid: pid}); err != nil {
			t.Fatal(err)
		}
		if rev == "asm-managed" {
			continue // Google hosts it: no Deployment
		}
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: IstiodName(rev), Namespace: "istio-system",
			Labels: map[string]string{"app": "istiod", "istio.io/rev": rev}}}
		if _, err := kc.AppsV1().Deployments("istio-system").Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	following := make(chan struct{})
	logf := func(format string, args ...any) {
		if strings.HasPrefix(format, "following") {
			close(following)
		}
		t.Logf(format, args...)
	}
	go func() { _ = FollowIstiodDeployments(ctx, dir, kc, "meshsim", logf) }()
	select {
	case <-following:
	case <-time.After(10 * time.Second):
		t.Fatal("the follower did not read the Deployments")
	}
	if err := kc.AppsV1().Deployments("istio-system").Delete(ctx, IstiodName("asm-1"), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	// The follower notes the stop in the istiod's log once it is done.
	for {
		if b, _ := os.ReadFile(dir.Log("istiod-asm-1")); strings.Contains(string(b), "istiod-asm-1 Deployment was deleted") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("istiod-asm-1 still runs after its Deployment was deleted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, running := dir.Pids().Running("istiod-asm-1"); running {
		t.Error("istiod-asm-1 still runs")
	}
	for _, rev := range []string{"asm-2", "asm-managed"} {
		if _, running := dir.Pids().Running("istiod-" + rev); !running {
			t.Errorf("istiod-%s stopped too", rev)
		}
	}
	left, _ := dir.Istiods()
	if len(left) != 2 {
		t.Errorf("records left: %+v", left)
	}
}
