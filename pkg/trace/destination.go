package trace

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
	security "istio.io/api/security/v1beta1"
	istionet "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// intoMesh follows the request from the gateway pods through Istio: the
// Gateway server, the VirtualService route, and each destination with its
// DestinationRule. The reads the later hops need (the server's Secret, the
// destinations' pods) start before any hop waits.
func (t *tracer) intoMesh(ctx context.Context, p Path, b *backend, g *gatewayCtx) []Path {
	sel := t.selectServer(ctx, b, g)
	if sel.server != nil && sel.server.GetTls() != nil {
		for _, name := range append([]string{sel.server.GetTls().GetCredentialName()}, sel.server.GetTls().GetCredentialNames()...) {
			if name != "" {
				t.r.secret(g.svc.Namespace, name)
			}
		}
	}
	var rs routeSel
	if sel.gw != nil {
		rs = t.selectRoute(ctx, b, g, sel)
		t.prefetchDestinations(ctx, rs)
	}
	p.Hops = append(p.Hops, t.istioGatewayHop(ctx, b, g, sel))
	if sel.gw == nil || sel.err != nil {
		return []Path{p}
	}
	if m := sel.server.GetTls().GetMode(); sel.server.GetTls() != nil && (m == networking.ServerTLSSettings_PASSTHROUGH || m == networking.ServerTLSSettings_AUTO_PASSTHROUGH) {
		p.End = "TLS passes through the gateway (" + m.String() + "), not traced further"
		return []Path{p}
	}
	vh, end := t.virtualServiceHop(b, sel, rs)
	p.Hops = append(p.Hops, vh)
	if end != "" {
		p.End = end
	}
	if rs.vs == nil || end != "" {
		return []Path{p}
	}
	var out []Path
	for _, d := range rs.dests {
		q := p
		q.Hops = slices.Clone(p.Hops)
		if len(rs.dests) > 1 && q.Weight == 0 {
			q.Weight = int(d.weight)
		}
		dh, pods, svc, ok := t.destinationHop(ctx, g, rs, d)
		q.Hops = append(q.Hops, dh)
		if ok {
			q.Hops = append(q.Hops, t.destinationRuleHop(ctx, g, d, svc, pods))
		} else if dh.State == OK {
			q.End = "a destination outside the cluster's Services, not traced further"
		}
		out = append(out, q)
	}
	return out
}

// destinationHop checks a route destination: its Service, port and pods.
func (t *tracer) destinationHop(ctx context.Context, g *gatewayCtx, rs routeSel, d dest) (h Hop, pods []corev1.Pod, svc corev1.Service, ok bool) {
	h = newHop(HopDestination, d.host)
	vsObj := "VirtualService " + rs.vs.Namespace + "/" + rs.vs.Name
	if d.name == "" {
		h.see("%s is not a Kubernetes Service name (a ServiceEntry or an outside host)", d.host)
		return h, nil, svc, false
	}
	if _, err := t.r.allServices().wait(ctx); err != nil {
		return unknownHop(HopDestination, d.host, "read the destination Service", err), nil, svc, false
	}
	svc, found := t.findService(ctx, d.namespace, d.name)
	if !found {
		h.add(Broken, findings.TraceDestination.New(vsObj, fmt.Sprintf("routes to %s: Service %s/%s does not exist, so the gateway answers 503 (no healthy upstream)", d.host, d.namespace, d.name),
			"create the Service, or fix the route's destination host"))
		return h, nil, svc, false
	}
	h.Name = svc.Namespace + "/" + svc.Name
	sp, why := destinationPort(svc, d.port)
	if why != "" {
		h.add(Broken, findings.TraceDestination.New(vsObj, why, "give the route's destination a port.number the Service has"))
		return h, nil, svc, false
	}
	proto := mesh.PortProtocol(sp)
	h.see("port %d (%s) → target port %s", sp.Port, orText(proto, "protocol not declared"), sp.TargetPort.String())
	if proto == "" {
		h.add(Warning, findings.TracePortProtocol.New(fmt.Sprintf("Service %s/%s port %d", svc.Namespace, svc.Name, sp.Port),
			"the port names no protocol (name prefix or appProtocol): Istio sniffs it, and HTTP features (retries, routing) may not apply (IST0118)",
			fmt.Sprintf("kubectl -n %s patch service %s --type json -p '[{\"op\":\"add\",\"path\":\"/spec/ports/%d/appProtocol\",\"value\":\"http\"}]'", svc.Namespace, svc.Name, slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == sp.Port }))))
	}
	if len(svc.Spec.Selector) == 0 {
		h.see("no selector: endpoints managed by hand, pods not traced")
		return h, nil, svc, false
	}
	all, err := t.r.podsOf(svc.Namespace, svc.Spec.Selector).wait(ctx)
	if err != nil {
		h.add(Unknown, findings.APIUnavailable.New("Service "+h.Name, "list its pods: "+err.Error(), apiHint(err)))
		return h, nil, svc, false
	}
	pods = livePods(all)
	t.judgePods(ctx, &h, svc, pods, d)
	return h, pods, svc, true
}

// destinationPort picks the Service port a destination names; with none
// named, the Service's only port.
func destinationPort(svc corev1.Service, port uint32) (corev1.ServicePort, string) {
	if port == 0 {
		if len(svc.Spec.Ports) == 1 {
			return svc.Spec.Ports[0], ""
		}
		return corev1.ServicePort{}, fmt.Sprintf("the destination names no port and Service %s/%s has %d: Istio rejects the route (IST0112)", svc.Namespace, svc.Name, len(svc.Spec.Ports))
	}
	for _, p := range svc.Spec.Ports {
		if uint32(p.Port) == port {
			return p, ""
		}
	}
	return corev1.ServicePort{}, fmt.Sprintf("routes to port %d of Service %s/%s, which has no such port: the gateway answers 503", port, svc.Namespace, svc.Name)
}

// judgePods checks the destination's pods: some ready, with sidecars of
// an installed revision.
func (t *tracer) judgePods(ctx context.Context, h *Hop, svc corev1.Service, pods []corev1.Pod, d dest) {
	obj := fmt.Sprintf("Service %s/%s", svc.Namespace, svc.Name)
	ready, injected := 0, 0
	revs := map[string]int{}
	for _, p := range pods {
		if podReady(p) {
			ready++
		}
		if px := mesh.ProxyOf(&p); px.Injected {
			injected++
			revs[orText(px.Revision, "unknown")]++
		}
	}
	h.see("%s, %d ready, %d with a sidecar%s", plural(len(pods), "pod"), ready, injected, revisionList(revs))
	switch {
	case len(pods) == 0:
		h.add(Broken, findings.TraceNoReadyPods.New(obj, "no pods match its selector "+metaSelector(svc.Spec.Selector)+": the gateway answers 503 (no healthy upstream)", "deploy the workload, or fix the Service's selector"))
		return
	case ready == 0:
		h.add(Broken, findings.TraceNoReadyPods.New(obj, fmt.Sprintf("none of its %d pods is ready: the gateway answers 503 (no healthy upstream)", len(pods)), fmt.Sprintf("kubectl -n %s describe pods -l %s", svc.Namespace, metaSelector(svc.Spec.Selector))))
		return
	}
	if installed, err := t.r.meshRevisions().wait(ctx); err == nil {
		for rev := range revs {
			if rev != "unknown" && !installed.Installed(rev) {
				h.add(Warning, findings.TraceDestinationProxy.New(obj, "sidecars of revision "+rev+", which no installed control plane serves: they keep their last configuration",
					fmt.Sprintf("kubectl -n %s rollout restart deployment (onto an installed revision)", svc.Namespace)))
			}
		}
	}
	if injected > 0 && injected < len(pods) {
		h.add(Warning, findings.TraceDestinationProxy.New(obj, fmt.Sprintf("%d of %d pods without a sidecar: the gateway reaches them without mutual TLS, or not at all under STRICT mTLS", len(pods)-injected, len(pods)),
			fmt.Sprintf("kubectl -n %s rollout restart deployment (the namespace is labelled for injection?)", svc.Namespace)))
	}
}

func revisionList(revs map[string]int) string {
	if len(revs) == 0 {
		return ""
	}
	var parts []string
	for r, n := range revs {
		parts = append(parts, fmt.Sprintf("%d on %s", n, r))
	}
	sort.Strings(parts)
	return " (" + strings.Join(parts, ", ") + ")"
}

// drChoice is the DestinationRule the gateway applies to a destination.
type drChoice struct {
	dr   *istionet.DestinationRule
	tls  *networking.ClientTLSSettings
	from string
}

// chooseDestinationRule finds the DestinationRule the gateway's proxies
// use for the destination, in Istio's order: one in the gateway's own
// namespace (a workloadSelector must select the gateway pods), then one
// in the Service's namespace, then one in the root namespace; an exact
// host before a wildcard; each visible to the gateway's namespace.
func chooseDestinationRule(drs []*istionet.DestinationRule, g *gatewayCtx, d dest) (drChoice, bool) {
	gwNS := g.svc.Namespace
	for _, ns := range []string{gwNS, d.namespace, mesh.IstioSystem} {
		var best *istionet.DestinationRule
		bestScore := -1
		for _, dr := range drs {
			if dr.Namespace != ns || !drVisible(dr, gwNS) {
				continue
			}
			if ws := dr.Spec.GetWorkloadSelector(); ws != nil && (ns != gwNS || !selectsAny(ws.GetMatchLabels(), g.pods)) {
				continue
			}
			fqdn, _, _ := serviceFQDN(dr.Spec.GetHost(), dr.Namespace)
			if s := hostScore(fqdn, d.fqdn); s > bestScore {
				best, bestScore = dr, s
			}
		}
		if best != nil {
			return drChoice{dr: best, tls: drTLS(best, d), from: ns}, true
		}
	}
	return drChoice{}, false
}

func drVisible(dr *istionet.DestinationRule, ns string) bool {
	exp := dr.Spec.GetExportTo()
	return len(exp) == 0 || slices.Contains(exp, "*") || slices.Contains(exp, ns) || (slices.Contains(exp, ".") && dr.Namespace == ns)
}

// drTLS is the TLS a DestinationRule sets for a destination: its subset's
// port-level, then subset, then port-level, then its own.
func drTLS(dr *istionet.DestinationRule, d dest) *networking.ClientTLSSettings {
	policies := []*networking.TrafficPolicy{}
	for _, s := range dr.Spec.GetSubsets() {
		if s.GetName() == d.subset && d.subset != "" {
			policies = append(policies, s.GetTrafficPolicy())
		}
	}
	policies = append(policies, dr.Spec.GetTrafficPolicy())
	for _, tp := range policies {
		for _, pl := range tp.GetPortLevelSettings() {
			if pl.GetPort().GetNumber() == d.port && d.port != 0 && pl.GetTls() != nil {
				return pl.GetTls()
			}
		}
		if tp.GetTls() != nil {
			return tp.GetTls()
		}
	}
	return nil
}

// destinationRuleHop checks the TLS the gateway uses towards the
// destination against its pods and their mTLS policy, and the subset the
// route names.
func (t *tracer) destinationRuleHop(ctx context.Context, g *gatewayCtx, d dest, svc corev1.Service, pods []corev1.Pod) Hop {
	drs, err := t.r.destinationRules(ctx)
	if err != nil {
		return unknownHop(HopDestinationRule, "?", "list the DestinationRules", err)
	}
	choice, found := chooseDestinationRule(drs, g, d)
	h := newHop(HopDestinationRule, "none")
	injected, bare := 0, 0
	for _, p := range pods {
		if mesh.ProxyOf(&p).Injected {
			injected++
		} else {
			bare++
		}
	}
	if !found {
		h.see("no DestinationRule: Istio's auto mTLS sends ISTIO_MUTUAL to pods with a sidecar, plain text to the others")
		if d.subset != "" {
			h.add(Broken, findings.TraceDestination.New("route to "+d.host, "names subset "+d.subset+" but no DestinationRule defines it: the gateway answers 503", "define the subset in a DestinationRule for "+d.fqdn))
		}
		return h
	}
	h.Name = choice.dr.Namespace + "/" + choice.dr.Name
	obj := "DestinationRule " + h.Name
	mode := "none (auto mTLS)"
	if choice.tls != nil {
		mode = choice.tls.GetMode().String()
	}
	h.see("host %s, TLS mode %s", choice.dr.Spec.GetHost(), mode)
	t.checkSubset(&h, choice, d, pods)
	if choice.tls == nil {
		return h
	}
	switch choice.tls.GetMode() {
	case networking.ClientTLSSettings_ISTIO_MUTUAL:
		if bare > 0 {
			h.add(Broken, findings.TraceDestinationTLS.New(obj, fmt.Sprintf("ISTIO_MUTUAL towards %s, but %d of its pods have no sidecar to accept mutual TLS: requests to them fail (503)", d.host, bare),
				fmt.Sprintf("inject the pods (meshctl inject %s), or drop the DestinationRule's tls", svc.Namespace)))
		}
	case networking.ClientTLSSettings_DISABLE:
		if injected > 0 && t.strictMTLS(ctx, svc, pods, d) {
			h.add(Broken, findings.TraceDestinationTLS.New(obj, fmt.Sprintf("TLS DISABLE towards %s, whose pods require mutual TLS (a STRICT PeerAuthentication): they refuse the gateway's plain text (503)", d.host),
				"set the DestinationRule's tls mode to ISTIO_MUTUAL (or remove it: auto mTLS does that)"))
		}
	case networking.ClientTLSSettings_SIMPLE, networking.ClientTLSSettings_MUTUAL:
		if injected > 0 {
			h.add(Warning, findings.TraceTLSOrigination.New(obj, fmt.Sprintf("%s TLS towards %s, whose pods have sidecars: the gateway originates TLS to the app instead of Istio mutual TLS", choice.tls.GetMode(), d.host),
				"use ISTIO_MUTUAL unless the app itself serves TLS"))
		}
	}
	return h
}

// checkSubset checks the subset a route names: defined, and selecting
// ready pods.
func (t *tracer) checkSubset(h *Hop, choice drChoice, d dest, pods []corev1.Pod) {
	if d.subset == "" {
		return
	}
	obj := "DestinationRule " + h.Name
	i := slices.IndexFunc(choice.dr.Spec.GetSubsets(), func(s *networking.Subset) bool { return s.GetName() == d.subset })
	if i < 0 {
		h.add(Broken, findings.TraceDestination.New(obj, "defines no subset "+d.subset+", which the route names: the gateway answers 503", "add the subset to the DestinationRule"))
		return
	}
	sub := podsMatching(pods, choice.dr.Spec.GetSubsets()[i].GetLabels())
	ready := 0
	for _, p := range sub {
		if podReady(p) {
			ready++
		}
	}
	h.see("subset %s selects %d pods, %d ready", d.subset, len(sub), ready)
	if ready == 0 {
		h.add(Broken, findings.TraceNoReadyPods.New(obj, fmt.Sprintf("subset %s (labels %s) selects no ready pod: the gateway answers 503", d.subset, metaSelector(choice.dr.Spec.GetSubsets()[i].GetLabels())), "fix the subset's labels, or deploy that version"))
	}
}

// strictMTLS reports whether a PeerAuthentication makes the destination's
// pods require mutual TLS on the target port: the workload's own policy,
// else its namespace's, else the mesh's (root namespace); a port-level
// setting wins.
func (t *tracer) strictMTLS(ctx context.Context, svc corev1.Service, pods []corev1.Pod, d dest) bool {
	pas, err := t.r.peerAuthentications(ctx)
	if err != nil {
		return false
	}
	port := uint32(targetPort(servicePortOf(svc, d.port), pods))
	mode := security.PeerAuthentication_MutualTLS_UNSET
	for _, scope := range []string{"workload", "namespace", "mesh"} {
		for _, pa := range pas {
			sel := pa.Spec.GetSelector().GetMatchLabels()
			applies := false
			switch scope {
			case "workload":
				applies = pa.Namespace == svc.Namespace && len(sel) > 0 && selectsAny(sel, pods)
			case "namespace":
				applies = pa.Namespace == svc.Namespace && len(sel) == 0
			case "mesh":
				applies = pa.Namespace == mesh.IstioSystem && len(sel) == 0
			}
			if !applies {
				continue
			}
			if pl, ok := pa.Spec.GetPortLevelMtls()[port]; ok && scope == "workload" && pl.GetMode() != security.PeerAuthentication_MutualTLS_UNSET {
				return pl.GetMode() == security.PeerAuthentication_MutualTLS_STRICT
			}
			if m := pa.Spec.GetMtls().GetMode(); m != security.PeerAuthentication_MutualTLS_UNSET && mode == security.PeerAuthentication_MutualTLS_UNSET {
				mode = m
			}
		}
		if mode != security.PeerAuthentication_MutualTLS_UNSET {
			break
		}
	}
	return mode == security.PeerAuthentication_MutualTLS_STRICT
}

func servicePortOf(svc corev1.Service, port uint32) corev1.ServicePort {
	sp, _ := destinationPort(svc, port)
	return sp
}
