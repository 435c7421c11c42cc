package fakeiam

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/meshctl/meshctl/sim/fakeapi"
)

// Knobs change the fake Resource Manager at run time
// (GET/POST /meshsim/iam/knobs; a POST body is merged into the knobs).
type Knobs struct {
	// ResourceManagerDisabled answers testIamPermissions with Google's 403
	// accessNotConfigured: the Cloud Resource Manager API is disabled in the
	// caller's quota project.
	ResourceManagerDisabled bool `json:"resourceManagerDisabled"`
	// FailOpen answers testIamPermissions as if every valid permission
	// asked were held, which Google's docs warn the method may do ("This
	// operation may fail open"); the other APIs still enforce the policy.
	FailOpen bool `json:"failOpen"`
	// MaxPermissionsPerRequest, when set, refuses requests asking for more
	// permissions with 400. Google documents no limit; tests set one to
	// prove a client chunks its requests.
	MaxPermissionsPerRequest int `json:"maxPermissionsPerRequest,omitempty"`
}

// Server is the fake Cloud Resource Manager API (projects.testIamPermissions,
// v1 and v3) over a Policy, and the simulator's controls of that policy.
type Server struct {
	policy *Policy
	quota  Project // the quota project of callers that name none

	mu    sync.Mutex
	knobs Knobs

	log fakeapi.Log
}

// NewServer builds the Resource Manager over policy; quota is the project
// whose Resource Manager API the knob disables (meshsim's own project, or
// the one a request names in X-Goog-User-Project).
func NewServer(policy *Policy, quota Project) *Server {
	return &Server{policy: policy, quota: quota}
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

// Requests returns the Resource Manager's request log.
func (s *Server) Requests() fakeapi.Stats { return s.log.Stats() }

// Wrap serves the Resource Manager's paths (/v1/projects/P:testIamPermissions,
// /v3/...) and the controls at /meshsim/iam/, and hands everything else to
// next, so one port serves every fake.
func (s *Server) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/meshsim/iam/"):
			s.serveControl(w, r)
		case ownsResourceManagerPath(r.URL.Path):
			s.serveAPI(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// ownsResourceManagerPath: all of /v3/, and the project methods of v1
// (/v1/projects/P:method), which no other fake uses.
func ownsResourceManagerPath(path string) bool {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	return segs[0] == "v3" || len(segs) == 3 && segs[0] == "v1" && segs[1] == "projects" && strings.Contains(segs[2], ":")
}

const testIamPermissionsMethod = "cloudresourcemanager.projects.testIamPermissions"

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	project, action, _ := strings.Cut(segs[len(segs)-1], ":")
	method, status, body := "unknown", http.StatusNotFound, any(notFoundURL(r))
	if len(segs) == 3 && segs[1] == "projects" && action == "testIamPermissions" && r.Method == http.MethodPost {
		method = testIamPermissionsMethod
		status, body = s.testIamPermissions(r, project)
	}
	s.log.Add(fakeapi.Record{Time: start, Method: method, HTTPMethod: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Status: status, Latency: fakeapi.Duration(time.Since(start))})
	fakeapi.WriteJSON(w, status, body)
}

// testIamPermissions answers POST .../projects/P:testIamPermissions with
// {"permissions": [...]}: the permissions asked that the caller holds, in
// the order asked; {} when none.
func (s *Server) testIamPermissions(r *http.Request, project string) (int, any) {
	principal, ok := s.policy.authenticate(r)
	if !ok {
		return http.StatusUnauthorized, unauthenticated()
	}
	knobs := s.Knobs()
	if knobs.ResourceManagerDisabled {
		return http.StatusForbidden, s.accessNotConfigured(r)
	}
	var req struct {
		Permissions []string `json:"permissions"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return rmError(http.StatusBadRequest, "INVALID_ARGUMENT", "badRequest", "Invalid JSON payload received. "+err.Error())
	}
	if _, ok := s.policy.Project(project); !ok {
		// Google does not say whether a project exists to a caller who
		// cannot see it.
		return rmError(http.StatusForbidden, "PERMISSION_DENIED", "forbidden", "The caller does not have permission")
	}
	if max := knobs.MaxPermissionsPerRequest; max > 0 && len(req.Permissions) > max {
		return rmError(http.StatusBadRequest, "INVALID_ARGUMENT", "badRequest", "Request contains an invalid argument.")
	}
	for _, p := range req.Permissions {
		if Validate(p) != nil {
			// Google names neither the field nor the permission: the one
			// recorded answer to a bad testIamPermissions request is this
			// generic text (stackoverflow 45405381), and google-cloud-java#722
			// saw a bare 400 for resourcemanager.projects.create. Validate
			// tells a test which name was wrong.
			return rmError(http.StatusBadRequest, "INVALID_ARGUMENT", "badRequest", "Request contains an invalid argument.")
		}
	}
	held, seen := []string{}, map[string]bool{}
	for _, p := range req.Permissions {
		if !seen[p] && (knobs.FailOpen || s.policy.Holds(principal, project, p)) {
			held = append(held, p)
		}
		seen[p] = true
	}
	if len(held) == 0 {
		// proto3 JSON leaves an empty list out.
		return http.StatusOK, map[string]any{}
	}
	return http.StatusOK, map[string]any{"permissions": held}
}

// rmError is Resource Manager's error body; the errors[] entry is what the
// v1 surface adds (terraform-provider-google#6503: "Error 400: Request
// contains an invalid argument., badRequest").
func rmError(code int, status, reason, message string) (int, any) {
	return code, map[string]any{"error": map[string]any{
		"code": code, "message": message, "status": status,
		"errors": []any{map[string]any{"message": message, "domain": "global", "reason": reason}},
	}}
}

// accessNotConfigured is Google's answer when the Cloud Resource Manager
// API is disabled in the quota project, message as in
// terraform-google-modules/terraform-google-project-factory#715 and
// appvia/kore#286 (reason accessNotConfigured), body in the shape every
// disabled API returns (a recorded Drive API answer: errors[] with domain
// usageLimits, status PERMISSION_DENIED, ErrorInfo SERVICE_DISABLED,
// LocalizedMessage, Help).
func (s *Server) accessNotConfigured(r *http.Request) map[string]any {
	number := s.quota.Number
	if named := r.Header.Get("X-Goog-User-Project"); named != "" {
		number = named
		if pr, ok := s.policy.Project(named); ok {
			number = pr.Number
		}
	}
	activation := "https://console.developers.google.com/apis/api/cloudresourcemanager.googleapis.com/overview?project=" + number
	msg := fmt.Sprintf("Cloud Resource Manager API has not been used in project %s before or it is disabled. Enable it by visiting %s then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.", number, activation)
	return map[string]any{"error": map[string]any{
		"code": http.StatusForbidden, "message": msg, "status": "PERMISSION_DENIED",
		"errors": []any{map[string]any{"message": msg, "domain": "usageLimits", "reason": "accessNotConfigured",
			"extendedHelp": "https://console.developers.google.com"}},
		"details": []any{
			map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED", "domain": "googleapis.com",
				"metadata": map[string]any{"service": "cloudresourcemanager.googleapis.com", "serviceTitle": "Cloud Resource Manager API",
					"consumer": "projects/" + number, "containerInfo": number, "activationUrl": activation}},
			map[string]any{"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": msg},
			map[string]any{"@type": "type.googleapis.com/google.rpc.Help", "links": []any{
				map[string]any{"description": "Google developers console API activation", "url": activation}}},
		},
	}}
}

func notFoundURL(r *http.Request) map[string]any {
	return map[string]any{"error": map[string]any{"code": http.StatusNotFound, "status": "NOT_FOUND",
		"message": "The requested URL " + r.URL.Path + " was not found on this server."}}
}

// serveControl answers the simulator's own endpoints:
//
//	GET  /meshsim/iam/knobs     the Resource Manager's knobs
//	POST /meshsim/iam/knobs     merge a JSON body into them
//	GET  /meshsim/iam/policy    the permission model (Config)
//	PUT  /meshsim/iam/policy    replace it
//	POST /meshsim/iam/deny      {"principal","project","permissions"}: take permissions away
//	POST /meshsim/iam/grant     the same body: give them back
//	GET  /meshsim/iam/requests  the Resource Manager's request log
//	DELETE /meshsim/iam/requests reset it
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + strings.TrimPrefix(r.URL.Path, "/meshsim/iam/")
	fail := func(err error) {
		fakeapi.WriteJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
			"code": http.StatusBadRequest, "status": "INVALID_ARGUMENT", "message": err.Error()}})
	}
	switch route {
	case "GET knobs":
		fakeapi.WriteJSON(w, http.StatusOK, s.Knobs())
	case "POST knobs", "PUT knobs":
		k := s.Knobs()
		if err := json.NewDecoder(r.Body).Decode(&k); err != nil {
			fail(fmt.Errorf("knobs: %w", err))
			return
		}
		s.SetKnobs(k)
		fakeapi.WriteJSON(w, http.StatusOK, k)
	case "GET policy":
		fakeapi.WriteJSON(w, http.StatusOK, s.policy.Config())
	case "PUT policy", "POST policy":
		var c Config
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			fail(fmt.Errorf("policy: %w", err))
			return
		}
		if err := s.policy.SetConfig(c); err != nil {
			fail(err)
			return
		}
		fakeapi.WriteJSON(w, http.StatusOK, s.policy.Config())
	case "POST deny", "POST grant":
		var c Change
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			fail(fmt.Errorf("%s: %w", route, err))
			return
		}
		edit := s.policy.Deny
		if route == "POST grant" {
			edit = s.policy.Grant
		}
		if err := edit(c); err != nil {
			fail(err)
			return
		}
		fakeapi.WriteJSON(w, http.StatusOK, s.policy.Config())
	case "GET requests":
		fakeapi.WriteJSON(w, http.StatusOK, s.log.Stats())
	case "DELETE requests":
		s.log.Reset()
		fakeapi.WriteJSON(w, http.StatusOK, map[string]any{})
	default:
		fakeapi.WriteJSON(w, http.StatusNotFound, notFoundURL(r))
	}
}
