package gatewayapi

import (
	"errors"
	"fmt"
	"strings"

	gkev1 "github.com/GoogleCloudPlatform/gke-gateway-api/apis/networking/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meshctl/meshctl/internal/failure"
)

// Refusal is what GKE's Gateway controller would answer an object with,
// found before anything is applied: its code (GWCER1nn, or a policy's
// Conflicted), its words, and what to do instead. The rules are the
// controller's as observed (reference gke-gateway.md §4); sim/gkegateway
// applies the same ones to what is applied anyway.
type Refusal struct {
	Object  string `json:"object"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

func (r Refusal) Error() string { return fmt.Sprintf("%s: %s", r.Object, r.Message) }

// refusalsError joins refusals into one error; usage is set when the
// user's flags alone caused them (exit code 2).
func refusalsError(rs []Refusal, usage bool) error {
	if len(rs) == 0 {
		return nil
	}
	var msgs, fixes []string
	for _, r := range rs {
		msgs = append(msgs, "GKE's Gateway controller would refuse "+r.Error())
		if r.Fix != "" && !contains(fixes, r.Fix) {
			fixes = append(fixes, r.Fix)
		}
	}
	err := fmt.Errorf("%s (nothing was applied)", strings.Join(msgs, "\n"))
	if usage {
		return failure.Usage(err, strings.Join(fixes, "; "))
	}
	return failure.WithHint(err, strings.Join(fixes, "; "))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// RouteRefusals: the global external Application Load Balancer matches
// paths by prefix or exactly, headers and query parameters exactly, and not
// by method; GKE refuses the rest with GWCER104.
func RouteRefusals(r *gwv1.HTTPRoute) []Refusal {
	ref := fmt.Sprintf("HTTPRoute %s/%s", r.Namespace, r.Name)
	refuse := func(i int, what, fix string) Refusal {
		return Refusal{Object: ref, Code: "GWCER104", Fix: fix,
			Message: fmt.Sprintf("Error GWCER104: HTTPRoute %q is misconfigured, err: rule %d: %s", r.Namespace+"/"+r.Name, i, what)}
	}
	var out []Refusal
	for i, rule := range r.Spec.Rules {
		for _, m := range rule.Matches {
			if m.Path != nil && m.Path.Type != nil && *m.Path.Type == gwv1.PathMatchRegularExpression {
				p := ""
				if m.Path.Value != nil {
					p = *m.Path.Value
				}
				out = append(out, refuse(i, fmt.Sprintf("path match type %s (%q) is not supported", gwv1.PathMatchRegularExpression, p),
					"match by path prefix instead: --path /api routes /api and everything under it"))
			}
			if m.Method != nil {
				out = append(out, refuse(i, "method matches are not supported",
					"route every method and filter them in the mesh (an Istio AuthorizationPolicy on the Service)"))
			}
			for _, h := range m.Headers {
				if h.Type != nil && *h.Type == gwv1.HeaderMatchRegularExpression {
					out = append(out, refuse(i, fmt.Sprintf("header match type %s is not supported", gwv1.HeaderMatchRegularExpression), "match the header exactly"))
				}
			}
			for _, q := range m.QueryParams {
				if q.Type != nil && *q.Type == gwv1.QueryParamMatchRegularExpression {
					out = append(out, refuse(i, fmt.Sprintf("query parameter match type %s is not supported", gwv1.QueryParamMatchRegularExpression), "match the query parameter exactly"))
				}
			}
		}
	}
	return out
}

// GatewayRefusals: a certificate map excludes any listener tls block
// (GWCER105, gateway-api#1932), and the class takes one NamedAddress, never
// an IPAddress (GWCER106, gateway-api#2632).
func GatewayRefusals(gw *gwv1.Gateway) []Refusal {
	ref := fmt.Sprintf("Gateway %s/%s", gw.Namespace, gw.Name)
	key := gw.Namespace + "/" + gw.Name
	var out []Refusal
	if m := gw.Annotations[CertMapAnnotation]; m != "" {
		for _, l := range gw.Spec.Listeners {
			if l.TLS != nil {
				out = append(out, Refusal{Object: ref, Code: "GWCER105",
					Message: fmt.Sprintf("Error GWCER105: TLS configuration not allowed when CertificateMap %q is attached to Gateway %q", m, key),
					Fix:     "a Gateway takes its certificates from a certificate map or from its listeners, not both: leave out --certificate to use the map, or remove the " + CertMapAnnotation + " annotation someone else set on the Gateway"})
				break
			}
		}
	}
	for _, a := range gw.Spec.Addresses {
		if a.Type == nil || *a.Type != gwv1.NamedAddressType {
			typ := gwv1.IPAddressType
			if a.Type != nil {
				typ = *a.Type
			}
			out = append(out, Refusal{Object: ref, Code: "GWCER106",
				Message: fmt.Sprintf("Error GWCER106: unsupported address type %q", typ),
				Fix:     fmt.Sprintf("reserve the IP as a global address and name it: `gcloud compute addresses create NAME --global --addresses %s`, then --address NAME", a.Value)})
		}
	}
	if len(gw.Spec.Addresses) > 1 {
		out = append(out, Refusal{Object: ref, Code: "GWCER106",
			Message: fmt.Sprintf("Error GWCER106: only one address is supported, got %d", len(gw.Spec.Addresses)),
			Fix:     "give the Gateway one reserved address"})
	}
	return out
}

// policyTarget is a HealthCheckPolicy's or GCPBackendPolicy's target.
type policyTarget struct {
	kind, namespace, name, target string
	created                       string
}

func backendPolicyTarget(p *gkev1.GCPBackendPolicy) policyTarget {
	return policyTarget{kind: "GCPBackendPolicy", namespace: p.Namespace, name: p.Name, target: targetOf(string(p.Spec.TargetRef.Kind), string(p.Spec.TargetRef.Name)),
		created: p.CreationTimestamp.String()}
}

func healthCheckPolicyTarget(p *gkev1.HealthCheckPolicy) policyTarget {
	return policyTarget{kind: "HealthCheckPolicy", namespace: p.Namespace, name: p.Name, target: targetOf(string(p.Spec.TargetRef.Kind), string(p.Spec.TargetRef.Name)),
		created: p.CreationTimestamp.String()}
}

func targetOf(kind, name string) string { return kind + "/" + name }

// PolicyConflicts: GKE attaches one policy of a kind to a Service, the
// oldest, and marks the others Conflicted; so meshctl's policy must be the
// only one of its kind on the mesh gateway's Service.
func PolicyConflicts(ours policyTarget, others []policyTarget) []Refusal {
	var out []Refusal
	for _, o := range others {
		if o.kind != ours.kind || o.namespace != ours.namespace || o.name == ours.name || o.target != ours.target {
			continue
		}
		out = append(out, Refusal{Object: fmt.Sprintf("%s %s/%s", ours.kind, ours.namespace, ours.name), Code: "Conflicted",
			Message: fmt.Sprintf("%s %s/%s already targets %s: GKE attaches one %s per Service (the oldest) and marks the others Conflicted",
				o.kind, o.namespace, o.name, strings.Replace(o.target, "/", " ", 1), o.kind),
			Fix: fmt.Sprintf("carry its settings over to meshctl's flags and delete it (`kubectl delete %s %s -n %s`)", strings.ToLower(o.kind), o.name, o.namespace)})
	}
	return out
}

// errNotOurs marks an object with meshctl's name that meshctl did not make.
var errNotOurs = errors.New("exists and was not made by meshctl")

// joinErrs joins errors, nil for none.
func joinErrs(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}
