// Package fakecertmanager is meshsim's fake of the Certificate Manager API
// (certificatemanager.googleapis.com v1) for one simulated project:
// certificates (self-managed, or Google-managed with DNS or load balancer
// authorization), DNS authorizations, certificate maps and their entries,
// and the long-running operations that change them. gcloud and the official
// Go client work against it unchanged.
//
// It answers as the recorded exchanges in shared/reference/gcp-recorded
// show (the replay test in sim/fakegcp holds it to them) and as the API
// reference documents; where neither says, the choice is written next to
// the code.
//
// How it behaves:
//
//   - Paths are Google's under a prefix, /certificatemanager/v1/projects/...,
//     so the fake can share a port with the others (point a client's
//     endpoint at http://HOST:PORT/certificatemanager/).
//   - create, patch and delete answer an Operation; the change is made at
//     once and the operation is done after Knobs.OperationDuration.
//   - A Google-managed certificate is PROVISIONING, then ACTIVE: with DNS
//     authorizations after Knobs.ProvisioningDelay from its creation; with
//     load balancer authorization once one of its maps has served behind a
//     forwarding rule (Compute's) for that long.
//   - Integrity: a managed certificate's DNS authorizations must exist and
//     cover its domains; a map entry's certificates must exist; an object in
//     use (a DNS authorization by a certificate, a certificate by an entry,
//     a map by its entries or by a target HTTPS proxy) cannot be deleted.
//   - A request with $alt=json;enum-encoding=int (the Go client's) gets enums
//     as numbers, as Google answers it.
package fakecertmanager

import (
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/meshctl/meshctl/sim/fakeapi"
	"github.com/meshctl/meshctl/sim/fakeiam"
)

// Prefix is where the fake serves the API: point clients at
// http://HOST:PORT/certificatemanager/.
const Prefix = "/certificatemanager/"

// ControlPrefix is where the fake serves its own endpoints (see fakeapi.Controls).
const ControlPrefix = "/meshsim/certificatemanager/"

// Compute is what Certificate Manager needs of the Compute fake. It is
// called without this fake's lock held.
type Compute interface {
	// CertificateMapUsers lists, by certificate map, the target HTTPS
	// proxies naming it: such a map cannot be deleted, and it shows them in
	// gclbTargets.
	CertificateMapUsers() map[string][]string
	// ServedCertificateMaps tells, for each certificate map serving behind
	// a forwarding rule, since when: its load-balancer-authorized
	// certificates get issued.
	ServedCertificateMaps() map[string]time.Time
}

// Duration is a time.Duration that reads and writes JSON as text ("2s").
type Duration = fakeapi.Duration

// Knobs tune the fake (GET/POST /meshsim/certificatemanager/knobs).
type Knobs struct {
	// Latency is added to every API request.
	Latency Duration `json:"latency"`
	// OperationDuration is how long an operation runs before it is done.
	OperationDuration Duration `json:"operationDuration"`
	// ProvisioningDelay is how long a managed certificate stays
	// PROVISIONING: from its creation with DNS authorization, from when it
	// first serves with load balancer authorization.
	ProvisioningDelay Duration `json:"provisioningDelay"`
	// FailNext makes the next Count calls of a method (Google's method id,
	// e.g. "certificatemanager.projects.locations.certificates.create")
	// fail with Code.
	FailNext map[string]MethodFailure `json:"failNext,omitempty"`
}

// MethodFailure is an error injected into one method.
type MethodFailure = fakeapi.MethodFailure

// DefaultKnobs: quick enough for interactive use, slow enough that clients
// must wait for operations and provisioning.
func DefaultKnobs() Knobs {
	return Knobs{OperationDuration: Duration(500 * time.Millisecond), ProvisioningDelay: Duration(5 * time.Second)}
}

// Options configure a Server.
type Options struct {
	Knobs *Knobs // nil means DefaultKnobs()
	// Compute answers for target proxies and forwarding rules; nil means no
	// map is ever in use or served.
	Compute Compute
	// IAM, when set, denies what the caller's permissions do not allow,
	// as the other fakes do.
	IAM *fakeiam.Policy
}

// Server fakes Certificate Manager for one project. It is safe for
// concurrent use.
type Server struct {
	project, number string
	compute         Compute
	iam             *fakeiam.Policy

	mu        sync.Mutex
	knobs     Knobs
	resources map[string]*resource  // by relative name
	ops       map[string]*operation // by relative name
	seq       uint64

	log fakeapi.Log
}

// New builds an empty Certificate Manager for the project (id and number).
func New(project, number string, opts Options) *Server {
	knobs := DefaultKnobs()
	if opts.Knobs != nil {
		knobs = *opts.Knobs
	}
	return &Server{project: project, number: number, compute: opts.Compute, iam: opts.IAM, knobs: knobs,
		resources: map[string]*resource{}, ops: map[string]*operation{}}
}

// Knobs returns a copy of the current knobs.
func (s *Server) Knobs() Knobs {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.knobs
	k.FailNext = maps.Clone(s.knobs.FailNext)
	return k
}

// SetKnobs replaces the knobs.
func (s *Server) SetKnobs(k Knobs) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.knobs = k
	s.knobs.FailNext = maps.Clone(k.FailNext)
}

// Requests returns the request log.
func (s *Server) Requests() fakeapi.Stats { return s.log.Stats() }

// Handler serves the API under Prefix and the fake's controls under
// ControlPrefix.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(Prefix, s.iam.Guard(fakeiam.CertificateManager, &s.log, http.HandlerFunc(s.serveAPI)))
	mux.Handle(ControlPrefix, fakeapi.Controls[Knobs]{
		Prefix: ControlPrefix, Knobs: s.Knobs, SetKnobs: s.SetKnobs, Log: &s.log,
		Views: map[string]func() any{"state": func() any { return s.State() }},
		Errors: func(code int, message string) *fakeapi.Error {
			return &fakeapi.Error{Code: code, Status: statusOf(code), Message: message}
		},
	})
	return mux
}

// serveAPI is the path every request takes: route, latency, fault
// injection, the handler, the request log.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c, rt, err := s.route(r)
	method := "unknown"
	if rt != nil {
		method = rt.method
	}
	s.mu.Lock()
	latency := time.Duration(s.knobs.Latency)
	s.mu.Unlock()
	fakeapi.Delay(r.Context(), latency)
	var out any
	if err == nil {
		err = s.injectedFault(method, r.UserAgent())
	}
	if err == nil {
		c.view = s.viewCompute()
		out, err = rt.handle(c)
	}
	status := http.StatusOK
	if err != nil {
		status, out = err.Code, err.Body()
	}
	s.log.Add(fakeapi.Record{Time: start, Method: method, HTTPMethod: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Status: status, Mutation: rt != nil && rt.mutation && err == nil, Latency: Duration(time.Since(start))})
	fakeapi.WriteJSON(w, status, out)
}

func (s *Server) injectedFault(method, userAgent string) *fakeapi.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := fakeapi.TakeFailure(s.knobs.FailNext, method, userAgent)
	if !ok {
		return nil
	}
	msg := f.Message
	if msg == "" {
		msg = http.StatusText(f.Code) + " (injected by meshsim)"
	}
	return &fakeapi.Error{Code: f.Code, Status: statusOf(f.Code), Message: msg}
}

// statusOf is the canonical status Google names an HTTP code by.
func statusOf(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ALREADY_EXISTS"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	}
	return "INTERNAL"
}

func errInvalid(msg string) *fakeapi.Error {
	return &fakeapi.Error{Code: http.StatusBadRequest, Status: "INVALID_ARGUMENT", Message: msg}
}

// errInUse: Google refuses to delete an object others depend on. The
// wording is a guess in Google's style; the status is documented.
func errInUse(what, name, user string) *fakeapi.Error {
	return &fakeapi.Error{Code: http.StatusBadRequest, Status: "FAILED_PRECONDITION",
		Message: what + " \"" + name + "\" is in use by \"" + user + "\" and cannot be deleted"}
}

// errNotFound words a 404 as recorded: certificate "projects/..." not found.
func errNotFound(noun, name string) *fakeapi.Error {
	return &fakeapi.Error{Code: http.StatusNotFound, Status: "NOT_FOUND", Message: noun + " \"" + name + "\" not found"}
}

func errNoSuchURL(r *http.Request) *fakeapi.Error {
	return &fakeapi.Error{Code: http.StatusNotFound, Status: "NOT_FOUND", Message: "The requested URL " + r.URL.Path + " was not found on this server."}
}

// projectMatches accepts the project by id or number, as Google does.
func (s *Server) projectMatches(p string) bool { return p == s.project || p == s.number }

// canonical names an object with the project id, whichever form was used.
func (s *Server) canonical(name string) string {
	if rest, ok := strings.CutPrefix(name, "projects/"+s.number+"/"); ok {
		return "projects/" + s.project + "/" + rest
	}
	return name
}

func (s *Server) nextSeq() uint64 {
	s.seq++
	return s.seq
}

// googleTime is how Certificate Manager writes timestamps (RFC 3339, UTC).
func googleTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
