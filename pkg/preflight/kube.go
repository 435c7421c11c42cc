package preflight

import (
	"context"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
)

// KubeReviewer asks the API server with SelfSubjectAccessReviews, which
// every authenticated user may create, as `kubectl auth can-i` does.
type KubeReviewer struct {
	Client kubernetes.Interface
}

// Allowed reports whether the caller may do a.
func (k KubeReviewer) Allowed(ctx context.Context, a KubeAccess) (bool, error) {
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: a.Verb, Group: a.Group, Resource: a.Resource, Subresource: a.Subresource, Namespace: a.Namespace, Name: a.Name,
		},
	}}
	res, err := k.Client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return res.Status.Allowed, nil
}

// Clusters reviews each access in the cluster it names (KubeAccess.Cluster,
// a kubeconfig context): the Access of a plan spanning several clusters.
type Clusters map[string]Access

// Allowed asks the access's own cluster.
func (c Clusters) Allowed(ctx context.Context, a KubeAccess) (bool, error) {
	access, ok := c[a.Cluster]
	if !ok {
		return false, fmt.Errorf("no Kubernetes client for cluster %q", a.Cluster)
	}
	return access.Allowed(ctx, a)
}

// KubeResource locates a Kubernetes kind for the check (a plan Change's
// Resource): "apps/deployments", "secrets" in the core group.
func KubeResource(gvr schema.GroupVersionResource) string {
	if gvr.Group == "" {
		return gvr.Resource
	}
	return gvr.Group + "/" + gvr.Resource
}

// KubeSubresource locates a Kubernetes subresource for the check:
// "/serviceaccounts/token" in the core group (its group, empty, is kept
// so that the resource is not read as a group).
func KubeSubresource(gvr schema.GroupVersionResource, sub string) string {
	return gvr.Group + "/" + gvr.Resource + "/" + sub
}
