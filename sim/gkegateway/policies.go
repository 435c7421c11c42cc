package gkegateway

import (
	"fmt"
	"sort"

	gkev1 "github.com/GoogleCloudPlatform/gke-gateway-api/apis/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1alpha2 "sigs.k8s.io/gateway-api/apis/v1alpha2"
)

// Policy kinds, as GKE names them in messages.
const (
	kindHealthCheckPolicy = "HealthCheckPolicy"
	kindBackendPolicy     = "GCPBackendPolicy"
	kindGatewayPolicy     = "GCPGatewayPolicy"
)

type policyKey struct{ Kind, Namespace, Name string }

// policies are the attached policies by target, and every policy's
// Attached condition (configure-gateway-resources docs, reference §4):
// HealthCheckPolicy and GCPBackendPolicy target a Service in their own
// namespace, GCPGatewayPolicy a Gateway in its own; one policy of a kind
// per target, the oldest wins and the others are Conflicted; a missing
// target is TargetNotFound.
type policies struct {
	healthCheck map[types.NamespacedName]*gkev1.HealthCheckPolicy // by Service
	backend     map[types.NamespacedName]*gkev1.GCPBackendPolicy  // by Service
	gateway     map[types.NamespacedName]*gkev1.GCPGatewayPolicy  // by Gateway
	attached    map[policyKey]condition
}

// policyObject is what resolution needs of any of the three kinds.
type policyObject struct {
	meta   metav1.Object
	target gwv1alpha2.NamespacedPolicyTargetReference
}

func resolvePolicies(w *world) *policies {
	p := &policies{
		healthCheck: map[types.NamespacedName]*gkev1.HealthCheckPolicy{},
		backend:     map[types.NamespacedName]*gkev1.GCPBackendPolicy{},
		gateway:     map[types.NamespacedName]*gkev1.GCPGatewayPolicy{},
		attached:    map[policyKey]condition{},
	}
	serviceExists := func(k types.NamespacedName) bool { return w.services[k] != nil }
	gatewayExists := func(k types.NamespacedName) bool {
		for _, g := range w.gateways {
			if g.Namespace == k.Namespace && g.Name == k.Name {
				return true
			}
		}
		return false
	}
	var objs []policyObject
	for _, o := range w.healthChecks {
		objs = append(objs, policyObject{o, o.Spec.TargetRef})
	}
	for target, i := range p.resolve(kindHealthCheckPolicy, "", "Service", objs, serviceExists) {
		p.healthCheck[target] = w.healthChecks[i]
	}
	objs = nil
	for _, o := range w.backendPolicies {
		objs = append(objs, policyObject{o, o.Spec.TargetRef})
	}
	for target, i := range p.resolve(kindBackendPolicy, "", "Service", objs, serviceExists) {
		p.backend[target] = w.backendPolicies[i]
	}
	objs = nil
	for _, o := range w.gatewayPolicies {
		objs = append(objs, policyObject{o, o.Spec.TargetRef})
	}
	for target, i := range p.resolve(kindGatewayPolicy, gatewayGroup, "Gateway", objs, gatewayExists) {
		p.gateway[target] = w.gatewayPolicies[i]
	}
	return p
}

// resolve picks each target's policy among objs (the oldest, then by
// name) and records every policy's Attached condition; it returns the
// winners' indexes in objs by target.
func (p *policies) resolve(kind, group, targetKind string, objs []policyObject, exists func(types.NamespacedName) bool) map[types.NamespacedName]int {
	order := make([]int, len(objs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		ma, mb := objs[order[a]].meta, objs[order[b]].meta
		ta, tb := ma.GetCreationTimestamp(), mb.GetCreationTimestamp()
		if !ta.Equal(&tb) {
			return ta.Before(&tb)
		}
		return ma.GetNamespace()+"/"+ma.GetName() < mb.GetNamespace()+"/"+mb.GetName()
	})
	winners := map[types.NamespacedName]int{}
	for _, i := range order {
		m, ref := objs[i].meta, objs[i].target
		key := policyKey{kind, m.GetNamespace(), m.GetName()}
		target := nn(m.GetNamespace(), string(ref.Name))
		switch {
		case string(ref.Group) != group || string(ref.Kind) != targetKind:
			p.attached[key] = condition{metav1.ConditionFalse, string(gkev1.PolicyReasonInvalid),
				fmt.Sprintf("%s must target a %s, not %s %q", kind, targetKind, ref.Kind, ref.Name)}
		case ref.Namespace != nil && string(*ref.Namespace) != m.GetNamespace():
			p.attached[key] = condition{metav1.ConditionFalse, string(gkev1.PolicyReasonInvalid),
				fmt.Sprintf("%s must be in the namespace of the %s it targets (%s)", kind, targetKind, *ref.Namespace)}
		case !exists(target):
			p.attached[key] = condition{metav1.ConditionFalse, string(gkev1.PolicyReasonTargetNotFound),
				fmt.Sprintf("%s %s/%s not found", targetKind, target.Namespace, target.Name)}
		default:
			if w, taken := winners[target]; taken {
				winner := objs[w].meta
				p.attached[key] = condition{metav1.ConditionFalse, string(gkev1.PolicyReasonConflicted),
					fmt.Sprintf("%s %q conflicts with %s %q, which targets %s %q too and is older", kind, m.GetName(), kind, winner.GetName(), targetKind, target.Name)}
				continue
			}
			winners[target] = i
			p.attached[key] = condition{metav1.ConditionTrue, string(gkev1.PolicyReasonAttached), fmt.Sprintf("Application of %s was a success", kind)}
		}
	}
	return winners
}
