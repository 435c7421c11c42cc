package inject

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
)

// Labels and annotations of Istio's injection contract.
const (
	// LabelRevision on a namespace selects the revision whose webhook
	// injects its pods.
	LabelRevision = "istio.io/rev"
	// LabelInjection is the legacy namespace label: "enabled" for the default
	// revision, "disabled" to turn injection off.
	LabelInjection = "istio-injection"
	// AnnotationInject (or the label of the same name) on a pod template set
	// to "false" opts the workload out of injection.
	AnnotationInject = "sidecar.istio.io/inject"
	// AnnotationStatus is the injector's record on an injected pod: a JSON
	// object naming the containers it added and the revision that did it.
	AnnotationStatus = "sidecar.istio.io/status"
	// ProxyContainer is the sidecar's container name. On Kubernetes versions
	// with native sidecars it is an init container with restartPolicy
	// Always; otherwise a regular container.
	ProxyContainer = "istio-proxy"
	// AnnotationRestartedAt is the pod template annotation `kubectl rollout
	// restart` sets; meshctl restarts the same way.
	AnnotationRestartedAt = "kubectl.kubernetes.io/restartedAt"
)

// Want is the sidecar state pods should be in.
type Want struct {
	// Revision is the control-plane revision whose istio-proxy every pod
	// must run (the real revision, not a tag). Empty means pods must run no
	// istio-proxy at all.
	Revision string `json:"revision,omitempty"`
}

// String describes w for messages.
func (w Want) String() string {
	if w.Revision == "" {
		return "no sidecar"
	}
	return "istio-proxy of revision " + w.Revision
}

// Proxy is what a pod runs of Istio's sidecar.
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

// ProxyOf reports the sidecar pod runs, looking in both init containers
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

// Reason says why a workload or pod is not in the wanted state. The values
// are stable: scripts and `meshctl validate` key on them.
type Reason string

// Reasons.
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
	// ReasonWebhookFailed: the controller could not create pods because
	// an admission webhook (typically the injector) failed or refused them.
	ReasonWebhookFailed Reason = "WebhookFailed"
	// ReasonFailedCreate: the controller could not create pods for another
	// reason (quota, policy...); the message is the controller's.
	ReasonFailedCreate Reason = "FailedCreate"
	// ReasonUnschedulable: the pod cannot be scheduled; the message is the
	// scheduler's (e.g. the sidecar's requests no longer fit on any node).
	ReasonUnschedulable Reason = "Unschedulable"
	// ReasonMissingPods: fewer pods exist than the workload wants.
	ReasonMissingPods Reason = "MissingPods"
	// ReasonRolloutStuck: the rollout did not finish in time.
	ReasonRolloutStuck Reason = "RolloutStuck"
	// ReasonRolloutFailed: the rollout failed (progress deadline exceeded,
	// workload deleted...).
	ReasonRolloutFailed Reason = "RolloutFailed"
	// ReasonPaused: a paused Deployment cannot be restarted.
	ReasonPaused Reason = "Paused"
	// ReasonOnDelete: the workload's update strategy is OnDelete, so a
	// restart changes no pods until they are deleted.
	ReasonOnDelete Reason = "OnDelete"
	// ReasonRestartPending: the restart was not done (--no-restart).
	ReasonRestartPending Reason = "RestartPending"
)

// Problem is one thing wrong with a workload, or one of its pods.
type Problem struct {
	// Pod names the pod, when the problem is about one.
	Pod     string `json:"pod,omitempty"`
	Reason  Reason `json:"reason"`
	Message string `json:"message"`
}

// CheckPod compares pod's sidecar with want and returns the problem, or nil
// when the pod is as wanted. The reason names the cause when the pod shows
// it (opted out, host network) rather than only the symptom.
func CheckPod(pod *corev1.Pod, want Want) *Problem {
	p := ProxyOf(pod)
	switch {
	case want.Revision == "" && p.Injected:
		return &Problem{Pod: pod.Name, Reason: ReasonUnexpectedProxy,
			Message: fmt.Sprintf("runs istio-proxy%s; want no sidecar", revSuffix(p.Revision))}
	case want.Revision == "":
		return nil
	case !p.Injected:
		reason, why := ReasonNoProxy, "no istio-proxy"
		if optedOut(&pod.ObjectMeta) {
			reason, why = ReasonOptedOut, "no istio-proxy: opted out with "+AnnotationInject+"=false"
		} else if pod.Spec.HostNetwork {
			reason, why = ReasonHostNetwork, "no istio-proxy: Istio does not inject pods on the host network"
		}
		return &Problem{Pod: pod.Name, Reason: reason, Message: why}
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

func revSuffix(rev string) string {
	if rev == "" {
		return ""
	}
	return " (revision " + rev + ")"
}

// optedOut reports whether m (a pod or pod template) opts out of injection,
// by annotation or label.
func optedOut(m *metav1.ObjectMeta) bool {
	return strings.EqualFold(m.Annotations[AnnotationInject], "false") || strings.EqualFold(m.Labels[AnnotationInject], "false")
}

// WorkloadStatus is the verified state of one workload's pods.
type WorkloadStatus struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Desired is how many pods the workload wants (replicas, or scheduled
	// DaemonSet pods).
	Desired int32 `json:"desired"`
	// Pods counts its pods (not terminating); OK those in the wanted state.
	Pods int `json:"pods"`
	OK   int `json:"ok"`
	// Problems is empty when the workload converged.
	Problems []Problem `json:"problems,omitempty"`
}

// Converged reports whether every pod is in the wanted state and none is
// missing.
func (s WorkloadStatus) Converged() bool { return len(s.Problems) == 0 }

// VerifyNamespace checks every Deployment, StatefulSet and DaemonSet in
// namespace against want and returns one status per workload, sorted by kind
// and name. Workloads opted out of injection are not checked (want says what
// the namespace's label asks for; they asked for nothing). When pods are
// missing, the FailedCreate events of the workload (or its ReplicaSets) give
// the reason, which is how a failing injection webhook shows.
//
// `meshctl validate` and `meshctl inject` share it: WantFor gives want from a
// namespace's labels.
func VerifyNamespace(ctx context.Context, kc kubernetes.Interface, namespace string, want Want) ([]WorkloadStatus, error) {
	snap, err := readNamespace(ctx, kc, namespace)
	if err != nil {
		return nil, err
	}
	var out []WorkloadStatus
	for _, w := range snap.workloads {
		if want.Revision != "" && skipReason(w) != "" {
			continue
		}
		out = append(out, verifyWorkload(w, want))
	}
	if err := explainMissing(ctx, kc, namespace, snap, out); err != nil {
		return out, err
	}
	return out, nil
}

// verifyWorkload checks w's pods against want.
func verifyWorkload(w *workload, want Want) WorkloadStatus {
	st := WorkloadStatus{Kind: w.Kind, Name: w.Name, Desired: w.desired, Pods: len(w.pods)}
	for _, p := range w.pods {
		switch pr := CheckPod(p, want); {
		case pr != nil:
			st.Problems = append(st.Problems, *pr)
		case unschedulable(p) != nil:
			st.Problems = append(st.Problems, *unschedulable(p))
		default:
			st.OK++
		}
	}
	if missing := int(w.desired) - len(w.pods); missing > 0 {
		st.Problems = append(st.Problems, Problem{Reason: ReasonMissingPods,
			Message: fmt.Sprintf("%d of %d pods missing", missing, w.desired)})
	}
	return st
}

// unschedulable returns the scheduler's verdict on a pod it cannot place,
// or nil.
func unschedulable(p *corev1.Pod) *Problem {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return &Problem{Pod: p.Name, Reason: ReasonUnschedulable, Message: c.Message}
		}
	}
	return nil
}

// explainMissing adds the controller's reason to MissingPods and
// RolloutStuck problems when it left a FailedCreate event on the workload
// (or its newest ReplicaSet): WebhookFailed when an admission webhook
// refused the pods, FailedCreate otherwise. A missing-pods problem becomes
// that reason; a stuck rollout gains it as a problem of its own.
func explainMissing(ctx context.Context, kc kubernetes.Interface, namespace string, snap *snapshot, sts []WorkloadStatus) error {
	need := false
	for _, s := range sts {
		for _, p := range s.Problems {
			need = need || p.Reason == ReasonMissingPods || p.Reason == ReasonRolloutStuck
		}
	}
	if !need {
		return nil
	}
	failed, err := failedCreates(ctx, kc, namespace)
	if err != nil {
		return err
	}
	for i := range sts {
		s := &sts[i]
		msg := failed[workloadKey{s.Kind, s.Name}]
		if rs := snap.newestRS[s.Name]; s.Kind == KindDeployment && rs != "" && failed[workloadKey{"ReplicaSet", rs}] != "" {
			msg = failed[workloadKey{"ReplicaSet", rs}]
		}
		if msg == "" {
			continue
		}
		reason := ReasonFailedCreate
		if strings.Contains(msg, "webhook") {
			reason = ReasonWebhookFailed
		}
		replaced, stuck := false, -1
		for j := range s.Problems {
			switch s.Problems[j].Reason {
			case ReasonMissingPods:
				s.Problems[j] = Problem{Reason: reason, Message: s.Problems[j].Message + ": " + msg}
				replaced = true
			case ReasonRolloutStuck:
				stuck = j
			}
		}
		if stuck >= 0 && !replaced {
			s.Problems = slices.Insert(s.Problems, stuck+1, Problem{Reason: reason, Message: "new pods cannot be created: " + msg})
		}
	}
	return nil
}

// failedCreates returns the latest FailedCreate message per involved object
// (kind and name) in namespace.
func failedCreates(ctx context.Context, kc kubernetes.Interface, namespace string) (map[workloadKey]string, error) {
	evs, err := kc.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("reason", "FailedCreate").String(),
	})
	if err != nil {
		return nil, fmt.Errorf("list events in namespace %s: %w", namespace, err)
	}
	items := evs.Items
	sort.SliceStable(items, func(i, j int) bool { return eventTime(&items[i]).Time.Before(eventTime(&items[j]).Time) })
	out := map[workloadKey]string{}
	for _, e := range items {
		if e.Reason != "FailedCreate" { // fakes ignore field selectors
			continue
		}
		out[workloadKey{e.InvolvedObject.Kind, e.InvolvedObject.Name}] = e.Message
	}
	return out, nil
}

func eventTime(e *corev1.Event) metav1.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp
	case !e.EventTime.IsZero():
		return metav1.Time{Time: e.EventTime.Time}
	}
	return e.CreationTimestamp
}

// WantFor returns what namespace's injection labels ask of its pods, with
// revision tags resolved through revs: istio.io/rev=R wants R's proxy,
// istio-injection=enabled the default revision's, istio-injection=disabled
// no proxy. ok is false when the namespace has neither label (injection is
// not managed there) or names a revision revs does not know.
func WantFor(ns *corev1.Namespace, revs Revisions) (want Want, ok bool) {
	inj, hasInj := ns.Labels[LabelInjection]
	rev, hasRev := ns.Labels[LabelRevision]
	switch {
	case hasInj && inj == "disabled":
		return Want{}, true
	case hasInj && inj == "enabled":
		// With both labels the revision webhooks skip the namespace
		// (IST0123); the default revision's injects it.
		return Want{Revision: "default"}, revs.Has("default")
	case hasRev:
		r, known := revs.Resolve(rev)
		return Want{Revision: r}, known
	}
	return Want{}, false
}
