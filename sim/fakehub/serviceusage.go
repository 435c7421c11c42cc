package fakehub

import (
	"fmt"
	"time"
)

// meshAPI is the one API whose state the fake tracks; every other API is
// enabled.
const meshAPI = "mesh.googleapis.com"

var apiTitles = map[string]string{
	meshAPI:                     "Cloud Service Mesh API",
	"meshconfig.googleapis.com": "Mesh Configuration API",
	"gkehub.googleapis.com":     "GKE Hub API",
	"container.googleapis.com":  "Kubernetes Engine API",
}

// renderService is a Service Usage service. Called with s.mu held.
func (s *Server) renderService(name string) map[string]any {
	state := "ENABLED"
	if name == meshAPI && !s.meshAPIEnabled(time.Now()) {
		state = "DISABLED"
	}
	title := apiTitles[name]
	if title == "" {
		title = name
	}
	return map[string]any{
		"name":   "projects/" + s.number + "/services/" + name,
		"parent": "projects/" + s.number,
		"state":  state,
		"config": map[string]any{"name": name, "title": title},
	}
}

func (s *Server) getService(c *call, name string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.renderService(name), nil
}

// enableService enables mesh.googleapis.com (every other API already is):
// the operation runs OperationTime, and the fleet sees the API once it is
// done.
func (s *Server) enableService(c *call, name string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if name != meshAPI || s.meshAPIEnabled(now) {
		c.noChange = true
		return map[string]any{"name": "operations/noop.DONE_OPERATION", "done": true,
			"response": map[string]any{"@type": "type.googleapis.com/google.api.serviceusage.v1.EnableServiceResponse", "service": s.renderService(name)}}, nil
	}
	if !s.knobs.MeshAPIEnabled {
		s.knobs.MeshAPIEnabled = true
		s.meshEnabledAt = now.Add(time.Duration(s.knobs.OperationTime))
	}
	op := &operation{
		name: fmt.Sprintf("operations/acat.p2-%s-%08x-%04x", s.number, uint32(now.UnixNano()), s.nextSeq()),
		api:  "serviceusage", verb: "enable", target: name, created: now, doneAt: s.meshEnabledAt,
		respType: "type.googleapis.com/google.api.serviceusage.v1.EnableServiceResponse",
		response: func() map[string]any { return map[string]any{"service": s.renderService(name)} },
	}
	s.ops[op.name] = op
	return s.renderOperation(op), nil
}

func (s *Server) getServiceOperation(c *call) (any, *apiError) {
	name := c.r.URL.Path[len("/v1/"):]
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == "operations/noop.DONE_OPERATION" {
		return map[string]any{"name": name, "done": true}, nil
	}
	op, ok := s.ops[name]
	if !ok {
		return nil, errNotFound(name)
	}
	return s.renderOperation(op), nil
}
