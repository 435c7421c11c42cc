package gkegateway

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// gwcerError is a translation failure in GKE's words: "Error GWCER1nn: ...".
// The codes seen (reference §3-4): GWCER102 a referenced object is missing,
// GWCER104 a route uses what GKE does not support, GWCER105 certificate
// configuration, GWCER106 addresses.
type gwcerError struct {
	Code    string
	Message string
	// Reason is the Gateway's Programmed=False reason.
	Reason gwv1.GatewayConditionReason
}

func (e *gwcerError) Error() string { return "Error " + e.Code + ": " + e.Message }

// Annotations users set on a Gateway, and listener options, as GKE reads them.
const (
	certMapAnnotation = "networking.gke.io/certmap"
	preSharedCertsOpt = "networking.gke.io/pre-shared-certs"
	gatewayGroup      = "gateway.networking.k8s.io"
)

// listenerResult is one listener's status.
type listenerResult struct {
	name         gwv1.SectionName
	attached     int32
	accepted     condition
	resolvedRefs condition
}

// condition is a status, reason and message, without the bookkeeping.
type condition struct {
	status  metav1.ConditionStatus
	reason  string
	message string
}

var (
	okAccepted     = condition{metav1.ConditionTrue, string(gwv1.ListenerReasonAccepted), ""}
	okResolvedRefs = condition{metav1.ConditionTrue, string(gwv1.ListenerReasonResolvedRefs), ""}
)

// certChoice is where an HTTPS frontend's certificates come from: a
// Certificate Manager map, or Compute SSL certificates (pre-shared by name,
// or made by the controller from listeners' Secrets).
type certChoice struct {
	certMap   string
	preShared []string
	secrets   []types.NamespacedName
}

// translation is what one Gateway asks for, or why it cannot be built.
type translation struct {
	gw        *gwv1.Gateway
	err       *gwcerError
	listeners []listenerResult
	// parents are this Gateway's entries for the routes that name it.
	parents map[types.NamespacedName][]gwv1.RouteParentStatus
	// routeProblems are route-level failures, for the routes' events.
	routeProblems map[types.NamespacedName]string
	// frontends holds each protocol's routes: the URL map of the HTTP
	// listeners and the one of the HTTPS listeners.
	frontends map[gwv1.ProtocolType][]routePlan
	// ports are the listener ports, each with one protocol.
	ports        map[int32]gwv1.ProtocolType
	backends     map[backendKey]bool
	certs        certChoice
	namedAddress string
}

func (t *translation) fail(code, reason, format string, a ...any) {
	if t.err == nil {
		t.err = &gwcerError{Code: code, Message: fmt.Sprintf(format, a...), Reason: gwv1.GatewayConditionReason(reason)}
	}
}

// translate works out one Gateway from the snapshot, without calls: the
// checks that need Compute or Certificate Manager come after
// (checkExternal).
func translate(w *world, gw *gwv1.Gateway) *translation {
	t := &translation{
		gw: gw, parents: map[types.NamespacedName][]gwv1.RouteParentStatus{}, routeProblems: map[types.NamespacedName]string{},
		frontends: map[gwv1.ProtocolType][]routePlan{}, ports: map[int32]gwv1.ProtocolType{}, backends: map[backendKey]bool{},
	}
	t.checkAddresses()
	t.checkListeners(w)
	for _, r := range w.routes {
		t.bindRoute(w, r)
	}
	return t
}

// checkAddresses: this class takes one NamedAddress (a reserved global
// address in the project) or none; an IPAddress (the type a bare value
// defaults to) is refused (reference §4, gateway-api#2632).
func (t *translation) checkAddresses() {
	for _, a := range t.gw.Spec.Addresses {
		typ := gwv1.IPAddressType
		if a.Type != nil {
			typ = *a.Type
		}
		if typ != gwv1.NamedAddressType {
			t.fail("GWCER106", string(gwv1.GatewayReasonAddressNotUsable), "unsupported address type %q", typ)
			return
		}
		if t.namedAddress != "" {
			// Guess: the wording for a second address was not seen.
			t.fail("GWCER106", string(gwv1.GatewayReasonAddressNotUsable), "only one address is supported, got %d", len(t.gw.Spec.Addresses))
			return
		}
		t.namedAddress = a.Value
	}
}

// checkListeners accepts HTTP and HTTPS listeners, one protocol per port,
// and works out the HTTPS certificates.
func (t *translation) checkListeners(w *world) {
	certMap := t.gw.Annotations[certMapAnnotation]
	t.certs.certMap = certMap
	for _, l := range t.gw.Spec.Listeners {
		res := listenerResult{name: l.Name, accepted: okAccepted, resolvedRefs: okResolvedRefs}
		switch {
		case l.Protocol != gwv1.HTTPProtocolType && l.Protocol != gwv1.HTTPSProtocolType:
			res.accepted = condition{metav1.ConditionFalse, string(gwv1.ListenerReasonUnsupportedProtocol),
				fmt.Sprintf("protocol %q is not supported by GatewayClass %q", l.Protocol, ClassName)}
		case t.ports[l.Port] != "" && t.ports[l.Port] != l.Protocol:
			res.accepted = condition{metav1.ConditionFalse, string(gwv1.ListenerReasonProtocolConflict),
				fmt.Sprintf("port %d is used by a listener of protocol %s", l.Port, t.ports[l.Port])}
		default:
			t.ports[l.Port] = l.Protocol
		}
		if l.Protocol == gwv1.HTTPSProtocolType && res.accepted.status == metav1.ConditionTrue {
			res.resolvedRefs = t.listenerCerts(w, l, certMap)
		}
		t.listeners = append(t.listeners, res)
	}
	if t.certs.certMap == "" && len(t.certs.preShared) == 0 && len(t.certs.secrets) == 0 && t.hasProtocol(gwv1.HTTPSProtocolType) {
		// Guess: the wording for an HTTPS listener without any certificate was not seen.
		t.fail("GWCER105", string(gwv1.GatewayReasonInvalid), "no certificate for the HTTPS listeners of Gateway \"%s/%s\": set the %s annotation or a listener's tls", t.gw.Namespace, t.gw.Name, certMapAnnotation)
	}
}

func (t *translation) hasProtocol(p gwv1.ProtocolType) bool {
	for _, proto := range t.ports {
		if proto == p {
			return true
		}
	}
	return false
}

// listenerCerts: a certificate map excludes any listener tls (GWCER105,
// gateway-api#1932); otherwise pre-shared certificates are named in the
// tls options and Secrets must exist (GWCER102).
func (t *translation) listenerCerts(w *world, l gwv1.Listener, certMap string) condition {
	if l.TLS == nil {
		return okResolvedRefs
	}
	if certMap != "" {
		t.fail("GWCER105", string(gwv1.GatewayReasonInvalid), "TLS configuration not allowed when CertificateMap %q is attached to Gateway \"%s/%s\"", certMap, t.gw.Namespace, t.gw.Name)
		return okResolvedRefs
	}
	if names := string(l.TLS.Options[preSharedCertsOpt]); names != "" {
		for _, n := range strings.Split(names, ",") {
			if n = strings.TrimSpace(n); n != "" && !contains(t.certs.preShared, n) {
				t.certs.preShared = append(t.certs.preShared, n)
			}
		}
	}
	for _, ref := range l.TLS.CertificateRefs {
		ns := t.gw.Namespace
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret") {
			return condition{metav1.ConditionFalse, string(gwv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("certificateRef %s is not a Secret", ref.Name)}
		}
		if !w.referenceAllowed(gatewayGroup, "Gateway", t.gw.Namespace, "", "Secret", ns, string(ref.Name)) {
			return condition{metav1.ConditionFalse, string(gwv1.ListenerReasonRefNotPermitted), fmt.Sprintf("Secret %s/%s is not permitted by any ReferenceGrant", ns, ref.Name)}
		}
		key := nn(ns, string(ref.Name))
		if w.secrets[key] == nil {
			msg := fmt.Sprintf("secrets %s/%s not found", ns, ref.Name)
			t.fail("GWCER102", string(gwv1.GatewayReasonInvalid), "%s", msg)
			return condition{metav1.ConditionFalse, string(gwv1.ListenerReasonInvalidCertificateRef), "Error GWCER102: " + msg}
		}
		if !containsKey(t.certs.secrets, key) {
			t.certs.secrets = append(t.certs.secrets, key)
		}
	}
	return okResolvedRefs
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func containsKey(list []types.NamespacedName, k types.NamespacedName) bool {
	for _, v := range list {
		if v == k {
			return true
		}
	}
	return false
}

// namesGateway reports whether a parentRef (as written in route ns) is
// this Gateway.
func namesGateway(ref gwv1.ParentReference, routeNS string, gw *gwv1.Gateway) bool {
	if ref.Group != nil && *ref.Group != gatewayGroup || ref.Kind != nil && *ref.Kind != "Gateway" {
		return false
	}
	ns := routeNS
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	return ns == gw.Namespace && string(ref.Name) == gw.Name
}

// bindRoute attaches a route to this Gateway's listeners, one parent
// status per parentRef that names the Gateway.
func (t *translation) bindRoute(w *world, r *gwv1.HTTPRoute) {
	key := nn(r.Namespace, r.Name)
	var rules []rulePlan
	unsupported := checkRouteSupported(r)
	resolved := okRouteResolved
	if unsupported == "" {
		rules, resolved = resolveBackends(w, r)
	}
	for _, ref := range r.Spec.ParentRefs {
		if !namesGateway(ref, r.Namespace, t.gw) {
			continue
		}
		accepted := t.attach(w, r, ref, rules, unsupported == "")
		if unsupported != "" {
			msg := fmt.Sprintf("Error GWCER104: HTTPRoute \"%s/%s\" is misconfigured, err: %s", r.Namespace, r.Name, unsupported)
			accepted = condition{metav1.ConditionFalse, "Invalid", msg}
			t.routeProblems[key] = msg
		}
		if resolved.status != metav1.ConditionTrue {
			t.routeProblems[key] = resolved.message
		}
		t.parents[key] = append(t.parents[key], gwv1.RouteParentStatus{
			ParentRef: ref, ControllerName: ControllerName,
			Conditions: []metav1.Condition{
				{Type: string(gwv1.RouteConditionAccepted), Status: accepted.status, Reason: accepted.reason, Message: accepted.message, ObservedGeneration: r.Generation},
				{Type: string(gwv1.RouteConditionResolvedRefs), Status: resolved.status, Reason: resolved.reason, Message: resolved.message, ObservedGeneration: r.Generation},
			},
		})
	}
}

var okRouteResolved = condition{metav1.ConditionTrue, string(gwv1.RouteReasonResolvedRefs), ""}

// attach binds one parentRef to the listeners it selects and returns the
// route's Accepted condition for it.
func (t *translation) attach(w *world, r *gwv1.HTTPRoute, ref gwv1.ParentReference, rules []rulePlan, supported bool) condition {
	matched, allowed, hostMatched := false, false, false
	for i, l := range t.gw.Spec.Listeners {
		if ref.SectionName != nil && *ref.SectionName != l.Name || ref.Port != nil && *ref.Port != l.Port {
			continue
		}
		matched = true
		if t.listeners[i].accepted.status != metav1.ConditionTrue || !routeAllowed(w, t.gw, l, r.Namespace) {
			continue
		}
		allowed = true
		hosts := intersectHostnames(l.Hostname, r.Spec.Hostnames)
		if len(hosts) == 0 {
			continue
		}
		hostMatched = true
		if !supported {
			continue
		}
		t.listeners[i].attached++
		t.addRoute(l.Protocol, r, hosts, rules)
	}
	switch {
	case !matched:
		return condition{metav1.ConditionFalse, string(gwv1.RouteReasonNoMatchingParent), "no listener of the Gateway matches the parentRef"}
	case !allowed:
		return condition{metav1.ConditionFalse, string(gwv1.RouteReasonNotAllowedByListeners), "no listener allows routes from this namespace"}
	case !hostMatched:
		return condition{metav1.ConditionFalse, string(gwv1.RouteReasonNoMatchingListenerHostname), "no hostname of the route matches a listener's"}
	}
	return condition{metav1.ConditionTrue, string(gwv1.RouteReasonAccepted), ""}
}

// addRoute puts a route into a protocol's URL map, merging its hostnames
// when it is attached to several listeners of that protocol.
func (t *translation) addRoute(proto gwv1.ProtocolType, r *gwv1.HTTPRoute, hosts []string, rules []rulePlan) {
	plans := t.frontends[proto]
	for i := range plans {
		if plans[i].route == r {
			for _, h := range hosts {
				if !contains(plans[i].hostnames, h) {
					plans[i].hostnames = append(plans[i].hostnames, h)
				}
			}
			sort.Strings(plans[i].hostnames)
			return
		}
	}
	for _, rule := range rules {
		for _, b := range rule.backends {
			if b.valid {
				t.backends[b.key] = true
			}
		}
	}
	t.frontends[proto] = append(plans, routePlan{route: r, hostnames: hosts, rules: rules})
}

// routeAllowed applies a listener's allowedRoutes (kinds and namespaces;
// Same by default).
func routeAllowed(w *world, gw *gwv1.Gateway, l gwv1.Listener, routeNS string) bool {
	if l.AllowedRoutes == nil {
		return routeNS == gw.Namespace
	}
	if len(l.AllowedRoutes.Kinds) > 0 {
		ok := false
		for _, k := range l.AllowedRoutes.Kinds {
			ok = ok || (k.Group == nil || *k.Group == gatewayGroup) && k.Kind == "HTTPRoute"
		}
		if !ok {
			return false
		}
	}
	from := gwv1.NamespacesFromSame
	if l.AllowedRoutes.Namespaces != nil && l.AllowedRoutes.Namespaces.From != nil {
		from = *l.AllowedRoutes.Namespaces.From
	}
	switch from {
	case gwv1.NamespacesFromAll:
		return true
	case gwv1.NamespacesFromSelector:
		ns := w.namespaces[routeNS]
		sel, err := metav1.LabelSelectorAsSelector(l.AllowedRoutes.Namespaces.Selector)
		return ns != nil && err == nil && sel.Matches(labels.Set(ns.Labels))
	}
	return routeNS == gw.Namespace
}

// intersectHostnames is the hostnames a route serves on a listener: the
// route's that the listener's admits (a wildcard on either side narrows to
// the other), the listener's when the route names none, "*" when neither
// does.
func intersectHostnames(listener *gwv1.Hostname, route []gwv1.Hostname) []string {
	if len(route) == 0 {
		if listener == nil {
			return []string{"*"}
		}
		return []string{string(*listener)}
	}
	var out []string
	for _, h := range route {
		rh := string(h)
		switch {
		case listener == nil || hostMatches(string(*listener), rh):
			out = append(out, rh)
		case hostMatches(rh, string(*listener)):
			out = append(out, string(*listener))
		}
	}
	sort.Strings(out)
	return out
}

// hostMatches reports whether pattern (possibly "*.example.com") admits host.
func hostMatches(pattern, host string) bool {
	if pattern == host {
		return true
	}
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok {
		return strings.HasSuffix(host, suffix) && !strings.HasPrefix(host, "*")
	}
	return false
}
