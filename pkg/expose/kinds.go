package expose

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Annotation keys meshctl writes or reads.
const (
	// NEGAnnotation asks GKE's NEG controller for standalone NEGs.
	NEGAnnotation = "cloud.google.com/neg"
	// NEGStatusAnnotation is where the NEG controller reports them.
	NEGStatusAnnotation = "cloud.google.com/neg-status"
	// certNotAfterAnnotation records when meshctl's certificate expires,
	// for people; rotation reads the certificate itself.
	certNotAfterAnnotation = "meshctl.io/not-after"
)

// kind is one kind of object expose manages.
type kind struct {
	Kind     string
	Resource schema.GroupVersionResource
}

func (k kind) String() string { return k.Kind }

// groupResource locates the kind for the permission check (a plan
// Change's Resource): "apps/deployments", "services".
func (k kind) groupResource() string {
	if k.Resource.Group == "" {
		return k.Resource.Resource
	}
	return k.Resource.Group + "/" + k.Resource.Resource
}

var (
	kServiceAccount      = kind{"ServiceAccount", schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}}
	kRole                = kind{"Role", schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}}
	kRoleBinding         = kind{"RoleBinding", schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}}
	kSecret              = kind{"Secret", schema.GroupVersionResource{Version: "v1", Resource: "secrets"}}
	kDeployment          = kind{"Deployment", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}}
	kService             = kind{"Service", schema.GroupVersionResource{Version: "v1", Resource: "services"}}
	kPDB                 = kind{"PodDisruptionBudget", schema.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}}
	kHPA                 = kind{"HorizontalPodAutoscaler", schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}}
	kGateway             = kind{"Gateway", schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "gateways"}}
	kVirtualService      = kind{"VirtualService", schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}}
	kDestinationRule     = kind{"DestinationRule", schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"}}
	kPeerAuthentication  = kind{"PeerAuthentication", schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"}}
	kNamespace           = kind{"Namespace", schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}}
	kNetworkPolicy       = kind{"NetworkPolicy", schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}}
	kPod                 = kind{"Pod", schema.GroupVersionResource{Version: "v1", Resource: "pods"}}
	kMutatingWebhookConf = kind{"MutatingWebhookConfiguration", schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"}}
)

// deleteOrder is the order unexpose (and pruning) deletes in: routing
// first, so the gateway stops taking traffic for the Service before it
// loses anything it needs to serve it; then the Service (the NEG
// controller drains the NEGs), the workload, the mTLS and network
// policies, the identity and credentials, and the gateway's own namespace
// last, once nothing else is in it (deleteNamespace).
var deleteOrder = []kind{
	kVirtualService, kGateway,
	kService, kHPA, kPDB, kDeployment,
	kDestinationRule, kPeerAuthentication, kNetworkPolicy,
	kRoleBinding, kRole, kServiceAccount, kSecret,
	kNamespace,
}
