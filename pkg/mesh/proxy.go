package mesh

import (
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Proxy is what a pod runs of Istio's proxy.
type Proxy struct {
	// Injected is true when the pod has an istio-proxy container.
	Injected bool `json:"injected"`
	// Native is true when istio-proxy is a native sidecar (an init container
	// with restartPolicy Always).
	Native bool `json:"native,omitempty"`
	// Revision is the revision that injected it, from the injector's status
	// annotation, else the pod's istio.io/rev label; empty when unknown.
	Revision string `json:"revision,omitempty"`
}

// ProxyOf reports the proxy pod runs, looking in both init containers
// (native sidecars) and containers.
func ProxyOf(pod *corev1.Pod) Proxy {
	var p Proxy
	for _, c := range pod.Spec.InitContainers {
		if c.Name == ProxyContainer {
			p.Injected = true
			p.Native = c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		}
	}
	for _, c := range pod.Spec.Containers {
		if c.Name == ProxyContainer {
			p.Injected = true
		}
	}
	if !p.Injected {
		return p
	}
	if s := pod.Annotations[AnnotationStatus]; s != "" {
		var st struct {
			Revision string `json:"revision"`
		}
		if json.Unmarshal([]byte(s), &st) == nil {
			p.Revision = st.Revision
		}
	}
	if p.Revision == "" {
		p.Revision = pod.Labels[LabelRevision]
	}
	return p
}

// GatewayInjected reports whether the injector filled in a gateway pod from
// Istio's gateway template: it records itself in sidecar.istio.io/status,
// and istio-proxy, a regular container for gateways, has a real image
// rather than the template's placeholder "auto" (a pod the injector missed
// never runs).
func GatewayInjected(p *corev1.Pod) bool {
	if p.Annotations[AnnotationStatus] == "" {
		return false
	}
	for _, c := range p.Spec.Containers {
		if c.Name == ProxyContainer {
			return c.Image != "" && c.Image != "auto"
		}
	}
	return false
}

// OptedOut reports whether m (a pod or pod template) opts out of injection,
// by annotation or label.
func OptedOut(m *metav1.ObjectMeta) bool {
	return strings.EqualFold(m.Annotations[AnnotationInject], "false") || strings.EqualFold(m.Labels[AnnotationInject], "false")
}

// Want is the proxy state pods should be in.
type Want struct {
	// Revision is the control-plane revision whose istio-proxy every pod
	// must run (the revision, not a tag). Empty means no istio-proxy at all.
	Revision string `json:"revision,omitempty"`
}

// String describes w for messages.
func (w Want) String() string {
	if w.Revision == "" {
		return "no sidecar"
	}
	return "istio-proxy of revision " + w.Revision
}

// Reason says why a pod (or a workload) is not in the wanted state. The
// values are stable: scripts and `meshctl validate` key on them.
type Reason string

// Reasons a pod shows on its own; pkg/inject adds those of workloads and
// rollouts.
const (
	// ReasonNoProxy: the pod has no istio-proxy.
	ReasonNoProxy Reason = "NoProxy"
	// ReasonWrongRevision: the pod's istio-proxy is of another revision.
	ReasonWrongRevision Reason = "WrongRevision"
	// ReasonUnexpectedProxy: the pod has istio-proxy where none is wanted.
	ReasonUnexpectedProxy Reason = "UnexpectedProxy"
	// ReasonOptedOut: the pod (template) carries sidecar.istio.io/inject=false.
	ReasonOptedOut Reason = "OptedOut"
	// ReasonHostNetwork: the pod uses the host network; Istio never injects
	// those.
	ReasonHostNetwork Reason = "HostNetwork"
)

// Problem is one thing wrong with a workload, or with one of its pods.
type Problem struct {
	// Pod names the pod, when the problem is about one.
	Pod     string `json:"pod,omitempty"`
	Reason  Reason `json:"reason"`
	Message string `json:"message"`
}

// CheckPod compares pod's proxy with want and returns the problem, or nil
// when the pod is as wanted. The reason names the cause when the pod shows
// it (opted out, host network) rather than only the symptom.
func CheckPod(pod *corev1.Pod, want Want) *Problem {
	p := ProxyOf(pod)
	switch {
	case want.Revision == "" && p.Injected:
		return &Problem{Pod: pod.Name, Reason: ReasonUnexpectedProxy,
			Message: fmt.Sprintf("runs istio-proxy%s; want no sidecar", revisionSuffix(p.Revision))}
	case want.Revision == "":
		return nil
	case !p.Injected:
		return missingProxy(pod)
	case p.Revision != want.Revision:
		got := p.Revision
		if got == "" {
			got = "unknown"
		}
		return &Problem{Pod: pod.Name, Reason: ReasonWrongRevision,
			Message: fmt.Sprintf("istio-proxy of revision %s; want %s", got, want.Revision)}
	}
	return nil
}

// CheckPodInjected is CheckPod for a pod that must run istio-proxy of any
// revision (its namespace asks for one that is not installed).
func CheckPodInjected(pod *corev1.Pod) *Problem {
	if ProxyOf(pod).Injected {
		return nil
	}
	return missingProxy(pod)
}

func missingProxy(pod *corev1.Pod) *Problem {
	reason, why := ReasonNoProxy, "no istio-proxy"
	if OptedOut(&pod.ObjectMeta) {
		reason, why = ReasonOptedOut, "no istio-proxy: opted out with "+AnnotationInject+"=false"
	} else if pod.Spec.HostNetwork {
		reason, why = ReasonHostNetwork, "no istio-proxy: Istio does not inject pods on the host network"
	}
	return &Problem{Pod: pod.Name, Reason: reason, Message: why}
}

func revisionSuffix(rev string) string {
	if rev == "" {
		return ""
	}
	return " (revision " + rev + ")"
}
