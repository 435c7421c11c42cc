package trace

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/meshctl/meshctl/pkg/lb"
)

// fakeCertificateManager serves one map's entries and the certificates.
type fakeCertificateManager struct {
	entries []CMMapEntry
	certs   []CMCertificate
}

func (f fakeCertificateManager) Certificates(context.Context) ([]CMCertificate, error) {
	return f.certs, nil
}

func (f fakeCertificateManager) MapEntries(_ context.Context, m string) ([]CMMapEntry, error) {
	if m != "gw-map" {
		return nil, errors.New("certificateMap " + m + " not found")
	}
	return f.entries, nil
}

// A GKE Gateway's proxy serves a certificate map: the host's entry (or
// the PRIMARY one) decides the certificate, and its state the hop's.
func TestCertificateMap(t *testing.T) {
	entry := CMMapEntry{Name: "gw-entry", Hostname: host, Certificates: []string{"gw-cert"}}
	active := CMCertificate{Name: "gw-cert", Domains: []string{host}, Managed: true, State: "ACTIVE"}
	tests := []struct {
		name  string
		cm    CertificateManager
		state State
		code  string
	}{
		{"entry for the host, certificate ACTIVE", fakeCertificateManager{[]CMMapEntry{entry}, []CMCertificate{active}}, OK, ""},
		{"PRIMARY entry", fakeCertificateManager{[]CMMapEntry{{Name: "primary", Matcher: "PRIMARY", Certificates: []string{"gw-cert"}}}, []CMCertificate{active}}, OK, ""},
		{"certificate PROVISIONING", fakeCertificateManager{[]CMMapEntry{entry}, []CMCertificate{{Name: "gw-cert", Domains: []string{host}, Managed: true, State: "PROVISIONING", CreateTime: now.Add(-time.Minute)}}}, Converging, "MC0404"},
		{"certificate FAILED", fakeCertificateManager{[]CMMapEntry{entry}, []CMCertificate{{Name: "gw-cert", Domains: []string{host}, Managed: true, State: "FAILED", Issue: "CAA: forbidden"}}}, Broken, "MC0405"},
		{"no entry for the host", fakeCertificateManager{[]CMMapEntry{{Name: "e", Hostname: "else.example.com", Certificates: []string{"gw-cert"}}}, []CMCertificate{active}}, Broken, "MC0403"},
		{"entry names a certificate that does not exist", fakeCertificateManager{[]CMMapEntry{entry}, nil}, Broken, "MC0402"},
		{"no Certificate Manager client", nil, Unknown, "MC0100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			for _, c := range negCalls {
				w.reg.Stub(c)
			}
			w.compute.put(t, lb.KindHTTPSProxy, `{"name":"https","urlMap":"`+link+`global/urlMaps/um","certificateMap":"//certificatemanager.googleapis.com/projects/p/locations/global/certificateMaps/gw-map","sslPolicy":"`+link+`global/sslPolicies/ssl"}`)
			c := w.clients()
			c.CertificateManager = tc.cm
			res, err := Run(context.Background(), c, w.opts)
			if err != nil {
				t.Fatal(err)
			}
			h := res.Paths[0].Hops[1]
			if h.Kind != HopTargetProxy || h.State != tc.state || (tc.code != "" && !hopHas(res, HopTargetProxy, tc.code)) {
				t.Errorf("target proxy %s, want %s with %s\n%s", h.State, tc.state, tc.code, render(t, res))
			}
		})
	}
}
