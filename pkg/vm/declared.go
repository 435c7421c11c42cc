package vm

import (
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

var gvrServiceAccounts = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}

// DeclaredChanges are what `meshctl vm add` can change and read, without
// a group to plan for (`meshctl check --permissions --for vm`): the
// namespace's service account, its token (audience istio-ca) and the
// WorkloadGroup, in any namespace; reading the VM's instance (in project,
// the cluster's: --instance-project moves it) and the cluster's network
// (its peerings, in netProject); the two firewall rules in netProject,
// the project of the cluster's network (a VM on another VPC network puts
// its rule in that network's project). TestDeclaredChangesCoverAdd checks
// a plan needs no more.
func DeclaredChanges(project, netProject string) []plan.Change {
	out := []plan.Change{
		{Kind: "ServiceAccount", Name: "ANY", Action: plan.Create, Resource: preflight.KubeResource(gvrServiceAccounts)},
		{Kind: "TokenRequest", Name: "ANY", Action: plan.Create, Replace: true, Resource: preflight.KubeSubresource(gvrServiceAccounts, "token"),
			Note: "the bundle's istio-token"},
		{Kind: "instances", Name: "ANY", Action: plan.Read, Resource: preflight.ComputeName(project, "zones/ANY", "instances", "ANY"),
			Note: "--instance: the VM's address, network and tags"},
		{Kind: "networks", Name: "ANY", Action: plan.Read, Resource: preflight.ComputeName(netProject, "global", "networks", "ANY"),
			Note: "its peerings, for a VM on another VPC network"},
	}
	for _, a := range []plan.Action{plan.Create, plan.Update} {
		out = append(out,
			plan.Change{Kind: "WorkloadGroup", Name: "ANY", Action: a, Resource: preflight.KubeResource(GVRWorkloadGroup)},
			plan.Change{Kind: "firewalls", Name: "ANY", Action: a, Resource: preflight.ComputeName(netProject, "global", "firewalls", "ANY"),
				Uses: []string{preflight.ComputeName(netProject, "global", "networks", "ANY")}})
	}
	return out
}
