package reach

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/meshctl/meshctl/sim/fakegcp"
)

// CallerHeader names the VM behind a CONNECT to ServeVMs' listener:
// "zones/ZONE/instances/NAME" for an instance of the fake Compute API, or
// "network=NAME,region=REGION,ip=ADDRESS" for a VM it does not know.
const CallerHeader = "Meshsim-Caller"

// Router says where a connection through an internal load balancer ends:
// the local address that serves what the backends would do with it, given
// the port and the TLS server name the client sent (a gateway in
// PASSTHROUGH mode routes on it). An error closes the connection, as an
// Envoy without a matching route does.
type Router func(lb fakegcp.InternalLB, port int, serverName string) (backend, route string, err error)

// ServeVMs answers simulated VMs (meshsim vm) on ln until ctx ends: each
// CONNECT to an internal load balancer's IP:PORT goes through when
// DecideLoadBalancer allows it (held and dropped otherwise, as a lost SYN),
// then to wherever Route sends it. No packet crosses a simulated network:
// the model decides, and the tunnel ends at the local process standing in
// for what the load balancer's backends forward to.
func (p *Proxy) ServeVMs(ctx context.Context, ln net.Listener) error {
	return serveUntilDone(ctx, ln, p.connectVM)
}

func (p *Proxy) connectVM(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "meshsim's VM proxy only tunnels (CONNECT)", http.StatusMethodNotAllowed)
		return
	}
	if p.Network == nil || p.Route == nil {
		http.Error(w, "meshsim's VM proxy has no network model", http.StatusServiceUnavailable)
		return
	}
	caller, err := p.vmCaller(r.Header.Get(CallerHeader))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	conn, pending, ok := hijack(w)
	if !ok {
		return
	}
	defer conn.Close()
	start := time.Now()
	a := Attempt{Time: start, Caller: caller.Name, Address: r.Host, Endpoint: LoadBalancerEndpoint}
	var lb fakegcp.InternalLB
	var port int
	_, v := p.waitAllowed(r.Context(), func() (string, Verdict) {
		var v Verdict
		lb, port, v = p.decideVM(caller, r.Host)
		a.Target = lb.Name
		return "", v
	})
	a.Verdict, a.Waited = v, time.Since(start).Seconds()
	if !v.Allowed {
		p.record(a)
		return
	}
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	upstream, route := p.openRoute(conn, pending, lb, port)
	a.Route = route
	p.record(a)
	if upstream != nil {
		defer upstream.Close()
		splice(conn, pending, upstream)
	}
}

// openRoute peeks at the TLS ClientHello for its server name, asks Route
// where the connection ends and connects there, replaying the hello; it
// returns the connection (nil when closed) and the route or why the
// connection was closed.
func (p *Proxy) openRoute(conn net.Conn, pending *bufio.Reader, lb fakegcp.InternalLB, port int) (net.Conn, string) {
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	sni, hello, err := peekServerName(pending)
	_ = conn.SetReadDeadline(time.Time{})
	if err != nil {
		return nil, "closed: no TLS ClientHello: " + err.Error()
	}
	backend, route, err := p.Route(lb, port, sni)
	if err != nil {
		return nil, "closed: " + err.Error()
	}
	upstream, err := net.DialTimeout("tcp", backend, 5*time.Second)
	if err != nil {
		return nil, "closed: " + route + ": " + err.Error()
	}
	if _, err := upstream.Write(hello); err != nil {
		upstream.Close()
		return nil, "closed: " + route + ": " + err.Error()
	}
	return upstream, route
}

// decideVM finds the internal load balancer at target (IP:PORT) and
// applies the model.
func (p *Proxy) decideVM(caller Caller, target string) (fakegcp.InternalLB, int, Verdict) {
	host, portText, err := net.SplitHostPort(target)
	port, perr := strconv.Atoi(portText)
	addr, aerr := netip.ParseAddr(host)
	if err != nil || perr != nil || aerr != nil {
		return fakegcp.InternalLB{}, 0, deny("bad CONNECT target %q: want IP:PORT", target)
	}
	for _, lb := range p.Network.InternalLoadBalancers() {
		if lb.IP == addr {
			return lb, port, DecideLoadBalancer(p.Network, caller, lb, port)
		}
	}
	return fakegcp.InternalLB{}, port, deny("no internal load balancer answers at %s", addr)
}

// vmCaller reads CallerHeader.
func (p *Proxy) vmCaller(h string) (Caller, error) {
	if zone, name, ok := strings.Cut(strings.TrimPrefix(h, "zones/"), "/instances/"); ok {
		for _, vm := range p.Network.VMs() {
			if vm.Zone == zone && vm.Name == name {
				return VMCaller(vm), nil
			}
		}
		return Caller{}, fmt.Errorf("the fake Compute API has no instance %s in %s", name, zone)
	}
	c := Caller{Name: "vm", Kind: "vm"}
	for _, kv := range strings.Split(h, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch k {
		case "network":
			c.Network = v
		case "region":
			c.Region = v
		case "ip":
			a, err := netip.ParseAddr(v)
			if err != nil {
				return Caller{}, fmt.Errorf("%s: bad ip %q", CallerHeader, v)
			}
			c.Source, c.Name = netip.PrefixFrom(a, 32), "vm "+v
		}
	}
	if c.Network == "" || c.Region == "" || !c.Source.IsValid() {
		return Caller{}, fmt.Errorf("%s %q: want zones/ZONE/instances/NAME or network=NAME,region=REGION,ip=ADDRESS", CallerHeader, h)
	}
	return c, nil
}

// errHelloRead ends the handshake peekServerName starts once the
// ClientHello is read.
var errHelloRead = errors.New("client hello read")

// peekServerName reads a TLS ClientHello from r and returns its server
// name and the bytes read, to be replayed to the real server.
func peekServerName(r io.Reader) (string, []byte, error) {
	var seen bytes.Buffer
	var sni string
	srv := tls.Server(readOnlyConn{r: io.TeeReader(r, &seen)}, &tls.Config{
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			sni = h.ServerName
			return nil, errHelloRead
		},
	})
	if err := srv.Handshake(); !errors.Is(err, errHelloRead) {
		if err == nil {
			err = errors.New("handshake completed unexpectedly")
		}
		return "", nil, err
	}
	return sni, seen.Bytes(), nil
}

// readOnlyConn reads from r and drops writes: the handshake that reads the
// ClientHello must not answer the client.
type readOnlyConn struct {
	net.Conn
	r io.Reader
}

func (c readOnlyConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c readOnlyConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c readOnlyConn) Close() error                     { return nil }
func (c readOnlyConn) SetDeadline(time.Time) error      { return nil }
func (c readOnlyConn) SetReadDeadline(time.Time) error  { return nil }
func (c readOnlyConn) SetWriteDeadline(time.Time) error { return nil }
func (c readOnlyConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c readOnlyConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
