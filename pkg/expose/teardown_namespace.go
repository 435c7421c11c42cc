package expose

import (
	"context"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshctl/meshctl/internal/kube"
)

// commonKinds are what "everything in a namespace" is when the client
// cannot discover the API server's kinds (kube.ResourceLister): the kinds
// expose makes and those users most often add.
var commonKinds = []schema.GroupVersionResource{
	{Version: "v1", Resource: "pods"}, {Version: "v1", Resource: "services"}, {Version: "v1", Resource: "configmaps"},
	{Version: "v1", Resource: "secrets"}, {Version: "v1", Resource: "serviceaccounts"}, {Version: "v1", Resource: "persistentvolumeclaims"},
	{Group: "apps", Version: "v1", Resource: "deployments"}, {Group: "apps", Version: "v1", Resource: "statefulsets"},
	{Group: "apps", Version: "v1", Resource: "daemonsets"}, {Group: "batch", Version: "v1", Resource: "jobs"},
	{Group: "batch", Version: "v1", Resource: "cronjobs"},
	kRole.Resource, kRoleBinding.Resource, kNetworkPolicy.Resource, kPDB.Resource, kHPA.Resource,
	kGateway.Resource, kVirtualService.Resource, kDestinationRule.Resource, kPeerAuthentication.Resource,
}

// alwaysThere are objects Kubernetes and Istio put in every namespace, or
// derive from others, which do not make a namespace in use.
func alwaysThere(gvr schema.GroupVersionResource, u unstructured.Unstructured) bool {
	switch {
	case u.GetDeletionTimestamp() != nil, len(u.GetOwnerReferences()) > 0:
		return true // going, or owned by something that is counted (or going)
	case gvr.Resource == "events", gvr.Resource == "endpoints", gvr.Resource == "endpointslices":
		return true
	case gvr.Resource == "configmaps" && (u.GetName() == "kube-root-ca.crt" || u.GetName() == "istio-ca-root-cert" || u.GetName() == "istio-ca-crl"):
		// The API server's, and istiod's namespace controller's (the
		// root certificate, and the revocation list it writes next to
		// it: seen from the simulator's istiod), in every namespace.
		return true
	case gvr.Resource == "serviceaccounts" && u.GetName() == "default":
		return true
	}
	return false
}

// leftIn lists what namespace ns holds besides what every namespace has, as
// "Kind name". A kind meshctl may not list counts as in use (it cannot
// tell).
func leftIn(ctx context.Context, c kube.Objects, ns string) ([]string, error) {
	kinds := commonKinds
	if rl, ok := c.(kube.ResourceLister); ok {
		if found, err := rl.NamespacedResources(ctx); err == nil && len(found) > 0 {
			kinds = found
		}
	}
	var left []string
	for _, gvr := range kinds {
		items, err := c.List(ctx, gvr, ns, "")
		switch {
		case apierrors.IsNotFound(err), apierrors.IsMethodNotSupported(err):
			continue
		case apierrors.IsForbidden(err):
			left = append(left, gvr.Resource+" (meshctl may not list them)")
			continue
		case err != nil:
			return nil, apiError(fmt.Sprintf("list %s in %s", gvr.Resource, ns), err)
		}
		for _, it := range items {
			if alwaysThere(gvr, it) {
				continue
			}
			kind := it.GetKind()
			if kind == "" {
				kind = gvr.Resource
			}
			left = append(left, kind+" "+it.GetName())
		}
	}
	slices.Sort(left)
	return slices.Compact(left), nil
}

// keepNamespaceNote says why the gateway's namespace stays.
func keepNamespaceNote(ns string, left []string) string {
	return fmt.Sprintf("namespace %s, which meshctl made for the gateway, stays: it holds %s (delete it with kubectl delete namespace %s once they can go)",
		ns, listNames(slices.Clone(left)), ns)
}
