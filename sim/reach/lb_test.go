package reach

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/scenario"
)

// stubNetwork is the project as the model reads it, changeable by tests.
type stubNetwork struct {
	mu       sync.Mutex
	lbs      []fakegcp.InternalLB
	vms      []fakegcp.VM
	peered   bool
	firewall func(network string, tags []string, source netip.Prefix, port int) bool
}

func (n *stubNetwork) InternalLoadBalancers() []fakegcp.InternalLB {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]fakegcp.InternalLB(nil), n.lbs...)
}
func (n *stubNetwork) VMs() []fakegcp.VM { return n.vms }
func (n *stubNetwork) NetworksPeered(a, b string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.peered
}
func (n *stubNetwork) IngressAllowed(network string, tags []string, source netip.Prefix, port int) bool {
	if n.firewall == nil {
		return true
	}
	return n.firewall(network, tags, source, port)
}

// eastWest is meshsim-2's east-west gateway load balancer in europe-west1
// on its own network.
func eastWest(global bool) fakegcp.InternalLB {
	return fakegcp.InternalLB{Name: "a123", Region: "europe-west1", Network: "meshsim-net-2", IP: netip.MustParseAddr("10.132.16.5"),
		Ports: []string{"15021", "15443", "15012"}, GlobalAccess: global, Backends: []string{"node-1"}, BackendTags: []string{"gke-meshsim-2-node"},
		Description: `{"kubernetes.io/service-name":"istio-system/istio-eastwestgateway"}`}
}

func TestDecideLoadBalancer(t *testing.T) {
	a, b := twoClusters(t)
	a.Network, b.Network = "meshsim-net-1", "meshsim-net-2"
	vmSameRegion := Caller{Name: "vm", Kind: "vm", Network: "meshsim-net-2", Region: "europe-west1", Source: netip.MustParsePrefix("10.132.16.9/32")}
	tests := []struct {
		name     string
		caller   Caller
		lb       fakegcp.InternalLB
		port     int
		peered   bool
		firewall bool
		allow    bool
		reason   string
	}{
		{"its own network and region", vmSameRegion, eastWest(false), 15443, false, true, true, "in its network meshsim-net-2, in its region europe-west1"},
		{"another network, not peered", ClusterCaller(a), eastWest(true), 15443, false, true, false, "no route between them (no active VPC Network Peering)"},
		{"peered, another region, no global access", ClusterCaller(a), eastWest(false), 15443, true, true, false,
			"answers only clients in europe-west1 (global access is off) and meshsim-1 is in us-central1"},
		{"peered, another region, global access", ClusterCaller(a), eastWest(true), 15443, true, true, true,
			"over the peering of meshsim-net-1 with meshsim-net-2, from us-central1 with global access"},
		{"a port the rule does not forward", vmSameRegion, eastWest(true), 15017, false, true, false, "forwards ports [15021, 15443, 15012], not 15017"},
		{"the firewall keeps the caller out", vmSameRegion, eastWest(true), 15443, false, false, false,
			"no firewall rule of network meshsim-net-2 admits 10.132.16.9/32 to port 15443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			net := &stubNetwork{peered: tt.peered, firewall: func(string, []string, netip.Prefix, int) bool { return tt.firewall }}
			v := DecideLoadBalancer(net, tt.caller, tt.lb, tt.port)
			if v.Allowed != tt.allow || !strings.Contains(v.Reason, tt.reason) {
				t.Errorf("verdict %+v, want allowed %v with %q", v, tt.allow, tt.reason)
			}
		})
	}
	empty := eastWest(true)
	empty.Backends = nil
	if v := DecideLoadBalancer(&stubNetwork{}, vmSameRegion, empty, 15443); v.Allowed || !strings.Contains(v.Reason, "no instances behind it") {
		t.Errorf("no backends: %+v", v)
	}
}

func TestLoadBalancerPathsCoverClustersVMsAndPorts(t *testing.T) {
	a, b := twoClusters(t)
	net := &stubNetwork{lbs: []fakegcp.InternalLB{eastWest(false)},
		vms: []fakegcp.VM{{Name: "db", Region: "europe-west1", Network: "meshsim-net-2", IP: netip.MustParseAddr("10.132.16.9")}}}
	a.Network, b.Network = "meshsim-net-1", "meshsim-net-2"
	paths := loadBalancerPaths(net, []scenario.Scenario{a, b})
	if len(paths) != 9 { // 3 callers x 3 ports
		t.Fatalf("paths: %+v", paths)
	}
	for _, p := range paths {
		want := p.From != "meshsim-1" // meshsim-1 is on the other network
		if p.Allowed != want || p.Service != "istio-system/istio-eastwestgateway" || !strings.HasPrefix(p.Address, "10.132.16.5:") {
			t.Errorf("path %+v, want allowed %v", p, want)
		}
	}
}

// vmEnv is the VM proxy in front of a TLS server standing in for istiod,
// routed to by SNI.
type vmEnv struct {
	proxy *Proxy
	net   *stubNetwork
	addr  string // the proxy's
	pool  *x509.CertPool
}

func newVMEnv(t *testing.T) *vmEnv {
	t.Helper()
	istiod := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "istiod "+r.TLS.ServerName)
	}))
	istiod.StartTLS()
	t.Cleanup(istiod.Close)
	net0 := &stubNetwork{lbs: []fakegcp.InternalLB{eastWest(false)},
		vms: []fakegcp.VM{{Name: "db", Zone: "us-central1-a", Region: "us-central1", Network: "meshsim-net-2", IP: netip.MustParseAddr("10.132.16.9")}}}
	e := &vmEnv{net: net0, pool: x509.NewCertPool()}
	e.pool.AddCert(istiod.Certificate())
	e.proxy = &Proxy{Network: net0, DialTimeout: 800 * time.Millisecond, Retransmits: []time.Duration{100 * time.Millisecond, 300 * time.Millisecond},
		Route: func(lb fakegcp.InternalLB, port int, sni string) (string, string, error) {
			if sni != "example.com" {
				return "", "", fmt.Errorf("no route for %s", sni)
			}
			return istiod.Listener.Addr().String(), "istiod via " + lb.Name, nil
		}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = e.proxy.ServeVMs(ctx, ln) }()
	e.addr = ln.Addr().String()
	return e
}

// get tunnels to the load balancer's 15012 as caller and asks for / over TLS.
func (e *vmEnv) get(caller, serverName string) (string, error) {
	conn, err := net.DialTimeout("tcp", e.addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "CONNECT 10.132.16.5:15012 HTTP/1.1\r\nHost: 10.132.16.5:15012\r\n%s: %s\r\n\r\n", CallerHeader, caller)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close() // a 200 to CONNECT has no body: closing it reads nothing of the tunnel
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("CONNECT: %s", resp.Status)
	}
	tc := tls.Client(conn, &tls.Config{RootCAs: e.pool, ServerName: serverName})
	fmt.Fprintf(tc, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", serverName)
	got, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		return "", err
	}
	defer got.Body.Close()
	b, _ := io.ReadAll(got.Body)
	return string(b), nil
}

func TestVMProxyGoesWhereTheGatewayRoutes(t *testing.T) {
	e := newVMEnv(t)
	// Another region, no global access: held, then dropped.
	if _, err := e.get("zones/us-central1-a/instances/db", "example.com"); err == nil {
		t.Fatal("a VM in us-central1 reached a regional load balancer in europe-west1")
	}
	e.net.mu.Lock()
	e.net.lbs[0].GlobalAccess = true
	e.net.mu.Unlock()
	body, err := e.get("zones/us-central1-a/instances/db", "example.com")
	if err != nil || body != "istiod example.com" {
		t.Fatalf("through the gateway: %q, %v", body, err)
	}
	// A server name the gateway does not route: connected, then closed.
	if _, err := e.get("network=meshsim-net-2,region=europe-west1,ip=10.132.16.30", "other.example"); err == nil {
		t.Error("an unrouted server name got an answer")
	}
	attempts := e.proxy.Attempts()
	if len(attempts) != 3 {
		t.Fatalf("attempts %+v", attempts)
	}
	if a := attempts[0]; a.Allowed || a.Caller != "db" || a.Target != "a123" || !strings.Contains(a.Reason, "global access is off") {
		t.Errorf("first attempt %+v", a)
	}
	if a := attempts[1]; !a.Allowed || a.Route != "istiod via a123" {
		t.Errorf("second attempt %+v", a)
	}
	if a := attempts[2]; !a.Allowed || !strings.Contains(a.Route, "closed: no route for other.example") || a.Caller != "vm 10.132.16.30" {
		t.Errorf("third attempt %+v", a)
	}
	if _, err := e.get("zones/us-central1-a/instances/nobody", "example.com"); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("an unknown instance: %v", err)
	}
}
