package fakegcp

import (
	"net/http"
	"time"

	"github.com/meshctl/meshctl/sim/fakeapi"
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

// controls answers the simulator's own endpoints under /meshsim/: knobs,
// requests (see fakeapi.Controls), state (the state dump) and scenario.
func (s *Server) controls() fakeapi.Controls[Knobs] {
	return fakeapi.Controls[Knobs]{
		Prefix: "/meshsim/", Knobs: s.Knobs, SetKnobs: s.SetKnobs, Log: &s.log,
		Views: map[string]func() any{
			"state":    func() any { return s.State() },
			"scenario": func() any { return s.Scenario() },
		},
		Errors: func(code int, message string) *fakeapi.Error {
			if code == http.StatusNotFound {
				return &APIError{Code: code, Reason: "notFound", Message: message}
			}
			return errInvalid("%s", message)
		},
	}
}
