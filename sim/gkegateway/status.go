package gkegateway

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Condition types and texts GKE writes on a Gateway (reference §3, [X25]):
// Scheduled and Ready are kept for old clients with messages saying so,
// and GKE adds its own GatewayHealthy.
const (
	conditionGatewayHealthy = "networking.gke.io/GatewayHealthy"
	scheduledMessage        = "The OSS Gateway API has deprecated this condition, do not depend on it."
	readyMessage            = "The OSS Gateway API has altered the \"Ready\" condition semantics and reserved it for future use.  GKE Gateway will stop emitting it in a future update, use \"Programmed\" instead."
)

// The CRD's own default for a condition no controller has written yet.
const (
	pendingReason  = "Pending"
	pendingMessage = "Waiting for controller"
)

func hasFinalizer(list []string) bool {
	for _, f := range list {
		if f == finalizer {
			return true
		}
	}
	return false
}

// setFinalizers writes a Gateway's finalizers, guarded by its
// resourceVersion so a concurrent change is not lost (409, retried).
func (c *Controller) setFinalizers(ctx context.Context, gw *gwv1.Gateway, list []string) (*gwv1.Gateway, error) {
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"finalizers": list, "resourceVersion": gw.ResourceVersion}})
	return c.cl.Gateway.GatewayV1().Gateways(gw.Namespace).Patch(ctx, gw.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: fieldManager})
}

// ensureFinalizer adds the finalizer and returns the Gateway as the API
// server now holds it, so the pass's later writes are not stale.
func (c *Controller) ensureFinalizer(ctx context.Context, gw *gwv1.Gateway) (*gwv1.Gateway, error) {
	if hasFinalizer(gw.Finalizers) {
		return gw, nil
	}
	return c.setFinalizers(ctx, gw, append(append([]string{}, gw.Finalizers...), finalizer))
}

func (c *Controller) dropFinalizer(ctx context.Context, gw *gwv1.Gateway) error {
	var list []string
	for _, f := range gw.Finalizers {
		if f != finalizer {
			list = append(list, f)
		}
	}
	if list == nil {
		list = []string{}
	}
	_, err := c.setFinalizers(ctx, gw, list)
	return err
}

// mergeConditions keeps a condition's lastTransitionTime while its status
// stays the same, so a status rewritten with nothing new compares equal.
func mergeConditions(old, next []metav1.Condition, now time.Time) []metav1.Condition {
	out := make([]metav1.Condition, len(next))
	for i, c := range next {
		c.LastTransitionTime = metav1.NewTime(now.Truncate(time.Second))
		for _, o := range old {
			if o.Type == c.Type && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		out[i] = c
	}
	return out
}

// programState is what a pass concludes about a Gateway's Programmed.
type programState struct {
	condition
	ip string
}

// finish concludes one Gateway: its status, events and annotations.
func (p *pass) finish(ctx context.Context, run *gatewayRun) {
	if run.planned {
		p.result(run)
	}
	gw, key := run.t.gw, run.key()
	rep := p.c.reported[key]
	st := p.previousProgram(gw)
	switch {
	case run.t.err != nil:
		msg := fmt.Sprintf("failed to translate Gateway %q: %s", key.String(), run.t.err.Error())
		st = programState{condition: condition{metav1.ConditionFalse, string(run.t.err.Reason), msg}}
		p.warn(run, &rep, msg)
	case run.failed != nil:
		// Guess: GKE's wording for a Compute failure was not seen.
		msg := fmt.Sprintf("failed to sync Gateway %q: %v", key.String(), run.failed)
		st = programState{condition: condition{metav1.ConditionFalse, string(gwv1.GatewayReasonInvalid), msg}}
		p.warn(run, &rep, msg)
		p.retry()
	case run.pending != nil:
		if msg := run.pending.Error(); rep.pending != msg {
			p.logf("Gateway %s waits: %s", key, msg)
			rep.pending = msg
		}
		p.retry()
	default:
		if programAt := gw.CreationTimestamp.Add(time.Duration(p.knobs.ProgramDelay)); p.now.Before(programAt) {
			p.soon(programAt)
			break
		}
		ip, err := p.addressIP(ctx, run)
		if err != nil {
			p.retry()
			break
		}
		st = programState{condition: condition{metav1.ConditionTrue, string(gwv1.GatewayReasonProgrammed), ""}, ip: ip}
	}
	if err := p.writeGatewayStatus(ctx, run, st); err != nil {
		p.logf("status of Gateway %s: %v", key, err)
		p.retry()
		return
	}
	if st.status == metav1.ConditionTrue && run.t.err == nil && run.failed == nil && run.pending == nil {
		if err := p.writeAnnotations(ctx, run); err != nil {
			p.logf("annotations of Gateway %s: %v", key, err)
			p.retry()
		}
		if run.changed || p.resync || rep.generation != gw.Generation || !rep.programmed {
			p.c.recorder.Event(gw, corev1.EventTypeNormal, "SYNC", fmt.Sprintf("SYNC on %s was a success", key.String()))
		}
		rep = report{generation: gw.Generation, programmed: true}
	}
	if run.pending == nil {
		rep.pending = ""
	}
	p.c.reported[key] = rep
}

// previousProgram is the Programmed state a Gateway already shows: a
// pass that cannot finish keeps it (a working load balancer stays
// Programmed while a change waits for its NEGs).
func (p *pass) previousProgram(gw *gwv1.Gateway) programState {
	for _, c := range gw.Status.Conditions {
		if c.Type == string(gwv1.GatewayConditionProgrammed) && c.Status == metav1.ConditionTrue {
			st := programState{condition: condition{c.Status, c.Reason, c.Message}}
			for _, a := range gw.Status.Addresses {
				st.ip = a.Value
			}
			return st
		}
	}
	return programState{condition: condition{metav1.ConditionUnknown, pendingReason, pendingMessage}}
}

// warn writes a Warning SYNC event when its text is new, or on a resync.
func (p *pass) warn(run *gatewayRun, rep *report, msg string) {
	if rep.warning != msg || p.resync {
		p.c.recorder.Event(run.t.gw, corev1.EventTypeWarning, "SYNC", msg)
	}
	rep.warning, rep.programmed = msg, false
}

// writeGatewayStatus writes the conditions in GKE's order (Scheduled,
// Accepted, Programmed, Ready, GatewayHealthy), the listeners and the
// address, when they differ from what the Gateway shows.
func (p *pass) writeGatewayStatus(ctx context.Context, run *gatewayRun, st programState) error {
	gw := run.t.gw
	gen := gw.Generation
	cond := func(typ string, c condition) metav1.Condition {
		return metav1.Condition{Type: typ, Status: c.status, Reason: c.reason, Message: c.message, ObservedGeneration: gen}
	}
	conds := []metav1.Condition{
		cond(string(gwv1.GatewayConditionScheduled), condition{metav1.ConditionTrue, string(gwv1.GatewayReasonScheduled), scheduledMessage}), //nolint:staticcheck // GKE's controller still reports Scheduled (gke-gateway.md §3)
		cond(string(gwv1.GatewayConditionAccepted), condition{metav1.ConditionTrue, string(gwv1.GatewayReasonAccepted), ""}),
		cond(string(gwv1.GatewayConditionProgrammed), st.condition),
		cond(string(gwv1.GatewayConditionReady), condition{st.status, readyReason(st), readyMessage}), //nolint:staticcheck // GKE's controller still reports Ready (gke-gateway.md §3)
	}
	var status gwv1.GatewayStatus
	if st.status == metav1.ConditionTrue {
		conds = append(conds, cond(conditionGatewayHealthy, condition{metav1.ConditionTrue, "Healthy", ""}))
		status.Addresses = []gwv1.GatewayStatusAddress{{Type: ptrTo(gwv1.IPAddressType), Value: st.ip}}
	}
	status.Conditions = mergeConditions(gw.Status.Conditions, conds, p.now)
	for _, l := range run.t.listeners {
		status.Listeners = append(status.Listeners, p.listenerStatus(gw, l, st.status == metav1.ConditionTrue))
	}
	if equality.Semantic.DeepEqual(gw.Status, status) {
		return nil
	}
	client := p.c.cl.Gateway.GatewayV1().Gateways(gw.Namespace)
	next := gw.DeepCopy()
	next.Status = status
	_, err := client.UpdateStatus(ctx, next, metav1.UpdateOptions{FieldManager: fieldManager})
	if apierrors.IsConflict(err) {
		// The cached Gateway is older than the one the API server holds
		// (the finalizer was just added): the status is the controller's
		// alone, so it goes onto the current object.
		cur, gerr := client.Get(ctx, gw.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		cur.Status = status
		_, err = client.UpdateStatus(ctx, cur, metav1.UpdateOptions{FieldManager: fieldManager})
	}
	return err
}

func readyReason(st programState) string {
	if st.status == metav1.ConditionTrue {
		return string(gwv1.GatewayReasonReady) //nolint:staticcheck // GKE's controller still reports Ready (gke-gateway.md §3)
	}
	return st.reason
}

func ptrTo[T any](v T) *T { return &v }

func (p *pass) listenerStatus(gw *gwv1.Gateway, l listenerResult, programmed bool) gwv1.ListenerStatus {
	var old []metav1.Condition
	for _, o := range gw.Status.Listeners {
		if o.Name == l.name {
			old = o.Conditions
		}
	}
	prog := condition{metav1.ConditionUnknown, pendingReason, pendingMessage}
	if programmed && l.accepted.status == metav1.ConditionTrue {
		prog = condition{metav1.ConditionTrue, string(gwv1.ListenerReasonProgrammed), ""}
	}
	ready := prog
	if prog.status == metav1.ConditionTrue {
		ready.reason = string(gwv1.ListenerReasonReady) //nolint:staticcheck // GKE's controller still reports a listener's Ready (gke-gateway.md §3)
	}
	conds := []metav1.Condition{}
	for _, c := range []struct {
		typ gwv1.ListenerConditionType
		c   condition
	}{
		{gwv1.ListenerConditionResolvedRefs, l.resolvedRefs}, {gwv1.ListenerConditionAccepted, l.accepted},
		{gwv1.ListenerConditionProgrammed, prog}, {gwv1.ListenerConditionReady, ready}, //nolint:staticcheck // GKE's controller still reports a listener's Ready (gke-gateway.md §3)
	} {
		conds = append(conds, metav1.Condition{Type: string(c.typ), Status: c.c.status, Reason: c.c.reason, Message: c.c.message, ObservedGeneration: gw.Generation})
	}
	kinds := []gwv1.RouteGroupKind{}
	if l.accepted.reason != string(gwv1.ListenerReasonUnsupportedProtocol) {
		kinds = append(kinds, gwv1.RouteGroupKind{Group: ptrTo(gwv1.Group(gatewayGroup)), Kind: "HTTPRoute"})
	}
	return gwv1.ListenerStatus{Name: l.name, SupportedKinds: kinds, AttachedRoutes: l.attached, Conditions: mergeConditions(old, conds, p.now)}
}

// Resource annotations GKE writes on a programmed Gateway (reference §3):
// every key, empty when nothing of the kind exists; values are
// ", "-joined /projects/<PROJECT_NUMBER>/global/<collection>/<name>.
var resourceAnnotations = map[string]string{
	"networking.gke.io/addresses":             "addresses",
	"networking.gke.io/backend-services":      "backendServices",
	"networking.gke.io/firewalls":             "firewalls",
	"networking.gke.io/forwarding-rules":      "forwardingRules",
	"networking.gke.io/health-checks":         "healthChecks",
	"networking.gke.io/ssl-certificates":      "sslCertificates",
	"networking.gke.io/target-http-proxies":   "targetHttpProxies",
	"networking.gke.io/target-https-proxies":  "targetHttpsProxies",
	"networking.gke.io/url-maps":              "urlMaps",
	"networking.gke.io/lb-route-extensions":   "",
	"networking.gke.io/lb-traffic-extensions": "",
	"networking.gke.io/wasm-plugin-versions":  "",
	"networking.gke.io/wasm-plugins":          "",
}

const lastReconcileAnnotation = "networking.gke.io/last-reconcile-time"

// writeAnnotations names the Gateway's resources on it, with the time of
// the reconcile, when they change, and on a resync.
func (p *pass) writeAnnotations(ctx context.Context, run *gatewayRun) error {
	gw := run.t.gw
	byCollection := map[string][]string{}
	add := func(collection, name string) {
		link := "/projects/" + fmt.Sprint(p.c.opts.ProjectNumber) + "/global/" + collection + "/" + name
		for _, l := range byCollection[collection] {
			if l == link {
				return
			}
		}
		byCollection[collection] = append(byCollection[collection], link)
	}
	for _, k := range run.uses {
		add(k.collection, k.name)
	}
	if run.t.namedAddress != "" {
		add("addresses", run.t.namedAddress)
	}
	for _, n := range run.t.certs.preShared {
		add("sslCertificates", n)
	}
	if p.d.firewall != nil {
		add("firewalls", p.d.firewall.Name)
	}
	want := map[string]any{}
	same := true
	for key, collection := range resourceAnnotations {
		links := byCollection[collection]
		sort.Strings(links)
		want[key] = strings.Join(links, ", ")
		if cur, ok := gw.Annotations[key]; !ok || cur != want[key] {
			same = false
		}
	}
	if same && !run.changed && !p.resync {
		return nil
	}
	want[lastReconcileAnnotation] = p.now.UTC().Format(time.RFC3339)
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": want}})
	_, err := p.c.cl.Gateway.GatewayV1().Gateways(gw.Namespace).Patch(ctx, gw.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: fieldManager})
	return err
}
