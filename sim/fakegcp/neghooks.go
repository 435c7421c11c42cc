package fakegcp

import (
	"slices"
	"time"
)

// The methods below are the NEG controller's way in: GKE's controller
// creates standalone NEGs and keeps their endpoints in step with the
// Service's ready pods without going through the public API, and so do
// these. Changes are visible at once, with no operation.

// NEGInfo describes one zonal NEG for the NEG controller and for tests.
type NEGInfo struct {
	Zone        string     `json:"zone"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	SelfLink    string     `json:"selfLink"`
	Endpoints   []Endpoint `json:"endpoints"`
	// UsedBy lists the objects (backend services) referencing the NEG.
	UsedBy []string `json:"usedBy,omitempty"`
}

// EnsureNEG creates a GCE_VM_IP_PORT NEG in zone on the scenario's network
// and subnetwork, or updates the description of the one that exists.
func (s *Server) EnsureNEG(zone, name, description string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.advance(now)
	if err := validateName(name); err != nil {
		return err
	}
	if !s.knownZoneLocked(zone) {
		return errNotFound("projects/" + s.project + "/zones/" + zone)
	}
	k := kindOf("networkEndpointGroups")
	ref := resourceRef{Project: s.project, Scope: "zones/" + zone, Collection: k.collection, Name: name}
	if r := s.resources[ref.Path()]; r != nil {
		if r.obj == nil {
			return errNotReady(ref.Path())
		}
		r.obj["description"] = description
		return nil
	}
	r := &resource{kind: k, ref: ref, id: s.newID()}
	next := map[string]any{
		"description":         description,
		"networkEndpointType": "GCE_VM_IP_PORT",
		// GKE makes the NEG on the cluster's network, which on a Shared
		// VPC is the host project's.
		"network":    computeBase + "projects/" + s.sc.NetworkProject() + "/global/networks/" + s.sc.Network,
		"subnetwork": computeBase + "projects/" + s.sc.NetworkProject() + "/regions/" + s.sc.Region + "/subnetworks/" + s.sc.Subnetwork,
	}
	if err := s.completeChange(&change{call: &apiCall{}, r: r, next: next}); err != nil {
		return err
	}
	r.obj = next
	s.resources[ref.Path()] = r
	return nil
}

// SetNEGEndpoints replaces a NEG's endpoints.
func (s *Server) SetNEGEndpoints(zone, name string, eps []Endpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	r, err := s.visible(negRef(s.project, zone, name))
	if err != nil {
		return err
	}
	r.endpoints = cloneEndpoints(eps)
	return nil
}

// DeleteNEG deletes a NEG. Like GKE, which leaves a NEG in place while a
// backend service still uses it, it fails with resourceInUseByAnotherResource
// (an *APIError) when the NEG is referenced.
func (s *Server) DeleteNEG(zone, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	r, err := s.writable(negRef(s.project, zone, name))
	if err != nil {
		return err
	}
	if users := s.usersOf(r); len(users) > 0 {
		return errInUse(r.kind.typeName, r.ref.Path(), users[0])
	}
	delete(s.resources, r.ref.Path())
	return nil
}

// NEGs lists every visible NEG, by zone and name.
func (s *Server) NEGs() []NEGInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	var out []NEGInfo
	for _, r := range s.allOf(kindOf("networkEndpointGroups")) {
		out = append(out, NEGInfo{
			Zone:        zoneOf(r.ref.Scope),
			Name:        r.ref.Name,
			Description: str(r.obj, "description"),
			SelfLink:    r.ref.Link(),
			Endpoints:   cloneEndpoints(r.endpoints),
			UsedBy:      s.usersOf(r),
		})
	}
	return out
}

func negRef(project, zone, name string) resourceRef {
	return resourceRef{Project: project, Scope: "zones/" + zone, Collection: "networkEndpointGroups", Name: name}
}

func cloneEndpoints(eps []Endpoint) []Endpoint {
	out := make([]Endpoint, len(eps))
	for i, ep := range eps {
		ep.ServedPorts = slices.Clone(ep.ServedPorts)
		out[i] = ep
	}
	return out
}
