package expose

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/meshctl/meshctl/pkg/mesh"
	corev1 "k8s.io/api/core/v1"
)

// The gateway's own certificate. Google's load balancer encrypts to the
// backend but does not verify its certificate, so a self-signed one is
// enough; it must still be valid, or Istio refuses to serve it (and
// `istioctl analyze` reports IST0128 for the Gateway).
const (
	certValidity = 365 * 24 * time.Hour
	// certRenewBefore is how long before expiry a run replaces the
	// certificate: re-running expose (e.g. from CI) rotates it.
	certRenewBefore = 30 * 24 * time.Hour
)

// privateKey holds PEM-encoded key material. It prints and marshals as
// "[redacted]", so no result, log line or error can show it by accident.
type privateKey []byte

func (privateKey) String() string               { return "[redacted]" }
func (privateKey) GoString() string             { return "[redacted]" }
func (privateKey) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }
func (privateKey) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }
func (privateKey) Format(f fmt.State, _ rune)   { _, _ = f.Write([]byte("[redacted]")) }

// Cert is a certificate and its private key for the gateway's TLS Secret.
type Cert struct {
	CertPEM  []byte
	Key      privateKey
	NotAfter time.Time
}

// newCert makes a self-signed ECDSA P-256 certificate for hosts.
func newCert(hosts []string, now time.Time) (*Cert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate gateway key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generate certificate serial: %w", err)
	}
	names := certNames(hosts)
	cn := "meshctl gateway"
	if len(names) > 0 {
		cn = names[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{mesh.ManagedBy}},
		DNSNames:              names,
		NotBefore:             now.Add(-5 * time.Minute), // tolerate clock skew
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create gateway certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode gateway key: %w", err)
	}
	return &Cert{
		CertPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Key:      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		NotAfter: tmpl.NotAfter.UTC().Truncate(time.Second),
	}, nil
}

// certNames are the DNS names a certificate for hosts carries: a bare "*"
// is no name a certificate can hold.
func certNames(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		if h != "*" {
			out = append(out, h)
		}
	}
	return out
}

// reuseCert returns the certificate in an existing Secret when it can go on
// serving hosts at now, or why it cannot.
func reuseCert(s *corev1.Secret, hosts []string, now time.Time) (*Cert, error) {
	crt, key := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
	pair, err := tls.X509KeyPair(crt, key)
	if err != nil {
		return nil, errors.New("it does not hold a matching certificate and key")
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, errors.New("its certificate does not parse")
	}
	switch {
	case now.Before(leaf.NotBefore):
		return nil, errors.New("its certificate is not valid yet")
	case leaf.NotAfter.Sub(now) < certRenewBefore:
		return nil, fmt.Errorf("its certificate expires %s", leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	want := certNames(hosts)
	got := append([]string(nil), leaf.DNSNames...)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		return nil, errors.New("the hosts changed")
	}
	return &Cert{CertPEM: crt, Key: key, NotAfter: leaf.NotAfter.UTC()}, nil
}

// certExpiry reads the expiry of the first certificate in PEM data.
func certExpiry(crt []byte) (time.Time, error) {
	block, _ := pem.Decode(crt)
	if block == nil || block.Type != "CERTIFICATE" {
		return time.Time{}, errors.New("no PEM certificate")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return time.Time{}, err
	}
	return c.NotAfter.UTC(), nil
}
