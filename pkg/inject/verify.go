package inject

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/meshctl/meshctl/pkg/mesh"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
)

// AnnotationRestartedAt is the pod template annotation `kubectl rollout
// restart` sets; meshctl restarts the same way.
const AnnotationRestartedAt = "kubectl.kubernetes.io/restartedAt"

// Want, Problem and Reason are pkg/mesh's: inject and validate judge a pod's
// proxy by the same rules (mesh.CheckPod).
type (
	Want    = mesh.Want
	Problem = mesh.Problem
	Reason  = mesh.Reason
)

// Reasons of workloads and rollouts. A pod's own reasons (NoProxy,
// WrongRevision, UnexpectedProxy, OptedOut, HostNetwork) are mesh's. The
// values are stable: scripts key on them.
const (
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
		switch pr := mesh.CheckPod(p, want); {
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
