package trace

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// negStatusAnnotation is where GKE's NEG controller reports a Service's
// NEGs: {"network_endpoint_groups":{"443":"NAME"},"zones":[...]}.
const negStatusAnnotation = "cloud.google.com/neg-status"

type negStatusValue struct {
	NEGs  map[string]string `json:"network_endpoint_groups"`
	Zones []string          `json:"zones"`
}

// serviceOf finds the Service whose neg-status names one of the backend's
// NEGs, and the Service port the NEG is for.
func (t *tracer) serviceOf(ctx context.Context, b *backend) (corev1.Service, corev1.ServicePort, bool) {
	svcs, err := t.r.allServices().wait(ctx)
	if err != nil {
		return corev1.Service{}, corev1.ServicePort{}, false
	}
	for _, s := range svcs {
		var st negStatusValue
		if json.Unmarshal([]byte(s.Annotations[negStatusAnnotation]), &st) != nil {
			continue
		}
		for port, neg := range st.NEGs {
			if !slices.ContainsFunc(b.negs, func(n negRef) bool { return n.name == neg }) {
				continue
			}
			n, _ := strconv.Atoi(port)
			for _, sp := range s.Spec.Ports {
				if int(sp.Port) == n {
					return s, sp, true
				}
			}
			return s, corev1.ServicePort{Port: int32(n)}, true
		}
	}
	return corev1.Service{}, corev1.ServicePort{}, false
}

// gatewayCtx is what the mesh hops need of the cluster side: the gateway
// Service, the port the load balancer reaches, and the gateway's pods.
type gatewayCtx struct {
	svc        corev1.Service
	port       corev1.ServicePort
	targetPort int
	pods       []corev1.Pod
}

// intoCluster follows the NEGs into the cluster: the Service that owns
// them, its pods, then the mesh.
func (t *tracer) intoCluster(ctx context.Context, p Path, b *backend) []Path {
	if t.r.c.Kube == nil {
		p.Hops = append(p.Hops, unknownHop(HopService, "?", "read the cluster behind the NEGs", t.r.errNoKube()))
		return []Path{p}
	}
	svcHop, g, ok := t.serviceHop(ctx, b)
	p.Hops = append(p.Hops, svcHop)
	if !ok {
		return []Path{p}
	}
	podsHop, gateway := t.gatewayPodsHop(ctx, g)
	p.Hops = append(p.Hops, podsHop)
	if !gateway {
		if podsHop.State == OK || podsHop.State == Warning {
			p.End = "the pods serve the load balancer themselves (no Istio gateway)"
		}
		return []Path{p}
	}
	return t.intoMesh(ctx, p, b, g)
}

// serviceHop finds the Service owning the NEGs.
func (t *tracer) serviceHop(ctx context.Context, b *backend) (Hop, *gatewayCtx, bool) {
	if _, err := t.r.allServices().wait(ctx); err != nil {
		return unknownHop(HopService, "?", "find the Service that owns the NEGs", err), nil, false
	}
	svc, port, ok := t.serviceOf(ctx, b)
	if !ok {
		h := newHop(HopService, "?")
		h.add(Broken, findings.TraceNoService.New("NEG "+b.negs[0].name,
			fmt.Sprintf("no Service in this cluster reports NEG %s in its %s: the NEG controller does not keep its endpoints, or the NEG belongs to another cluster", b.negs[0].name, negStatusAnnotation),
			"switch to the cluster the NEG belongs to (--context), or put back the Service's cloud.google.com/neg annotation (meshctl expose re-creates it)"))
		return h, nil, false
	}
	h := newHop(HopService, svc.Namespace+"/"+svc.Name)
	g := &gatewayCtx{svc: svc, port: port}
	var st negStatusValue
	_ = json.Unmarshal([]byte(svc.Annotations[negStatusAnnotation]), &st)
	proto := ""
	if port.AppProtocol != nil {
		proto = ", appProtocol " + *port.AppProtocol
	}
	h.see("%s reports NEG %s for port %d (→ target port %s%s) in %s", negStatusAnnotation, st.NEGs[strconv.Itoa(int(port.Port))], port.Port, port.TargetPort.String(), proto, strings.Join(st.Zones, ", "))
	for _, n := range b.negs {
		if !slices.Contains(st.Zones, n.zone) {
			h.add(Warning, findings.TraceNEGZone.New(fmt.Sprintf("Service %s/%s", svc.Namespace, svc.Name),
				fmt.Sprintf("the backend service uses NEG %s in %s, a zone the Service's neg-status does not list: the NEG controller no longer keeps it", n.name, n.zone),
				"remove that zone's NEG from the backend service (meshctl expose does it on a re-run)"))
		}
	}
	if len(svc.Spec.Selector) == 0 {
		h.see("no selector: its endpoints are managed by hand, not traced further")
		return h, nil, false
	}
	return h, g, true
}

// gatewayPodsHop checks the pods behind the NEGs; gateway is false when
// they are not an Istio gateway (the path ends there).
func (t *tracer) gatewayPodsHop(ctx context.Context, g *gatewayCtx) (h Hop, gateway bool) {
	sel := metaSelector(g.svc.Spec.Selector)
	h = newHop(HopGatewayPods, g.svc.Namespace+" "+sel)
	pods, err := t.r.podsOf(g.svc.Namespace, g.svc.Spec.Selector).wait(ctx)
	if err != nil {
		return unknownHop(HopGatewayPods, h.Name, "list the pods behind the NEGs", err), false
	}
	g.pods = livePods(pods)
	g.targetPort = targetPort(g.port, g.pods)
	obj := fmt.Sprintf("Service %s/%s", g.svc.Namespace, g.svc.Name)
	if len(g.pods) == 0 {
		h.add(Broken, findings.TraceGatewayPods.New(obj, "no pods match its selector "+sel+": the NEGs stay empty", "deploy the gateway (meshctl expose does), or fix the Service's selector"))
		return h, false
	}
	ready, injected, never := 0, 0, []string{}
	revs := map[string]int{}
	for _, p := range g.pods {
		if podReady(p) {
			ready++
		}
		if hasContainer(p, mesh.ProxyContainer) {
			if mesh.GatewayInjected(&p) {
				injected++
				revs[orText(mesh.ProxyOf(&p).Revision, "unknown")]++
			} else {
				never = append(never, p.Name)
			}
		}
	}
	h.see("%s, %d ready; %s", plural(len(g.pods), "pod"), ready, proxySummary(len(g.pods), injected, revs))
	switch {
	case injected == 0 && len(never) == 0:
		h.see("no istio-proxy: the pods are not an Istio gateway")
		return h, false
	case len(never) > 0:
		h.add(Broken, findings.TraceGatewayPods.New(obj, fmt.Sprintf("gateway pods without an injected proxy (image still \"auto\"): %s", strings.Join(never, ", ")),
			fmt.Sprintf("label namespace %s for injection (istio.io/rev=REVISION), then kubectl -n %s rollout restart deployment", g.svc.Namespace, g.svc.Namespace)))
	case ready == 0:
		h.add(Broken, findings.TraceGatewayPods.New(obj, fmt.Sprintf("none of its %d gateway pods is ready", len(g.pods)), fmt.Sprintf("kubectl -n %s describe pods -l %s", g.svc.Namespace, sel)))
	case ready < len(g.pods):
		h.add(Warning, findings.TraceGatewayPodsPartly.New(obj, fmt.Sprintf("%d of %d gateway pods not ready (the ready ones serve)", len(g.pods)-ready, len(g.pods)), fmt.Sprintf("kubectl -n %s describe pods -l %s", g.svc.Namespace, sel)))
	}
	t.checkGatewayRevisions(ctx, &h, obj, g.svc.Namespace, revs)
	return h, true
}

// checkGatewayRevisions warns about gateway proxies of a revision no
// control plane serves.
func (t *tracer) checkGatewayRevisions(ctx context.Context, h *Hop, obj, ns string, revs map[string]int) {
	installed, err := t.r.meshRevisions().wait(ctx)
	if err != nil {
		return
	}
	for rev := range revs {
		if rev != "unknown" && !installed.Installed(rev) {
			h.add(Warning, findings.TraceGatewayRevision.New(obj, "gateway proxies of revision "+rev+", which no installed control plane serves: they keep their last configuration",
				"restart the gateway onto an installed revision: kubectl rollout restart deployment -n "+ns))
		}
	}
}

func proxySummary(total, injected int, revs map[string]int) string {
	if injected == 0 {
		return "no injected proxy"
	}
	var parts []string
	for r, n := range revs {
		parts = append(parts, fmt.Sprintf("%d on %s", n, r))
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d of %d with an injected gateway proxy (%s)", injected, total, strings.Join(parts, ", "))
}

// livePods drops pods on their way out.
func livePods(pods []corev1.Pod) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			out = append(out, p)
		}
	}
	return out
}

func hasContainer(p corev1.Pod, name string) bool {
	return slices.ContainsFunc(p.Spec.Containers, func(c corev1.Container) bool { return c.Name == name })
}

// targetPort resolves a Service port's target port (a number, or a
// container port's name) on the pods.
func targetPort(sp corev1.ServicePort, pods []corev1.Pod) int {
	tp := sp.TargetPort
	switch {
	case tp.Type == intstr.Int && tp.IntVal != 0:
		return int(tp.IntVal)
	case tp.Type == intstr.String && tp.StrVal != "":
		for _, p := range pods {
			for _, c := range p.Spec.Containers {
				for _, cp := range c.Ports {
					if cp.Name == tp.StrVal {
						return int(cp.ContainerPort)
					}
				}
			}
		}
	}
	return int(sp.Port)
}

// metaSelector renders a selector as kubectl takes it.
func metaSelector(sel map[string]string) string {
	var parts []string
	for k, v := range sel {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
