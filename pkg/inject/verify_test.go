package inject

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestProxyOf(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	tests := []struct {
		name string
		pod  *corev1.Pod
		want Proxy
	}{
		{"native sidecar in init containers", pod("ns", "p", "ReplicaSet", "rs", "asm-1"),
			Proxy{Injected: true, Native: true, Revision: "asm-1"}},
		{"classic sidecar in containers, revision from the label", &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{LabelRevision: "asm-0"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}, {Name: ProxyContainer}}}},
			Proxy{Injected: true, Revision: "asm-0"}},
		{"the injector's record wins over the label", &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{LabelRevision: "stale"},
				Annotations: map[string]string{AnnotationStatus: `{"revision":"asm-2"}`}},
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: ProxyContainer, RestartPolicy: &always}}}},
			Proxy{Injected: true, Native: true, Revision: "asm-2"}},
		{"an init container named otherwise is not the proxy", &corev1.Pod{
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "istio-init"}}}}, Proxy{}},
		{"no sidecar; a left-over annotation does not count", &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationStatus: `{"revision":"asm-1"}`}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}}, Proxy{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ProxyOf(tt.pod); got != tt.want {
				t.Errorf("ProxyOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCheckPod(t *testing.T) {
	plain := pod("ns", "p", "ReplicaSet", "rs", "")
	optedOut := plain.DeepCopy()
	optedOut.Annotations = map[string]string{AnnotationInject: "false"}
	optedOutLabel := plain.DeepCopy()
	optedOutLabel.Labels = map[string]string{AnnotationInject: "false"}
	hostNet := plain.DeepCopy()
	hostNet.Spec.HostNetwork = true
	tests := []struct {
		name   string
		pod    *corev1.Pod
		want   Want
		reason Reason // "" for no problem
	}{
		{"right revision", pod("ns", "p", "ReplicaSet", "rs", "asm-2"), Want{Revision: "asm-2"}, ""},
		{"older revision", pod("ns", "p", "ReplicaSet", "rs", "asm-1"), Want{Revision: "asm-2"}, ReasonWrongRevision},
		{"no proxy", plain, Want{Revision: "asm-2"}, ReasonNoProxy},
		{"opted out by annotation", optedOut, Want{Revision: "asm-2"}, ReasonOptedOut},
		{"opted out by label", optedOutLabel, Want{Revision: "asm-2"}, ReasonOptedOut},
		{"host network", hostNet, Want{Revision: "asm-2"}, ReasonHostNetwork},
		{"proxy where none is wanted", pod("ns", "p", "ReplicaSet", "rs", "asm-1"), Want{}, ReasonUnexpectedProxy},
		{"none wanted, none there", plain, Want{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckPod(tt.pod, tt.want)
			switch {
			case tt.reason == "" && got != nil:
				t.Errorf("CheckPod = %+v, want no problem", got)
			case tt.reason != "" && (got == nil || got.Reason != tt.reason):
				t.Errorf("CheckPod = %+v, want reason %s", got, tt.reason)
			case got != nil && got.Pod != "p":
				t.Errorf("problem names pod %q, want p", got.Pod)
			}
		})
	}
}

func TestWantFor(t *testing.T) {
	revs := Revisions{Names: []string{"asm-1", "default"}, Tags: map[string]string{"prod": "asm-1"}}
	tests := []struct {
		labels map[string]string
		want   Want
		ok     bool
	}{
		{map[string]string{LabelRevision: "asm-1"}, Want{Revision: "asm-1"}, true},
		{map[string]string{LabelRevision: "prod"}, Want{Revision: "asm-1"}, true},
		{map[string]string{LabelRevision: "gone"}, Want{Revision: ""}, false},
		{map[string]string{LabelInjection: "enabled", LabelRevision: "asm-1"}, Want{Revision: "default"}, true},
		{map[string]string{LabelInjection: "disabled"}, Want{}, true},
		{nil, Want{}, false},
	}
	for _, tt := range tests {
		got, ok := WantFor(namespace("x", tt.labels), revs)
		if got != tt.want || ok != tt.ok {
			t.Errorf("WantFor(%v) = %+v, %v; want %+v, %v", tt.labels, got, ok, tt.want, tt.ok)
		}
	}
}

func TestVerifyNamespace(t *testing.T) {
	objs := []runtime.Object{namespace("shop", revLabel("asm-2"))}
	objs = append(objs, withPods(deployment("shop", "good", 2), "asm-2")...)
	objs = append(objs, withPods(deployment("shop", "old", 1), "asm-1")...)
	objs = append(objs, withPods(deployment("shop", "optout", 1, func(d *appsv1.Deployment) {
		d.Spec.Template.Annotations = map[string]string{AnnotationInject: "false"}
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
		{"Deployment/old", ReasonWrongRevision, "revision asm-1; want asm-2"},
		{"Deployment/broken", ReasonWebhookFailed, "2 of 2 pods missing: Error creating"},
		{"StatefulSet/db", ReasonNoProxy, "no istio-proxy"},
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
