package mesh

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPortProtocol(t *testing.T) {
	app := func(s string) *string { return &s }
	tests := []struct {
		port  corev1.ServicePort
		want  string
		guess string
	}{
		{corev1.ServicePort{Name: "http", Port: 8080}, "http", "http"},
		{corev1.ServicePort{Name: "grpc-web-api", Port: 9000}, "grpc-web", "grpc"},
		{corev1.ServicePort{Name: "HTTP2-internal", Port: 9000}, "http2", "http"},
		{corev1.ServicePort{Name: "data", Port: 7000}, "", "tcp"},
		{corev1.ServicePort{Name: "", Port: 443}, "", "https"},
		{corev1.ServicePort{Name: "", Port: 3306}, "tcp", "tcp"},
		{corev1.ServicePort{Name: "data", Port: 7000, AppProtocol: app("kubernetes.io/h2c")}, "http2", "tcp"},
		{corev1.ServicePort{Name: "web", Port: 7000, AppProtocol: app("https")}, "https", "http"},
		{corev1.ServicePort{Name: "dns", Port: 5353, Protocol: corev1.ProtocolUDP}, "udp", "tcp"},
	}
	for _, tt := range tests {
		if got := PortProtocol(tt.port); got != tt.want {
			t.Errorf("PortProtocol(%+v) = %q, want %q", tt.port, got, tt.want)
		}
		if got := GuessProtocol(tt.port); got != tt.guess {
			t.Errorf("GuessProtocol(%+v) = %q, want %q", tt.port, got, tt.guess)
		}
	}
}

func TestIstioGatewayService(t *testing.T) {
	svc := func(l map[string]string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Labels: l}}
	}
	if !IstioGatewayService(svc(map[string]string{LabelIstio: "ingressgateway"})) || !IstioGatewayService(svc(map[string]string{LabelRevision: "asm-1"})) {
		t.Error("Istio's gateways are not recognised")
	}
	if IstioGatewayService(svc(map[string]string{"app": "web"})) {
		t.Error("an application's Service is taken for Istio's")
	}
}
