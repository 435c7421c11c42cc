package reach

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/meshctl/meshctl/sim/scenario"
)

// DefaultDialTimeout is how long a dropped connection attempt lasts:
// client-go's dialer gives up after 30 s.
const DefaultDialTimeout = 30 * time.Second

// synRetransmits are when a client's kernel sends its SYN again (Linux: an
// initial 1 s timeout, doubling): a path that opens meanwhile, e.g. by a
// `clusters update`, connects on the next one, as it would on GKE.
var synRetransmits = []time.Duration{1 * time.Second, 3 * time.Second, 7 * time.Second, 15 * time.Second, 31 * time.Second}

// keptAttempts bounds the attempts Proxy remembers.
const keptAttempts = 500

// Proxy is an HTTP CONNECT proxy per calling cluster: a connection to
// another cluster's endpoint goes through when Decide allows it, to the
// API server's real local address, and is otherwise held and dropped.
type Proxy struct {
	// Clusters returns the simulated clusters as GKE describes them now, so
	// a `clusters update` changes what is reachable at once.
	Clusters func() []scenario.Scenario
	// Backends maps a cluster's name to its API server's local address
	// (127.0.0.1:PORT).
	Backends map[string]string
	// DialTimeout is how long a refused attempt is held; 0 means
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// Retransmits, when set, replace the SYN retransmission times (tests).
	Retransmits []time.Duration
	// Logf, when set, logs every attempt's outcome.
	Logf func(format string, a ...any)
	// Network, when set, is the project's network beyond the clusters:
	// internal load balancers, VMs, peerings and firewall (the fake
	// Compute API), for the load balancer paths and ServeVMs.
	Network Network
	// Route, when set, says where a VM's connection through an internal
	// load balancer ends (ServeVMs).
	Route Router

	mu       sync.Mutex
	attempts []Attempt
}

// Attempt is one connection a caller tried.
type Attempt struct {
	Time     time.Time `json:"time"`
	Caller   string    `json:"caller"`
	Target   string    `json:"target,omitempty"`
	Address  string    `json:"address"`
	Endpoint string    `json:"endpoint,omitempty"`
	Verdict
	// Waited is how long the attempt was held before it connected or was
	// dropped, in seconds.
	Waited float64 `json:"waitedSeconds"`
	// Route is where a VM's connection through a load balancer went, or
	// why it was closed after connecting (ServeVMs).
	Route string `json:"route,omitempty"`
}

// Path is one caller-to-target pair under the model.
type Path struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Endpoint string `json:"endpoint"`
	Address  string `json:"address"`
	Verdict
}

// Serve answers the callers of one cluster on ln until ctx ends.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener, caller string) error {
	return serveUntilDone(ctx, ln, func(w http.ResponseWriter, r *http.Request) { p.connect(w, r, caller) })
}

// serveUntilDone serves HTTP on ln with handle until ctx ends.
func serveUntilDone(ctx context.Context, ln net.Listener, handle http.HandlerFunc) error {
	srv := &http.Server{
		Handler:           handle,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (p *Proxy) connect(w http.ResponseWriter, r *http.Request, caller string) {
	if r.Method != http.MethodConnect {
		http.Error(w, "meshsim's control-plane proxy only tunnels (CONNECT)", http.StatusMethodNotAllowed)
		return
	}
	conn, pending, ok := hijack(w)
	if !ok {
		return
	}
	defer conn.Close()
	start := time.Now()
	a := Attempt{Time: start, Caller: caller, Address: r.Host}
	backend, v := p.waitAllowed(r.Context(), func() (string, Verdict) { return p.decide(&a) })
	a.Verdict, a.Waited = v, time.Since(start).Seconds()
	p.record(a)
	if !v.Allowed {
		return // dropped: the caller saw no answer, as with a lost SYN
	}
	upstream, err := net.DialTimeout("tcp", backend, 5*time.Second)
	if err != nil {
		return
	}
	defer upstream.Close()
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	splice(conn, pending, upstream)
}

// hijack takes the CONNECT's connection over from the HTTP server, with
// what the client sent after its request.
func hijack(w http.ResponseWriter) (net.Conn, *bufio.Reader, bool) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot tunnel", http.StatusInternalServerError)
		return nil, nil, false
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return nil, nil, false
	}
	return conn, buf.Reader, true
}

// waitAllowed decides an attempt now and again at each SYN retransmission
// until it is allowed or the caller's dial timeout passes.
func (p *Proxy) waitAllowed(ctx context.Context, decide func() (string, Verdict)) (string, Verdict) {
	timeout := p.DialTimeout
	if timeout == 0 {
		timeout = DefaultDialTimeout
	}
	retransmits := p.Retransmits
	if retransmits == nil {
		retransmits = synRetransmits
	}
	start := time.Now()
	for i := 0; ; i++ {
		backend, v := decide()
		if v.Allowed {
			return backend, v
		}
		next := timeout
		if i < len(retransmits) && retransmits[i] < timeout {
			next = retransmits[i]
		}
		select {
		case <-ctx.Done():
			return "", v
		case <-time.After(time.Until(start.Add(next))):
		}
		if next == timeout {
			return "", v
		}
	}
}

// decide resolves the attempt's address to a cluster's endpoint and applies
// the rules to the clusters' current settings.
func (p *Proxy) decide(a *Attempt) (string, Verdict) {
	host, portText, err := net.SplitHostPort(a.Address)
	if err != nil {
		return "", deny("bad CONNECT target %q", a.Address)
	}
	addr, err := netip.ParseAddr(host)
	port, _ := strconv.Atoi(portText)
	if err != nil {
		return "", deny("%s is not an IP address: meshsim's clusters have no DNS endpoints", host)
	}
	clusters := p.Clusters()
	caller, ok := find(clusters, a.Caller)
	if !ok {
		return "", deny("the calling cluster %s no longer exists", a.Caller)
	}
	for _, target := range clusters {
		kind := EndpointKind(target, addr)
		if kind == "" {
			continue
		}
		a.Target, a.Endpoint = target.Cluster, kind
		v := Decide(caller, target, addr, port)
		if v.Allowed && p.Backends[target.Cluster] == "" {
			return "", deny("%s's API server is not running", target.Cluster)
		}
		return p.Backends[target.Cluster], v
	}
	return "", deny("no control plane answers at %s", addr)
}

func find(clusters []scenario.Scenario, name string) (scenario.Scenario, bool) {
	for _, c := range clusters {
		if c.Cluster == name {
			return c, true
		}
	}
	return scenario.Scenario{}, false
}

// splice copies both ways until either side closes; pending holds what the
// caller sent after its CONNECT before the tunnel was up.
func splice(caller net.Conn, pending *bufio.Reader, upstream net.Conn) {
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(upstream, pending)
		if tc, ok := upstream.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(caller, upstream)
		if tc, ok := caller.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}()
	<-done
	<-done
}

func (p *Proxy) record(a Attempt) {
	if p.Logf != nil {
		outcome := "connected"
		if !a.Allowed {
			outcome = "dropped"
		}
		p.Logf("reach: %s -> %s (%s %s) %s after %.1fs: %s", a.Caller, a.Address, a.Target, a.Endpoint, outcome, a.Waited, a.Reason)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts = append(p.attempts, a)
	if len(p.attempts) > keptAttempts {
		p.attempts = p.attempts[len(p.attempts)-keptAttempts:]
	}
}

// Attempts lists the connections callers tried, oldest first.
func (p *Proxy) Attempts() []Attempt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Attempt(nil), p.attempts...)
}

// Paths is the model applied now to every ordered pair of clusters, to the
// target's private endpoint (the address a remote secret names).
func (p *Proxy) Paths() []Path {
	clusters := p.Clusters()
	var out []Path
	for _, from := range clusters {
		for _, to := range clusters {
			if same(from, to) {
				continue
			}
			addr := netip.MustParseAddr(to.PrivateEndpointIP())
			out = append(out, Path{From: from.Cluster, To: to.Cluster, Endpoint: PrivateEndpoint, Address: addr.String(),
				Verdict: Decide(from, to, addr, HTTPSPort)})
		}
	}
	return out
}

// Report is what GET /meshsim/reach answers.
type Report struct {
	// Paths are the clusters' control planes as each cluster sees them.
	Paths []Path `json:"paths"`
	// LoadBalancers are the internal load balancers' ports as each
	// cluster's Pods and each VM see them.
	LoadBalancers []LBPath  `json:"loadBalancers"`
	Attempts      []Attempt `json:"attempts"`
}

// Handler serves the model's current paths and the recent attempts as JSON.
func (p *Proxy) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "GET only", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(Report{Paths: p.Paths(), LoadBalancers: loadBalancerPaths(p.Network, p.Clusters()), Attempts: p.Attempts()})
	})
}
