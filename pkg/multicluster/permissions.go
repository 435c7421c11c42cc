package multicluster

import (
	"context"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshctl/meshctl/pkg/eastwest"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// The Kubernetes resources connect and disconnect write, located for the
// permission check (plan.Change.Resource).
const (
	resSecrets             = "secrets"
	resConfigMaps          = "configmaps"
	resServiceAccounts     = "serviceaccounts"
	resServices            = "services"
	resEndpointSlices      = "discovery.k8s.io/endpointslices"
	resDeployments         = "apps/deployments"
	resClusterRoles        = "rbac.authorization.k8s.io/clusterroles"
	resClusterRoleBindings = "rbac.authorization.k8s.io/clusterrolebindings"
)

// in locates a change to a Kubernetes object of m for the permission
// check: its resource, and its cluster, which the check asks with that
// cluster's own access reviews. connect and disconnect write their
// objects whole (create, update by PUT), never by server-side apply.
func (m *member) in(c plan.Change, resource string) plan.Change {
	c.Cluster, c.Resource, c.Replace = m.Context, resource, true
	return c
}

// resPortForward is a port forward to a Pod: create of pods/portforward.
var resPortForward = preflight.KubeSubresource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "portforward")

// reachChanges are what the check asks beside the plan's changes, which
// they are not: the verification (the probe's, the shared CA's chain,
// the east-west gateways' network view) reads each istiod's debug
// endpoints through a port forward to its Pod.
func (lp *linkPlan) reachChanges() []plan.Change {
	if !lp.probe && lp.ca == nil {
		return nil
	}
	var out []plan.Change
	for _, m := range lp.ms {
		out = append(out, m.in(plan.Change{Kind: "port-forward", Namespace: mesh.IstioSystem, Name: "istiod", Action: plan.Create,
			Note: "in " + m.Name + ": the verification reads istiod"}, resPortForward))
	}
	return out
}

// firewallChange locates a change to a firewall rule in the network's
// project (a Shared VPC's host project), with the network it uses.
func firewallChange(c plan.Change, project string, rule *computepb.Firewall) plan.Change {
	c.Resource = preflight.ComputeName(project, "global", "firewalls", c.Name)
	if rule != nil {
		if body, err := protojson.Marshal(rule); err == nil {
			c.Uses = preflight.ComputeLinks(body, project)
		}
	}
	return c
}

// clusterChange locates a change to a GKE cluster's settings.
func clusterChange(c plan.Change, r Ref) plan.Change {
	c.Resource = preflight.GoogleName("container", r.ResourceName())
	return c
}

// checkPermissions checks, before the first change, what the plan needs:
// Google's permissions in each project, and Kubernetes' in each cluster,
// asked with that cluster's own access reviews (a Checker given without
// an Access reviews through the clusters read).
func checkPermissions(ctx context.Context, c *preflight.Checker, ms []*member, changes []plan.Change) *preflight.Report {
	if c == nil {
		return nil
	}
	if !c.Skip && c.Access == nil {
		clusters := preflight.Clusters{}
		for _, m := range ms {
			if m.kube != nil {
				clusters[m.Context] = preflight.KubeReviewer{Client: m.kube}
			}
		}
		withClusters := *c
		withClusters.Access = clusters
		c = &withClusters
	}
	return c.Check(ctx, changes)
}

// DeclaredChanges are every change connect can make, without clusters to
// plan for (`meshctl check --permissions --for mesh-connect`): the
// firewall rules (in netProject, the project of the clusters' network), the
// clusters' control-plane access, and in the cluster of the current
// context the readers, remote secrets, mesh configs, the managed
// options, the probe, the port forward to istiod that verifies, a
// multi-network mesh's east-west gateway, and --ca shared's cacerts
// Secret and istiod restarts.
// TestDeclaredChangesCoverTheConnectPlan checks a plan needs no more.
func DeclaredChanges(project, netProject string) []plan.Change {
	out := []plan.Change{
		clusterChange(plan.Change{Kind: "clusters", Name: "ANY", Action: plan.Update}, Ref{Project: project, Location: "ANY", Name: "ANY"}),
	}
	for _, a := range []plan.Action{plan.Create, plan.Update} {
		fw := firewallChange(plan.Change{Kind: "firewalls", Name: "ANY", Action: a}, netProject, nil)
		fw.Uses = []string{preflight.ComputeName(netProject, "global", "networks", "ANY")}
		out = append(out, fw)
	}
	whole := func(kind, namespace, resource string, actions ...plan.Action) {
		for _, a := range actions {
			out = append(out, plan.Change{Kind: kind, Namespace: namespace, Name: "ANY", Action: a, Resource: resource, Replace: true})
		}
	}
	whole("Secret", mesh.IstioSystem, resSecrets, plan.Create, plan.Update)
	whole("ConfigMap", mesh.IstioSystem, resConfigMaps, plan.Create, plan.Update)
	whole("ServiceAccount", mesh.IstioSystem, resServiceAccounts, plan.Create)
	whole("ClusterRole", "", resClusterRoles, plan.Create)
	whole("ClusterRoleBinding", "", resClusterRoleBindings, plan.Create)
	whole("Service", mesh.IstioSystem, resServices, plan.Create, plan.Delete)
	whole("EndpointSlice", mesh.IstioSystem, resEndpointSlices, plan.Create, plan.Delete)
	whole("port-forward", mesh.IstioSystem, resPortForward, plan.Create)
	// --ca shared restarts istiod onto the new CA.
	out = append(out, plan.Change{Kind: "Deployment", Namespace: mesh.IstioSystem, Name: "ANY", Action: plan.Restart, Resource: resDeployments})
	out = append(out, plan.Change{Kind: "Namespace", Name: mesh.IstioSystem, Action: plan.Update, Resource: preflight.KubeResource(eastwest.GVRNamespace)})
	for _, ob := range eastwest.Objects(eastwest.Spec{ExposeIstiod: true}) {
		for _, a := range []plan.Action{plan.Create, plan.Update} {
			out = append(out, plan.Change{Kind: ob.Kind(), Namespace: mesh.IstioSystem, Name: "ANY", Action: a, Resource: preflight.KubeResource(ob.GVR)})
		}
	}
	return out
}
