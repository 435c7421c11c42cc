package mesh

import (
	"encoding/json"
	"slices"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshctl/meshctl/internal/kube"
)

// ManagedBy is meshctl's name wherever it marks what it made: the value of
// LabelManagedBy on Kubernetes objects, the field manager of its server-side
// applies (kube.FieldManager, the same string) and managedBy in the
// description of the Google resources it makes.
const ManagedBy = kube.FieldManager

// Ownership labels. Everything `meshctl expose` makes carries the first
// three, so that unexpose, validate and the load balancer find exactly what
// belongs to one Service without a local state file.
const (
	LabelManagedBy        = "app.kubernetes.io/managed-by"
	LabelServiceName      = "meshctl.io/service-name"
	LabelServiceNamespace = "meshctl.io/service-namespace"
	// LabelGateway is on a gateway's pods, and the whole of every selector
	// that picks them (Deployment, Service, PDB, Istio Gateway).
	LabelGateway = "meshctl.io/gateway"
)

// OwnerLabels are the labels that mark an object as made by meshctl for the
// Service namespace/service.
func OwnerLabels(namespace, service string) map[string]string {
	return map[string]string{
		LabelManagedBy:        ManagedBy,
		LabelServiceName:      service,
		LabelServiceNamespace: namespace,
	}
}

// OwnerSelector selects what meshctl made for namespace/service.
func OwnerSelector(namespace, service string) string {
	return labels.SelectorFromSet(OwnerLabels(namespace, service)).String()
}

// MadeByMeshctl reports whether labels mark an object as meshctl's.
func MadeByMeshctl(l map[string]string) bool { return l[LabelManagedBy] == ManagedBy }

// OwnedBy reports whether labels mark an object as meshctl's for the Service
// namespace/service.
func OwnedBy(l map[string]string, namespace, service string) bool {
	return MadeByMeshctl(l) && l[LabelServiceName] == service && l[LabelServiceNamespace] == namespace
}

// ResourceOwner is the marker meshctl writes, as JSON, in the description of
// the Google resources it makes: that meshctl made it, the load balancer it
// belongs to and, for a Service's own pieces, the Service ("namespace/name").
// Teardown deletes only what carries it, and validate finds a Service's load
// balancer by it.
type ResourceOwner struct {
	ManagedBy string   `json:"managedBy"`
	LB        string   `json:"lb"`
	Services  []string `json:"services,omitempty"`
	// Choices are what the user chose that later readers must know, so
	// that validate does not report a choice as a fault: ChoiceNoArmor.
	Choices []string `json:"choices,omitempty"`
}

// ChoiceNoArmor marks a backend service exposed with --no-armor: it has no
// Cloud Armor policy on purpose.
const ChoiceNoArmor = "no-armor"

// Chose reports whether the marker records choice.
func (o ResourceOwner) Chose(choice string) bool { return slices.Contains(o.Choices, choice) }

// NewResourceOwner returns meshctl's marker for load balancer lb and, when
// given, the Services the resource serves.
func NewResourceOwner(lb string, services ...string) ResourceOwner {
	return ResourceOwner{ManagedBy: ManagedBy, LB: lb, Services: services}
}

// String is the description to write.
func (o ResourceOwner) String() string {
	b, _ := json.Marshal(o)
	return string(b)
}

// Serves reports whether the resource is a piece of Service key
// ("namespace/name").
func (o ResourceOwner) Serves(key string) bool { return slices.Contains(o.Services, key) }

// ParseResourceOwner reads a Google resource's description; ok is false when
// meshctl did not write it.
func ParseResourceOwner(description string) (ResourceOwner, bool) {
	var o ResourceOwner
	if err := json.Unmarshal([]byte(description), &o); err != nil || o.ManagedBy != ManagedBy {
		return ResourceOwner{}, false
	}
	return o, true
}
