package check

import corev1 "k8s.io/api/core/v1"

// PortProtocol is the protocol Istio selects for a Service port, or ""
// when it falls back to sniffing (IST0118). `meshctl validate` reports
// port naming through it, so both commands agree.
func PortProtocol(p corev1.ServicePort) string { return portProtocol(p) }

// GuessProtocol proposes an appProtocol for a port that names none.
func GuessProtocol(p corev1.ServicePort) string { return guessProtocol(p) }
