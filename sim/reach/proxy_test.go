package reach

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshctl/meshctl/sim/scenario"
)

// proxyEnv is a Proxy in front of a TLS server standing in for meshsim-2's
// API server, whose certificate names the private endpoint, and a client
// in meshsim-1 that uses the proxy as istiod does (HTTPS_PROXY).
type proxyEnv struct {
	mu       sync.Mutex
	clusters []scenario.Scenario
	proxy    *Proxy
	client   *http.Client
	target   string // https://<meshsim-2's private endpoint>
}

func newProxyEnv(t *testing.T) *proxyEnv {
	t.Helper()
	a, b := twoClusters(t)
	e := &proxyEnv{clusters: []scenario.Scenario{a, b}, target: "https://" + b.PrivateEndpointIP()}
	api := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "meshsim-2 "+r.URL.Path)
	}))
	api.StartTLS()
	t.Cleanup(api.Close)
	e.proxy = &Proxy{
		Clusters: func() []scenario.Scenario {
			e.mu.Lock()
			defer e.mu.Unlock()
			return append([]scenario.Scenario(nil), e.clusters...)
		},
		Backends:    map[string]string{b.Cluster: api.Listener.Addr().String()},
		DialTimeout: 1500 * time.Millisecond,
		Retransmits: []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, 700 * time.Millisecond},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = e.proxy.Serve(ctx, ln, a.Cluster) }()
	proxyURL, _ := url.Parse("http://" + ln.Addr().String())
	// The client trusts the API server's CA and checks that the certificate
	// names the address dialled, as client-go does with a remote secret.
	pool := x509.NewCertPool()
	pool.AddCert(api.Certificate())
	e.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy:           http.ProxyURL(proxyURL),
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "example.com"},
	}}
	return e
}

func (e *proxyEnv) set(fn func(target *scenario.Scenario)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fn(&e.clusters[1])
}

func (e *proxyEnv) get() (string, time.Duration, error) {
	start := time.Now()
	resp, err := e.client.Get(e.target + "/version")
	if err != nil {
		return "", time.Since(start), err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), time.Since(start), nil
}

func TestProxyDropsWhatGKEWouldNotRoute(t *testing.T) {
	e := newProxyEnv(t)
	_, took, err := e.get()
	if err == nil {
		t.Fatal("reached meshsim-2 from another region without master global access")
	}
	if took < 1400*time.Millisecond {
		t.Errorf("refused after %s: a dropped connection lasts the dial timeout", took)
	}
	attempts := e.proxy.Attempts()
	if len(attempts) != 1 || attempts[0].Allowed || attempts[0].Target != "meshsim-2" || attempts[0].Endpoint != PrivateEndpoint ||
		!strings.Contains(attempts[0].Reason, "master global access is off") {
		t.Errorf("attempts: %+v", attempts)
	}
}

func TestProxyTunnelsWhatGKEWouldRoute(t *testing.T) {
	e := newProxyEnv(t)
	e.set(func(b *scenario.Scenario) {
		b.MasterGlobalAccess = true
		b.AuthorizedNetworks = append(b.AuthorizedNetworks, "10.112.0.0/14")
	})
	body, _, err := e.get()
	if err != nil || body != "meshsim-2 /version" {
		t.Fatalf("GET through the tunnel: %q, %v", body, err)
	}
	if a := e.proxy.Attempts(); len(a) != 1 || !a[0].Allowed {
		t.Errorf("attempts: %+v", a)
	}
}

// A held attempt connects once the settings change, as a retransmitted
// SYN gets through once GKE admits it.
func TestProxyAdmitsAHeldAttemptOnceTheSettingsChange(t *testing.T) {
	e := newProxyEnv(t)
	go func() {
		time.Sleep(200 * time.Millisecond)
		e.set(func(b *scenario.Scenario) { b.MasterGlobalAccess, b.AuthorizedNetworks = true, nil })
	}()
	body, took, err := e.get()
	if err != nil || body != "meshsim-2 /version" {
		t.Fatalf("GET: %q, %v", body, err)
	}
	if took < 200*time.Millisecond || took > 1400*time.Millisecond {
		t.Errorf("connected after %s: want the next retransmission after the change (~300ms)", took)
	}
}

func TestProxyPaths(t *testing.T) {
	e := newProxyEnv(t)
	e.set(func(b *scenario.Scenario) {
		b.MasterGlobalAccess, b.AuthorizedNetworks = true, []string{"10.112.0.0/14"}
	})
	paths := e.proxy.Paths()
	if len(paths) != 2 {
		t.Fatalf("paths: %+v", paths)
	}
	for _, p := range paths {
		want := p.From == "meshsim-1" // only meshsim-2 was opened up
		if p.Allowed != want || p.Endpoint != PrivateEndpoint {
			t.Errorf("path %+v, want allowed %v", p, want)
		}
	}
}

func TestProxyRefusesPlainRequests(t *testing.T) {
	e := newProxyEnv(t)
	e.set(func(b *scenario.Scenario) { b.MasterGlobalAccess, b.AuthorizedNetworks = true, nil })
	resp, err := e.client.Get("http://" + e.clusters[1].PrivateEndpointIP() + "/version")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("plain HTTP through the proxy: %s", resp.Status)
	}
}
