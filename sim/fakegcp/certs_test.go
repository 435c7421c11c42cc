package fakegcp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

func (e *env) managedStatus(t *testing.T, name string) (string, map[string]string) {
	t.Helper()
	c, err := e.cert.Get(e.ctx, &computepb.GetSslCertificateRequest{Project: project, SslCertificate: name})
	if err != nil {
		t.Fatal(err)
	}
	return c.GetManaged().GetStatus(), c.GetManaged().GetDomainStatus()
}

// TestManagedCertificateProvisioning: PROVISIONING while it only sits on a
// proxy, ACTIVE the configured delay after a forwarding rule serves it.
func TestManagedCertificateProvisioning(t *testing.T) {
	e := newEnv(t, func(k *Knobs) { k.CertProvisioningDelay = Duration(time.Hour) })
	e.buildChain(t) // the forwarding rule exists: the clock starts now
	e.done(t)(e.cert.Insert(e.ctx, &computepb.InsertSslCertificateRequest{Project: project, SslCertificateResource: &computepb.SslCertificate{
		Name: proto.String("spare"), Managed: &computepb.SslCertificateManagedSslCertificate{Domains: []string{"spare.example.com"}}}}))
	e.done(t)(e.https.Insert(e.ctx, &computepb.InsertTargetHttpsProxyRequest{Project: project, TargetHttpsProxyResource: &computepb.TargetHttpsProxy{
		Name: proto.String("unused-proxy"), UrlMap: proto.String("web-map"), SslCertificates: []string{"spare"}}}))

	status, domains := e.managedStatus(t, "web-cert")
	if status != "PROVISIONING" || domains["www.example.com"] != "PROVISIONING" {
		t.Errorf("while the delay runs: %s %v", status, domains)
	}
	e.srv.UpdateKnobs(func(k *Knobs) { k.CertProvisioningDelay = Duration(100 * time.Millisecond) })
	time.Sleep(150 * time.Millisecond)
	status, domains = e.managedStatus(t, "web-cert")
	if status != "ACTIVE" || domains["www.example.com"] != "ACTIVE" {
		t.Errorf("after the delay: %s %v", status, domains)
	}
	if status, _ := e.managedStatus(t, "spare"); status != "PROVISIONING" {
		t.Errorf("a certificate on a proxy no forwarding rule uses is %s", status)
	}
}

func selfSignedPEM(t *testing.T, dnsName string, notAfter time.Time) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
}

func TestSelfManagedCertificate(t *testing.T) {
	e := newEnv(t)
	notAfter := time.Date(2031, 5, 4, 3, 2, 1, 0, time.UTC)
	certPEM, keyPEM := selfSignedPEM(t, "gw.example.com", notAfter)
	e.done(t)(e.cert.Insert(e.ctx, &computepb.InsertSslCertificateRequest{Project: project, SslCertificateResource: &computepb.SslCertificate{
		Name: proto.String("own"), Certificate: proto.String(certPEM), PrivateKey: proto.String(keyPEM)}}))
	c, err := e.cert.Get(e.ctx, &computepb.GetSslCertificateRequest{Project: project, SslCertificate: "own"})
	if err != nil {
		t.Fatal(err)
	}
	expire, _ := time.Parse(googleTimeFormat, c.GetExpireTime())
	if c.GetType() != "SELF_MANAGED" || c.GetPrivateKey() != "" || c.GetSelfManaged().GetPrivateKey() != "" ||
		c.GetSelfManaged().GetCertificate() != certPEM || !expire.Equal(notAfter) || c.GetSubjectAlternativeNames()[0] != "gw.example.com" {
		t.Errorf("certificate: %v", c)
	}
	_, err = e.cert.Insert(e.ctx, &computepb.InsertSslCertificateRequest{Project: project, SslCertificateResource: &computepb.SslCertificate{
		Name: proto.String("junk"), Certificate: proto.String("not a certificate"), PrivateKey: proto.String(keyPEM)}})
	wantAPIError(t, err, 400, "invalid")
}
