package trace

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	networking "istio.io/api/networking/v1alpha3"
	istionet "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshctl/meshctl/pkg/findings"
)

// serverSel is the Istio Gateway server that takes the load balancer's
// connections on the gateway pods, or why there is none.
type serverSel struct {
	gw     *istionet.Gateway
	server *networking.Server
	// selecting names the Gateways that select the pods.
	selecting []string
	err       error
	problem   string
	fix       string
}

// gatewayRef is how VirtualServices name a Gateway: "namespace/name".
func (s serverSel) gatewayRef() string { return s.gw.Namespace + "/" + s.gw.Name }

// terminatesTLS reports whether a server terminates TLS itself.
func terminatesTLS(s *networking.Server) bool {
	if s.GetTls() == nil {
		return false
	}
	switch s.GetTls().GetMode() {
	case networking.ServerTLSSettings_PASSTHROUGH, networking.ServerTLSSettings_AUTO_PASSTHROUGH:
		return false
	}
	return true
}

// lbSpeaksTLS reports whether the backend service sends TLS to the pods.
func lbSpeaksTLS(protocol string) bool {
	return protocol == "HTTPS" || protocol == "HTTP2" || protocol == "SSL"
}

// selectServer finds the Gateways that select the gateway pods and, among
// their servers on the port the NEG serves, the one that takes the load
// balancer's connections: for TLS, one Envoy chooses without SNI (hosts
// "*"), since Google's load balancer sends none unless the backend
// service's tlsSettings.sni names one; for plain HTTP, one whose hosts
// admit the request's host.
func (t *tracer) selectServer(ctx context.Context, b *backend, g *gatewayCtx) serverSel {
	var sel serverSel
	gws, err := t.r.gateways(ctx)
	if err != nil {
		sel.err = err
		return sel
	}
	var onPort []serverSel
	for _, gw := range gws {
		if !selectsAny(gw.Spec.GetSelector(), g.pods) {
			continue
		}
		sel.selecting = append(sel.selecting, gw.Namespace+"/"+gw.Name)
		for _, s := range gw.Spec.GetServers() {
			n := int(s.GetPort().GetNumber())
			if n == int(g.port.Port) || n == g.targetPort {
				onPort = append(onPort, serverSel{gw: gw, server: s})
			}
		}
	}
	switch {
	case len(sel.selecting) == 0:
		sel.problem = fmt.Sprintf("no Istio Gateway selects the gateway pods (labels %s): Envoy has no listener on port %d and refuses the load balancer's connections", metaSelector(g.pods[0].Labels), g.targetPort)
		sel.fix = "apply a Gateway whose selector matches the pods' labels (meshctl expose makes one)"
		return sel
	case len(onPort) == 0:
		sel.problem = fmt.Sprintf("Gateways %s select the pods but have no server on port %d (the Service port the NEG serves) or %d: Envoy refuses the load balancer's connections", strings.Join(sel.selecting, ", "), g.port.Port, g.targetPort)
		sel.fix = fmt.Sprintf("add a server on port %d to the Gateway", g.port.Port)
		return sel
	}
	sni := b.bs.GetTlsSettings().GetSni()
	for _, c := range onPort {
		want := b.req.host
		if terminatesTLS(c.server) {
			want = orText(sni, "*")
		}
		if serverAdmits(c.server.GetHosts(), want) {
			c.selecting = sel.selecting
			return c
		}
	}
	c := onPort[0]
	c.selecting = sel.selecting
	if terminatesTLS(c.server) && sni == "" {
		c.problem = fmt.Sprintf("server %s on port %d terminates TLS for hosts %s only; Google's load balancer sends no SNI, so no TLS server chain matches and the handshake fails (502)", serverName(c.server), c.server.GetPort().GetNumber(), strings.Join(c.server.GetHosts(), ", "))
		c.fix = `give the server the hosts ["*"] (or "./*"): routing by host happens in the VirtualService`
	} else {
		c.problem = fmt.Sprintf("no server on port %d admits host %s (hosts %s)", c.server.GetPort().GetNumber(), orText(sni, b.req.host), strings.Join(c.server.GetHosts(), ", "))
		c.fix = "add " + b.req.host + " (or *) to the server's hosts"
	}
	return c
}

// selectsAny reports whether a Gateway's selector picks one of the pods;
// an empty selector picks every gateway.
func selectsAny(sel map[string]string, pods []corev1.Pod) bool {
	s := labels.SelectorFromSet(sel)
	for _, p := range pods {
		if s.Matches(labels.Set(p.Labels)) {
			return true
		}
	}
	return false
}

// serverAdmits reports whether a server's hosts ("[namespace/]host")
// admit host.
func serverAdmits(hosts []string, host string) bool {
	for _, h := range hosts {
		if hostAdmits(hostPart(h), host) {
			return true
		}
	}
	return false
}

// hostPart drops a server host's namespace.
func hostPart(h string) string {
	if _, host, ok := strings.Cut(h, "/"); ok {
		return host
	}
	return h
}

// hostAdmits applies Istio's host matching: "*" admits everything,
// "*.example.com" its subdomains, otherwise names must be equal. A
// wildcard request host ("*", from the no-SNI case) is admitted only by
// "*".
func hostAdmits(pattern, host string) bool {
	switch {
	case pattern == "*":
		return true
	case host == "*":
		return false
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(host, pattern[1:])
	}
	return strings.EqualFold(pattern, host)
}

func serverName(s *networking.Server) string {
	if s.GetName() != "" {
		return s.GetName()
	}
	return s.GetPort().GetName()
}

// istioGatewayHop judges the chosen server: the protocol the load balancer
// speaks to it, its TLS mode and its credential.
func (t *tracer) istioGatewayHop(ctx context.Context, b *backend, g *gatewayCtx, sel serverSel) Hop {
	if sel.err != nil {
		return unknownHop(HopIstioGateway, "?", "list the Istio Gateways", sel.err)
	}
	if sel.gw == nil {
		h := newHop(HopIstioGateway, "none")
		h.add(Broken, findings.TraceIstioGateway.New(fmt.Sprintf("Service %s/%s", g.svc.Namespace, g.svc.Name), sel.problem, sel.fix))
		return h
	}
	h := newHop(HopIstioGateway, sel.gatewayRef())
	obj := "Gateway " + sel.gatewayRef()
	s := sel.server
	tlsMode := "no TLS"
	if s.GetTls() != nil {
		tlsMode = "TLS " + s.GetTls().GetMode().String()
	}
	h.see("selects the gateway pods; server %s: port %d %s, hosts %s, %s", serverName(s), s.GetPort().GetNumber(), s.GetPort().GetProtocol(), strings.Join(s.GetHosts(), ", "), tlsMode)
	if sel.problem != "" {
		h.add(Broken, findings.TraceIstioGateway.New(obj, sel.problem, sel.fix))
	}
	proto := orText(b.bs.GetProtocol(), "HTTP")
	switch {
	case lbSpeaksTLS(proto) && s.GetTls() == nil:
		h.add(Broken, findings.TraceProtocol.New("backend service "+b.bs.GetName(),
			fmt.Sprintf("the load balancer speaks TLS (protocol %s) to port %d, where server %s serves plain %s: the handshake fails (502)", proto, g.targetPort, serverName(s), s.GetPort().GetProtocol()),
			fmt.Sprintf("set the backend service's protocol to HTTP (gcloud compute backend-services update %s --global --protocol HTTP), or terminate TLS in the server", b.bs.GetName())))
	case !lbSpeaksTLS(proto) && terminatesTLS(s):
		h.add(Broken, findings.TraceProtocol.New("backend service "+b.bs.GetName(),
			fmt.Sprintf("the load balancer sends plain %s to port %d, where server %s expects TLS: the connection fails (502)", proto, g.targetPort, serverName(s)),
			fmt.Sprintf("set the backend service's protocol to HTTP2 or HTTPS (gcloud compute backend-services update %s --global --protocol HTTP2; appProtocol HTTP2 on the Service port for GKE Gateway)", b.bs.GetName())))
	}
	if s.GetTls() != nil {
		t.serverTLS(ctx, &h, obj, g, s)
	}
	return h
}

// serverTLS checks a server's TLS mode and credential.
func (t *tracer) serverTLS(ctx context.Context, h *Hop, obj string, g *gatewayCtx, s *networking.Server) {
	tls := s.GetTls()
	switch tls.GetMode() {
	case networking.ServerTLSSettings_MUTUAL, networking.ServerTLSSettings_ISTIO_MUTUAL:
		h.add(Broken, findings.TraceGatewayTLS.New(obj, fmt.Sprintf("server %s asks for a client certificate (TLS %s), which Google's load balancer does not present: every handshake fails", serverName(s), tls.GetMode()),
			"use TLS mode SIMPLE on the server the load balancer reaches"))
		return
	case networking.ServerTLSSettings_PASSTHROUGH, networking.ServerTLSSettings_AUTO_PASSTHROUGH:
		return
	}
	names := tls.GetCredentialNames()
	if tls.GetCredentialName() != "" {
		names = append([]string{tls.GetCredentialName()}, names...)
	}
	if len(names) == 0 {
		h.see("certificate from files (%s)", orText(tls.GetServerCertificate(), "none"))
		return
	}
	// istiod serves the credential from a Secret in the gateway pods'
	// namespace.
	ns := g.svc.Namespace
	for _, name := range names {
		t.credential(ctx, h, ns, name)
	}
}

// credential checks one TLS Secret of a gateway server.
func (t *tracer) credential(ctx context.Context, h *Hop, ns, name string) {
	obj := "Secret " + ns + "/" + name
	sec, err := t.r.secret(ns, name).wait(ctx)
	if err != nil {
		h.add(Unknown, findings.APIUnavailable.New(obj, err.Error(), apiHint(err)))
		return
	}
	if sec == nil {
		h.add(Broken, findings.TraceGatewaySecret.New(obj, "the server's TLS credential is missing: istiod gives the gateway no certificate, so every TLS handshake from the load balancer fails (502)",
			fmt.Sprintf("recreate it: kubectl -n %s create secret tls %s --cert CERT --key KEY (meshctl expose re-creates its own)", ns, name)))
		return
	}
	crt, key := sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey]
	if len(crt) == 0 {
		crt, key = sec.Data["cert"], sec.Data["key"]
	}
	block, _ := pem.Decode(crt)
	if block == nil || len(key) == 0 {
		h.add(Broken, findings.TraceGatewaySecret.New(obj, "no PEM certificate and key (tls.crt and tls.key): istiod cannot serve it", fmt.Sprintf("kubectl -n %s create secret tls %s --cert CERT --key KEY --dry-run=client -o yaml | kubectl apply -f -", ns, name)))
		return
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		h.add(Broken, findings.TraceGatewaySecret.New(obj, "the certificate does not parse: "+err.Error(), "replace it with a valid certificate"))
		return
	}
	h.see("credential %s: certificate for %s, valid until %s", obj, strings.Join(certNames(cert), ", "), cert.NotAfter.UTC().Format(time.DateOnly))
	if cert.NotAfter.Before(t.opts.Now()) {
		h.add(Warning, findings.TraceGatewayCertExpired.New(obj, "the certificate expired on "+cert.NotAfter.UTC().Format(time.DateOnly)+"; Google's load balancer does not check backend certificates by default, but anything that does fails",
			"renew it (meshctl expose renews its own)"))
	}
}

func certNames(c *x509.Certificate) []string {
	if len(c.DNSNames) > 0 {
		return c.DNSNames
	}
	return []string{c.Subject.CommonName}
}
