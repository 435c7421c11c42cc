package check

import (
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// fixChanges are what --fix would change for the failed checks, for the
// permission check before the first fix.
func fixChanges(f *facts, outcomes []ran) []plan.Change {
	var out []plan.Change
	for _, r := range outcomes {
		if r.def.fix != nil && r.def.changes != nil && len(r.out.findings) > 0 {
			out = append(out, r.def.changes(f)...)
		}
	}
	return out
}

// webhookFixChanges is the webhook firewall rule --fix would create, in
// the project of the cluster's network (a Shared VPC's host project), on
// that network.
func webhookFixChanges(f *facts) []plan.Change {
	st, err := f.webhookState()
	if err != nil || st.skip != "" || st.allowedBy != nil || st.tag == "" {
		return nil
	}
	rule := f.webhookRule(st)
	c := plan.Change{Kind: "firewalls", Name: rule.GetName(), Action: plan.Create,
		Resource: preflight.ComputeName(st.netProject, "global", "firewalls", rule.GetName())}
	if body, err := protojson.Marshal(rule); err == nil {
		c.Uses = preflight.ComputeLinks(body, st.netProject)
	}
	return []plan.Change{c}
}

// DeclaredFixChanges are what --fix can change, without a cluster to
// check: the webhook firewall rule, in project (on a Shared VPC, the host
// project), on its network (`meshctl check --permissions`).
func DeclaredFixChanges(project string) []plan.Change {
	return []plan.Change{{Kind: "firewalls", Name: "ANY", Action: plan.Create,
		Resource: preflight.ComputeName(project, "global", "firewalls", "ANY"),
		Uses:     []string{preflight.ComputeName(project, "global", "networks", "ANY")}}}
}
