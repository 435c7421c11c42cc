// Package meshca is a shared root of trust for in-cluster control planes:
// a root CA kept outside every cluster (generated, or the user's), and per
// cluster an intermediate CA that istiod signs workload certificates with,
// installed as istio-system's cacerts Secret, as Istio's tools/certs and
// its "plug in CA certificates" guide make them. Workloads of every
// cluster then trust each other through the one root.
package meshca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// KeyType is the kind of key a CA is given.
type KeyType string

// Key types: RSA 4096 as Istio's tools/certs, or ECDSA P-256.
const (
	RSA   KeyType = "rsa"
	ECDSA KeyType = "ecdsa"
)

// Validity as Istio's tools/certs: the root ten years, intermediates two.
const (
	rootValidity         = 3650 * 24 * time.Hour
	intermediateValidity = 730 * 24 * time.Hour
)

// File names: istiod reads the four of a cluster's bundle from its cacerts
// Secret (ROOT_CA_DIR); the root's key stays with the user.
const (
	RootCertFile  = "root-cert.pem"
	RootKeyFile   = "root-key.pem"
	CACertFile    = "ca-cert.pem"
	CAKeyFile     = "ca-key.pem"
	CertChainFile = "cert-chain.pem"
)

// Options say where the root is, or is to be made.
type Options struct {
	// Dir holds a generated root (root-cert.pem, root-key.pem) and the
	// intermediates issued from it, one directory per cluster.
	Dir string
	// RootCert and RootKey, when set, are the user's root to use instead.
	RootCert, RootKey string
	// KeyType of the keys made; empty means RSA.
	KeyType KeyType
	// Now is the clock (tests set it).
	Now func() time.Time
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Root is the shared root CA.
type Root struct {
	Cert    *x509.Certificate
	CertPEM []byte
	key     crypto.Signer
	// Created is true when this run generated it; Source is its file.
	Created bool
	Source  string
}

// LoadOrCreateRoot reads the user's root, or the one in Dir, or generates
// one there (the key written 0600, in a directory of 0700).
func LoadOrCreateRoot(o Options) (*Root, error) {
	if o.RootCert != "" || o.RootKey != "" {
		if o.RootCert == "" || o.RootKey == "" {
			return nil, errors.New("give both the root certificate and its key")
		}
		return loadRoot(o.RootCert, o.RootKey)
	}
	if o.Dir == "" {
		return nil, errors.New("no CA directory")
	}
	certFile, keyFile := filepath.Join(o.Dir, RootCertFile), filepath.Join(o.Dir, RootKeyFile)
	if _, err := os.Stat(certFile); err == nil {
		return loadRoot(certFile, keyFile)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	key, err := newKey(o.KeyType)
	if err != nil {
		return nil, err
	}
	now := o.now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"Istio"}, CommonName: "Root CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(rootValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create the root certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeFiles(o.Dir, map[string][]byte{RootKeyFile: keyPEM, RootCertFile: certPEM}); err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	return &Root{Cert: cert, CertPEM: certPEM, key: key, Created: true, Source: certFile}, nil
}

func loadRoot(certFile, keyFile string) (*Root, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("read the root certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read the root key: %w", err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s holds no PEM certificate", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certFile, err)
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("%s is not a CA certificate (basicConstraints CA:TRUE and keyCertSign)", certFile)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("%s is not the key of %s", keyFile, certFile)
	}
	return &Root{Cert: cert, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), key: key, Source: certFile}, nil
}

// Bundle is a cluster's intermediate CA as istiod reads it, all PEM.
type Bundle struct {
	CACert, CAKey, CertChain, RootCert []byte
}

// Files are the bundle's files by name.
func (b *Bundle) Files() map[string][]byte {
	return map[string][]byte{CACertFile: b.CACert, CAKeyFile: b.CAKey, CertChainFile: b.CertChain, RootCertFile: b.RootCert}
}

// Issue makes an intermediate CA for a cluster, as Istio's tools/certs:
// CA with pathlen 0 (it signs workloads only), O=Istio, CN=Intermediate CA,
// L=the cluster, SAN istiod.istio-system.svc; cert-chain.pem is the
// intermediate then the root.
func (r *Root) Issue(cluster string, kt KeyType, now time.Time) (*Bundle, error) {
	key, err := newKey(kt)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"Istio"}, CommonName: "Intermediate CA", Locality: []string{cluster}},
		DNSNames:              []string{"istiod.istio-system.svc"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              minTime(now.Add(intermediateValidity), r.Cert.NotAfter),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, r.Cert, key.Public(), r.key)
	if err != nil {
		return nil, fmt.Errorf("issue the intermediate CA of %s: %w", cluster, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	caCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return &Bundle{CACert: caCert, CAKey: keyPEM, CertChain: append(append([]byte{}, caCert...), r.CertPEM...), RootCert: r.CertPEM}, nil
}

// WriteBundle keeps a cluster's bundle under dir/cluster, keys 0600.
func WriteBundle(dir, cluster string, b *Bundle) error {
	return writeFiles(filepath.Join(dir, cluster), b.Files())
}

// writeFiles writes files into dir (made 0700), every file 0600: only
// their owner may read a CA's key, and the certificates beside it need
// no wider access.
func writeFiles(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	for name, data := range files {
		path := filepath.Join(dir, name)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		_, werr := f.Write(data)
		cerr := f.Close()
		if err := errors.Join(werr, cerr, os.Chmod(path, 0o600)); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

func newKey(kt KeyType) (crypto.Signer, error) {
	switch kt {
	case ECDSA:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RSA, "":
		return rsa.GenerateKey(rand.Reader, 4096)
	}
	return nil, fmt.Errorf("key type %q: want rsa or ecdsa", kt)
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), nil
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
	}
	return nil, fmt.Errorf("unsupported key %T", key)
}

func parseKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM key")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("not an RSA, EC or PKCS#8 private key")
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported key %T", k)
	}
	return s, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
