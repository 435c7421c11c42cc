package trace

import (
	"context"
	"fmt"
	"net"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/lb"
)

// Compute is what trace reads of the Compute API, for one project; *lb.GCE
// has it.
type Compute interface {
	// List lists a global kind (forwarding rules, target proxies, URL
	// maps, backend services, health checks, certificates, SSL and Cloud
	// Armor policies, firewall rules).
	List(ctx context.Context, kind lb.Kind, filter string) ([]proto.Message, error)
	GetHealth(ctx context.Context, backendService, group string) (*computepb.BackendServiceGroupHealth, error)
	// NetworkEndpoints lists a zonal NEG's endpoints.
	NetworkEndpoints(ctx context.Context, zone, neg string) ([]*computepb.NetworkEndpointWithHealthStatus, error)
	// Instances lists the project's VM instances (the nodes), in every zone.
	Instances(ctx context.Context, filter string) ([]*computepb.Instance, error)
}

// Clients are what trace reads. Only Compute is required: without
// Kubernetes the trace stops at the NEGs, without Certificate Manager a
// certificate map is not looked into; the hops that needed them say why.
type Clients struct {
	Compute Compute
	// CertificateManager reads certificate maps (GKE Gateway's
	// networking.gke.io/certmap); CertificateManagerErr is why there is
	// none.
	CertificateManager    CertificateManager
	CertificateManagerErr error
	// Kube and Dynamic read the cluster behind the NEGs; KubeErr is why
	// there are none.
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	KubeErr error
}

// Options are what to trace and how.
type Options struct {
	// Target is HOST, HOST/PATH, IP, IP/PATH or a URL (https:// when no
	// scheme is given).
	Target string `json:"target"`
	// Address is the address the host resolves to, for a host whose DNS
	// does not answer (yet); it replaces the DNS lookup.
	Address string `json:"address,omitempty"`
	// FailOn is the lowest finding level that fails the trace (exit 3).
	FailOn findings.Level `json:"failOn"`
	// ConvergeWindow is how long after a backend service is made (or an
	// endpoint's pod turns ready) unhealthy endpoints count as converging
	// rather than broken: GKE takes minutes to program and probe a new
	// backend. Zero means DefaultConvergeWindow.
	ConvergeWindow time.Duration `json:"convergeWindow"`
	// Now is the clock; LookupHost resolves names (tests set both).
	Now        func() time.Time                                         `json:"-"`
	LookupHost func(ctx context.Context, host string) ([]string, error) `json:"-"`
}

// DefaultConvergeWindow: GKE Ingress users report about 6 minutes before a
// new backend is healthy; 10 minutes leaves room before calling it broken.
const DefaultConvergeWindow = 10 * time.Minute

// dnsTimeout bounds the DNS lookup: a resolver that does not answer must not
// hold up a trace that can find the host by the URL maps instead.
const dnsTimeout = 3 * time.Second

// State is how a hop, a path or the whole trace stands, best first.
type State string

// The states.
const (
	OK      State = "ok"
	Warning State = "warning"
	// Converging: not serving yet, and on its way (a certificate
	// provisioning, endpoints not yet probed healthy within GKE's usual
	// time).
	Converging State = "converging"
	// Unknown: what the hop needs could not be read.
	Unknown State = "unknown"
	Broken  State = "broken"
)

var stateRank = map[State]int{OK: 0, Warning: 1, Converging: 2, Unknown: 3, Broken: 4}

// worse returns the worse of two states.
func worse(a, b State) State {
	if stateRank[b] > stateRank[a] {
		return b
	}
	return a
}

// Hop is one object on the request's way, with what was read of it and
// what is wrong.
type Hop struct {
	Kind HopKind `json:"kind"`
	Name string  `json:"name"`
	// Zone is a NEG's zone.
	Zone     string             `json:"zone,omitempty"`
	State    State              `json:"state"`
	Evidence []string           `json:"evidence,omitempty"`
	Findings []findings.Finding `json:"findings,omitempty"`
	// cause is the finding that set State.
	cause int
}

func newHop(kind HopKind, name string) Hop { return Hop{Kind: kind, Name: name, State: OK} }

// see records evidence.
func (h *Hop) see(format string, args ...any) {
	h.Evidence = append(h.Evidence, fmt.Sprintf(format, args...))
}

// add records a finding that puts the hop in state s (or leaves it in a
// worse one).
func (h *Hop) add(s State, f findings.Finding) {
	h.Findings = append(h.Findings, f)
	if stateRank[s] > stateRank[h.State] {
		h.State, h.cause = s, len(h.Findings)-1
	}
}

// HopKind names a kind of hop as people read it.
type HopKind string

// The hops, in the order a request meets them.
const (
	HopForwardingRule  HopKind = "forwarding rule"
	HopTargetProxy     HopKind = "target proxy"
	HopURLMap          HopKind = "URL map"
	HopBackendService  HopKind = "backend service"
	HopNEG             HopKind = "NEG"
	HopService         HopKind = "Service"
	HopGatewayPods     HopKind = "gateway pods"
	HopIstioGateway    HopKind = "Istio Gateway"
	HopVirtualService  HopKind = "VirtualService"
	HopDestination     HopKind = "destination"
	HopDestinationRule HopKind = "DestinationRule"
)

// Path is one way the request can take: through one forwarding rule, and
// one backend where a route splits traffic by weight.
type Path struct {
	// ForwardingRule is where the path starts ("" when none serves).
	ForwardingRule string `json:"forwardingRule,omitempty"`
	// BuiltBy says what made the load balancer: "meshctl expose (LB)",
	// "GKE Gateway NS/NAME", "GKE Ingress NS/NAME" or "by hand".
	BuiltBy string `json:"builtBy,omitempty"`
	// Weight is the share of requests a weighted route sends this way (0
	// when there is no split).
	Weight int `json:"weight,omitempty"`
	// End says why the path stops where it does when that is not a
	// problem (a redirect, a direct response, a bucket).
	End   string `json:"end,omitempty"`
	State State  `json:"state"`
	Hops  []Hop  `json:"hops"`
}

// Answer is the first hop that keeps the request from being served: the
// first broken hop, else the first that could not be read, else the first
// converging one.
type Answer struct {
	Path    int     `json:"path"`
	Hop     int     `json:"hop"`
	Kind    HopKind `json:"kind"`
	Name    string  `json:"name"`
	State   State   `json:"state"`
	Message string  `json:"message"`
	Hint    string  `json:"hint,omitempty"`
}

// Result is a trace.
type Result struct {
	Target   Target             `json:"target"`
	State    State              `json:"state"`
	Answer   *Answer            `json:"answer,omitempty"`
	Paths    []Path             `json:"paths"`
	Findings []findings.Finding `json:"findings"`
	Summary  findings.Summary   `json:"summary"`
	FailOn   findings.Level     `json:"failOn"`
	// Duration is how long the trace took, its clients made (tools and
	// the benchmark read it to tell the trace from the process around it).
	Duration time.Duration `json:"durationNs"`
}

// Failed reports whether a finding reaches FailOn (exit code 3).
func (r *Result) Failed() bool { return findings.Fails(r.Findings, r.FailOn) }

// Run traces opts.Target. It returns an error only for a target that does
// not parse or a missing Compute client; everything it cannot read becomes
// an Unknown hop with MC0100.
func Run(ctx context.Context, c Clients, opts Options) (*Result, error) {
	started := time.Now()
	if c.Compute == nil {
		return nil, fmt.Errorf("trace: no Compute client")
	}
	t, err := ParseTarget(opts.Target)
	if err != nil {
		return nil, failure.Usage(err, "give a host (shop.example.com), a host and path (shop.example.com/cart), an IP or a URL")
	}
	opts = opts.withDefaults()
	// The reads started up front that the path turned out not to need
	// (no forwarding rule serves the host, say) stop when the trace ends.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := newReads(ctx, c, opts)
	t.Addresses, t.ResolvedBy, t.DNSError = resolve(ctx, t, opts)
	tr := &tracer{r: r, opts: opts, target: t}
	paths := tr.paths(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := assemble(tr.target, paths, opts.FailOn)
	res.Duration = time.Since(started)
	return res, nil
}

func (o Options) withDefaults() Options {
	if o.FailOn == "" {
		o.FailOn = findings.Error
	}
	if o.ConvergeWindow == 0 {
		o.ConvergeWindow = DefaultConvergeWindow
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LookupHost == nil {
		o.LookupHost = net.DefaultResolver.LookupHost
	}
	return o
}

// assemble fills in the paths' and the trace's states and the answer.
func assemble(t Target, paths []Path, failOn findings.Level) *Result {
	res := &Result{Target: t, State: OK, Paths: paths, FailOn: failOn, Findings: []findings.Finding{}}
	for i := range res.Paths {
		p := &res.Paths[i]
		p.State = OK
		for _, h := range p.Hops {
			p.State = worse(p.State, h.State)
			res.Findings = append(res.Findings, h.Findings...)
		}
		res.State = worse(res.State, p.State)
	}
	res.Findings = dedupe(res.Findings)
	findings.Sort(res.Findings)
	res.Summary = findings.Summarize(res.Findings)
	for _, want := range []State{Broken, Unknown, Converging} {
		if a := firstIn(res.Paths, want); a != nil {
			res.Answer = a
			break
		}
	}
	return res
}

// firstIn finds the first hop in state s, path by path.
func firstIn(paths []Path, s State) *Answer {
	for i, p := range paths {
		for j, h := range p.Hops {
			if h.State != s {
				continue
			}
			a := &Answer{Path: i, Hop: j, Kind: h.Kind, Name: h.Name, State: s}
			if h.Zone != "" {
				a.Name += " (" + h.Zone + ")"
			}
			if h.cause < len(h.Findings) {
				a.Message, a.Hint = h.Findings[h.cause].Message, h.Findings[h.cause].Hint
			}
			return a
		}
	}
	return nil
}

// dedupe drops findings repeated on several paths (the hops two paths
// share).
func dedupe(fs []findings.Finding) []findings.Finding {
	seen := map[findings.Finding]bool{}
	out := fs[:0]
	for _, f := range fs {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}
