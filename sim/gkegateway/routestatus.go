package gkegateway

import (
	"context"
	"fmt"
	"reflect"

	gkev1 "github.com/GoogleCloudPlatform/gke-gateway-api/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// writeRouteStatuses gives every route this controller's parent entries
// (one per parentRef naming an accepted Gateway of the class; entries for
// Gateways gone or not yet accepted are dropped), leaving other
// controllers' entries as they are. Binding a route writes GKE's event.
func (p *pass) writeRouteStatuses(ctx context.Context) {
	ours := map[types.NamespacedName][]gwv1.RouteParentStatus{}
	problems := map[types.NamespacedName]string{}
	for _, run := range p.runs {
		for k, entries := range run.t.parents {
			ours[k] = append(ours[k], entries...)
		}
		for k, msg := range run.t.routeProblems {
			problems[k] = msg
		}
	}
	for _, r := range p.w.routes {
		key := nn(r.Namespace, r.Name)
		var next []gwv1.RouteParentStatus
		for _, ps := range r.Status.Parents {
			if ps.ControllerName != ControllerName {
				next = append(next, ps)
			}
		}
		for _, ps := range ours[key] {
			old := oldParent(r, ps.ParentRef)
			if old != nil {
				ps.Conditions = mergeConditions(old.Conditions, ps.Conditions, p.now)
			} else {
				ps.Conditions = mergeConditions(nil, ps.Conditions, p.now)
			}
			if accepted(ps.Conditions) && (old == nil || !accepted(old.Conditions)) {
				p.c.recorder.Event(r, corev1.EventTypeNormal, "SYNC", fmt.Sprintf("Bind of HTTPRoute %q to ParentRef %s was a success", key.String(), describeParentRef(ps.ParentRef, r.Namespace)))
			}
			if msg := problems[key]; msg != "" && (old == nil || !hasMessage(old.Conditions, msg)) {
				p.c.recorder.Event(r, corev1.EventTypeWarning, "SYNC", msg)
			}
			next = append(next, ps)
		}
		if equality.Semantic.DeepEqual(r.Status.Parents, next) || len(r.Status.Parents) == 0 && len(next) == 0 {
			continue
		}
		upd := r.DeepCopy()
		upd.Status.Parents = next
		if upd.Status.Parents == nil {
			upd.Status.Parents = []gwv1.RouteParentStatus{}
		}
		if _, err := p.c.cl.Gateway.GatewayV1().HTTPRoutes(r.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
			p.logf("status of HTTPRoute %s: %v", key, err)
			p.retry()
		}
	}
}

func oldParent(r *gwv1.HTTPRoute, ref gwv1.ParentReference) *gwv1.RouteParentStatus {
	for i, ps := range r.Status.Parents {
		if ps.ControllerName == ControllerName && reflect.DeepEqual(ps.ParentRef, ref) {
			return &r.Status.Parents[i]
		}
	}
	return nil
}

func accepted(conds []metav1.Condition) bool {
	for _, c := range conds {
		if c.Type == string(gwv1.RouteConditionAccepted) {
			return c.Status == metav1.ConditionTrue
		}
	}
	return false
}

func hasMessage(conds []metav1.Condition, msg string) bool {
	for _, c := range conds {
		if c.Message == msg {
			return true
		}
	}
	return false
}

// describeParentRef renders a parentRef the way GKE's bind event does
// ("{Group: ..., Kind: ..., Namespace: ..., Name: ..., SectionName: ...,
// Port: ...}"; unset fields as <nil>, a guess at the detail).
func describeParentRef(ref gwv1.ParentReference, routeNS string) string {
	group, kind, ns := gatewayGroup, "Gateway", routeNS
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	section, port := "<nil>", "<nil>"
	if ref.SectionName != nil {
		section = string(*ref.SectionName)
	}
	if ref.Port != nil {
		port = fmt.Sprint(*ref.Port)
	}
	return fmt.Sprintf("{Group: %s, Kind: %s, Namespace: %s, Name: %s, SectionName: %s, Port: %s}", group, kind, ns, ref.Name, section, port)
}

// policyStatus is what writing one policy's status needs.
type policyStatus struct {
	kind   string
	obj    runtime.Object
	meta   metav1.Object
	conds  *[]metav1.Condition
	update func(ctx context.Context) error
}

// applied reports whether a policy that attaches shapes something this
// pass built: a backend of an accepted Gateway, or an accepted Gateway.
// Until then it has no status, as it has been applied to nothing.
func (p *pass) applied(ps policyStatus) bool {
	ns := ps.meta.GetNamespace()
	for _, run := range p.runs {
		switch ps.kind {
		case kindGatewayPolicy:
			if run.t.gw.Namespace == ns && p.pol.gateway[nn(ns, run.t.gw.Name)] != nil && p.pol.gateway[nn(ns, run.t.gw.Name)].GetName() == ps.meta.GetName() {
				return true
			}
		default:
			for k := range run.t.backends {
				if k.Namespace != ns {
					continue
				}
				if hp := p.pol.healthCheck[nn(ns, k.Service)]; ps.kind == kindHealthCheckPolicy && hp != nil && hp.Name == ps.meta.GetName() {
					return true
				}
				if bp := p.pol.backend[nn(ns, k.Service)]; ps.kind == kindBackendPolicy && bp != nil && bp.Name == ps.meta.GetName() {
					return true
				}
			}
		}
	}
	return false
}

// writePolicyStatuses sets every policy's Attached condition and writes
// GKE's event when it changes ("Application of HealthCheckPolicy "ns/p"
// was a success").
func (p *pass) writePolicyStatuses(ctx context.Context) {
	client := p.c.cl.GKE.NetworkingV1()
	var all []policyStatus
	for _, o := range p.w.healthChecks {
		o = o.DeepCopy()
		all = append(all, policyStatus{kindHealthCheckPolicy, o, o, &o.Status.Conditions, func(ctx context.Context) error {
			_, err := client.HealthCheckPolicies(o.Namespace).UpdateStatus(ctx, o, metav1.UpdateOptions{FieldManager: fieldManager})
			return err
		}})
	}
	for _, o := range p.w.backendPolicies {
		o = o.DeepCopy()
		all = append(all, policyStatus{kindBackendPolicy, o, o, &o.Status.Conditions, func(ctx context.Context) error {
			_, err := client.GCPBackendPolicies(o.Namespace).UpdateStatus(ctx, o, metav1.UpdateOptions{FieldManager: fieldManager})
			return err
		}})
	}
	for _, o := range p.w.gatewayPolicies {
		o = o.DeepCopy()
		all = append(all, policyStatus{kindGatewayPolicy, o, o, &o.Status.Conditions, func(ctx context.Context) error {
			_, err := client.GCPGatewayPolicies(o.Namespace).UpdateStatus(ctx, o, metav1.UpdateOptions{FieldManager: fieldManager})
			return err
		}})
	}
	for _, ps := range all {
		p.writePolicyStatus(ctx, ps)
	}
}

func (p *pass) writePolicyStatus(ctx context.Context, ps policyStatus) {
	c, ok := p.pol.attached[policyKey{ps.kind, ps.meta.GetNamespace(), ps.meta.GetName()}]
	if !ok || c.status == metav1.ConditionTrue && !p.applied(ps) {
		return
	}
	old := *ps.conds
	next := mergeConditions(old, []metav1.Condition{{
		Type: string(gkev1.PolicyConditionAttached), Status: c.status, Reason: c.reason, Message: c.message, ObservedGeneration: ps.meta.GetGeneration(),
	}}, p.now)
	if equality.Semantic.DeepEqual(old, next) {
		return
	}
	was := len(old) > 0 && old[0].Status == c.status && old[0].Message == c.message
	*ps.conds = next
	if err := ps.update(ctx); err != nil {
		p.logf("status of %s %s/%s: %v", ps.kind, ps.meta.GetNamespace(), ps.meta.GetName(), err)
		p.retry()
		return
	}
	if was {
		return
	}
	if c.status == metav1.ConditionTrue {
		p.c.recorder.Event(ps.obj, corev1.EventTypeNormal, "SYNC", fmt.Sprintf("Application of %s %q was a success", ps.kind, ps.meta.GetNamespace()+"/"+ps.meta.GetName()))
	} else {
		p.c.recorder.Event(ps.obj, corev1.EventTypeWarning, "SYNC", c.message)
	}
}
