package gkegateway

import (
	"crypto/sha256"
	"math/big"
	"strconv"
	"strings"
)

// Names follow what GKE's Gateway controller was seen to make
// (reference gke-gateway.md §2, high confidence for the shape; the hash
// algorithm is unknown, so meshsim's hashes are its own):
//
//	gateway-scoped  gkegw1-<t4>-<ns>-<gateway>-<h12>
//	backend-scoped  gkegw1-<t4>-<ns>-<service>-<port>-<h12>
//	firewall        gkegw1-<t4>-l7-<network>-global
//
// t4 is a per-cluster token, h12 twelve characters of [a-z0-9]. The
// descriptive fields are trimmed evenly so a name fits Compute's 63.
const (
	namePrefix    = "gkegw1"
	maxNameLength = 63
	hashLength    = 12
)

// Roles of gateway-scoped resources: each gets its own hash, except that a
// URL map and the proxy in front of it share one (as observed).
const (
	roleAddress      = "address"
	roleHTTPFrontend = "http"  // URL map and target HTTP proxy of the HTTP listeners
	roleTLSFrontend  = "https" // URL map and target HTTPS proxy of the HTTPS listeners
)

// base36 renders a hash in [a-z0-9].
func base36(sum []byte, n int) string {
	s := new(big.Int).SetBytes(sum).Text(36)
	for len(s) < n {
		s = "0" + s
	}
	return s[:n]
}

func hashOf(parts ...string) []byte {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return sum[:]
}

// ClusterToken is the four-character per-cluster token in every name, made
// from the cluster's id (meshsim: the kube-system namespace's UID).
func ClusterToken(clusterUID string) string {
	return base36(hashOf("cluster", clusterUID), 4)
}

// namer makes the names of one cluster's resources.
type namer struct {
	token   string
	network string
}

// gatewayName names a gateway-scoped resource; role keeps the address,
// each forwarding rule and each URL map (with its proxy) apart.
func (n namer) gatewayName(namespace, gateway, role string) string {
	return n.compose(hashOf(n.token, namespace, gateway, role), namespace, gateway)
}

// forwardingRuleName names the forwarding rule of one listener port.
func (n namer) forwardingRuleName(namespace, gateway string, port int32) string {
	return n.gatewayName(namespace, gateway, "fr-"+strconv.Itoa(int(port)))
}

// backendName names the backend service of a (Service, port) and its health check.
func (n namer) backendName(namespace, service string, port int32) string {
	p := strconv.Itoa(int(port))
	return n.compose(hashOf(n.token, namespace, service, p), namespace, service, p)
}

// defaultBackendName names a Gateway namespace's gw-serve404 / gw-serve500
// backend service, as the backend of a pseudo-Service on port 80.
func (n namer) defaultBackendName(namespace, which string) string {
	return n.backendName(namespace, "gw-"+which, 80)
}

// certificateName names the SSL certificate made from a listener's Secret;
// the certificate's content is part of the hash because Compute
// certificates are immutable: new content, new certificate.
func (n namer) certificateName(namespace, secret string, content []byte) string {
	return n.compose(hashOf(n.token, namespace, secret, string(content)), namespace, secret)
}

// firewallName is the cluster's one L7 firewall rule for a network.
func (n namer) firewallName() string {
	name := namePrefix + "-" + n.token + "-l7-" + n.network + "-global"
	if len(name) > maxNameLength {
		// Guess: GKE's networks are short enough that this was never seen.
		return name[:maxNameLength]
	}
	return name
}

// prefix starts every name this cluster's controller makes; garbage
// collection only ever looks at names with it.
func (n namer) prefix() string { return namePrefix + "-" + n.token + "-" }

func (n namer) compose(sum []byte, fields ...string) string {
	head := n.prefix()
	budget := maxNameLength - len(head) - hashLength - len(fields) // one dash after each field
	trimmed := trimFieldsEvenly(budget, fields...)
	return head + strings.Join(trimmed, "-") + "-" + base36(sum, hashLength)
}

// trimFieldsEvenly shortens fields so their lengths add up to at most max,
// each losing a share of the excess in proportion to its length (the
// ingress-gce namer's rule, which GKE's names look like); a field never
// loses its last character.
func trimFieldsEvenly(max int, fields ...string) []string {
	total := 0
	for _, f := range fields {
		total += len(f)
	}
	out := append([]string(nil), fields...)
	if total <= max || max <= 0 {
		return out
	}
	excess := total - max
	lengths := make([]int, len(fields))
	used := 0
	for i, f := range fields {
		lengths[i] = len(f) - (len(f)*excess+total-1)/total // round the cut up
		if lengths[i] < 1 {
			lengths[i] = 1
		}
		used += lengths[i]
	}
	// Give back what rounding took, in field order.
	for i := 0; used < max && i < len(fields); i++ {
		if lengths[i] < len(fields[i]) {
			lengths[i]++
			used++
		}
	}
	for i := range out {
		out[i] = strings.TrimRight(out[i][:lengths[i]], "-")
	}
	return out
}
