package gatewayapi

import (
	"context"
	"slices"

	"github.com/meshctl/meshctl/pkg/expose"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// change is a plan's change of one object of the kind, located for the
// permission check (pkg/preflight asks RBAC for its group and resource).
func (k kind) change(a plan.Action, namespace, name string) plan.Change {
	return plan.Change{Action: a, Kind: k.Kind, Namespace: namespace, Name: name, Resource: preflight.KubeResource(k.Resource)}
}

// certificateManagerName is the full name of a Certificate Manager
// object of the project's global location: "certificateMaps/m",
// "certificates/c".
func certificateManagerName(project, relative string) string {
	return preflight.GoogleName("certificatemanager", "projects/"+project+"/locations/global/"+relative)
}

// change is a plan's change of one Certificate Manager object, located
// for the permission check: a map entry is made in its map and names its
// certificate, whose use Google checks too.
func (p *certs) change(kind, name string, a plan.Action, note string, certificate string) plan.Change {
	c := plan.Change{Action: a, Kind: kind, Name: name, Note: note}
	switch kind {
	case KindCertificateMap:
		c.Resource = certificateManagerName(p.project, "certificateMaps/"+name)
	case KindCertificate:
		c.Resource = certificateManagerName(p.project, "certificates/"+name)
	case KindCertificateEntry:
		c.Resource = certificateManagerName(p.project, "certificateMaps/"+p.mapName+"/certificateMapEntries/"+name)
		if certificate != "" {
			c.Uses = []string{certificateManagerName(p.project, "certificates/"+certificate)}
		}
	}
	return c
}

// AllChanges are every change the plan makes, each located for the
// permission check: the mesh gateway's, the Gateway API objects', meshctl's
// Compute resources' and the certificate map's.
func (p *Plan) AllChanges() []plan.Change {
	out := slices.Concat(p.Mesh.Changes, p.Changes)
	if p.Edge != nil {
		out = append(out, p.Edge.Changes...)
	}
	if p.Certs != nil {
		out = append(out, p.Certs.Changes...)
	}
	return out
}

// check asks whether the caller may make every change of the plan (nil
// pre checks nothing); a dry run only reports it, else what is missing
// stops the run before the first change.
func (p *Plan) check(ctx context.Context, pre *preflight.Checker) (*preflight.Report, error) {
	report := pre.Check(ctx, p.AllChanges())
	if p.opts.Expose.DryRun {
		return report, nil
	}
	return report, report.Err()
}

// changes are the teardown's changes, located for the permission check.
func (tp *teardownPlan) changes() []plan.Change {
	out := slices.Clone(tp.res.Changes)
	if tp.certs != nil {
		out = append(out, tp.certs.Changes...)
	}
	if tp.edge != nil {
		out = append(out, tp.edge.Changes...)
	}
	return out
}

// gatewayKinds are the kinds of Kubernetes objects the path writes.
var gatewayKinds = []kind{kGateway, kHTTPRoute, kHealthCheckPolicy, kBackendPolicy, kGatewayPolicy, kSecret}

// DeclaredChanges are every change `expose --via gateway-api` and its
// unexpose can make in project, in any namespace, without a plan: the mesh
// gateway's (pkg/expose), each Gateway API kind created, updated and
// deleted, the Compute resources meshctl makes for the Gateway (address,
// SSL and Cloud Armor policies; GKE's controller makes the rest with its
// own account) and the certificate map, its entries and certificates
// created and deleted. It is `meshctl check --permissions`' superset;
// TestDeclaredChangesCoverThePlan checks real plans need no more.
func DeclaredChanges(project string) []plan.Change {
	out := expose.DeclaredChanges()
	for _, k := range gatewayKinds {
		for _, a := range []plan.Action{plan.Create, plan.Update, plan.Delete} {
			out = append(out, k.change(a, "", "ANY"))
		}
	}
	out = append(out, lb.DeclaredEdgeChanges(project)...)
	c := &certs{project: project, mapName: "ANY"}
	for _, kind := range []string{KindCertificateMap, KindCertificate, KindCertificateEntry} {
		for _, a := range []plan.Action{plan.Create, plan.Delete} {
			out = append(out, c.change(kind, "ANY", a, "", "ANY"))
		}
	}
	return out
}
