package fakegcp

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/meshctl/meshctl/sim/fakeapi"
	"github.com/meshctl/meshctl/sim/fakeiam"
	"github.com/meshctl/meshctl/sim/scenario"
)

// Options configure a Server.
type Options struct {
	// Knobs are the starting knobs; nil means DefaultKnobs().
	Knobs *Knobs
	// ClusterEndpoint and ClusterCACertificate (base64 PEM, as GKE returns
	// it), when set, replace the scenario cluster's invented endpoint and CA,
	// so `gcloud container clusters get-credentials` points at the
	// simulator's real API server.
	ClusterEndpoint      string
	ClusterCACertificate string
	// IAM, when set, is enforced: a caller lacking a permission Google
	// checks gets Compute's or GKE's 403 and nothing changes.
	IAM *fakeiam.Policy
	// MoreClusters are further simulated clusters in the project, each with
	// its own control plane (meshsim up --clusters N).
	MoreClusters []SimulatedCluster
}

// SimulatedCluster is a cluster besides the scenario's that a real control
// plane serves.
type SimulatedCluster struct {
	Scenario      scenario.Scenario
	Endpoint      string // the API server, as ClusterEndpoint
	CACertificate string // base64 PEM, as ClusterCACertificate
}

// Server is a fake of the Compute v1 and GKE v1 REST APIs for one simulated
// project. It is safe for concurrent use.
type Server struct {
	opts Options
	// project and projectNumber are fixed for the server's life, so routing
	// reads them without the lock.
	project       string
	projectNumber string
	// host and hostNumber are the Shared VPC host project, fixed too; ""
	// without one.
	host, hostNumber string

	mu         sync.Mutex
	sc         scenario.Scenario
	knobs      Knobs
	resources  map[string]*resource   // by resourceRef.Path()
	ops        map[string]*operation  // by operation path, projects/p/global/operations/name
	requestIDs map[string]*operation  // by project + "/" + requestId
	clusters   map[string]*gkeCluster // by projects/p/locations/l/clusters/c
	gkeOps     map[string]*gkeOperation
	buckets    map[string]*bucket // Cloud Storage, by name
	// certMaps answers whether a certificate map exists (nil: any does).
	certMaps CertificateMaps
	// mapServingSince: when each certificate map began to serve behind a
	// forwarding rule.
	mapServingSince map[string]time.Time
	seq             uint64 // ids, operation names and fingerprints are drawn from it
	faultSeq        uint64
	addrSeq         int

	started time.Time // when the simulated project came to be
	mux     *http.ServeMux

	log fakeapi.Log
}

// New builds a server answering for sc's project: the project's default
// network and the scenario's network exist, the scenario's cluster exists
// in GKE with GKE's own firewall rules for its nodes, and nothing else.
func New(sc scenario.Scenario, opts Options) *Server {
	knobs := DefaultKnobs()
	if opts.Knobs != nil {
		knobs = copyKnobs(*opts.Knobs)
	}
	s := &Server{
		opts:          opts,
		project:       sc.Project,
		projectNumber: itoa(sc.ProjectNumber),
		host:          sc.SharedVPCHost,
		sc:            sc,
		knobs:         knobs,
		resources:     map[string]*resource{},
		ops:           map[string]*operation{},
		requestIDs:    map[string]*operation{},
		clusters:      map[string]*gkeCluster{},
		gkeOps:        map[string]*gkeOperation{},
		buckets:       map[string]*bucket{},

		mapServingSince: map[string]time.Time{},
	}
	if s.host != "" {
		s.hostNumber = itoa(sc.SharedVPCHostNumber())
	}
	now := time.Now()
	s.seedNetwork("default", now)
	s.seedNetworkIn(sc.NetworkProject(), sc.Network, now)
	for _, more := range opts.MoreClusters {
		s.seedNetwork(more.Scenario.Network, now) // meshsim up --networks
	}
	s.seedScenarioCluster(now)
	s.mux = s.buildMux()
	return s
}

// Scenario returns the scenario the server currently answers from.
func (s *Server) Scenario() scenario.Scenario {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sc
}

// UpdateScenario changes the simulated cluster at run time (node pools,
// versions, private endpoint, ...); GKE answers from the new shape at once.
func (s *Server) UpdateScenario(fn func(*scenario.Scenario)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.sc
	next.NodePools = append([]scenario.NodePool(nil), s.sc.NodePools...)
	next.ResourceLabels = copyMap(s.sc.ResourceLabels)
	fn(&next)
	if err := next.Validate(); err != nil {
		return err
	}
	if next.Project != s.project || itoa(next.ProjectNumber) != s.projectNumber {
		return errors.New("the scenario's project cannot change at run time")
	}
	s.sc = next
	s.seedNetworkIn(next.NetworkProject(), next.Network, time.Now())
	return nil
}

// Handler serves Compute at /compute/v1/..., GKE at /v1/..., Cloud Storage
// buckets at /storage/v1/..., gcloud's batch endpoint at /batch/compute/v1
// and the simulator's own controls at /meshsim/.
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) buildMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/meshsim/", s.controls())
	mux.HandleFunc("/batch/compute/v1", s.serveBatch)
	mux.Handle("/compute/v1/", s.opts.IAM.Guard(fakeiam.Compute, &s.log,
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveAPI(w, r, s.routeCompute) })))
	mux.Handle("/v1/", s.opts.IAM.Guard(fakeiam.Container, &s.log,
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveAPI(w, r, s.routeGKE) })))
	mux.HandleFunc("/storage/v1/", func(w http.ResponseWriter, r *http.Request) { s.serveAPI(w, r, s.routeStorage) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		errNoSuchURL(r).Write(w)
	})
	return mux
}

// MethodOf names Google's method for a request (compute.regionBackendServices.insert,
// container.projects.locations.clusters.get, storage.buckets.insert), as the
// request log records it, without serving the request or reading its body;
// "unknown" when no method serves the path. A layer in front of the
// handler (permissions) can map it to what the caller needs.
func (s *Server) MethodOf(r *http.Request) string {
	probe := r.Clone(r.Context())
	probe.Body, probe.ContentLength = http.NoBody, 0
	var resolve router
	switch {
	case strings.HasPrefix(r.URL.Path, "/compute/v1/"):
		resolve = s.routeCompute
	case strings.HasPrefix(r.URL.Path, "/v1/"):
		resolve = s.routeGKE
	case strings.HasPrefix(r.URL.Path, "/storage/v1/"):
		resolve = s.routeStorage
	default:
		return "unknown"
	}
	if rt, _, _ := resolve(probe); rt.method != "" {
		return rt.method
	}
	return "unknown"
}

// Serve listens on addr (e.g. "127.0.0.1:0") and serves until ctx ends. It
// returns the address actually listened on, e.g. "127.0.0.1:41234"; point
// clients at "http://" + that.
func (s *Server) Serve(ctx context.Context, addr string) (string, error) {
	return fakeapi.Serve(ctx, addr, s.Handler())
}

// apiCall is one request to a Google API, routed and decoded.
type apiCall struct {
	req       *http.Request
	method    string // Google's method id
	project   string
	scope     string // "global" or "zones/z" for Compute; the location for GKE
	name      string
	child     string // a sub-resource's name: a GKE node pool
	body      map[string]any
	query     url.Values
	requestID string
	// deduped is set when the request repeated an earlier requestId and was
	// answered with the earlier operation.
	deduped bool
}

// route is what a path resolves to: a method id and its handler.
type route struct {
	method   string
	mutation bool
	// handle runs with s.mu held (after pending operations are brought up to
	// date) unless unlocked is set.
	handle   func(c *apiCall) (any, *APIError)
	unlocked bool
}

type router func(r *http.Request) (route, *apiCall, *APIError)

// serveAPI is the path every Google API request takes: route, latency,
// fault injection, the handler, the request log.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, resolve router) {
	start := time.Now()
	rt, call, rerr := resolve(r)
	rec := RequestRecord{Time: start, Method: rt.method, HTTPMethod: r.Method, Path: r.URL.Path}
	if rec.Method == "" {
		rec.Method = "unknown"
	}
	status, body, injected := s.answer(r, rt, call, rerr)
	rec.Status, rec.Injected = status, injected
	rec.Mutation = rt.mutation && status < 300 && call != nil && !call.deduped
	rec.Latency = Duration(time.Since(start))
	s.log.Add(rec)
	if _, empty := body.(noContent); empty {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	fakeapi.WriteJSON(w, status, body)
}

// noContent is the answer of a method that returns 204 and no body
// (Storage's deletes).
type noContent struct{}

func (s *Server) answer(r *http.Request, rt route, call *apiCall, rerr *APIError) (status int, body any, injected bool) {
	s.mu.Lock()
	latency := time.Duration(s.knobs.Latency)
	s.mu.Unlock()
	fakeapi.Delay(r.Context(), latency)
	if rerr != nil {
		return rerr.Code, rerr.Body(), false
	}
	s.mu.Lock()
	if fault := s.injectedFault(rt.method, r.UserAgent()); fault != nil {
		s.mu.Unlock()
		return fault.Code, fault.Body(), true
	}
	if rt.unlocked {
		s.mu.Unlock()
		out, err := rt.handle(call)
		return result(out, err)
	}
	defer s.mu.Unlock()
	s.advance(time.Now())
	out, err := rt.handle(call)
	return result(out, err)
}

func result(out any, err *APIError) (int, any, bool) {
	if err != nil {
		return err.Code, err.Body(), false
	}
	if _, empty := out.(noContent); empty {
		return http.StatusNoContent, out, false
	}
	return http.StatusOK, out, false
}

// projectOr is the project the call names, or def when it names none.
func (c *apiCall) projectOr(def string) string {
	if c.project != "" {
		return c.project
	}
	return def
}

// newCall decodes what every handler needs from a request.
func newCall(r *http.Request, method, project, scope, name string) (*apiCall, *APIError) {
	c := &apiCall{req: r, method: method, project: project, scope: scope, name: name, query: r.URL.Query()}
	c.requestID = c.query.Get("requestId")
	if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		body, err := decodeObject(r.Body)
		if err != nil {
			return nil, &APIError{Code: http.StatusBadRequest, Reason: "parseError",
				Message: "Invalid JSON payload received. " + err.Error()}
		}
		c.body = body
	}
	return c, nil
}

// nextSeq draws the next number for ids and names. Called with s.mu held.
func (s *Server) nextSeq() uint64 {
	s.seq++
	return s.seq
}

// googleTimeFormat is how Compute writes timestamps: milliseconds and a
// Pacific offset, e.g. 2024-04-01T05:34:56.123-07:00.
const googleTimeFormat = "2006-01-02T15:04:05.000-07:00"

var googleZone = time.FixedZone("PDT", -7*60*60)

func googleTime(t time.Time) string { return t.In(googleZone).Format(googleTimeFormat) }

// projectMatches accepts a project by id or by number, as Google does.
func (s *Server) projectMatches(p string) bool {
	return p == s.project || p == s.projectNumber
}

func isZone(location string) bool {
	// Zones end in a dash and a letter (us-central1-a); regions in a digit.
	return len(location) > 2 && location[len(location)-2] == '-' && location[len(location)-1] >= 'a' && location[len(location)-1] <= 'z'
}

func regionOfZone(zone string) string {
	if i := strings.LastIndex(zone, "-"); i > 0 && isZone(zone) {
		return zone[:i]
	}
	return zone
}
