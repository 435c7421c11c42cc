package inject

import (
	"context"
	"strings"
	"testing"

	"github.com/meshctl/meshctl/pkg/mesh"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestVerifyNamespace(t *testing.T) {
	objs := []runtime.Object{namespace("shop", revLabel("asm-2"))}
	objs = append(objs, withPods(deployment("shop", "good", 2), "asm-2")...)
	objs = append(objs, withPods(deployment("shop", "old", 1), "asm-1")...)
	objs = append(objs, withPods(deployment("shop", "optout", 1, func(d *appsv1.Deployment) {
		d.Spec.Template.Annotations = map[string]string{mesh.AnnotationInject: "false"}
	}), "")...)
	// broken wants 2 pods, has none: its ReplicaSet cannot create them.
	objs = append(objs, deployment("shop", "broken", 2), replicaSet("shop", "broken", "xyz"),
		&corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "e1"},
			InvolvedObject: corev1.ObjectReference{Kind: "ReplicaSet", Name: "broken-xyz"}, Reason: "FailedCreate",
			Message: `Error creating: Internal error occurred: failed calling webhook "rev.namespace.sidecar-injector.istio.io"`})
	objs = append(objs, statefulSet("shop", "db", 1), pod("shop", "db-0", KindStatefulSet, "db", ""))
	// cache's pod has the sidecar but no room on any node.
	pending := pod("shop", "cache-0", KindStatefulSet, "cache", "asm-2")
	pending.Status = corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled,
		Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: "0/6 nodes are available: 6 Insufficient cpu."}}}
	objs = append(objs, statefulSet("shop", "cache", 1), pending)
	c := newFakeCluster(t, objs...)

	got, err := VerifyNamespace(context.Background(), c, "shop", Want{Revision: "asm-2"})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]WorkloadStatus{}
	for _, s := range got {
		byName[s.Kind+"/"+s.Name] = s
	}
	if _, ok := byName["Deployment/optout"]; ok {
		t.Errorf("opted-out workload was verified: %+v", got)
	}
	checks := []struct {
		workload string
		reason   Reason
		contains string
	}{
		{"Deployment/good", "", ""},
		{"Deployment/old", mesh.ReasonWrongRevision, "revision asm-1; want asm-2"},
		{"Deployment/broken", ReasonWebhookFailed, "2 of 2 pods missing: Error creating"},
		{"StatefulSet/db", mesh.ReasonNoProxy, "no istio-proxy"},
		{"StatefulSet/cache", ReasonUnschedulable, "6 Insufficient cpu"},
	}
	for _, c := range checks {
		s, ok := byName[c.workload]
		if !ok {
			t.Errorf("%s not verified", c.workload)
			continue
		}
		if c.reason == "" {
			if !s.Converged() || s.OK != s.Pods {
				t.Errorf("%s: %+v, want converged", c.workload, s)
			}
			continue
		}
		if s.Converged() || s.Problems[0].Reason != c.reason || !strings.Contains(s.Problems[0].Message, c.contains) {
			t.Errorf("%s: problems %+v, want %s containing %q", c.workload, s.Problems, c.reason, c.contains)
		}
	}
}
