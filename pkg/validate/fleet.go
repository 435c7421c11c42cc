package validate

import (
	"context"
	"fmt"
	"strings"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/install/managed"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// checkInstallation validates how the control plane is installed. A
// managed mesh (every installed revision served by Google, its webhook
// calling a URL) was not installed by asmcli, and `asmcli validate` checks
// an in-cluster install's prerequisites: there the fleet's servicemesh
// feature state is what tells whether the control plane is ready. Anything
// else runs asmcli validate, when it is not left out.
func checkInstallation(ctx context.Context, st *state) []Case {
	revs, err := st.revisions(ctx)
	if err == nil && managedOnly(revs) && st.c.Fleet != nil {
		return checkFleet(ctx, st.c.Fleet)
	}
	if st.c.Asmcli != nil {
		return checkAsmcli(ctx, st.c.Asmcli)
	}
	return nil
}

// managedOnly reports whether revisions are installed and all are Google's.
func managedOnly(revs mesh.Revisions) bool {
	names := revs.Names()
	for _, n := range names {
		if !revs.Revision(n).Managed {
			return false
		}
	}
	return len(names) > 0
}

// checkFleet reports the fleet's view of the cluster's managed mesh.
func checkFleet(ctx context.Context, read func(context.Context) (managed.ClusterStatus, error)) []Case {
	const check, object = "managed control plane", "cluster"
	c := Case{Group: GroupControlPlane, Check: check, Object: object}
	s, err := read(ctx)
	if err != nil {
		return []Case{apiFailed(GroupControlPlane, check, object, "read the fleet's servicemesh feature", err)}
	}
	obj := "membership " + s.Membership
	switch {
	case !s.Registered:
		c.Findings = append(c.Findings, findings.ManagedControlPlane.New(object,
			"the cluster serves a managed revision but is not registered in fleet project "+s.FleetProject, "meshctl install --managed (registers it)"))
	case !s.FeatureEnabled:
		c.Findings = append(c.Findings, findings.ManagedControlPlane.New(obj,
			"the servicemesh feature is not enabled in fleet project "+s.FleetProject, "meshctl install --managed (enables it)"))
	default:
		c.Findings = append(c.Findings, assessmentFindings(obj, s)...)
	}
	return []Case{c}
}

// assessmentFindings turn the fleet's assessment into findings: a control
// plane not ready (failed or still provisioning) is an error, other
// problems are warnings.
func assessmentFindings(obj string, s managed.ClusterStatus) []findings.Finding {
	var out []findings.Finding
	a := s.Assessment
	switch a.Phase {
	case managed.PhaseFailed:
		for _, p := range a.Problems {
			t := findings.ManagedMeshProblem
			if p.Blocking {
				t = findings.ManagedControlPlane
			}
			out = append(out, t.New(obj, p.Code+": "+p.Explanation, p.Fix))
		}
		return out
	case managed.PhaseWaiting:
		out = append(out, findings.ManagedControlPlane.New(obj,
			fmt.Sprintf("the managed control plane is not ready: %s", s.Status.Summary()),
			"wait, and see `gcloud container fleet mesh describe --project "+s.FleetProject+"`; meshctl install --managed waits and explains what blocks it"))
	}
	for _, p := range a.Problems {
		out = append(out, findings.ManagedMeshProblem.New(obj, strings.TrimSpace(p.Code+": "+p.Explanation), p.Fix))
	}
	return out
}
