package mesh

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// WorkloadOf names a pod's workload as "Deployment/NAME" (through its
// ReplicaSet's pod-template-hash) or "KIND/NAME" of its controller; "" for
// a bare pod or a Job's (a Job is not restarted, its pods are recreated).
func WorkloadOf(p *corev1.Pod) string {
	for _, r := range p.OwnerReferences {
		if r.Controller == nil || !*r.Controller {
			continue
		}
		if r.Kind == "ReplicaSet" {
			if h := p.Labels["pod-template-hash"]; h != "" {
				return "Deployment/" + strings.TrimSuffix(r.Name, "-"+h)
			}
		}
		if r.Kind == "Job" {
			return ""
		}
		return r.Kind + "/" + r.Name
	}
	return ""
}

// Running reports whether a pod counts as running for the mesh: not being
// deleted and not finished.
func Running(p *corev1.Pod) bool {
	return p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}
