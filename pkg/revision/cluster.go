// Package revision is the lifecycle of control-plane revisions after they
// are installed: revision tags (`meshctl revision tag set|list|remove`, as
// `istioctl tag` makes them), what still uses a revision (namespaces by
// label or tag, running pods by their proxy), and the removal of an
// in-cluster revision (`meshctl uninstall --revision`), which refuses while
// anything uses it. `meshctl migrate` builds on all three.
//
// Everything is read from the cluster on every run: the tags are their
// webhooks, a revision's objects are found by Istio's labels, and nothing
// is kept on the side, so an interrupted run is finished by running it
// again.
package revision

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
)

// kind is one kind of object a revision is made of.
type kind struct {
	Kind     string
	Resource schema.GroupVersionResource
	// Namespaced kinds are looked for in istio-system only.
	Namespaced bool
}

var (
	kMutatingWebhook   = kind{"MutatingWebhookConfiguration", schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"}, false}
	kValidatingWebhook = kind{"ValidatingWebhookConfiguration", schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}, false}
	kClusterRoleBind   = kind{"ClusterRoleBinding", schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}, false}
	kClusterRole       = kind{"ClusterRole", schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}, false}
	kService           = kind{"Service", schema.GroupVersionResource{Version: "v1", Resource: "services"}, true}
	kHPA               = kind{"HorizontalPodAutoscaler", schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}, true}
	kPDB               = kind{"PodDisruptionBudget", schema.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}, true}
	kConfigMap         = kind{"ConfigMap", schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, true}
	kRoleBinding       = kind{"RoleBinding", schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}, true}
	kRole              = kind{"Role", schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}, true}
	kServiceAccount    = kind{"ServiceAccount", schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, true}
	kDeployment        = kind{"Deployment", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, true}
	kNamespace         = kind{"Namespace", schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, false}
	kPod               = kind{"Pod", schema.GroupVersionResource{Version: "v1", Resource: "pods"}, false}
)

// change is the plan entry of an object of kind k, located for the
// permission check (pkg/preflight) by its API group and resource.
func (k kind) change(namespace, name string, a plan.Action) plan.Change {
	res := k.Resource.Resource
	if k.Resource.Group != "" {
		res = k.Resource.Group + "/" + res
	}
	return plan.Change{Kind: k.Kind, Namespace: namespace, Name: name, Action: a, Resource: res}
}

// Snapshot is the cluster as the revision lifecycle reads it: the
// revisions and tags (pkg/mesh's rules), the injection webhooks
// themselves, and, when asked for, every namespace and every pod (for what
// uses a revision).
type Snapshot struct {
	Revisions  mesh.Revisions
	Namespaces []corev1.Namespace
	Pods       []corev1.Pod
	hooks      []admissionv1.MutatingWebhookConfiguration
}

// ReadSnapshot reads the revisions, tags, namespaces and pods.
func ReadSnapshot(ctx context.Context, c kube.Objects) (*Snapshot, error) {
	return readCluster(ctx, c, true)
}

// readCluster reads the webhooks and istio-system's istiods and, with
// usage, the namespaces and pods.
func readCluster(ctx context.Context, c kube.Objects, usage bool) (*Snapshot, error) {
	cl := &Snapshot{}
	if err := listAs(ctx, c, kMutatingWebhook, "", "", &cl.hooks); err != nil {
		return nil, fmt.Errorf("list injection webhooks: %w", err)
	}
	var istiods []appsv1.Deployment
	istiodErr := listAs(ctx, c, kDeployment, mesh.IstioSystem, "app="+mesh.IstiodApp, &istiods)
	revs, err := mesh.NewRevisions(cl.hooks, istiods, istiodErr)
	if err != nil {
		return nil, err
	}
	cl.Revisions = revs
	if !usage {
		return cl, nil
	}
	if err := listAs(ctx, c, kNamespace, "", "", &cl.Namespaces); err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	if err := listAs(ctx, c, kPod, "", "", &cl.Pods); err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	return cl, nil
}

// listAs lists objects of kind k (namespace "" for all) into out, a
// pointer to a slice of the typed object.
func listAs[T any](ctx context.Context, c kube.Objects, k kind, namespace, selector string, out *[]T) error {
	items, err := c.List(ctx, k.Resource, namespace, selector)
	if err != nil {
		return err
	}
	typed := make([]T, len(items))
	for i := range items {
		if err := kube.FromUnstructured(&items[i], &typed[i]); err != nil {
			return fmt.Errorf("read %s %s: %w", k.Kind, items[i].GetName(), err)
		}
	}
	*out = typed
	return nil
}

// ref is "Kind namespace/name" or "Kind name".
func ref(k kind, u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return k.Kind + " " + u.GetName()
	}
	return k.Kind + " " + u.GetNamespace() + "/" + u.GetName()
}
