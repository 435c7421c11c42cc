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
