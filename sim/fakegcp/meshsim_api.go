package fakegcp

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/meshctl/meshctl/sim/scenario"
)

// StateDump is the simulated project as JSON: everything the APIs would
// show, plus what only the simulation knows (NEG endpoints' pods).
type StateDump struct {
	Scenario   scenario.Scenario `json:"scenario"`
	Resources  []map[string]any  `json:"resources"`  // visible Compute objects, by selfLink
	Operations []map[string]any  `json:"operations"` // Compute operations, oldest first
	NEGs       []NEGInfo         `json:"negs"`
	Clusters   []map[string]any  `json:"clusters"`
}

// State dumps the simulated project.
func (s *Server) State() StateDump {
	negs := s.NEGs()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	dump := StateDump{Scenario: s.sc, NEGs: negs}
	for _, path := range sortedKeys(s.resources) {
		if r := s.resources[path]; r.obj != nil {
			dump.Resources = append(dump.Resources, s.render(r))
		}
	}
	for _, op := range s.sortedOperations() {
		dump.Operations = append(dump.Operations, s.renderOp(op))
	}
	for _, key := range sortedKeys(s.clusters) {
		dump.Clusters = append(dump.Clusters, s.renderCluster(s.clusters[key]))
	}
	return dump
}

// Resource returns an object as GET would answer it, given its link or
// relative path (projects/p/global/backendServices/bs).
func (s *Server) Resource(link string) (map[string]any, bool) {
	ref, ok := parseRef(link, s.project, "global")
	if !ok {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	r, err := s.visible(s.canonicalRef(ref))
	if err != nil {
		return nil, false
	}
	return s.render(r), true
}

// serveMeshsim answers the simulator's own endpoints:
//
//	GET  /meshsim/knobs            the knobs
//	POST /meshsim/knobs            merge a JSON body into the knobs
//	GET  /meshsim/requests         the request log
//	DELETE /meshsim/requests       reset it (also POST /meshsim/requests/reset)
//	GET  /meshsim/state            the state dump
//	GET  /meshsim/scenario         the scenario
func (s *Server) serveMeshsim(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/meshsim/knobs" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Knobs())
	case r.URL.Path == "/meshsim/knobs" && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		k := s.Knobs()
		if err := json.NewDecoder(r.Body).Decode(&k); err != nil {
			writeAPIError(w, errInvalid("knobs: %v", err))
			return
		}
		s.SetKnobs(k)
		writeJSON(w, http.StatusOK, k)
	case r.URL.Path == "/meshsim/requests" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Requests())
	case (r.URL.Path == "/meshsim/requests" && r.Method == http.MethodDelete) ||
		(r.URL.Path == "/meshsim/requests/reset" && r.Method == http.MethodPost):
		s.ResetRequests()
		writeJSON(w, http.StatusOK, map[string]any{})
	case r.URL.Path == "/meshsim/state" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.State())
	case r.URL.Path == "/meshsim/scenario" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Scenario())
	default:
		writeAPIError(w, errNoSuchURL(r))
	}
}
