package trace

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// request is the request as the backends see it (after the URL map's
// rewrites).
type request struct {
	host, path string
}

// backend is what the hops past the backend service need of it.
type backend struct {
	bs   *computepb.BackendService
	hc   *computepb.HealthCheck
	negs []negRef
	req  request
}

// negRef is one zonal NEG among a backend service's backends.
type negRef struct {
	link, zone, name string
}

// probe is where and how a health check probes an endpoint.
type probe struct {
	protocol string
	// port is the fixed port probed; 0 means the endpoint's serving port.
	port int
	path string
}

func (p probe) String() string {
	port := "the serving port"
	if p.port != 0 {
		port = fmt.Sprintf("port %d", p.port)
	}
	if p.path == "" {
		return p.protocol + " on " + port
	}
	return fmt.Sprintf("%s %s on %s", p.protocol, p.path, port)
}

// probeOf reads a health check.
func probeOf(hc *computepb.HealthCheck) probe {
	p := probe{protocol: hc.GetType()}
	type settings interface {
		GetPort() int32
		GetPortSpecification() string
	}
	var s settings
	switch {
	case hc.GetHttpHealthCheck() != nil:
		s, p.path = hc.GetHttpHealthCheck(), orText(hc.GetHttpHealthCheck().GetRequestPath(), "/")
	case hc.GetHttpsHealthCheck() != nil:
		s, p.path = hc.GetHttpsHealthCheck(), orText(hc.GetHttpsHealthCheck().GetRequestPath(), "/")
	case hc.GetHttp2HealthCheck() != nil:
		s, p.path = hc.GetHttp2HealthCheck(), orText(hc.GetHttp2HealthCheck().GetRequestPath(), "/")
	case hc.GetTcpHealthCheck() != nil:
		s = hc.GetTcpHealthCheck()
	}
	if s != nil && s.GetPortSpecification() != "USE_SERVING_PORT" {
		p.port = int(s.GetPort())
	}
	return p
}

// isGatewayDefault reports whether a backend is one of GKE Gateway's
// default backends, which answer 404 (no route) or 500 (a route to a
// backend that does not resolve).
func isGatewayDefault(name string) (bool, int) {
	switch {
	case strings.Contains(name, "-gw-serve404-"):
		return true, 404
	case strings.Contains(name, "-gw-serve500-"):
		return true, 500
	}
	return false, 0
}

// toBackend follows the URL map to one backend.
func (t *tracer) toBackend(ctx context.Context, p Path, link string, req request) []Path {
	name := linkName(link)
	um := &p.Hops[len(p.Hops)-1]
	if linkCollection(link) == "backendBuckets" {
		um.see("serves from backend bucket %s (Cloud Storage), not traced further", name)
		p.End = "backend bucket " + name
		return []Path{p}
	}
	if ok, status := isGatewayDefault(name); ok {
		why := "no HTTPRoute of the Gateway matches " + req.host + req.path
		if status == 500 {
			why = "the matching HTTPRoute's backend does not resolve (see the route's ResolvedRefs condition)"
		}
		um.add(Broken, findings.TraceURLMapNowhere.New("URL map "+um.Name, fmt.Sprintf("the request reaches GKE Gateway's default backend %s, which answers %d: %s", name, status, why),
			"add or fix an HTTPRoute for "+req.host+req.path+" on the Gateway (kubectl get httproute -A)"))
		return []Path{p}
	}
	bss, err := listOf[*computepb.BackendService](ctx, t.r, lb.KindBackendService)
	if err != nil {
		p.Hops = append(p.Hops, unknownHop(HopBackendService, name, "read the backend service", err))
		return []Path{p}
	}
	bs, ok := named(bss, link)
	if !ok {
		um.add(Broken, missingLink("URL map "+um.Name, "service", link))
		return []Path{p}
	}
	b := &backend{bs: bs, req: req}
	h := t.backendHop(ctx, b)
	p.Hops = append(p.Hops, h)
	if len(b.negs) == 0 {
		if p.End == "" && h.State != Broken {
			p.End = "backends other than zonal NEGs, not traced further"
		}
		return []Path{p}
	}
	t.prefetchBackend(ctx, b)
	p.Hops = append(p.Hops, t.negHops(ctx, b)...)
	return t.intoCluster(ctx, p, b)
}

// backendHop checks the backend service: its health check, Cloud Armor,
// IAP and backends.
func (t *tracer) backendHop(ctx context.Context, b *backend) Hop {
	bs := b.bs
	obj := "backend service " + bs.GetName()
	h := newHop(HopBackendService, bs.GetName())
	timeout := int32(30) // Google's default
	if bs.TimeoutSec != nil {
		timeout = bs.GetTimeoutSec()
	}
	h.see("%s, protocol %s, port name %s, timeout %ds", orText(bs.GetLoadBalancingScheme(), "EXTERNAL"), orText(bs.GetProtocol(), "HTTP"), orText(bs.GetPortName(), "http"), timeout)
	t.healthCheck(ctx, &h, b)
	if policies, err := listOf[*computepb.SecurityPolicy](ctx, t.r, lb.KindSecurityPolicy); err != nil {
		h.add(Unknown, findings.APIUnavailable.New(obj, "read its Cloud Armor policy: "+err.Error(), apiHint(err)))
	} else {
		t.armor(&h, bs, policies)
	}
	if iap := bs.GetIap(); iap.GetEnabled() {
		h.see("IAP on")
		h.add(OK, findings.TraceIAP.New(obj, "Identity-Aware Proxy is on: a request without a Google sign-in is redirected (302) to sign in, and a signed-in user needs IAP-secured Web App User on the backend", ""))
	} else {
		h.see("IAP off")
	}
	var others []string
	for _, be := range bs.GetBackends() {
		g := be.GetGroup()
		if linkCollection(g) == "networkEndpointGroups" && linkZone(g) != "" {
			b.negs = append(b.negs, negRef{link: g, zone: linkZone(g), name: linkName(g)})
		} else {
			others = append(others, linkCollection(g)+" "+linkName(g))
		}
	}
	if len(others) > 0 {
		h.see("other backends (not traced): %s", strings.Join(others, ", "))
	}
	if len(bs.GetBackends()) == 0 {
		h.add(Broken, findings.TraceNoBackends.New(obj, "no backends: every request gets 503 (no healthy upstream)",
			fmt.Sprintf("add the NEGs: gcloud compute backend-services add-backend %s --global --network-endpoint-group NEG --network-endpoint-group-zone ZONE --balancing-mode RATE --max-rate-per-endpoint 100", bs.GetName())))
	}
	return h
}

// healthCheck reads the backend service's health check.
func (t *tracer) healthCheck(ctx context.Context, h *Hop, b *backend) {
	obj := "backend service " + b.bs.GetName()
	links := b.bs.GetHealthChecks()
	if len(links) == 0 {
		h.add(Broken, findings.TraceMissingLink.New(obj, "no health check: its NEG endpoints are never probed healthy",
			fmt.Sprintf("gcloud compute backend-services update %s --global --health-checks HEALTH_CHECK", b.bs.GetName())))
		return
	}
	hcs, err := listOf[*computepb.HealthCheck](ctx, t.r, lb.KindHealthCheck)
	if err != nil {
		h.add(Unknown, findings.APIUnavailable.New(obj, "read its health check: "+err.Error(), apiHint(err)))
		return
	}
	hc, ok := named(hcs, links[0])
	if !ok {
		h.add(Broken, missingLink(obj, "healthChecks", links[0]))
		return
	}
	b.hc = hc
	h.see("health check %s: %s", hc.GetName(), probeOf(hc))
}

// prefetchBackend starts the reads the NEG hops and the cluster hops need,
// before any of them waits: each NEG's health and endpoints, and the pods
// of the Service that owns the NEGs.
func (t *tracer) prefetchBackend(ctx context.Context, b *backend) {
	for _, n := range b.negs {
		t.r.groupHealth(b.bs.GetName(), n.link)
		t.r.negEndpoints(n.zone, n.name)
	}
	if svc, _, ok := t.serviceOf(ctx, b); ok && len(svc.Spec.Selector) > 0 {
		t.r.podsOf(svc.Namespace, svc.Spec.Selector)
	}
}

// istioGatewayProbe reports whether a probe is the one Istio's gateways
// answer for readiness.
func istioGatewayProbe(p probe) bool {
	return p.port == mesh.StatusPort && p.path == mesh.ReadinessPath
}
