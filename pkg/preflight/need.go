package preflight

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/meshctl/meshctl/pkg/plan"
)

// Status is what the check found of one permission.
type Status string

// Statuses.
const (
	Held    Status = "held"
	Missing Status = "missing"
	// Unchecked: the check was skipped or could not run (see the report's
	// warnings).
	Unchecked Status = "unchecked"
)

// Permission is one permission a plan needs, where, and for which of its
// changes.
type Permission struct {
	// Permission is a Google IAM permission, checked in Project.
	Permission string `json:"permission,omitempty"`
	Project    string `json:"project,omitempty"`
	// Kubernetes is, instead, what a SelfSubjectAccessReview asks.
	Kubernetes *KubeAccess `json:"kubernetes,omitempty"`
	// Steps are the changes that need it: "create backendServices mc-web".
	Steps  []string `json:"steps"`
	Status Status   `json:"status"`
	// Handovers are commands that make those steps for someone who holds
	// the permission (plan.Change.Handover).
	Handovers []string `json:"handovers,omitempty"`
}

// Name is the permission as people read it: the IAM name, or "patch
// apps/deployments shop/web-gateway".
func (p Permission) Name() string {
	if p.Kubernetes != nil {
		return p.Kubernetes.String()
	}
	return p.Permission
}

// Where is the project or the namespace.
func (p Permission) Where() string {
	switch {
	case p.Kubernetes == nil:
		return "project " + p.Project
	case p.Kubernetes.Cluster != "" && p.Kubernetes.Namespace != "":
		return "namespace " + p.Kubernetes.Namespace + " of cluster " + p.Kubernetes.Cluster
	case p.Kubernetes.Cluster != "":
		return "cluster " + p.Kubernetes.Cluster
	case p.Kubernetes.Namespace != "":
		return "namespace " + p.Kubernetes.Namespace
	}
	return "cluster"
}

// KubeAccess is a Kubernetes permission: a verb on a resource, in a
// namespace (empty for cluster-scoped resources), on one object when Name
// is set. Cluster is the kubeconfig context a plan spanning several
// clusters names (plan.Change.Cluster); empty for the command's one
// cluster.
type KubeAccess struct {
	Cluster  string `json:"cluster,omitempty"`
	Verb     string `json:"verb"`
	Group    string `json:"group,omitempty"`
	Resource string `json:"resource"`
	// Subresource is "portforward" of pods/portforward, "token" of
	// serviceaccounts/token.
	Subresource string `json:"subresource,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name,omitempty"`
}

// GroupResource is "deployments.apps", "namespaces", "pods/portforward",
// as kubectl (and its create role --resource) names it.
func (k KubeAccess) GroupResource() string {
	r := k.Resource
	if k.Subresource != "" {
		r += "/" + k.Subresource
	}
	if k.Group == "" {
		return r
	}
	return r + "." + k.Group
}

func (k KubeAccess) String() string {
	s := k.Verb + " " + k.GroupResource()
	if k.Name != "" {
		s += " " + k.Name
	}
	return s
}

// Required works out the permissions changes need, from the changes
// themselves: for a Google resource (Resource is a full name) its API's
// method permission for the action, use of each resource it refers to
// (Uses) in that resource's project, and reading the operation it starts;
// for a Kubernetes object (Resource is group/resource) the verbs RBAC
// checks. Changes that change nothing (keep, use, skip) need nothing. The
// result is sorted: Google permissions by project and name, then
// Kubernetes ones.
func Required(changes []plan.Change) []Permission {
	byKey := map[string]*Permission{}
	var out []*Permission
	var handover string
	add := func(key string, p Permission, step string) {
		have, ok := byKey[key]
		if !ok {
			p.Status = Unchecked
			have = &p
			byKey[key] = have
			out = append(out, have)
		}
		if !slices.Contains(have.Steps, step) {
			have.Steps = append(have.Steps, step)
		}
		if handover != "" && !slices.Contains(have.Handovers, handover) {
			have.Handovers = append(have.Handovers, handover)
		}
	}
	for _, c := range changes {
		if (!c.Action.Changes() && c.Action != plan.Read) || c.Resource == "" {
			continue
		}
		step := StepName(c)
		handover = c.Handover
		if n, ok := parseGoogleName(c.Resource); ok {
			google := func(perm, project string) {
				add("g/"+project+"/"+perm, Permission{Permission: perm, Project: project}, step)
			}
			if ref, ok := parseComputeName(n); ok && n.service == "compute" {
				computeNeeds(c, ref, google)
			} else {
				platformNeeds(c, n, google)
			}
			continue
		}
		for _, k := range kubeNeeds(c) {
			add(k.key(), Permission{Kubernetes: &k}, step)
		}
	}
	res := make([]Permission, len(out))
	for i, p := range out {
		res[i] = *p
	}
	slices.SortStableFunc(res, comparePermissions)
	return res
}

func comparePermissions(a, b Permission) int {
	ak, bk := a.Kubernetes != nil, b.Kubernetes != nil
	switch {
	case ak != bk:
		if ak {
			return 1
		}
		return -1
	case !ak:
		return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.Permission, b.Permission))
	}
	return cmp.Or(cmp.Compare(a.Kubernetes.Cluster, b.Kubernetes.Cluster), cmp.Compare(a.Kubernetes.Namespace, b.Kubernetes.Namespace),
		cmp.Compare(a.Kubernetes.String(), b.Kubernetes.String()))
}

// key identifies the access among a plan's permissions.
func (k KubeAccess) key() string { return "k/" + k.Cluster + "/" + k.Namespace + "/" + k.String() }

// StepName names a change as a step of its plan: "create backendServices
// mc-web", "restart Deployment shop/web".
func StepName(c plan.Change) string { return string(c.Action) + " " + c.Ref() }

// kubeNeeds are the RBAC checks of a Kubernetes change. meshctl writes
// objects with server-side apply, a patch, which needs create as well when
// the object does not exist yet (Kubernetes' API concepts: "Patch and
// Apply"); a restart and a label change are patches; a delete is a delete.
// An object written whole (Replace) is a create, or an update (PUT).
func kubeNeeds(c plan.Change) []KubeAccess {
	var group, resource, sub string
	switch parts := strings.Split(c.Resource, "/"); len(parts) {
	case 1:
		resource = parts[0]
	case 2:
		group, resource = parts[0], parts[1]
	default: // KubeSubresource's GROUP/RESOURCE/SUBRESOURCE
		group, resource, sub = parts[0], parts[1], parts[2]
	}
	base := KubeAccess{Cluster: c.Cluster, Group: group, Resource: resource, Subresource: sub, Namespace: c.Namespace, Name: c.Name}
	with := func(verbs ...string) []KubeAccess {
		var out []KubeAccess
		for _, v := range verbs {
			k := base
			k.Verb = v
			if v == "create" {
				// RBAC cannot limit create to a name: ask without one.
				k.Name = ""
			}
			out = append(out, k)
		}
		return out
	}
	switch {
	case c.Replace && c.Action == plan.Create:
		return with("create")
	case c.Replace && c.Action == plan.Update:
		return with("update")
	}
	switch c.Action {
	case plan.Read:
		return with("get")
	case plan.Create:
		return with("create", "patch")
	case plan.Update, plan.Restart:
		return with("patch")
	case plan.Delete:
		return with("delete")
	}
	return nil
}

// Projects are the Google projects among ps, sorted.
func Projects(ps []Permission) []string {
	var out []string
	for _, p := range ps {
		if p.Kubernetes == nil && !slices.Contains(out, p.Project) {
			out = append(out, p.Project)
		}
	}
	slices.Sort(out)
	return out
}

func (p Permission) String() string {
	return fmt.Sprintf("%s in %s (%s)", p.Name(), p.Where(), strings.Join(p.Steps, "; "))
}
