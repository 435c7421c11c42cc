package inject

import (
	"strings"

	"github.com/meshctl/meshctl/pkg/plan"
)

// Changes are what applying the planned result changes, in pkg/plan's
// vocabulary, for the permission check: each relabelled namespace (a
// patch of its labels) and, unless noRestart, each workload restarted (a
// patch of its pod template).
func (r *Result) Changes(noRestart bool) []plan.Change {
	var out []plan.Change
	for _, ns := range r.Namespaces {
		if ns.Labels.Changed() {
			out = append(out, plan.Change{Kind: "Namespace", Name: ns.Name, Action: plan.Update, Fields: []string{"metadata.labels"}, Resource: "namespaces"})
		}
		if noRestart {
			continue
		}
		for _, w := range ns.Workloads {
			if w.Action == ActionRestart {
				out = append(out, plan.Change{Kind: w.Kind, Namespace: ns.Name, Name: w.Name, Action: plan.Restart,
					Resource: "apps/" + strings.ToLower(w.Kind) + "s"})
			}
		}
	}
	return out
}

// DeclaredChanges are every change inject can make, without a plan: a
// namespace relabelled and each kind of workload restarted, in any
// namespace (`meshctl check --permissions`).
func DeclaredChanges() []plan.Change {
	out := []plan.Change{{Kind: "Namespace", Name: "ANY", Action: plan.Update, Resource: "namespaces"}}
	for _, kind := range []string{"Deployment", "StatefulSet", "DaemonSet"} {
		out = append(out, plan.Change{Kind: kind, Name: "ANY", Action: plan.Restart, Resource: "apps/" + strings.ToLower(kind) + "s"})
	}
	return out
}
