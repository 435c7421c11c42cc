package mesh

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// istioProtocols are the protocols Istio reads from a port's name prefix
// or appProtocol (protocol.Parse in istio.io/istio).
var istioProtocols = map[string]bool{
	"tcp": true, "udp": true, "grpc": true, "grpc-web": true, "http": true, "http_proxy": true,
	"http2": true, "https": true, "tls": true, "mongo": true, "redis": true, "mysql": true,
}

// wellKnownTCP are ports Istio treats as TCP without a name: sniffing
// would break their server-first protocols.
var wellKnownTCP = map[int32]bool{25: true, 53: true, 3306: true, 27017: true}

// PortProtocol is the protocol Istio selects for a Service port, or "" when
// it falls back to sniffing (what istioctl's IST0118 reports).
func PortProtocol(p corev1.ServicePort) string {
	if p.Protocol == corev1.ProtocolUDP {
		return "udp"
	}
	name := p.Name
	if p.AppProtocol != nil {
		name = *p.AppProtocol
		switch strings.ToLower(name) {
		case "kubernetes.io/h2c":
			return "http2"
		case "kubernetes.io/ws":
			return "http"
		case "kubernetes.io/wss":
			return "https"
		}
	}
	lower := strings.ToLower(name)
	if strings.HasPrefix(lower, "grpc-web") {
		return "grpc-web"
	}
	prefix, _, _ := strings.Cut(lower, "-")
	if istioProtocols[prefix] {
		return prefix
	}
	if wellKnownTCP[p.Port] {
		return "tcp"
	}
	return ""
}

// GuessProtocol proposes an appProtocol for a port that names none; tcp
// when the port says nothing (always works, without HTTP routing).
func GuessProtocol(p corev1.ServicePort) string {
	switch p.Port {
	case 80, 8080, 8000, 3000, 5000, 9080, 9090:
		return "http"
	case 443, GatewayHTTPSPort:
		return "https"
	case 6379:
		return "redis"
	}
	if strings.Contains(strings.ToLower(p.Name), "grpc") {
		return "grpc"
	}
	if strings.Contains(strings.ToLower(p.Name), "http") || strings.Contains(strings.ToLower(p.Name), "web") {
		return "http"
	}
	return "tcp"
}

// IstioGatewayService reports whether a Service belongs to Istio's own
// gateways or control plane (labelled istio=... or istio.io/rev=...): they
// name their ports as Istio expects of gateways (status-port), so the port
// naming rules do not apply to them.
func IstioGatewayService(s *corev1.Service) bool {
	return s.Labels[LabelIstio] != "" || s.Labels[LabelRevision] != ""
}
