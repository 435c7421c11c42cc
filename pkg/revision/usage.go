package revision

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// Usage is what still uses a revision: the tags that point at it, the
// namespaces whose labels select it (istio.io/rev with the revision or one
// of its tags, or istio-injection=enabled while the default tag is one of
// them), and the running pods whose istio-proxy it injected. A revision
// can go only when Namespaces and Workloads are empty; its tags go with it.
type Usage struct {
	Revision string `json:"revision"`
	// Tags point at the revision.
	Tags []string `json:"tags,omitempty"`
	// Namespaces are sorted by name.
	Namespaces []NamespaceUse `json:"namespaces,omitempty"`
	// Workloads run pods with the revision's proxy, sorted by namespace
	// and workload.
	Workloads []WorkloadUse `json:"workloads,omitempty"`
}

// NamespaceUse is a namespace whose labels select the revision.
type NamespaceUse struct {
	Name string `json:"name"`
	// Label is the label that decides, as "key=value".
	Label string `json:"label"`
	// Tag is the tag the label names, when it names a tag.
	Tag string `json:"tag,omitempty"`
}

// WorkloadUse is a workload (or a bare pod) with pods on the revision.
type WorkloadUse struct {
	Namespace string `json:"namespace"`
	// Workload is "Deployment/NAME", "StatefulSet/NAME", ... or "Pod/NAME"
	// for a pod without one.
	Workload string `json:"workload"`
	Pods     int    `json:"pods"`
}

// InUse reports whether anything keeps the revision from being removed.
func (u Usage) InUse() bool { return len(u.Namespaces) > 0 || len(u.Workloads) > 0 }

// String says what uses the revision, for messages: "2 namespaces (a, b)
// and 3 workloads".
func (u Usage) String() string {
	var parts []string
	if n := len(u.Namespaces); n > 0 {
		names := make([]string, n)
		for i, ns := range u.Namespaces {
			names[i] = ns.Name
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", plural(n, "namespace"), strings.Join(names, ", ")))
	}
	if n := len(u.Workloads); n > 0 {
		parts = append(parts, plural(n, "workload")+" with pods on it")
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, " and ")
}

// Usage works out what uses revision in what was read.
func (cl *Snapshot) Usage(revision string) Usage {
	u := Usage{Revision: revision}
	for _, t := range slices.Sorted(maps.Keys(cl.Revisions.Tags)) {
		if cl.Revisions.Tags[t] == revision {
			u.Tags = append(u.Tags, t)
		}
	}
	for _, ns := range cl.Namespaces {
		if ns.DeletionTimestamp != nil {
			continue
		}
		if use, ok := namespaceUses(cl.Revisions, ns.Labels, revision); ok {
			use.Name = ns.Name
			u.Namespaces = append(u.Namespaces, use)
		}
	}
	slices.SortFunc(u.Namespaces, func(a, b NamespaceUse) int { return strings.Compare(a.Name, b.Name) })
	u.Workloads = workloadsOn(cl.Pods, func(p *corev1.Pod) bool { return mesh.ProxyOf(p).Revision == revision })
	return u
}

// namespaceUses reports whether a namespace's labels select revision, and
// through which label and tag. A label naming the revision counts even
// when the revision is not served any more.
func namespaceUses(revs mesh.Revisions, labels map[string]string, revision string) (NamespaceUse, bool) {
	in := revs.Injection(labels)
	if !in.Enabled {
		return NamespaceUse{}, false
	}
	target := in.Name
	tag := ""
	if t, ok := revs.Tags[in.Name]; ok {
		target, tag = t, in.Name
	}
	if target != revision {
		return NamespaceUse{}, false
	}
	return NamespaceUse{Label: in.Label + "=" + labels[in.Label], Tag: tag}, true
}

// workloadsOn groups the running pods that match by workload.
func workloadsOn(pods []corev1.Pod, match func(*corev1.Pod) bool) []WorkloadUse {
	counts := map[[2]string]int{}
	for i := range pods {
		p := &pods[i]
		if !mesh.Running(p) || !match(p) {
			continue
		}
		w := mesh.WorkloadOf(p)
		if w == "" {
			w = "Pod/" + p.Name
		}
		counts[[2]string{p.Namespace, w}]++
	}
	out := make([]WorkloadUse, 0, len(counts))
	for k, n := range counts {
		out = append(out, WorkloadUse{Namespace: k[0], Workload: k[1], Pods: n})
	}
	slices.SortFunc(out, func(a, b WorkloadUse) int {
		return strings.Compare(a.Namespace+"/"+a.Workload, b.Namespace+"/"+b.Workload)
	})
	return out
}

// Findings are the reasons the revision cannot go (MC0276), each with the
// command that moves it off: relabel a namespace (or retag its tag), and
// restart a workload.
func (u Usage) Findings() []findings.Finding {
	var out []findings.Finding
	for _, ns := range u.Namespaces {
		obj := "Namespace " + ns.Name
		if ns.Tag != "" {
			out = append(out, findings.RevisionInUse.New(obj,
				fmt.Sprintf("labelled %s: tag %s points at revision %s", ns.Label, ns.Tag, u.Revision),
				fmt.Sprintf("meshctl revision tag set %s --revision OTHER --restart", ns.Tag)))
			continue
		}
		out = append(out, findings.RevisionInUse.New(obj,
			fmt.Sprintf("labelled %s: its new pods get revision %s", ns.Label, u.Revision),
			fmt.Sprintf("meshctl inject --namespace %s --revision OTHER", ns.Name)))
	}
	for _, w := range u.Workloads {
		obj := w.Workload + " in " + w.Namespace
		hint := fmt.Sprintf("kubectl -n %s rollout restart %s", w.Namespace, strings.ToLower(w.Workload))
		if strings.HasPrefix(w.Workload, "Pod/") {
			hint = fmt.Sprintf("kubectl -n %s delete %s (it belongs to no workload that recreates it)", w.Namespace, strings.ToLower(w.Workload))
		}
		out = append(out, findings.RevisionInUse.New(obj,
			fmt.Sprintf("%s run istio-proxy of revision %s", plural(w.Pods, "pod"), u.Revision), hint))
	}
	return out
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
