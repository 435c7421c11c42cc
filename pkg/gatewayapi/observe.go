package gatewayapi

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	gkev1 "github.com/GoogleCloudPlatform/gke-gateway-api/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/expose"
	"github.com/meshctl/meshctl/pkg/lb"
)

// ConditionReport is one condition GKE's controller wrote, as people read
// it.
type ConditionReport struct {
	Object  string `json:"object"`
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Problem is a condition the controller will not get past by itself: the
// objects must change (or something they name must be made).
type Problem struct {
	ConditionReport
	// Code is the controller's GWCER code in the message, if any.
	Code string `json:"code,omitempty"`
}

// Observed is one reading of what the controller reports on the Gateway,
// the routes and the policies.
type Observed struct {
	Gateway    *gwv1.Gateway
	Conditions []ConditionReport
	// Pending lists what is still awaited; Problems what will not come.
	Pending  []string
	Problems []Problem
}

// Summary says what is awaited, in a line: the conditions the controller
// has not written yet are counted, the others named.
func (o *Observed) Summary() string {
	var named []string
	unseen := 0
	for _, p := range o.Pending {
		if strings.HasSuffix(p, waitingForController) {
			unseen++
			continue
		}
		named = append(named, p)
	}
	if unseen > 0 {
		named = append(named, fmt.Sprintf("%d condition(s) not yet written by the controller", unseen))
	}
	return strings.Join(named, "; ")
}

// Ready reports whether everything is accepted, attached and programmed.
func (o *Observed) Ready() bool { return len(o.Pending) == 0 && len(o.Problems) == 0 }

// watched names the objects a Service's Exposure is made of, as the
// controller reports on them.
type watched struct {
	namespace, gateway string
	routes             []string // the Service's route, and the redirect
	healthCheckPolicy  string
	backendPolicy      string
	gatewayPolicy      string
}

func (s Spec) watched() watched {
	w := watched{namespace: s.Names.Namespace, gateway: s.Names.Gateway, routes: []string{s.Names.Route},
		healthCheckPolicy: s.Names.Route, backendPolicy: s.Names.Route, gatewayPolicy: s.Names.GatewayPolicy}
	if s.HTTPRedirect {
		w.routes = append(w.routes, s.Names.Redirect)
	}
	return w
}

// Observe reads the objects and sorts their conditions into what is done,
// what is awaited and what will not come. A condition counts only once the
// controller has seen the object's current generation.
func (w watched) Observe(ctx context.Context, c kube.Objects) (*Observed, error) {
	o := &Observed{}
	gw, err := getTyped[gwv1.Gateway](ctx, c, kGateway, w.namespace, w.gateway)
	if err != nil {
		return nil, err
	}
	gref := "Gateway " + w.namespace + "/" + w.gateway
	if gw == nil {
		o.Pending = append(o.Pending, gref+" does not exist")
		return o, nil
	}
	o.Gateway = gw
	for _, t := range []string{string(gwv1.GatewayConditionAccepted), string(gwv1.GatewayConditionProgrammed)} {
		o.condition(gref, t, gw.Status.Conditions, gw.Generation)
	}
	for _, name := range w.routes {
		r, err := getTyped[gwv1.HTTPRoute](ctx, c, kHTTPRoute, w.namespace, name)
		if err != nil {
			return nil, err
		}
		rref := "HTTPRoute " + w.namespace + "/" + name
		if r == nil {
			o.Pending = append(o.Pending, rref+" does not exist")
			continue
		}
		var conds []metav1.Condition
		for _, ps := range r.Status.Parents {
			if string(ps.ControllerName) == ControllerName && string(ps.ParentRef.Name) == w.gateway {
				conds = ps.Conditions
			}
		}
		for _, t := range []string{string(gwv1.RouteConditionAccepted), string(gwv1.RouteConditionResolvedRefs)} {
			o.condition(rref, t, conds, r.Generation)
		}
	}
	return o, w.observePolicies(ctx, c, o)
}

// observePolicies reads the policies' Attached conditions.
func (w watched) observePolicies(ctx context.Context, c kube.Objects, o *Observed) error {
	for _, p := range []struct {
		k    kind
		name string
	}{{kHealthCheckPolicy, w.healthCheckPolicy}, {kBackendPolicy, w.backendPolicy}, {kGatewayPolicy, w.gatewayPolicy}} {
		st, err := getTyped[policyStatus](ctx, c, p.k, w.namespace, p.name)
		if err != nil {
			return err
		}
		ref := p.k.Kind + " " + w.namespace + "/" + p.name
		if st == nil {
			o.Pending = append(o.Pending, ref+" does not exist")
			continue
		}
		o.condition(ref, string(gkev1.PolicyConditionAttached), st.Status.Conditions, st.Generation)
	}
	return nil
}

// policyStatus is what the three policy kinds share: their status.
type policyStatus struct {
	metav1.ObjectMeta `json:"metadata"`
	Status            struct {
		Conditions []metav1.Condition `json:"conditions"`
	} `json:"status"`
}

// condition sorts one condition of an object of generation gen.
func (o *Observed) condition(object, typ string, conds []metav1.Condition, gen int64) {
	var c *metav1.Condition
	for i := range conds {
		if conds[i].Type == typ {
			c = &conds[i]
		}
	}
	if c == nil || c.ObservedGeneration < gen {
		o.Pending = append(o.Pending, fmt.Sprintf("%s %s: %s", object, typ, waitingForController))
		return
	}
	rep := ConditionReport{Object: object, Type: typ, Status: string(c.Status), Reason: c.Reason, Message: c.Message}
	o.Conditions = append(o.Conditions, rep)
	switch {
	case c.Status == metav1.ConditionTrue:
	case c.Status == metav1.ConditionUnknown, c.Reason == "Pending", transient(c.Message):
		o.Pending = append(o.Pending, fmt.Sprintf("%s %s=%s (%s)", object, typ, c.Status, firstNonEmpty(c.Message, c.Reason)))
	default:
		o.Problems = append(o.Problems, Problem{ConditionReport: rep, Code: gwcerCode(c.Message)})
	}
}

const waitingForController = "waiting for the controller"

// transient: the controller failed to sync with Google (not translate
// the objects), which it retries by itself.
func transient(msg string) bool { return strings.Contains(msg, "failed to sync") }

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// gwcerCode is the first "GWCERnnn" in a message.
func gwcerCode(msg string) string {
	i := strings.Index(msg, "GWCER")
	if i < 0 || len(msg) < i+8 {
		return ""
	}
	return msg[i : i+8]
}

// Events are the controller's events about the objects, oldest first, as
// "Warning SYNC Gateway ns/gw: message".
func (w watched) Events(ctx context.Context, c kube.Objects, warningsOnly bool) []string {
	items, err := c.List(ctx, kEvent.Resource, w.namespace, "")
	if err != nil {
		return nil
	}
	evs, err := typed[corev1.Event](items)
	if err != nil {
		return nil
	}
	names := map[string]bool{w.gateway: true, w.healthCheckPolicy: true, w.backendPolicy: true, w.gatewayPolicy: true}
	for _, r := range w.routes {
		names[r] = true
	}
	kinds := map[string]bool{"Gateway": true, "HTTPRoute": true, "HealthCheckPolicy": true, "GCPBackendPolicy": true, "GCPGatewayPolicy": true}
	var keep []*corev1.Event
	for _, e := range evs {
		if names[e.InvolvedObject.Name] && kinds[e.InvolvedObject.Kind] && (!warningsOnly || e.Type == corev1.EventTypeWarning) {
			keep = append(keep, e)
		}
	}
	sort.SliceStable(keep, func(i, j int) bool { return eventTime(keep[i]).Before(eventTime(keep[j])) })
	var out []string
	for _, e := range keep {
		out = append(out, fmt.Sprintf("%s %s %s %s/%s: %s", e.Type, e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Namespace, e.InvolvedObject.Name, e.Message))
	}
	return out
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// Observe reads what the controller reports on the Service's exposure: the
// Gateway, the Service's route (and the Gateway's redirect, when there is
// one) and the policies.
func (e Exposure) Observe(ctx context.Context, c kube.Objects) (*Observed, error) {
	n := NamesFor("", "", e.Namespace, e.MeshGateway, e.Gateway, lb.EdgeSpec{})
	w := watched{namespace: e.Namespace, gateway: e.Gateway, routes: []string{e.MeshGateway},
		healthCheckPolicy: e.MeshGateway, backendPolicy: e.MeshGateway, gatewayPolicy: n.GatewayPolicy}
	if _, err := c.Get(ctx, kHTTPRoute.Resource, e.Namespace, n.Redirect); err == nil {
		w.routes = append(w.routes, n.Redirect)
	}
	return w.Observe(ctx, c)
}

// Backend finds, among the backend services the Gateway's annotation
// names, the one whose backends are the mesh gateway's NEGs (as GKE's NEG
// controller reports them on its Service); nil when there is none yet.
func (e Exposure) Backend(ctx context.Context, c kube.Objects, compute ComputeReader, gw *gwv1.Gateway) (*computepb.BackendService, expose.NEGStatus, error) {
	neg, ok := meshGatewayNEG(ctx, c, e.Namespace, e.MeshGateway)
	if !ok || gw == nil {
		return nil, neg, nil
	}
	bs, err := backendFor(ctx, compute, annotated(gw.Annotations, annotationBackendServices), neg.Name)
	return bs, neg, err
}

// HTTPSProxy returns the target HTTPS proxy behind the Gateway's HTTPS
// forwarding rule, as its annotations name them; nil when there is none.
func HTTPSProxy(ctx context.Context, compute ComputeReader, gw *gwv1.Gateway) (*computepb.TargetHttpsProxy, *computepb.ForwardingRule) {
	for _, name := range annotated(gw.Annotations, annotationForwardingRules) {
		fr := getCompute[*computepb.ForwardingRule](ctx, compute, lb.KindForwardingRule, name)
		if fr != nil && strings.Contains(fr.GetTarget(), "/targetHttpsProxies/") {
			return getCompute[*computepb.TargetHttpsProxy](ctx, compute, lb.KindHTTPSProxy, lastSegment(fr.GetTarget())), fr
		}
	}
	return nil, nil
}
