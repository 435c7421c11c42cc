// Package plan is the vocabulary of meshctl's desired-state commands.
// Expose, the load balancer and inject each read what exists, work out what
// should, and act on the difference; they describe that difference the same
// way: one Change per object, saying what an apply does to it (create,
// update naming the fields that differ, keep, use, delete; restart or skip
// for workloads), shown to a person as one table (Table) and to tools as
// the Change's JSON. A second run with nothing changed plans only keep and
// use.
//
// It sits below the capabilities and knows nothing of Kubernetes or Google
// Cloud: a Change names its object by kind, namespace and name.
package plan

import (
	"fmt"
	"strings"

	"github.com/meshctl/meshctl/internal/ui"
)

// Action is what an apply does to one object.
type Action string

// The actions.
const (
	Create Action = "create"
	// Update changes an existing object; the Change names the fields.
	Update Action = "update"
	// Keep leaves an object that is already as wanted.
	Keep   Action = "keep"
	Delete Action = "delete"
	// Use is an existing object the user named (e.g. --address,
	// --certificate): used as it is, never changed.
	Use Action = "use"
	// Restart replaces a workload's pods without changing what it runs,
	// as `kubectl rollout restart` does.
	Restart Action = "restart"
	// Skip leaves an object alone on purpose (e.g. a workload opted out
	// of injection).
	Skip Action = "skip"
	// Read is an object a command only reads, listed where what it can
	// need is declared (`check --permissions`): it changes nothing, yet
	// needs the permission to get it.
	Read Action = "read"
)

// Changes reports whether the action changes anything.
func (a Action) Changes() bool {
	switch a {
	case Keep, Use, Skip, Read:
		return false
	}
	return true
}

// Change is one object of a plan and what an apply does to it.
type Change struct {
	// Kind is the object's kind as its API names it ("Deployment",
	// "backendServices").
	Kind string `json:"kind"`
	// Namespace is empty for objects that have none.
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Action    Action `json:"action"`
	// Fields are the paths an update changes (never their values).
	Fields []string `json:"fields,omitempty"`
	// DependsOn lists the objects ("kind/name") this change waits for.
	DependsOn []string `json:"dependsOn,omitempty"`
	// Note says why, or what else happens, when the fields do not (e.g. a
	// certificate renewal, a policy attached once it is ready).
	Note string `json:"note,omitempty"`
	// Resource locates the object for the permission check before an
	// apply (pkg/preflight): a Google resource's full name
	// ("//compute.googleapis.com/projects/p/global/backendServices/bs"), or
	// a Kubernetes object's API group and resource ("apps/deployments";
	// "namespaces" in the core group).
	Resource string `json:"resource,omitempty"`
	// Cluster is the kubeconfig context of a Kubernetes object's cluster
	// when the plan spans several (mesh connect); empty for the one
	// cluster a command works on.
	Cluster string `json:"cluster,omitempty"`
	// Replace says the apply writes the Kubernetes object whole (create,
	// then update by PUT) rather than by server-side apply, so RBAC
	// checks create and update instead of patch.
	Replace bool `json:"-"`
	// Uses are the Google resources (full names) the change makes the
	// object refer to, which Google checks the caller may use: a backend
	// service's health check and NEGs, a firewall rule's network.
	Uses []string `json:"uses,omitempty"`
	// Handover is a command that makes the change for someone who holds
	// what it needs when the caller does not: a Shared VPC's firewall rule,
	// made by the host project's network administrator. A later run then
	// finds it as wanted and keeps it.
	Handover string `json:"handover,omitempty"`
}

// Ref is "Kind namespace/name", or "Kind name" without a namespace.
func (c Change) Ref() string {
	if c.Namespace == "" {
		return c.Kind + " " + c.Name
	}
	return c.Kind + " " + c.Namespace + "/" + c.Name
}

// Counts returns how many changes of each action cs holds.
func Counts(cs []Change) map[Action]int {
	out := map[Action]int{}
	for _, c := range cs {
		out[c.Action]++
	}
	return out
}

// Pending counts the changes that change something.
func Pending(cs []Change) int {
	n := 0
	for _, c := range cs {
		if c.Action.Changes() {
			n++
		}
	}
	return n
}

// Table shows a plan to a person: ACTION, KIND, NAMESPACE (when any change
// has one), NAME and DETAIL. title names a kind as people say it ("backend
// service" for backendServices); nil shows the kind as it is.
func Table(cs []Change, title func(kind string) string) ui.Table {
	namespaced := false
	for _, c := range cs {
		namespaced = namespaced || c.Namespace != ""
	}
	t := ui.Table{Headers: []string{"ACTION", "KIND", "NAME", "DETAIL"}}
	if namespaced {
		t.Headers = []string{"ACTION", "KIND", "NAMESPACE", "NAME", "DETAIL"}
	}
	for _, c := range cs {
		kind := c.Kind
		if title != nil {
			kind = title(kind)
		}
		row := []string{string(c.Action), kind, c.Name, Detail(c)}
		if namespaced {
			row = []string{string(c.Action), kind, c.Namespace, c.Name, Detail(c)}
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// Detail is a change's DETAIL: its note, then the fields an update changes
// (the first four, then how many more).
func Detail(c Change) string {
	parts := []string{}
	if c.Note != "" {
		parts = append(parts, c.Note)
	}
	if len(c.Fields) > 0 {
		parts = append(parts, DescribeFields(c.Fields))
	}
	return strings.Join(parts, "; ")
}

// DescribeFields lists changed fields for a person, at most four by name:
// "spec.replicas, metadata.labels and 3 more fields".
func DescribeFields(fields []string) string {
	if len(fields) > 4 {
		return fmt.Sprintf("%s and %d more fields", strings.Join(fields[:4], ", "), len(fields)-4)
	}
	return strings.Join(fields, ", ")
}
