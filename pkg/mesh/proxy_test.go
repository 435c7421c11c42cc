package mesh

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// injectedPod runs a native istio-proxy sidecar of rev, as Istio injects it
// on Kubernetes 1.29 and later; rev "" gives a pod without one.
func injectedPod(rev string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}}
	if rev != "" {
		always := corev1.ContainerRestartPolicyAlways
		p.Annotations = map[string]string{AnnotationStatus: `{"initContainers":["istio-proxy"],"revision":"` + rev + `"}`}
		p.Spec.InitContainers = []corev1.Container{{Name: ProxyContainer, RestartPolicy: &always}}
	}
	return p
}

func TestProxyOf(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	tests := []struct {
		name string
		pod  *corev1.Pod
		want Proxy
	}{
		{"native sidecar in init containers", injectedPod("asm-1"), Proxy{Injected: true, Native: true, Revision: "asm-1"}},
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
	plain := injectedPod("")
	optedOut := plain.DeepCopy()
	optedOut.Annotations = map[string]string{AnnotationInject: "false"}
	optedOutLabel := plain.DeepCopy()
	optedOutLabel.Labels = map[string]string{AnnotationInject: "False"}
	hostNet := plain.DeepCopy()
	hostNet.Spec.HostNetwork = true
	tests := []struct {
		name   string
		pod    *corev1.Pod
		want   Want
		reason Reason // "" for no problem
	}{
		{"right revision", injectedPod("asm-2"), Want{Revision: "asm-2"}, ""},
		{"older revision", injectedPod("asm-1"), Want{Revision: "asm-2"}, ReasonWrongRevision},
		{"no proxy", plain, Want{Revision: "asm-2"}, ReasonNoProxy},
		{"opted out by annotation", optedOut, Want{Revision: "asm-2"}, ReasonOptedOut},
		{"opted out by label", optedOutLabel, Want{Revision: "asm-2"}, ReasonOptedOut},
		{"host network", hostNet, Want{Revision: "asm-2"}, ReasonHostNetwork},
		{"proxy where none is wanted", injectedPod("asm-1"), Want{}, ReasonUnexpectedProxy},
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
	if got := CheckPodInjected(injectedPod("asm-9")); got != nil {
		t.Errorf("CheckPodInjected(a proxy of any revision) = %+v", got)
	}
	if got := CheckPodInjected(optedOut); got == nil || got.Reason != ReasonOptedOut {
		t.Errorf("CheckPodInjected(opted out) = %+v", got)
	}
}

func TestGatewayInjected(t *testing.T) {
	gateway := func(image string, status bool) *corev1.Pod {
		p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: ProxyContainer, Image: image}}}}
		if status {
			p.Annotations = map[string]string{AnnotationStatus: `{"containers":["istio-proxy"]}`}
		}
		return p
	}
	for _, tt := range []struct {
		name string
		pod  *corev1.Pod
		want bool
	}{
		{"filled in from the gateway template", gateway("gcr.io/istio/proxyv2:1.26", true), true},
		{"missed by the injector: image auto", gateway("auto", false), false},
		{"status without a real image", gateway("auto", true), false},
		{"no istio-proxy at all", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationStatus: "{}"}}}, false},
	} {
		if got := GatewayInjected(tt.pod); got != tt.want {
			t.Errorf("%s: GatewayInjected = %v, want %v", tt.name, got, tt.want)
		}
	}
}
