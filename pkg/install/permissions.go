package install

import (
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// controlPlaneKinds are what istioctl install, run by asmcli, writes for
// a revision (Istio's base and istio-discovery charts): the CRDs, the
// webhooks and RBAC cluster-wide, the rest in istio-system. asmcli is a
// script meshctl cannot plan through, so these are the chart's kinds
// rather than its objects: the check asks each verb once per kind.
var controlPlaneKinds = []struct {
	kind, resource string
	namespaced     bool
}{
	{"CustomResourceDefinition", "apiextensions.k8s.io/customresourcedefinitions", false},
	{"MutatingWebhookConfiguration", "admissionregistration.k8s.io/mutatingwebhookconfigurations", false},
	{"ValidatingWebhookConfiguration", "admissionregistration.k8s.io/validatingwebhookconfigurations", false},
	{"ClusterRole", "rbac.authorization.k8s.io/clusterroles", false},
	{"ClusterRoleBinding", "rbac.authorization.k8s.io/clusterrolebindings", false},
	{"Deployment", "apps/deployments", true},
	{"Service", "services", true},
	{"ConfigMap", "configmaps", true},
	{"Secret", "secrets", true},
	{"ServiceAccount", "serviceaccounts", true},
	{"Role", "rbac.authorization.k8s.io/roles", true},
	{"RoleBinding", "rbac.authorization.k8s.io/rolebindings", true},
	{"HorizontalPodAutoscaler", "autoscaling/horizontalpodautoscalers", true},
	{"PodDisruptionBudget", "policy/poddisruptionbudgets", true},
}

// enabled reports whether asmcli may make the changes of its --enable_NAME.
func (o Options) enabled(name string) bool { return o.EnableAll || contains(o.Enable, name) }

// fleetProject is asmcli's --fleet_id, the cluster's project by default.
func (o Options) fleetProject() string {
	if o.FleetID != "" {
		return o.FleetID
	}
	return o.Project
}

// Changes are what an asmcli install changes, for the permission check
// before it runs: the control plane's objects (in the cluster asmcli
// reaches; creating ClusterRoles needs holding what they grant, which is
// why asmcli itself asks for cluster-admin), and, for each --enable_*
// asmcli is given, the Google changes that flag lets it make
// (lib/installation_dependencies.sh): enabling mesh.googleapis.com
// (gcp_apis), binding roles in the project (gcp_iam_roles), updating the
// cluster for Workload Identity and the mesh_id label (gcp_components,
// cluster_labels), registering the cluster to the fleet (registration),
// creating istio-system (namespace_creation) and binding cluster-admin
// (cluster_roles), and initializing the Mesh Config API (meshconfig_init,
// which gcp_components implies): meshconfig.projects.init in the
// cluster's project and, when asmcli uses the fleet's workload identity
// pool, in a fleet project of its own too (meshconfigInitProjects).
func (o Options) Changes() []plan.Change {
	var out []plan.Change
	if o.enabled("namespace_creation") {
		out = append(out, plan.Change{Kind: "Namespace", Name: mesh.IstioSystem, Action: plan.Create, Resource: "namespaces"})
	}
	if o.enabled("cluster_roles") {
		out = append(out, plan.Change{Kind: "ClusterRoleBinding", Name: "ANY", Action: plan.Create, Resource: "rbac.authorization.k8s.io/clusterrolebindings"})
	}
	for _, k := range controlPlaneKinds {
		c := plan.Change{Kind: k.kind, Name: "ANY", Action: plan.Create, Resource: k.resource}
		if k.namespaced {
			c.Namespace = mesh.IstioSystem
		}
		out = append(out, c)
	}
	if o.Project == "" {
		// Named by a kube context only: the project is not known here.
		return out
	}
	if o.enabled("gcp_apis") {
		out = append(out, plan.Change{Kind: "services", Name: "mesh.googleapis.com", Action: plan.Create,
			Resource: preflight.GoogleName("serviceusage", "projects/"+o.Project+"/services/mesh.googleapis.com")})
	}
	if o.enabled("gcp_iam_roles") {
		out = append(out, plan.Change{Kind: "projects", Name: o.Project, Action: plan.Update, Note: "IAM policy",
			Resource: preflight.GoogleName("cloudresourcemanager", "projects/"+o.Project)})
	}
	if o.enabled("gcp_components") || o.enabled("cluster_labels") {
		out = append(out, plan.Change{Kind: "clusters", Name: o.Cluster, Action: plan.Update,
			Resource: preflight.GoogleName("container", "projects/"+o.Project+"/locations/"+o.Location+"/clusters/"+o.Cluster)})
	}
	for _, project := range o.meshconfigInitProjects() {
		out = append(out, plan.Change{Kind: "projects", Name: project, Action: plan.Update, Note: "Mesh Config API initialized",
			Resource: preflight.GoogleName("meshconfig", "projects/"+project)})
	}
	if o.enabled("registration") {
		out = append(out, plan.Change{Kind: "memberships", Name: o.Cluster, Action: plan.Create,
			Resource: preflight.GoogleName("gkehub", "projects/"+o.fleetProject()+"/locations/global/memberships/"+o.Cluster)})
	}
	return out
}

// meshconfigInitProjects are the projects asmcli's init_meshconfig
// initializes (POST meshconfig.googleapis.com/v1alpha1/projects/P:initialize),
// as its source has it: with the fleet's workload identity pool (-o
// hub-meshca, or Mesh CA on a cluster it registers) the fleet project, and
// the cluster's project when that differs; else the cluster's project. It
// runs with --enable_meshconfig_init or --enable_gcp_components (or all).
// A cluster registered before, without --enable_registration, also makes
// asmcli use the fleet's pool: that is not known here, and a fleet project
// of its own is then left to asmcli's own refusal.
func (o Options) meshconfigInitProjects() []string {
	if !o.enabled("meshconfig_init") && !o.enabled("gcp_components") {
		return nil
	}
	fleetPool := contains(o.Options, "hub-meshca") || (o.CA == "" || o.CA == "mesh_ca") && o.enabled("registration")
	if fleetPool && o.fleetProject() != o.Project {
		return []string{o.fleetProject(), o.Project}
	}
	return []string{o.Project}
}
