package gkegateway

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// checkRouteSupported names the first thing in a route that the global
// external Application Load Balancer cannot express, or returns "". GKE
// answers these with GWCER104 (reference §4: regular-expression and method
// matches); the texts after the code are meshsim's.
func checkRouteSupported(r *gwv1.HTTPRoute) string {
	for i, rule := range r.Spec.Rules {
		for _, m := range rule.Matches {
			if m.Path != nil && m.Path.Type != nil && *m.Path.Type == gwv1.PathMatchRegularExpression {
				return fmt.Sprintf("rule %d: path match type %s is not supported", i, gwv1.PathMatchRegularExpression)
			}
			if m.Method != nil {
				return fmt.Sprintf("rule %d: method matches are not supported", i)
			}
			for _, h := range m.Headers {
				if h.Type != nil && *h.Type == gwv1.HeaderMatchRegularExpression {
					return fmt.Sprintf("rule %d: header match type %s is not supported", i, gwv1.HeaderMatchRegularExpression)
				}
			}
			for _, q := range m.QueryParams {
				if q.Type != nil && *q.Type == gwv1.QueryParamMatchRegularExpression {
					return fmt.Sprintf("rule %d: query parameter match type %s is not supported", i, gwv1.QueryParamMatchRegularExpression)
				}
			}
		}
		for _, f := range rule.Filters {
			switch f.Type {
			case gwv1.HTTPRouteFilterRequestRedirect:
				if f.RequestRedirect != nil && f.RequestRedirect.Port != nil {
					return fmt.Sprintf("rule %d: a RequestRedirect port is not supported", i)
				}
			case gwv1.HTTPRouteFilterRequestHeaderModifier, gwv1.HTTPRouteFilterResponseHeaderModifier, gwv1.HTTPRouteFilterURLRewrite:
			default:
				return fmt.Sprintf("rule %d: filter type %s is not supported", i, f.Type)
			}
		}
	}
	return ""
}

// resolveBackends resolves every rule's backendRefs to (Service, port)
// backends and gives the route's ResolvedRefs condition. An unresolved
// backend stays in the rule as invalid, which the URL map answers with 500
// (Gateway API), and makes ResolvedRefs False: BackendNotFound for a
// missing Service or port, worded as GKE words it (reference §3:
// "...failed to be resolved: error cause: reference-not-found: Error
// GWCER104: ... Error GWCER102: services ns/svc not found"; the parts
// elided there are meshsim's).
func resolveBackends(w *world, r *gwv1.HTTPRoute) ([]rulePlan, condition) {
	resolved := okRouteResolved
	var rules []rulePlan
	for i, rule := range r.Spec.Rules {
		plan := rulePlan{index: i, rule: rule}
		for _, ref := range rule.BackendRefs {
			b, problem := resolveBackend(w, r, ref.BackendObjectReference)
			b.weight = 1
			if ref.Weight != nil {
				b.weight = *ref.Weight
			}
			plan.backends = append(plan.backends, b)
			if problem.status == metav1.ConditionFalse && resolved.status == metav1.ConditionTrue {
				resolved = problem
			}
		}
		rules = append(rules, plan)
	}
	return rules, resolved
}

func resolveBackend(w *world, r *gwv1.HTTPRoute, ref gwv1.BackendObjectReference) (weightedBackend, condition) {
	ns := r.Namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	if ref.Group != nil && *ref.Group != "" || ref.Kind != nil && *ref.Kind != "Service" {
		return weightedBackend{}, condition{metav1.ConditionFalse, string(gwv1.RouteReasonInvalidKind),
			fmt.Sprintf("backendRef %s: kind %s is not supported", ref.Name, kindOf(ref))}
	}
	if !w.referenceAllowed(gatewayGroup, "HTTPRoute", r.Namespace, "", "Service", ns, string(ref.Name)) {
		return weightedBackend{}, condition{metav1.ConditionFalse, string(gwv1.RouteReasonRefNotPermitted),
			fmt.Sprintf("backendRef %s/%s is not permitted by any ReferenceGrant", ns, ref.Name)}
	}
	notFound := func(what string) condition {
		return condition{metav1.ConditionFalse, string(gwv1.RouteReasonBackendNotFound), fmt.Sprintf(
			"Backend reference of HTTPRoute \"%s/%s\" failed to be resolved: error cause: reference-not-found: Error GWCER104: HTTPRoute \"%s/%s\" is misconfigured, err: Error GWCER102: %s",
			r.Namespace, r.Name, r.Namespace, r.Name, what)}
	}
	svc := w.services[nn(ns, string(ref.Name))]
	if svc == nil {
		return weightedBackend{}, notFound(fmt.Sprintf("services %s/%s not found", ns, ref.Name))
	}
	if ref.Port == nil || servicePort(svc, *ref.Port) == nil {
		port := "(none)"
		if ref.Port != nil {
			port = fmt.Sprint(*ref.Port)
		}
		return weightedBackend{}, notFound(fmt.Sprintf("port %s of services %s/%s not found", port, ns, ref.Name))
	}
	return weightedBackend{key: backendKey{Namespace: ns, Service: string(ref.Name), Port: *ref.Port}, valid: true}, okRouteResolved
}

func kindOf(ref gwv1.BackendObjectReference) string {
	if ref.Kind != nil {
		return string(*ref.Kind)
	}
	return "Service"
}
