package validate

import (
	"context"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/vm"
)

// checkVMs reports the mesh's VM groups (pkg/vm Check): a group without
// entries, an unhealthy entry, a bundle token near expiry. A cluster
// without Istio's WorkloadGroup resource has no VMs to report.
func checkVMs(ctx context.Context, st *state) []Case {
	if st.c.Dynamic == nil {
		return nil
	}
	gs, err := vm.List(ctx, &kube.Dynamic{Client: st.c.Dynamic}, "")
	if kube.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return []Case{apiFailed(GroupDataPlane, "VM groups", "WorkloadGroups", "list WorkloadGroups and WorkloadEntries", err)}
	}
	var cases []Case
	byObject := vm.Check(gs, st.opts.Now())
	for _, g := range gs.Groups {
		if !st.opts.inScope(g.Namespace) {
			continue
		}
		obj := "WorkloadGroup " + g.Namespace + "/" + g.Name
		cases = append(cases, Case{Group: GroupDataPlane, Check: "VM groups", Object: obj, Findings: byObject[obj]})
	}
	return cases
}
