// Package fakehub is meshsim's fake of the fleet API (GKE Hub v1 memberships,
// features and operations; v2 membership features) and of the small part of
// Service Usage the servicemesh feature needs, for one simulated project.
//
// It answers as Google does where meshctl, gcloud and Terraform look: project
// ids in, project numbers out in membership keys; Google's errors for unknown
// membership keys, duplicates and a disabled mesh.googleapis.com;
// long-running operations. The servicemesh feature runs a state machine per
// membership, PROVISIONING → ACTIVE, or FAILED_PRECONDITION with the
// documented condition codes when the simulated cluster lacks a prerequisite
// (no workload pool, a node pool without GKE_METADATA, no nodes). On ACTIVE
// an Agent does in the cluster what Google's fleet does (see KubeAgent).
//
// The fleet reads the clusters' shapes from a ClusterSource: meshsim's fake
// GKE API (*fakegcp.Server), so both always agree. With several simulated
// clusters (meshsim up --clusters N) each membership names one of them, and
// the fleet checks, describes and provisions that cluster, through an agent
// of its own (Options.AgentFor).
package fakehub

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meshctl/meshctl/sim/fakeapi"
	"github.com/meshctl/meshctl/sim/fakeiam"
	"github.com/meshctl/meshctl/sim/scenario"
)

// ClusterSource gives the simulated cluster's current shape.
type ClusterSource interface {
	Scenario() scenario.Scenario
}

// ClusterLister is a ClusterSource with several simulated clusters, the
// scenario's first; the fleet registers any of them.
type ClusterLister interface {
	ClusterSource
	SimulatedClusters() []scenario.Scenario
}

// Agent does in the cluster what Google does for a membership's managed
// mesh. Calls may take seconds; they run outside the server's lock.
type Agent interface {
	// Provision installs the managed control plane revision for channel
	// (rapid, regular or stable) in the cluster.
	Provision(ctx context.Context, channel, revision string) error
	// Deprovision removes it.
	Deprovision(ctx context.Context, revision string) error
}

// Knobs change the fake's behaviour at run time (GET/POST /meshsim/hub/knobs).
type Knobs struct {
	// ProvisioningTime is how long the servicemesh feature stays
	// PROVISIONING before the control plane is installed (default 3s).
	ProvisioningTime Duration `json:"provisioningTime"`
	// OperationTime is how long a long-running operation runs (default 300ms).
	OperationTime Duration `json:"operationTime"`
	// MeshAPIEnabled is mesh.googleapis.com's state in Service Usage.
	MeshAPIEnabled bool `json:"meshApiEnabled"`
	// FailWith forces provisioning to fail: a condition code such as
	// MESH_IAM_PERMISSION_DENIED (FAILED_PRECONDITION with that
	// condition), or STALLED.
	FailWith string `json:"failWith,omitempty"`
}

// DefaultKnobs are a new server's knobs: provisioning takes 3 seconds and
// mesh.googleapis.com starts disabled, as in a new project.
func DefaultKnobs() Knobs {
	return Knobs{ProvisioningTime: Duration(3 * time.Second), OperationTime: Duration(300 * time.Millisecond)}
}

// Options configure a Server.
type Options struct {
	// Knobs are the starting knobs; nil means DefaultKnobs().
	Knobs *Knobs
	// Agent acts in the cluster; nil means the fleet only reports.
	Agent Agent
	// AgentFor, when set, gives each new membership an agent of its own
	// acting in the cluster the membership names, as Google's fleet
	// provisions each member cluster; it takes precedence over Agent.
	AgentFor func(cluster scenario.Scenario) (Agent, error)
	// Logf logs what the fleet does (the agent's failures); nil discards.
	Logf func(format string, args ...any)
	// IAM, when set, is enforced: a caller lacking a permission Google
	// checks gets the fleet's or Service Usage's 403 and nothing changes.
	IAM *fakeiam.Policy
}

// Server fakes the fleet API for the ClusterSource's project. It is safe
// for concurrent use.
type Server struct {
	src      ClusterSource
	project  string
	number   string
	agent    Agent
	agentFor func(scenario.Scenario) (Agent, error)
	logf     func(string, ...any)
	iam      *fakeiam.Policy

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	knobs       Knobs
	memberships map[string]*membership // by location + "/" + id
	feature     *feature               // the servicemesh feature; nil while not enabled
	ops         map[string]*operation  // by full name
	seq         uint64
	// meshEnabledAt is when an enablement of mesh.googleapis.com finishes.
	meshEnabledAt time.Time

	log fakeapi.Log
}

// New builds a fleet for src's project with no memberships and the
// servicemesh feature not enabled. Close stops its background work.
func New(src ClusterSource, opts Options) *Server {
	sc := src.Scenario()
	knobs := DefaultKnobs()
	if opts.Knobs != nil {
		knobs = *opts.Knobs
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		src: src, project: sc.Project, number: strconv.FormatInt(sc.ProjectNumber, 10), agent: opts.Agent, agentFor: opts.AgentFor, logf: logf, iam: opts.IAM,
		ctx: ctx, cancel: cancel,
		knobs: knobs, memberships: map[string]*membership{}, ops: map[string]*operation{},
	}
}

// Close stops provisioning in flight and waits for it.
func (s *Server) Close() {
	s.cancel()
	s.wg.Wait()
}

// Knobs returns the current knobs.
func (s *Server) Knobs() Knobs {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.knobs
}

// SetKnobs replaces the knobs.
func (s *Server) SetKnobs(k Knobs) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.knobs = k
}

var (
	hubV1Path = regexp.MustCompile(`^/v1/projects/[^/]+/locations/[^/]+/(memberships|features)(/|$)`)
	hubV1Op   = regexp.MustCompile(`^/v1/projects/[^/]+/locations/[^/]+/operations/(operation-\d+-[0-9a-f]+-[0-9a-f]+-[0-9a-f]+)$`)
	suPath    = regexp.MustCompile(`^/v1/(projects/[^/]+/services(/|:|$)|operations/)`)
)

// Owns reports whether a request is the fleet's (or Service Usage's) to
// answer. GKE's own operations also live under
// /v1/projects/*/locations/*/operations/: they are told apart by their
// names, operation-MILLIS-HEX for GKE and
// operation-MILLIS-HEX-HEX-HEX for the fleet, as Google names them.
func (s *Server) Owns(r *http.Request) bool {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/v2/"), strings.HasPrefix(p, "/meshsim/hub/"):
		return true
	case hubV1Path.MatchString(p), hubV1Op.MatchString(p), suPath.MatchString(p):
		return true
	case strings.HasPrefix(p, "/v1/projects/") && strings.HasSuffix(p, "/locations/-/memberships"):
		return true
	}
	return false
}

// Handler serves the fleet API at /v1/... and /v2/..., Service Usage at
// /v1/projects/*/services/... and /v1/operations/..., and the fake's own
// controls at /meshsim/hub/.
func (s *Server) Handler() http.Handler {
	return s.iam.Guard(fakeiam.Fleet(s.project), &s.log, http.HandlerFunc(s.serve))
}

// Compose routes what the fleet owns to it and everything else to next
// (meshsim's Compute and GKE fake), so one port serves both.
func Compose(hub *Server, next http.Handler) http.Handler {
	h := hub.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hub.Owns(r) {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/meshsim/hub/") {
		s.controls().ServeHTTP(w, r)
		return
	}
	start := time.Now()
	method, status, body, mutation := s.route(r)
	s.log.Add(RequestRecord{Time: start, Method: method, HTTPMethod: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Status: status, Mutation: mutation && status == http.StatusOK, Latency: Duration(time.Since(start))})
	fakeapi.WriteJSON(w, status, body)
}

// call is one decoded request.
type call struct {
	r       *http.Request
	project string // as the path gave it: id or number
	body    map[string]any
	// noChange marks an accepted call of a mutating method that changed
	// nothing (enabling an enabled API).
	noChange bool
}

type handler func(c *call) (any, *apiError)

// route decodes and answers a request; it returns Google's method id.
func (s *Server) route(r *http.Request) (method string, status int, body any, mutation bool) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var h handler
	method, h, mutation = s.resolve(r.Method, segs, r)
	if h == nil {
		e := errNotFoundURL(r)
		return "unknown", e.Code, e.Body(), false
	}
	c := &call{r: r}
	if len(segs) > 2 && segs[1] == "projects" {
		c.project = strings.SplitN(segs[2], ":", 2)[0]
		if c.project != s.project && c.project != s.number {
			e := &apiError{Code: http.StatusForbidden, Status: "PERMISSION_DENIED",
				Message: fmt.Sprintf("Permission denied on resource project %s.", c.project)}
			return method, e.Code, e.Body(), false
		}
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPatch {
		c.body = map[string]any{}
		if r.ContentLength != 0 {
			if err := json.NewDecoder(r.Body).Decode(&c.body); err != nil {
				e := errInvalid("Invalid JSON payload received. %v", err)
				return method, e.Code, e.Body(), false
			}
		}
	}
	out, err := h(c)
	if err != nil {
		return method, err.Code, err.Body(), false
	}
	return method, http.StatusOK, out, mutation && !c.noChange
}

// resolve maps a path to a method id and handler.
func (s *Server) resolve(verb string, segs []string, r *http.Request) (string, handler, bool) {
	n := len(segs)
	get, post, patch, del := verb == http.MethodGet, verb == http.MethodPost, verb == http.MethodPatch, verb == http.MethodDelete
	// Service Usage: /v1/projects/P/services/S[:enable], /v1/operations/...
	if n >= 2 && segs[0] == "v1" && segs[1] == "operations" && get {
		return "serviceusage.operations.get", s.getServiceOperation, false
	}
	if n == 5 && segs[0] == "v1" && segs[3] == "services" {
		name, action, _ := strings.Cut(segs[4], ":")
		switch {
		case action == "" && get:
			return "serviceusage.services.get", func(c *call) (any, *apiError) { return s.getService(c, name) }, false
		case action == "enable" && post:
			return "serviceusage.services.enable", func(c *call) (any, *apiError) { return s.enableService(c, name) }, true
		}
		return "", nil, false
	}
	if n < 5 || segs[1] != "projects" || segs[3] != "locations" {
		return "", nil, false
	}
	loc, rest := segs[4], segs[5:]
	switch segs[0] {
	case "v1":
		switch {
		case len(rest) == 1 && rest[0] == "memberships" && get:
			return "gkehub.projects.locations.memberships.list", func(c *call) (any, *apiError) { return s.listMemberships(c, loc) }, false
		case len(rest) == 1 && rest[0] == "memberships" && post:
			return "gkehub.projects.locations.memberships.create", func(c *call) (any, *apiError) { return s.createMembership(c, loc) }, true
		case len(rest) == 2 && rest[0] == "memberships" && get:
			return "gkehub.projects.locations.memberships.get", func(c *call) (any, *apiError) { return s.getMembership(c, loc, rest[1]) }, false
		case len(rest) == 2 && rest[0] == "memberships" && del:
			return "gkehub.projects.locations.memberships.delete", func(c *call) (any, *apiError) { return s.deleteMembership(c, loc, rest[1]) }, true
		case len(rest) == 1 && rest[0] == "features" && get:
			return "gkehub.projects.locations.features.list", func(c *call) (any, *apiError) { return s.listFeatures(c, loc) }, false
		case len(rest) == 1 && rest[0] == "features" && post:
			return "gkehub.projects.locations.features.create", func(c *call) (any, *apiError) { return s.createFeature(c, loc) }, true
		case len(rest) == 2 && rest[0] == "features" && get:
			return "gkehub.projects.locations.features.get", func(c *call) (any, *apiError) { return s.getFeature(c, loc, rest[1]) }, false
		case len(rest) == 2 && rest[0] == "features" && patch:
			return "gkehub.projects.locations.features.patch", func(c *call) (any, *apiError) { return s.patchFeature(c, loc, rest[1]) }, true
		case len(rest) == 2 && rest[0] == "features" && del:
			return "gkehub.projects.locations.features.delete", func(c *call) (any, *apiError) { return s.deleteFeature(c, loc, rest[1]) }, true
		case len(rest) == 2 && rest[0] == "operations" && get:
			return "gkehub.projects.locations.operations.get", func(c *call) (any, *apiError) { return s.getOperation(c, loc, rest[1], "v1") }, false
		}
	case "v2":
		switch {
		case len(rest) == 4 && rest[0] == "memberships" && rest[2] == "features" && get:
			return "gkehub.projects.locations.memberships.features.get", func(c *call) (any, *apiError) {
				return s.getMembershipFeature(c, loc, rest[1], rest[3])
			}, false
		case len(rest) == 3 && rest[0] == "memberships" && rest[2] == "features" && get:
			return "gkehub.projects.locations.memberships.features.list", func(c *call) (any, *apiError) {
				return s.listMembershipFeatures(c, loc, rest[1])
			}, false
		case len(rest) == 4 && rest[0] == "memberships" && rest[2] == "features" && patch:
			return "gkehub.projects.locations.memberships.features.patch", func(c *call) (any, *apiError) {
				return s.patchMembershipFeature(c, loc, rest[1], rest[3])
			}, true
		case len(rest) == 2 && rest[0] == "operations" && get:
			return "gkehub.projects.locations.operations.get", func(c *call) (any, *apiError) { return s.getOperation(c, loc, rest[1], "v2") }, false
		}
	}
	return "", nil, false
}

// controls answers the fake's own endpoints under /meshsim/hub/: knobs,
// requests (see fakeapi.Controls) and state (memberships and the feature as
// the API shows them).
func (s *Server) controls() fakeapi.Controls[Knobs] {
	return fakeapi.Controls[Knobs]{
		Prefix: "/meshsim/hub/", Knobs: s.Knobs, SetKnobs: s.SetKnobs, Log: &s.log,
		Views: map[string]func() any{"state": func() any { return s.State() }},
		Errors: func(code int, message string) *fakeapi.Error {
			if code == http.StatusNotFound {
				return &apiError{Code: code, Status: "NOT_FOUND", Message: message}
			}
			return errInvalid("%s", message)
		},
	}
}

// nextSeq draws a number for names. Called with s.mu held.
func (s *Server) nextSeq() uint64 {
	s.seq++
	return s.seq
}

// Duration is a time.Duration that reads and writes JSON as text ("2s").
type Duration = fakeapi.Duration

// googleTime is how the fleet API writes timestamps.
func googleTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
