package fakehub

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"
	"time"

	"github.com/meshctl/meshctl/sim/fakeapi"
	"github.com/meshctl/meshctl/sim/scenario"
)

// FeatureServiceMesh is the one fleet feature meshsim implements.
const FeatureServiceMesh = "servicemesh"

// membership is one fleet membership of a GKE cluster.
type membership struct {
	location, id string
	resourceLink string
	// agent provisions the managed mesh in the membership's cluster; nil
	// means the fleet only reports.
	agent    Agent
	issuer   string
	created  time.Time
	readyAt  time.Time // CREATING until then
	updated  time.Time
	uniqueID string
	labels   map[string]string

	// The servicemesh feature's spec and state for the membership.
	spec        *meshSpec
	specUpdated time.Time
	mesh        meshState
}

// feature is the fleet's servicemesh feature.
type feature struct {
	created  time.Time
	activeAt time.Time // ENABLING until then
	updated  time.Time
	labels   map[string]string
}

// Google's label rules, shared by every API that takes labels: keys start
// with a lower-case letter; keys and values are at most 63 lower-case
// letters, digits, '_' and '-'.
var (
	labelKey   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	labelValue = regexp.MustCompile(`^[a-z0-9_-]{0,63}$`)
)

// readLabels reads a request's labels, refusing what Google refuses (the
// wording is a guess: no recorded exchange has a bad label).
func readLabels(body map[string]any) (map[string]string, *apiError) {
	raw := fakeapi.Obj(body, "labels")
	if len(raw) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for k, v := range raw {
		val, _ := v.(string)
		if !labelKey.MatchString(k) || !labelValue.MatchString(val) {
			return nil, errInvalid("Invalid label %q: %q: label keys start with a lower-case letter, and keys and values hold at most 63 lower-case letters, digits, '_' or '-'", k, val)
		}
		out[k] = val
	}
	return out, nil
}

func renderLabels(out map[string]any, labels map[string]string) {
	if len(labels) > 0 {
		l := map[string]any{}
		for k, v := range labels {
			l[k] = v
		}
		out["labels"] = l
	}
}

var membershipID = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func isZone(location string) bool {
	n := len(location)
	return n > 2 && location[n-2] == '-' && location[n-1] >= 'a' && location[n-1] <= 'z'
}

// clusterLink is a parsed //container.googleapis.com/projects/P/locations/L/clusters/C.
type clusterLink struct{ project, location, name string }

func parseClusterLink(link string) (clusterLink, bool) {
	rest, ok := strings.CutPrefix(link, "//container.googleapis.com/")
	if !ok {
		rest, ok = strings.CutPrefix(link, "https://container.googleapis.com/v1/")
	}
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 6 || parts[0] != "projects" || (parts[2] != "locations" && parts[2] != "zones") || parts[4] != "clusters" {
		return clusterLink{}, false
	}
	return clusterLink{parts[1], parts[3], parts[5]}, true
}

// clusters are the simulated clusters as GKE describes them now.
func (s *Server) clusters() []scenario.Scenario {
	if l, ok := s.src.(ClusterLister); ok {
		return l.SimulatedClusters()
	}
	return []scenario.Scenario{s.src.Scenario()}
}

// clusterOf returns the simulated cluster a resource link names (by project
// id or number), if any.
func (s *Server) clusterOf(link string) (scenario.Scenario, bool) {
	l, ok := parseClusterLink(link)
	if !ok || (l.project != s.project && l.project != s.number) {
		return scenario.Scenario{}, false
	}
	for _, sc := range s.clusters() {
		if l.location == sc.Location && l.name == sc.Cluster {
			return sc, true
		}
	}
	return scenario.Scenario{}, false
}

func (s *Server) membershipName(m *membership) string {
	return "projects/" + s.project + "/locations/" + m.location + "/memberships/" + m.id
}

// membershipKey is the key of feature maps: the project number, always.
func (s *Server) membershipKey(m *membership) string {
	return "projects/" + s.number + "/locations/" + m.location + "/memberships/" + m.id
}

// lookupKey resolves a membership key written with the project id or
// number. Called with s.mu held.
func (s *Server) lookupKey(key string) (*membership, bool) {
	parts := strings.Split(strings.Trim(key, "/"), "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "locations" || parts[4] != "memberships" {
		return nil, false
	}
	if parts[1] != s.project && parts[1] != s.number {
		return nil, false
	}
	m, ok := s.memberships[parts[3]+"/"+parts[5]]
	return m, ok
}

func (s *Server) renderMembership(m *membership) map[string]any {
	now := time.Now()
	sc, simulated := s.clusterOf(m.resourceLink)
	state := "READY"
	if now.Before(m.readyAt) {
		state = "CREATING"
	}
	out := map[string]any{
		"name":       s.membershipName(m),
		"createTime": googleTime(m.created),
		"updateTime": googleTime(m.updated),
		"uniqueId":   m.uniqueID,
		"state":      map[string]any{"code": state},
		"endpoint": map[string]any{
			"gkeCluster":    map[string]any{"resourceLink": m.resourceLink},
			"googleManaged": false,
		},
		"clusterTier": "STANDARD",
	}
	renderLabels(out, m.labels)
	if simulated {
		out["endpoint"].(map[string]any)["kubernetesMetadata"] = map[string]any{
			"kubernetesApiServerVersion": "v" + strings.SplitN(sc.MasterVersion, "-", 2)[0],
			"nodeCount":                  len(sc.Nodes()),
			"updateTime":                 googleTime(now),
		}
		out["monitoringConfig"] = map[string]any{
			"projectId": sc.Project, "location": sc.Location, "cluster": sc.Cluster,
			"kubernetesMetricsPrefix": "kubernetes.io",
		}
	}
	if m.issuer != "" {
		out["authority"] = map[string]any{
			"issuer":               m.issuer,
			"workloadIdentityPool": s.project + ".svc.id.goog",
			"identityProvider":     m.issuer,
		}
	}
	return out
}

func (s *Server) listMemberships(c *call, location string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []any
	for _, key := range fakeapi.SortedKeys(s.memberships) {
		m := s.memberships[key]
		if location == "-" || m.location == location {
			out = append(out, s.renderMembership(m))
		}
	}
	resp := map[string]any{}
	if len(out) > 0 {
		resp["resources"] = out
	}
	return resp, nil
}

func (s *Server) getMembership(c *call, location, id string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.memberships[location+"/"+id]
	if !ok {
		return nil, errNotFound("projects/" + c.project + "/locations/" + location + "/memberships/" + id)
	}
	return s.renderMembership(m), nil
}

func (s *Server) createMembership(c *call, location string) (any, *apiError) {
	id := c.r.URL.Query().Get("membershipId")
	if id == "" {
		return nil, errInvalid("membership_id must be specified")
	}
	if len(id) > 63 || !membershipID.MatchString(id) {
		return nil, errInvalid("Invalid membership_id %q: must be a valid RFC 1123 label: lower-case alphanumeric characters or '-', starting and ending with an alphanumeric character, at most 63 characters", id)
	}
	if isZone(location) {
		return nil, errInvalid("Location %q is not supported for memberships: use the cluster's region or global", location)
	}
	link := fakeapi.Str(fakeapi.Obj(fakeapi.Obj(c.body, "endpoint"), "gkeCluster"), "resourceLink")
	if link == "" {
		return nil, errInvalid("endpoint.gke_cluster.resource_link must be specified (meshsim registers GKE clusters only)")
	}
	cl, ok := parseClusterLink(link)
	if !ok {
		return nil, errInvalid("Invalid resource link %q: want //container.googleapis.com/projects/P/locations/L/clusters/C", link)
	}
	sc, ok := s.clusterOf(link)
	if !ok {
		return nil, &apiError{Code: 404, Status: "NOT_FOUND", Message: fmt.Sprintf("GKE cluster %q was not found", link)}
	}
	labels, lerr := readLabels(c.body)
	if lerr != nil {
		return nil, lerr
	}
	issuer := fakeapi.Str(fakeapi.Obj(c.body, "authority"), "issuer")
	if issuer != "" {
		want := "https://container.googleapis.com/v1/projects/" + cl.project + "/locations/" + cl.location + "/clusters/" + cl.name
		if issuer != want {
			return nil, errInvalid("authority.issuer %q does not match the cluster: want %q (it must use locations/, not zones/)", issuer, want)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := location + "/" + id
	name := "projects/" + s.project + "/locations/" + location + "/memberships/" + id
	if _, exists := s.memberships[key]; exists {
		return nil, errAlreadyExists(name)
	}
	for _, other := range s.memberships {
		if o, ok := s.clusterOf(other.resourceLink); ok && o.Location == sc.Location && o.Cluster == sc.Cluster {
			return nil, &apiError{Code: 409, Status: "ALREADY_EXISTS",
				Message: fmt.Sprintf("The GKE cluster %s is already registered as membership %s", link, s.membershipName(other))}
		}
	}
	// Only a registration that is accepted gets an agent in its cluster.
	agent := s.agent
	if s.agentFor != nil {
		var err error
		if agent, err = s.agentFor(sc); err != nil {
			return nil, &apiError{Code: 500, Status: "INTERNAL", Message: fmt.Sprintf("meshsim: no fleet agent for cluster %s: %v", sc.Cluster, err)}
		}
	}
	now := time.Now()
	h := fnv.New64a()
	fmt.Fprint(h, name, now.UnixNano())
	sum := fmt.Sprintf("%016x%016x", h.Sum64(), h.Sum64()^0x9e3779b97f4a7c15)
	m := &membership{location: location, id: id, resourceLink: link, agent: agent, issuer: issuer, created: now, updated: now, labels: labels,
		uniqueID: sum[:8] + "-" + sum[8:12] + "-" + sum[12:16] + "-" + sum[16:20] + "-" + sum[20:32]}
	s.memberships[key] = m
	op := s.newHubOperation("v1", location, "create", name, "type.googleapis.com/google.cloud.gkehub.v1.Membership",
		func() map[string]any { return s.renderMembership(m) })
	m.readyAt = op.doneAt
	return s.renderOperation(op), nil
}

func (s *Server) deleteMembership(c *call, location, id string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := location + "/" + id
	m, ok := s.memberships[key]
	if !ok {
		return nil, errNotFound("projects/" + c.project + "/locations/" + location + "/memberships/" + id)
	}
	delete(s.memberships, key)
	s.stopMesh(m)
	op := s.newHubOperation("v1", location, "delete", s.membershipName(m), "", nil)
	return s.renderOperation(op), nil
}

func (s *Server) featureName() string {
	return "projects/" + s.project + "/locations/global/features/" + FeatureServiceMesh
}

// meshAPIEnabled reports whether mesh.googleapis.com is on. Called with s.mu held.
func (s *Server) meshAPIEnabled(now time.Time) bool {
	return s.knobs.MeshAPIEnabled && !now.Before(s.meshEnabledAt)
}

func (s *Server) createFeature(c *call, location string) (any, *apiError) {
	id := c.r.URL.Query().Get("featureId")
	if location != "global" {
		return nil, errInvalid("Feature %q must be created in location global, not %q", id, location)
	}
	if id != FeatureServiceMesh {
		return nil, errInvalid("meshsim implements only the servicemesh feature, not %q", id)
	}
	labels, lerr := readLabels(c.body)
	if lerr != nil {
		return nil, lerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.feature != nil {
		return nil, errAlreadyExists(s.featureName())
	}
	if !s.meshAPIEnabled(now) {
		// The shape gcloud's retry looks for: FAILED_PRECONDITION naming the
		// API and "is not enabled".
		return nil, errFailedPrecondition("Service mesh.googleapis.com (with meshconfig.googleapis.com) is not enabled for project %s. Enable it with `gcloud services enable mesh.googleapis.com --project %s`.", s.number, s.project)
	}
	f := &feature{created: now, updated: now, labels: labels}
	s.feature = f
	op := s.newHubOperation("v1", "global", "create", s.featureName(), "type.googleapis.com/google.cloud.gkehub.v1.Feature",
		func() map[string]any { return s.renderFeature() })
	f.activeAt = op.doneAt
	return s.renderOperation(op), nil
}

func (s *Server) getFeature(c *call, location, id string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if location != "global" || id != FeatureServiceMesh || s.feature == nil {
		return nil, errNotFound("projects/" + c.project + "/locations/" + location + "/features/" + id)
	}
	return s.renderFeature(), nil
}

func (s *Server) listFeatures(c *call, location string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if location != "global" || s.feature == nil {
		return map[string]any{}, nil
	}
	return map[string]any{"resources": []any{s.renderFeature()}}, nil
}

// patchFeature is v1 features.patch with updateMask=membershipSpecs, as
// older gcloud and Terraform set a membership's management.
func (s *Server) patchFeature(c *call, location, id string) (any, *apiError) {
	mask := c.r.URL.Query().Get("updateMask")
	s.mu.Lock()
	defer s.mu.Unlock()
	if location != "global" || id != FeatureServiceMesh || s.feature == nil {
		return nil, errNotFound("projects/" + c.project + "/locations/" + location + "/features/" + id)
	}
	if mask == "" {
		return nil, errInvalid("update_mask must be specified")
	}
	specs := fakeapi.Obj(c.body, "membershipSpecs")
	if strings.Contains(mask, "membershipSpecs") || strings.Contains(mask, "membership_specs") {
		type change struct {
			m    *membership
			spec meshSpec
		}
		var changes []change
		for _, key := range fakeapi.SortedKeys(specs) {
			m, ok := s.lookupKey(key)
			if !ok {
				return nil, errUnknownKey(key)
			}
			mesh := fakeapi.Obj(fakeapi.Obj(specs, key), "mesh")
			changes = append(changes, change{m, meshSpec{Management: fakeapi.Str(mesh, "management"), ControlPlane: fakeapi.Str(mesh, "controlPlane"),
				ConfigAPI: fakeapi.Str(mesh, "configApi")}})
		}
		for _, ch := range changes {
			s.setSpec(ch.m, ch.spec)
		}
	}
	s.feature.updated = time.Now()
	op := s.newHubOperation("v1", "global", "update", s.featureName(), "type.googleapis.com/google.cloud.gkehub.v1.Feature",
		func() map[string]any { return s.renderFeature() })
	return s.renderOperation(op), nil
}

func (s *Server) deleteFeature(c *call, location, id string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if location != "global" || id != FeatureServiceMesh || s.feature == nil {
		return nil, errNotFound("projects/" + c.project + "/locations/" + location + "/features/" + id)
	}
	s.feature = nil
	for _, m := range s.memberships {
		s.stopMesh(m)
		m.spec = nil
	}
	op := s.newHubOperation("v1", "global", "delete", s.featureName(), "", nil)
	return s.renderOperation(op), nil
}

// renderFeature is the v1 Feature. Called with s.mu held.
func (s *Server) renderFeature() map[string]any {
	f := s.feature
	now := time.Now()
	state := "ACTIVE"
	if now.Before(f.activeAt) {
		state = "ENABLING"
	}
	out := map[string]any{
		"name":          s.featureName(),
		"createTime":    googleTime(f.created),
		"updateTime":    googleTime(f.updated),
		"resourceState": map[string]any{"state": state},
		"state":         map[string]any{},
	}
	renderLabels(out, f.labels)
	specs, states := map[string]any{}, map[string]any{}
	for _, key := range fakeapi.SortedKeys(s.memberships) {
		m := s.memberships[key]
		if m.spec == nil {
			continue
		}
		specs[s.membershipKey(m)] = map[string]any{"mesh": m.spec.v1(), "origin": map[string]any{"type": "USER"}}
		states[s.membershipKey(m)] = map[string]any{"servicemesh": m.mesh.servicemesh(), "state": m.mesh.state()}
	}
	if len(specs) > 0 {
		out["membershipSpecs"] = specs
		out["membershipStates"] = states
	}
	return out
}

func (s *Server) membershipFeatureName(m *membership) string {
	return s.membershipName(m) + "/features/" + FeatureServiceMesh
}

// renderMembershipFeature is the v2 MembershipFeature. Called with s.mu held.
func (s *Server) renderMembershipFeature(m *membership) map[string]any {
	return map[string]any{
		"name":           s.membershipFeatureName(m),
		"createTime":     googleTime(m.specUpdated),
		"updateTime":     googleTime(m.specUpdated),
		"spec":           map[string]any{"servicemesh": m.spec.v2(), "origin": map[string]any{"type": "USER"}},
		"state":          map[string]any{"servicemesh": m.mesh.servicemesh(), "state": m.mesh.state()},
		"lifecycleState": map[string]any{"state": "ACTIVE"},
	}
}

func (s *Server) getMembershipFeature(c *call, location, id, feat string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := "projects/" + c.project + "/locations/" + location + "/memberships/" + id + "/features/" + feat
	m, ok := s.memberships[location+"/"+id]
	if !ok || feat != FeatureServiceMesh || m.spec == nil {
		return nil, errNotFound(name)
	}
	return s.renderMembershipFeature(m), nil
}

func (s *Server) listMembershipFeatures(c *call, location, id string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.memberships[location+"/"+id]
	if !ok {
		return nil, errNotFound("projects/" + c.project + "/locations/" + location + "/memberships/" + id)
	}
	if m.spec == nil {
		return map[string]any{}, nil
	}
	return map[string]any{"membershipFeatures": []any{s.renderMembershipFeature(m)}}, nil
}

// patchMembershipFeature is v2 memberships.features.patch, what current
// gcloud's `fleet mesh update --management` sends: updateMask=spec,
// allowMissing=true.
func (s *Server) patchMembershipFeature(c *call, location, id, feat string) (any, *apiError) {
	q := c.r.URL.Query()
	mask := q.Get("updateMask")
	s.mu.Lock()
	defer s.mu.Unlock()
	name := "projects/" + c.project + "/locations/" + location + "/memberships/" + id + "/features/" + feat
	if mask == "" {
		return nil, errInvalid("update_mask must be specified")
	}
	if !strings.Contains(mask, "spec") {
		return nil, errInvalid("update_mask %q: only spec can be updated", mask)
	}
	if feat != FeatureServiceMesh {
		return nil, errInvalid("meshsim implements only the servicemesh feature, not %q", feat)
	}
	m, ok := s.memberships[location+"/"+id]
	if !ok {
		return nil, errNotFound("projects/" + c.project + "/locations/" + location + "/memberships/" + id)
	}
	if s.feature == nil {
		return nil, errFailedPrecondition("Feature servicemesh is not enabled in the fleet of project %s: enable it first (gcloud container fleet mesh enable)", s.project)
	}
	if m.spec == nil && q.Get("allowMissing") != "true" {
		return nil, errNotFound(name)
	}
	sm := fakeapi.Obj(fakeapi.Obj(c.body, "spec"), "servicemesh")
	s.setSpec(m, meshSpec{Management: fakeapi.Str(sm, "management"), DefaultChannel: fakeapi.Str(sm, "defaultChannel"),
		ConfigAPI: fakeapi.Str(sm, "configApi"), ControlPlane: fakeapi.Str(sm, "controlPlane")})
	op := s.newHubOperation("v2", location, "update", s.membershipFeatureName(m), "type.googleapis.com/google.cloud.gkehub.v2.MembershipFeature",
		func() map[string]any { return s.renderMembershipFeature(m) })
	return s.renderOperation(op), nil
}

// MembershipState is one membership for State.
type MembershipState struct {
	Name       string         `json:"name"`
	Membership map[string]any `json:"membership"`
	Feature    map[string]any `json:"membershipFeature,omitempty"`
}

// StateDump is the fleet as the API shows it.
type StateDump struct {
	Memberships    []MembershipState `json:"memberships"`
	Feature        map[string]any    `json:"feature,omitempty"`
	MeshAPIEnabled bool              `json:"meshApiEnabled"`
}

// State dumps the fleet.
func (s *Server) State() StateDump {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := StateDump{MeshAPIEnabled: s.meshAPIEnabled(time.Now())}
	for _, key := range fakeapi.SortedKeys(s.memberships) {
		m := s.memberships[key]
		ms := MembershipState{Name: s.membershipName(m), Membership: s.renderMembership(m)}
		if m.spec != nil {
			ms.Feature = s.renderMembershipFeature(m)
		}
		d.Memberships = append(d.Memberships, ms)
	}
	if s.feature != nil {
		d.Feature = s.renderFeature()
	}
	return d
}
