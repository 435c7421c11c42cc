package validate

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/mesh"
)

var (
	gvrGateway        = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "gateways"}
	gvrVirtualService = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}
)

// exposed is one Service meshctl exposed, found by expose's labels on its
// gateway Deployment.
type exposed struct {
	namespace, service string
	gateway            *appsv1.Deployment
}

func (e exposed) ref() string { return e.namespace + "/" + e.service }

// checkExposed finds the gateways expose made and checks each concurrently.
func checkExposed(ctx context.Context, st *state) []Case {
	// The gateway Deployment carries the ownership labels; its selector
	// (not its own labels) holds the gateway label.
	sel := labels.Set{mesh.LabelManagedBy: mesh.ManagedBy}.String() + "," + mesh.LabelServiceName
	var found []exposed
	err := kube.Paginate(ctx, func(ctx context.Context, o metav1.ListOptions) (string, error) {
		o.LabelSelector = sel
		l, err := st.c.Kube.AppsV1().Deployments("").List(ctx, o)
		if err != nil {
			return "", err
		}
		for i := range l.Items {
			d := &l.Items[i]
			if d.Spec.Selector == nil || d.Spec.Selector.MatchLabels[mesh.LabelGateway] == "" {
				continue
			}
			e := exposed{namespace: d.Labels[mesh.LabelServiceNamespace], service: d.Labels[mesh.LabelServiceName], gateway: d}
			if st.opts.inScope(e.namespace, d.Namespace) && st.opts.serviceInScope(e.namespace, e.service) {
				found = append(found, e)
			}
		}
		return l.Continue, nil
	})
	if err != nil {
		return []Case{apiFailed(GroupExposed, "exposed services", "cluster", "list meshctl's gateway deployments", err)}
	}
	col := &collector{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, e := range found {
		g.Go(func() error { col.add(checkOneExposed(gctx, st, e)...); return nil })
	}
	_ = g.Wait()
	return append(col.cases, checkCertificates(ctx, st, found)...)
}

// checkOneExposed checks one exposed Service: its gateway's readiness,
// disruption budget and autoscaler, its load balancer, its routing and its
// certificate.
func checkOneExposed(ctx context.Context, st *state, e exposed) []Case {
	out := gatewayReady(ctx, st, e)
	out = append(out, gatewayPDB(ctx, st, e), gatewayHPA(ctx, st, e), gatewaySecrets(ctx, st, e))
	edge, onGatewayAPI := checkGatewayAPI(ctx, st, e)
	switch {
	case onGatewayAPI:
		out = append(out, edge...)
	case st.c.Compute != nil:
		out = append(out, checkLB(ctx, st, e)...)
	case st.c.ComputeErr != nil:
		out = append(out, apiFailed(GroupLB, "load balancer", e.object(), "connect to the Compute API", st.c.ComputeErr))
	}
	if st.c.Dynamic == nil {
		return out
	}
	c, hosts := virtualService(ctx, st, e)
	return append(out, c, tlsCertificate(ctx, st, e, hosts))
}

func (e exposed) object() string { return "Service " + e.ref() }

func (e exposed) newCase(check string) Case {
	return Case{Group: GroupExposed, Check: check, Object: e.object()}
}

// reexpose is the command that puts back what expose made.
func (e exposed) reexpose() string { return "meshctl expose " + e.service + " -n " + e.namespace }

// gatewayReady: the gateway's replicas are ready and its pods injected.
func gatewayReady(ctx context.Context, st *state, e exposed) []Case {
	d := e.gateway
	gns, gw := d.Namespace, d.Name
	pods, err := st.c.Kube.CoreV1().Pods(gns).List(ctx, metav1.ListOptions{LabelSelector: mesh.LabelGateway + "=" + gw})
	if err != nil {
		return []Case{apiFailed(GroupExposed, "gateway ready", e.object(), "list the gateway's pods", err)}
	}
	c := e.newCase("gateway ready")
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	if d.Status.ReadyReplicas < want || want == 0 {
		c.Findings = append(c.Findings, findings.GatewayNotReady.New(fmt.Sprintf("Deployment %s/%s", gns, gw),
			fmt.Sprintf("gateway of %s: %d of %d replicas ready", e.ref(), d.Status.ReadyReplicas, want),
			fmt.Sprintf("kubectl -n %s describe deployment %s", gns, gw)))
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp == nil && !mesh.ProxyOf(p).Injected {
			c.Findings = append(c.Findings, findings.GatewayNotReady.New(fmt.Sprintf("Pod %s/%s", gns, p.Name),
				"gateway pod without an injected istio-proxy: it serves nothing", fmt.Sprintf("kubectl -n %s rollout restart deployment %s", gns, gw)))
		}
	}
	return []Case{c}
}

// gatewayPDB: a PodDisruptionBudget selects the gateway's pods.
func gatewayPDB(ctx context.Context, st *state, e exposed) Case {
	d := e.gateway
	obj := fmt.Sprintf("PodDisruptionBudget %s/%s", d.Namespace, d.Name)
	c := e.newCase("gateway PDB")
	pdb, err := st.c.Kube.PolicyV1().PodDisruptionBudgets(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		c.Findings = append(c.Findings, findings.GatewayPDB.New(obj, "missing: node upgrades may evict every gateway pod at once", e.reexpose()))
	case err != nil:
		return apiFailed(GroupExposed, "gateway PDB", e.object(), "get the gateway's PodDisruptionBudget", err)
	default:
		s, serr := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if serr != nil || pdb.Spec.Selector == nil || !s.Matches(labels.Set(d.Spec.Template.Labels)) {
			c.Findings = append(c.Findings, findings.GatewayPDB.New(obj,
				fmt.Sprintf("selector %s does not select the gateway's pods", metav1.FormatLabelSelector(pdb.Spec.Selector)), e.reexpose()))
		}
	}
	return c
}

// gatewayHPA: an autoscaler scales the gateway, or at least a Deployment
// that exists.
func gatewayHPA(ctx context.Context, st *state, e exposed) Case {
	gns, gw := e.gateway.Namespace, e.gateway.Name
	obj := fmt.Sprintf("HorizontalPodAutoscaler %s/%s", gns, gw)
	c := e.newCase("gateway HPA")
	hpa, err := st.c.Kube.AutoscalingV2().HorizontalPodAutoscalers(gns).Get(ctx, gw, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		c.Findings = append(c.Findings, findings.GatewayHPA.New(obj, "missing", e.reexpose()))
	case err != nil:
		return apiFailed(GroupExposed, "gateway HPA", e.object(), "get the gateway's HorizontalPodAutoscaler", err)
	default:
		ref := hpa.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.Name != gw {
			if _, gerr := st.c.Kube.AppsV1().Deployments(gns).Get(ctx, ref.Name, metav1.GetOptions{}); gerr != nil || ref.Kind != "Deployment" {
				c.Findings = append(c.Findings, findings.GatewayHPA.New(obj, fmt.Sprintf("scales %s %s, which does not exist", ref.Kind, ref.Name), e.reexpose()))
			}
		}
	}
	return c
}

// virtualService: the VirtualService is bound to the Gateway and routes to
// a Service port that exists. It returns the hosts it routes, for the
// certificate check.
func virtualService(ctx context.Context, st *state, e exposed) (Case, []string) {
	gns, gw := e.gateway.Namespace, e.gateway.Name
	obj := fmt.Sprintf("VirtualService %s/%s", gns, gw)
	c := e.newCase("virtual service")
	vs, err := st.c.Dynamic.Resource(gvrVirtualService).Namespace(gns).Get(ctx, gw, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		c.Findings = append(c.Findings, findings.VirtualServiceBind.New(obj, "missing: the gateway routes nothing to "+e.ref(), e.reexpose()))
	case err != nil:
		return apiFailed(GroupExposed, "virtual service", e.object(), "get the VirtualService", err), nil
	default:
		hosts, _, _ := unstructured.NestedStringSlice(vs.Object, "spec", "hosts")
		c.Findings = append(c.Findings, checkVirtualService(ctx, st, vs, obj, gns, gw)...)
		return c, hosts
	}
	return c, nil
}

// tlsCertificate: the Gateway's TLS secret holds a certificate valid for
// the hosts.
func tlsCertificate(ctx context.Context, st *state, e exposed, hosts []string) Case {
	gns, gw := e.gateway.Namespace, e.gateway.Name
	c := e.newCase("tls certificate")
	g, err := st.c.Dynamic.Resource(gvrGateway).Namespace(gns).Get(ctx, gw, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		c.Findings = append(c.Findings, findings.VirtualServiceBind.New(fmt.Sprintf("Gateway %s/%s", gns, gw), "Istio Gateway missing: the gateway serves nothing", e.reexpose()))
	case err != nil:
		return apiFailed(GroupExposed, "tls certificate", e.object(), "get the Gateway", err)
	default:
		servers, _, _ := unstructured.NestedSlice(g.Object, "spec", "servers")
		for _, s := range servers {
			m, _ := s.(map[string]any)
			if name, _, _ := unstructured.NestedString(m, "tls", "credentialName"); name != "" {
				c.Findings = append(c.Findings, checkSecret(ctx, st, gns, name, hosts, e)...)
			}
		}
	}
	return c
}

func checkVirtualService(ctx context.Context, st *state, vs *unstructured.Unstructured, vobj, gns, gw string) []findings.Finding {
	var out []findings.Finding
	gws, _, _ := unstructured.NestedStringSlice(vs.Object, "spec", "gateways")
	bound := false
	for _, g := range gws {
		if g == gw || g == gns+"/"+gw {
			bound = true
		}
	}
	if !bound {
		out = append(out, findings.VirtualServiceBind.New(vobj, fmt.Sprintf("not bound to Gateway %s (gateways: %s)", gw, strings.Join(gws, ", ")),
			fmt.Sprintf(`kubectl -n %s patch virtualservice %s --type merge -p '{"spec":{"gateways":["%s"]}}'`, gns, gw, gw)))
	}
	routes, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	for _, r := range routes {
		rm, _ := r.(map[string]any)
		dests, _, _ := unstructured.NestedSlice(rm, "route")
		for _, dst := range dests {
			dm, _ := dst.(map[string]any)
			host, _, _ := unstructured.NestedString(dm, "destination", "host")
			port, hasPort, _ := unstructured.NestedFieldNoCopy(dm, "destination", "port", "number")
			name, ns := host, gns
			if parts := strings.Split(host, "."); len(parts) >= 2 {
				name, ns = parts[0], parts[1]
			}
			svc, err := st.c.Kube.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				out = append(out, findings.VirtualServiceBind.New(vobj, fmt.Sprintf("routes to %s: Service %s/%s does not exist", host, ns, name), ""))
				continue
			}
			if err != nil {
				out = append(out, findings.APIUnavailable.New(vobj, fmt.Sprintf("get Service %s/%s: %v", ns, name, err), apiHint(err)))
				continue
			}
			if !hasPort {
				continue
			}
			n := toInt64(port)
			ok := false
			for _, p := range svc.Spec.Ports {
				if int64(p.Port) == n {
					ok = true
				}
			}
			if !ok {
				out = append(out, findings.VirtualServiceBind.New(vobj, fmt.Sprintf("routes to port %d of Service %s/%s, which has no such port", n, ns, name), ""))
			}
		}
	}
	return out
}

func toInt64(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int:
		return int64(x)
	case float64:
		return int64(x)
	case int32:
		return int64(x)
	}
	return -1
}

func checkSecret(ctx context.Context, st *state, ns, name string, hosts []string, e exposed) []findings.Finding {
	obj := fmt.Sprintf("Secret %s/%s", ns, name)
	sec, err := st.c.Kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return []findings.Finding{findings.GatewayTLSSecret.New(obj, "the Gateway's TLS secret is missing: the gateway cannot serve HTTPS for "+e.ref(),
			e.reexpose()+" (recreates meshctl's certificate), or recreate your own secret")}
	}
	if err != nil {
		return []findings.Finding{findings.APIUnavailable.New(obj, fmt.Sprintf("get secret: %v", err), apiHint(err))}
	}
	block, _ := pem.Decode(sec.Data[corev1.TLSCertKey])
	if block == nil {
		return []findings.Finding{findings.GatewayTLSSecret.New(obj, "no PEM certificate in "+corev1.TLSCertKey, "")}
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return []findings.Finding{findings.GatewayTLSSecret.New(obj, "certificate does not parse: "+err.Error(), "")}
	}
	var out []findings.Finding
	for _, h := range hosts {
		if h == "*" || strings.Contains(h, "/") {
			continue
		}
		if err := cert.VerifyHostname(h); err != nil {
			out = append(out, findings.GatewayTLSSecret.New(obj, fmt.Sprintf("certificate not valid for host %s: %v", h, err), ""))
		}
	}
	now := st.opts.Now()
	left := cert.NotAfter.Sub(now)
	switch {
	case left <= 0:
		out = append(out, findings.GatewayTLSSecret.New(obj, fmt.Sprintf("certificate expired on %s", cert.NotAfter.UTC().Format(time.DateOnly)), "renew it"))
	case left < time.Duration(st.opts.CertWarnDays)*24*time.Hour:
		out = append(out, findings.GatewayCertExpiry.New(obj, fmt.Sprintf("certificate expires on %s, in %d days", cert.NotAfter.UTC().Format(time.DateOnly), int(left.Hours()/24)), "renew it"))
	}
	return out
}
