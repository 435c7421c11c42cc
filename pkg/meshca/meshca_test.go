package meshca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var testNow = time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)

// A generated root issues an intermediate per cluster as Istio's
// tools/certs: CA, pathlen 0, the cluster in the subject, chained to the
// root; every file 0600 in 0700 directories; a second call reads the same
// root back.
func TestRootIssuesIntermediates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	root, err := LoadOrCreateRoot(Options{Dir: dir, KeyType: ECDSA, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if !root.Created || !root.Cert.IsCA {
		t.Fatalf("root: created %v, CA %v", root.Created, root.Cert.IsCA)
	}
	again, err := LoadOrCreateRoot(Options{Dir: dir, KeyType: ECDSA})
	if err != nil || again.Created || !again.Cert.Equal(root.Cert) {
		t.Fatalf("second load: created %v, same %v, %v", again.Created, again.Cert.Equal(root.Cert), err)
	}
	b, err := root.Issue("cn-p-us-central1-east", ECDSA, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteBundle(dir, "cn-p-us-central1-east", b); err != nil {
		t.Fatal(err)
	}
	inter, err := ParseCertificates(b.CACert)
	if err != nil || len(inter) != 1 {
		t.Fatalf("ca-cert.pem: %d certificates, %v", len(inter), err)
	}
	c := inter[0]
	if !c.IsCA || c.MaxPathLen != 0 || !c.MaxPathLenZero || !slices.Equal(c.Subject.Locality, []string{"cn-p-us-central1-east"}) || c.Subject.CommonName != "Intermediate CA" {
		t.Errorf("intermediate: CA %v pathlen %d/%v subject %s", c.IsCA, c.MaxPathLen, c.MaxPathLenZero, c.Subject)
	}
	if k, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("intermediate key %T, want ECDSA P-256", c.PublicKey)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root.Cert)
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("intermediate does not chain to the root: %v", err)
	}
	chain, _ := ParseCertificates(b.CertChain)
	if len(chain) != 2 || !chain[0].Equal(c) || !chain[1].Equal(root.Cert) {
		t.Errorf("cert-chain.pem: %d certificates, want the intermediate then the root", len(chain))
	}
	err = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		want := os.FileMode(0o600)
		if info.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// RSA keys are 4096 bits, as Istio's tools/certs makes them.
func TestRSAIntermediate(t *testing.T) {
	if testing.Short() {
		t.Skip("RSA 4096 key generation")
	}
	root, err := LoadOrCreateRoot(Options{Dir: t.TempDir(), KeyType: ECDSA})
	if err != nil {
		t.Fatal(err)
	}
	b, err := root.Issue("cn-x", RSA, testNow)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := ParseCertificates(b.CACert)
	if k, ok := c[0].PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != 4096 {
		t.Errorf("intermediate key %T, want RSA 4096", c[0].PublicKey)
	}
}

// A user's root whose key does not match its certificate is refused.
func TestUserRootKeyMismatch(t *testing.T) {
	a, err := LoadOrCreateRoot(Options{Dir: filepath.Join(t.TempDir(), "a"), KeyType: ECDSA})
	if err != nil {
		t.Fatal(err)
	}
	bdir := filepath.Join(t.TempDir(), "b")
	if _, err := LoadOrCreateRoot(Options{Dir: bdir, KeyType: ECDSA}); err != nil {
		t.Fatal(err)
	}
	_, err = LoadOrCreateRoot(Options{RootCert: a.Source, RootKey: filepath.Join(bdir, RootKeyFile)})
	if err == nil {
		t.Fatal("a root certificate with another root's key was accepted")
	}
}
