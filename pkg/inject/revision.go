package inject

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// labelTag marks a revision tag's injector webhook (istioctl tag set).
const labelTag = "istio.io/tag"

// Revisions are the control-plane revisions installed in a cluster and the
// revision tags pointing at them.
type Revisions struct {
	// Names are the revisions, sorted.
	Names []string `json:"revisions"`
	// Tags maps a revision tag to the revision it points at.
	Tags map[string]string `json:"tags,omitempty"`
}

// Has reports whether name is a revision or a tag.
func (r Revisions) Has(name string) bool {
	_, ok := r.Resolve(name)
	return ok
}

// Resolve returns the revision name stands for: itself for a revision, the
// target for a tag.
func (r Revisions) Resolve(name string) (string, bool) {
	if slices.Contains(r.Names, name) {
		return name, true
	}
	if rev, ok := r.Tags[name]; ok {
		return rev, true
	}
	return "", false
}

// String lists the revisions and tags for messages, e.g.
// "asm-1, asm-2, prod (tag for asm-2)".
func (r Revisions) String() string {
	parts := slices.Clone(r.Names)
	for _, t := range slices.Sorted(maps.Keys(r.Tags)) {
		parts = append(parts, fmt.Sprintf("%s (tag for %s)", t, r.Tags[t]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// DetectRevisions finds the installed revisions: istiod Deployments
// labelled istio.io/rev (in-cluster control planes) and sidecar-injector
// webhooks labelled istio.io/rev (which managed control planes have too).
// Webhooks also labelled istio.io/tag are revision tags.
func DetectRevisions(ctx context.Context, kc kubernetes.Interface) (Revisions, error) {
	names := map[string]bool{}
	tags := map[string]string{}
	hooks, err := kc.AdmissionregistrationV1().MutatingWebhookConfigurations().List(ctx, metav1.ListOptions{LabelSelector: LabelRevision})
	if err != nil {
		return Revisions{}, fmt.Errorf("list injection webhooks: %w", err)
	}
	for _, h := range hooks.Items {
		rev := h.Labels[LabelRevision]
		if rev == "" {
			continue
		}
		if tag := h.Labels[labelTag]; tag != "" {
			tags[tag] = rev
			continue
		}
		names[rev] = true
	}
	// istiod runs in istio-system for asmcli and istioctl installs; looking
	// across namespaces would need wider permissions for little gain.
	// The webhooks suffice when the caller may not read istio-system.
	deps, err := kc.AppsV1().Deployments("istio-system").List(ctx, metav1.ListOptions{LabelSelector: "app=istiod," + LabelRevision})
	if err != nil && !apierrors.IsForbidden(err) {
		return Revisions{}, fmt.Errorf("list istiod deployments: %w", err)
	}
	if err != nil {
		deps = &appsv1.DeploymentList{}
	}
	for _, d := range deps.Items {
		if rev := d.Labels[LabelRevision]; rev != "" {
			names[rev] = true
		}
	}
	r := Revisions{Names: slices.Sorted(maps.Keys(names))}
	if len(tags) > 0 {
		r.Tags = tags
	}
	return r, nil
}
