package validate

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	admv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// checkRevisionLifecycle reports what a revision's end leaves behind: pods
// whose istio-proxy comes from a revision that is no longer installed
// (MC0270), tags that point at such a revision (MC0271), and more than one
// revision answering istio-injection=enabled (MC0272), which happens when a
// default tag is set next to a "default" revision's webhook that was not
// deactivated, or next to another one.
func checkRevisionLifecycle(ctx context.Context, st *state) []Case {
	revs, err := st.revisions(ctx)
	if err != nil {
		return []Case{apiFailed(GroupControlPlane, "revision tags", "cluster", "read the control plane", err)}
	}
	used, scoped := st.usedRevisions(ctx, revs)
	out := checkTags(revs, used, scoped)
	hooks, err := st.c.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		out = append(out, apiFailed(GroupControlPlane, "default revision", "cluster", "list injection webhooks", err))
	} else if !scoped || used[mesh.DefaultRevision] {
		out = append(out, checkDefaultRevision(hooks.Items, revs))
	}
	pods, err := st.podsByNamespace(ctx)
	if err != nil {
		return append(out, apiFailed(GroupDataPlane, "proxy revisions", "cluster", "list pods", err))
	}
	for _, ns := range slices.Sorted(maps.Keys(pods)) {
		if c, ok := checkProxyRevisions(ns, pods[ns], revs); ok {
			out = append(out, c)
		}
	}
	return out
}

// checkTags: every tag points at an installed revision.
func checkTags(revs mesh.Revisions, used map[string]bool, scoped bool) []Case {
	var out []Case
	for _, h := range revs.Webhooks {
		if h.Tag == "" || scoped && !used[h.Tag] {
			continue
		}
		obj := "MutatingWebhookConfiguration " + h.Name
		c := Case{Group: GroupControlPlane, Check: "revision tag", Object: obj}
		if !revs.Installed(h.Revision) {
			c.Findings = append(c.Findings, findings.TagRevisionMissing.New(obj,
				fmt.Sprintf("tag %s points at revision %s, which is not installed (installed: %s): namespaces labelled %s=%s get no sidecar",
					h.Tag, h.Revision, installedText(revs), mesh.LabelRevision, h.Tag),
				fmt.Sprintf("meshctl revision tag set %s --revision REV (an installed one), or meshctl revision tag remove %s", h.Tag, h.Tag)))
		}
		out = append(out, c)
	}
	return out
}

// checkDefaultRevision: at most one revision injects the namespaces
// labelled istio-injection=enabled.
func checkDefaultRevision(hooks []admv1.MutatingWebhookConfiguration, revs mesh.Revisions) Case {
	const obj = "cluster"
	c := Case{Group: GroupControlPlane, Check: "default revision", Object: obj}
	serving := map[string][]string{} // revision -> webhook configurations
	legacy := labels.Set{mesh.LabelInjection: "enabled"}
	for i := range hooks {
		h := &hooks[i]
		rev, ok := h.Labels[mesh.LabelRevision]
		if !ok && h.Name != mesh.LegacyInjector {
			continue // not the mesh's
		}
		if !ok {
			rev = mesh.DefaultRevision
		}
		// A webhook of a revision that is not installed serves nothing
		// (it fails pods instead: MC0203, MC0271).
		if revs.Installed(rev) && servesSelector(h.Webhooks, legacy) {
			serving[rev] = append(serving[rev], h.Name)
		}
	}
	if len(serving) < 2 {
		return c
	}
	var parts []string
	for _, rev := range slices.Sorted(maps.Keys(serving)) {
		parts = append(parts, fmt.Sprintf("%s (%s)", rev, strings.Join(serving[rev], ", ")))
	}
	want, _ := revs.Default()
	c.Findings = append(c.Findings, findings.DefaultRevisionConflict.New(obj,
		fmt.Sprintf("%d revisions inject namespaces labelled %s=enabled: %s; each such pod is injected by whichever webhook the API server calls, or twice",
			len(serving), mesh.LabelInjection, strings.Join(parts, "; ")),
		fmt.Sprintf("keep one: meshctl revision tag set default --revision %s (it deactivates a \"default\" revision's own webhook), or delete the other webhook", orDefault(want, "REV"))))
	return c
}

// servesSelector reports whether one of the webhooks would be called for
// a pod without labels in a namespace with nsLabels.
func servesSelector(webhooks []admv1.MutatingWebhook, nsLabels labels.Set) bool {
	for _, w := range webhooks {
		if matches(w.NamespaceSelector, nsLabels) && matches(w.ObjectSelector, labels.Set{}) {
			return true
		}
	}
	return false
}

func matches(sel *metav1.LabelSelector, l labels.Set) bool {
	if sel == nil {
		return true
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(l)
}

// checkProxyRevisions: no running pod of the namespace runs istio-proxy of
// a revision that is not installed. ok is false when none runs a proxy.
func checkProxyRevisions(ns string, pods []corev1.Pod, revs mesh.Revisions) (Case, bool) {
	c := Case{Group: GroupDataPlane, Check: "proxy revisions", Object: "Namespace " + ns}
	gone := map[string]map[string]int{} // workload -> revision -> pods
	injected := false
	for i := range pods {
		p := &pods[i]
		px := mesh.ProxyOf(p)
		if !mesh.Running(p) || !px.Injected {
			continue
		}
		injected = true
		if px.Revision == "" || revs.Installed(px.Revision) || revs.IstiodErr != nil {
			continue
		}
		w := ownerOf(p)
		if w == "" {
			w = "Pod/" + p.Name
		}
		if gone[w] == nil {
			gone[w] = map[string]int{}
		}
		gone[w][px.Revision]++
	}
	for _, w := range slices.Sorted(maps.Keys(gone)) {
		for _, rev := range slices.Sorted(maps.Keys(gone[w])) {
			obj := w + " in " + ns
			c.Findings = append(c.Findings, findings.PodOnRemovedRevision.New(obj,
				fmt.Sprintf("%d pod(s) run istio-proxy of revision %s, which is not installed (installed: %s): no control plane sends them configuration or renews their certificates",
					gone[w][rev], rev, installedText(revs)),
				fmt.Sprintf("meshctl inject --namespace %s --revision REV (restarts them onto an installed revision)", ns)))
		}
	}
	return c, injected
}
