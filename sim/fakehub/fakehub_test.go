package fakehub

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/gkehub/v1"
	gkehubv2 "google.golang.org/api/gkehub/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	"google.golang.org/api/serviceusage/v1"

	"github.com/meshctl/meshctl/sim/scenario"
)

type source struct {
	mu sync.Mutex
	sc scenario.Scenario
}

func (s *source) Scenario() scenario.Scenario {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sc
}

func (s *source) change(fn func(*scenario.Scenario)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.sc)
}

type recordingAgent struct {
	mu    sync.Mutex
	calls []string
	fail  error
}

func (a *recordingAgent) Provision(_ context.Context, channel, revision string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, "provision "+channel+" "+revision)
	return a.fail
}

func (a *recordingAgent) Deprovision(_ context.Context, revision string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, "deprovision "+revision)
	return nil
}

func (a *recordingAgent) Calls() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}

type env struct {
	t     *testing.T
	ctx   context.Context
	src   *source
	srv   *Server
	agent *recordingAgent
	v1    *gkehub.Service
	v2    *gkehubv2.Service
	su    *serviceusage.Service
	url   string
}

const (
	project = "meshsim-project"
	number  = "123456789012"
	link    = "//container.googleapis.com/projects/meshsim-project/locations/us-central1/clusters/meshsim"
	issuer  = "https://container.googleapis.com/v1/projects/meshsim-project/locations/us-central1/clusters/meshsim"
)

func newEnv(t *testing.T, change func(*scenario.Scenario)) *env {
	t.Helper()
	sc := scenario.Default()
	if change != nil {
		change(&sc)
	}
	src := &source{sc: sc}
	agent := &recordingAgent{}
	knobs := Knobs{ProvisioningTime: Duration(150 * time.Millisecond), OperationTime: Duration(20 * time.Millisecond)}
	srv := New(src, Options{Knobs: &knobs, Agent: agent, Logf: t.Logf})
	t.Cleanup(srv.Close)
	hs := httptest.NewServer(Compose(srv, http.NotFoundHandler()))
	t.Cleanup(hs.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	opts := []option.ClientOption{option.WithEndpoint(hs.URL + "/"), option.WithoutAuthentication()}
	v1, err := gkehub.NewService(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := gkehubv2.NewService(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	su, err := serviceusage.NewService(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, src: src, srv: srv, agent: agent, v1: v1, v2: v2, su: su, url: hs.URL}
}

func (e *env) waitV1(op *gkehub.Operation, err error) *gkehub.Operation {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
	for !op.Done {
		time.Sleep(10 * time.Millisecond)
		if op, err = e.v1.Projects.Locations.Operations.Get(op.Name).Context(e.ctx).Do(); err != nil {
			e.t.Fatal(err)
		}
	}
	if op.Error != nil {
		e.t.Fatalf("operation %s: %s", op.Name, op.Error.Message)
	}
	return op
}

func (e *env) waitV2(op *gkehubv2.Operation, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
	for !op.Done {
		time.Sleep(10 * time.Millisecond)
		if op, err = e.v2.Projects.Locations.Operations.Get(op.Name).Context(e.ctx).Do(); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) register(location, id string) {
	e.t.Helper()
	m := &gkehub.Membership{Endpoint: &gkehub.MembershipEndpoint{GkeCluster: &gkehub.GkeCluster{ResourceLink: link}},
		Authority: &gkehub.Authority{Issuer: issuer}}
	e.waitV1(e.v1.Projects.Locations.Memberships.Create("projects/"+project+"/locations/"+location, m).MembershipId(id).Context(e.ctx).Do())
}

func (e *env) enableFeature() {
	e.t.Helper()
	e.srv.SetKnobs(func() Knobs { k := e.srv.Knobs(); k.MeshAPIEnabled = true; return k }())
	e.waitV1(e.v1.Projects.Locations.Features.Create("projects/"+project+"/locations/global", &gkehub.Feature{}).FeatureId("servicemesh").Context(e.ctx).Do())
}

func (e *env) setManagement(location, id, management, channel string) {
	e.t.Helper()
	name := "projects/" + project + "/locations/" + location + "/memberships/" + id + "/features/servicemesh"
	mf := &gkehubv2.MembershipFeature{Spec: &gkehubv2.FeatureSpec{Servicemesh: &gkehubv2.ServiceMeshSpec{Management: management, DefaultChannel: channel}}}
	e.waitV2(e.v2.Projects.Locations.Memberships.Features.Patch(name, mf).UpdateMask("spec").AllowMissing(true).Context(e.ctx).Do())
}

// meshState polls the v1 feature until the membership's control plane
// leaves the transitional states, and returns its state.
func (e *env) meshState(key string) gkehub.MembershipFeatureState {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := e.v1.Projects.Locations.Features.Get("projects/" + project + "/locations/global/features/servicemesh").Context(e.ctx).Do()
		if err != nil {
			e.t.Fatal(err)
		}
		st, ok := f.MembershipStates[key]
		if ok && st.Servicemesh != nil {
			switch st.Servicemesh.ControlPlaneManagement.State {
			case "PROVISIONING", "DEPROVISIONING":
			default:
				return st
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("membership %s still provisioning: %+v", key, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func apiErr(t *testing.T, err error) *googleapi.Error {
	t.Helper()
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		t.Fatalf("want a Google API error, got %v", err)
	}
	return gerr
}

func TestManagedMeshLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	e.register("us-central1", "meshsim")

	// The membership lists in every location (gcloud's locations/-) and in its own.
	for _, loc := range []string{"-", "us-central1"} {
		l, err := e.v1.Projects.Locations.Memberships.List("projects/" + project + "/locations/" + loc).Context(e.ctx).Do()
		if err != nil || len(l.Resources) != 1 {
			t.Fatalf("list %s: %v %+v", loc, err, l)
		}
		m := l.Resources[0]
		if m.Name != "projects/"+project+"/locations/us-central1/memberships/meshsim" || m.State.Code != "READY" ||
			m.Endpoint.GkeCluster.ResourceLink != link || m.Authority.WorkloadIdentityPool != project+".svc.id.goog" {
			t.Errorf("membership = %+v", m)
		}
	}
	// Addressed as global, the regional membership is not there.
	_, err := e.v1.Projects.Locations.Memberships.Get("projects/" + project + "/locations/global/memberships/meshsim").Context(e.ctx).Do()
	if g := apiErr(t, err); g.Code != 404 || !strings.Contains(g.Message, "locations/global/memberships/meshsim' was not found") {
		t.Errorf("global lookup: %v", err)
	}

	// The feature needs mesh.googleapis.com: 400 FAILED_PRECONDITION, as gcloud expects.
	_, err = e.v1.Projects.Locations.Features.Create("projects/"+project+"/locations/global", &gkehub.Feature{}).FeatureId("servicemesh").Context(e.ctx).Do()
	if g := apiErr(t, err); g.Code != 400 || !strings.Contains(g.Body, "FAILED_PRECONDITION") || !strings.Contains(g.Message, "mesh.googleapis.com") || !strings.Contains(g.Message, "is not enabled") {
		t.Errorf("feature create with the API off: %v", err)
	}
	svc, err := e.su.Services.Get("projects/" + project + "/services/mesh.googleapis.com").Context(e.ctx).Do()
	if err != nil || svc.State != "DISABLED" || svc.Name != "projects/"+number+"/services/mesh.googleapis.com" {
		t.Fatalf("service: %v %+v", err, svc)
	}
	op, err := e.su.Services.Enable("projects/"+project+"/services/mesh.googleapis.com", &serviceusage.EnableServiceRequest{}).Context(e.ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	for !op.Done {
		time.Sleep(10 * time.Millisecond)
		if op, err = e.su.Operations.Get(op.Name).Context(e.ctx).Do(); err != nil {
			t.Fatal(err)
		}
	}
	e.waitV1(e.v1.Projects.Locations.Features.Create("projects/"+project+"/locations/global", &gkehub.Feature{}).FeatureId("servicemesh").Context(e.ctx).Do())
	_, err = e.v1.Projects.Locations.Features.Create("projects/"+project+"/locations/global", &gkehub.Feature{}).FeatureId("servicemesh").Context(e.ctx).Do()
	if g := apiErr(t, err); g.Code != 409 || !strings.Contains(g.Body, "ALREADY_EXISTS") {
		t.Errorf("second feature create: %v", err)
	}

	// No spec yet: v2 answers 404.
	mfName := "projects/" + project + "/locations/us-central1/memberships/meshsim/features/servicemesh"
	if _, err := e.v2.Projects.Locations.Memberships.Features.Get(mfName).Context(e.ctx).Do(); apiErr(t, err).Code != 404 {
		t.Errorf("membership feature before any spec: %v", err)
	}

	e.setManagement("us-central1", "meshsim", "MANAGEMENT_AUTOMATIC", "")
	key := "projects/" + number + "/locations/us-central1/memberships/meshsim"
	st := e.meshState(key)
	sm := st.Servicemesh
	if sm.ControlPlaneManagement.State != "ACTIVE" || sm.ControlPlaneManagement.Implementation != "TRAFFIC_DIRECTOR" ||
		sm.ControlPlaneManagement.Details[0].Code != "REVISION_READY" || sm.ControlPlaneManagement.Details[0].Details != "Ready: asm-managed" ||
		sm.DataPlaneManagement.State != "ACTIVE" || st.State.Code != "OK" {
		t.Errorf("state = %+v %+v %+v", sm.ControlPlaneManagement, sm.DataPlaneManagement, st.State)
	}
	f, _ := e.v1.Projects.Locations.Features.Get("projects/" + number + "/locations/global/features/servicemesh").Context(e.ctx).Do()
	if f.MembershipSpecs[key].Mesh.Management != "MANAGEMENT_AUTOMATIC" || f.ResourceState.State != "ACTIVE" {
		t.Errorf("feature by project number: %+v", f)
	}
	mf, err := e.v2.Projects.Locations.Memberships.Features.Get(mfName).Context(e.ctx).Do()
	if err != nil || mf.Spec.Servicemesh.Management != "MANAGEMENT_AUTOMATIC" || mf.State.Servicemesh.ControlPlaneManagement.State != "ACTIVE" {
		t.Errorf("v2 membership feature: %v %+v", err, mf)
	}
	if got := e.agent.Calls(); len(got) != 1 || got[0] != "provision regular asm-managed" {
		t.Errorf("agent calls = %v", got)
	}

	// Not installed: DEPROVISIONING, then DISABLED, and the agent removes the revision.
	e.setManagement("us-central1", "meshsim", "MANAGEMENT_NOT_INSTALLED", "")
	st = e.meshState(key)
	if st.Servicemesh.ControlPlaneManagement.State != "DISABLED" {
		t.Errorf("after not installed: %+v", st.Servicemesh.ControlPlaneManagement)
	}
	if got := e.agent.Calls(); len(got) != 2 || got[1] != "deprovision asm-managed" {
		t.Errorf("agent calls = %v", got)
	}

	stats := e.srv.Requests()
	if stats.Mutations != 5 { // create membership, enable API, create feature, two patches
		t.Errorf("mutations = %d: %v", stats.Mutations, stats.ByMethod)
	}
}

func TestChannelAndKeyForms(t *testing.T) {
	e := newEnv(t, func(sc *scenario.Scenario) { sc.ReleaseChannel = "RAPID" })
	e.register("us-central1", "meshsim")
	e.enableFeature()
	// v1 features.patch: keys with the project id are accepted and come back with the number.
	patch := &gkehub.Feature{MembershipSpecs: map[string]gkehub.MembershipFeatureSpec{
		"projects/" + project + "/locations/us-central1/memberships/meshsim": {Mesh: &gkehub.ServiceMeshMembershipSpec{Management: "MANAGEMENT_AUTOMATIC"}},
	}}
	name := "projects/" + project + "/locations/global/features/servicemesh"
	e.waitV1(e.v1.Projects.Locations.Features.Patch(name, patch).UpdateMask("membershipSpecs").Context(e.ctx).Do())
	st := e.meshState("projects/" + number + "/locations/us-central1/memberships/meshsim")
	if d := st.Servicemesh.ControlPlaneManagement.Details; len(d) == 0 || d[0].Details != "Ready: asm-managed-rapid" {
		t.Errorf("GKE RAPID should give asm-managed-rapid: %+v", st.Servicemesh.ControlPlaneManagement)
	}
	// A key in the wrong location (the global mistake) is Google's 400.
	bad := &gkehub.Feature{MembershipSpecs: map[string]gkehub.MembershipFeatureSpec{
		"projects/" + project + "/locations/global/memberships/meshsim": {Mesh: &gkehub.ServiceMeshMembershipSpec{Management: "MANAGEMENT_AUTOMATIC"}},
	}}
	_, err := e.v1.Projects.Locations.Features.Patch(name, bad).UpdateMask("membershipSpecs").Context(e.ctx).Do()
	if g := apiErr(t, err); g.Code != 400 || !strings.Contains(g.Message, "does not match a current membership in this project. Keys should be in the form: projects/<project_number>/locations/{l}/memberships/{m}") {
		t.Errorf("unknown key: %v", err)
	}
	// defaultChannel overrides the GKE mapping: the old revision goes, the new one comes.
	e.setManagement("us-central1", "meshsim", "MANAGEMENT_AUTOMATIC", "STABLE")
	st = e.meshState("projects/" + number + "/locations/us-central1/memberships/meshsim")
	if d := st.Servicemesh.ControlPlaneManagement.Details; len(d) == 0 || d[0].Details != "Ready: asm-managed-stable" {
		t.Errorf("defaultChannel STABLE: %+v", st.Servicemesh.ControlPlaneManagement)
	}
	if got := strings.Join(e.agent.Calls(), "; "); got != "provision rapid asm-managed-rapid; deprovision asm-managed-rapid; provision stable asm-managed-stable" {
		t.Errorf("agent calls = %s", got)
	}
}

func TestMembershipErrors(t *testing.T) {
	e := newEnv(t, nil)
	e.register("us-central1", "meshsim")
	create := func(loc, id, l string) error {
		m := &gkehub.Membership{Endpoint: &gkehub.MembershipEndpoint{GkeCluster: &gkehub.GkeCluster{ResourceLink: l}}}
		_, err := e.v1.Projects.Locations.Memberships.Create("projects/"+project+"/locations/"+loc, m).MembershipId(id).Context(e.ctx).Do()
		return err
	}
	tests := []struct {
		name, loc, id, link string
		code                int
		want                string
	}{
		{"duplicate", "us-central1", "meshsim", link, 409, "already exists"},
		{"cluster registered twice", "global", "other", link, 409, "already registered as membership"},
		{"zone", "us-central1-a", "x", link, 400, "not supported for memberships"},
		{"bad id", "us-central1", "Bad_Name", link, 400, "RFC 1123"},
		{"unknown cluster", "us-central1", "nope", strings.Replace(link, "meshsim", "nope", 2), 404, "was not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := apiErr(t, create(tt.loc, tt.id, tt.link))
			if g.Code != tt.code || !strings.Contains(g.Message, tt.want) {
				t.Errorf("got %d %s", g.Code, g.Message)
			}
		})
	}
	// Another project: permission denied.
	_, err := e.v1.Projects.Locations.Memberships.List("projects/someone-else/locations/-").Context(e.ctx).Do()
	if apiErr(t, err).Code != 403 {
		t.Errorf("other project: %v", err)
	}
	// Patching management before the feature is enabled is refused.
	name := "projects/" + project + "/locations/us-central1/memberships/meshsim/features/servicemesh"
	mf := &gkehubv2.MembershipFeature{Spec: &gkehubv2.FeatureSpec{Servicemesh: &gkehubv2.ServiceMeshSpec{Management: "MANAGEMENT_AUTOMATIC"}}}
	_, err = e.v2.Projects.Locations.Memberships.Features.Patch(name, mf).UpdateMask("spec").AllowMissing(true).Context(e.ctx).Do()
	if g := apiErr(t, err); g.Code != 400 || !strings.Contains(g.Body, "FAILED_PRECONDITION") {
		t.Errorf("patch before the feature: %v", err)
	}
}

func TestPrerequisitesFailWithDocumentedConditions(t *testing.T) {
	tests := []struct {
		name   string
		change func(*scenario.Scenario)
		want   string
	}{
		{"no workload identity", func(sc *scenario.Scenario) { sc.WorkloadIdentity = false }, "WORKLOAD_IDENTITY_REQUIRED"},
		{"pool without GKE_METADATA", func(sc *scenario.Scenario) { sc.NodePools[1].WorkloadMetadata = "GCE_METADATA" }, "NODEPOOL_WORKLOAD_IDENTITY_FEDERATION_REQUIRED"},
		{"zero nodes", func(sc *scenario.Scenario) {
			for i := range sc.NodePools {
				sc.NodePools[i].NodesPerZone = 0
			}
		}, "CLUSTER_HAS_ZERO_NODES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.change)
			e.register("us-central1", "meshsim")
			e.enableFeature()
			e.setManagement("us-central1", "meshsim", "MANAGEMENT_AUTOMATIC", "")
			key := "projects/" + number + "/locations/us-central1/memberships/meshsim"
			st := e.meshState(key)
			sm := st.Servicemesh
			if sm.ControlPlaneManagement.State != "FAILED_PRECONDITION" || len(sm.Conditions) != 1 || sm.Conditions[0].Code != tt.want ||
				sm.Conditions[0].Severity != "ERROR" || st.State.Code != "ERROR" {
				t.Fatalf("state = %+v conditions %+v", sm.ControlPlaneManagement, sm.Conditions)
			}
			if len(e.agent.Calls()) != 0 {
				t.Errorf("the agent ran on a failed cluster: %v", e.agent.Calls())
			}
			// Fixing the cluster lets provisioning go on, as Google retries.
			e.src.change(func(sc *scenario.Scenario) {
				*sc = scenario.Default()
			})
			deadline := time.Now().Add(10 * time.Second)
			for e.meshState(key).Servicemesh.ControlPlaneManagement.State != "ACTIVE" {
				if time.Now().After(deadline) {
					t.Fatal("not ACTIVE after the fix")
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

func TestFailWithKnobAndStalledAgent(t *testing.T) {
	e := newEnv(t, nil)
	e.register("us-central1", "meshsim")
	e.enableFeature()
	k := e.srv.Knobs()
	k.FailWith = "MESH_IAM_PERMISSION_DENIED"
	e.srv.SetKnobs(k)
	e.setManagement("us-central1", "meshsim", "MANAGEMENT_AUTOMATIC", "")
	key := "projects/" + number + "/locations/us-central1/memberships/meshsim"
	if c := e.meshState(key).Servicemesh.Conditions; len(c) != 1 || c[0].Code != "MESH_IAM_PERMISSION_DENIED" {
		t.Errorf("failWith: %+v", c)
	}
	k.FailWith = ""
	e.srv.SetKnobs(k)
	e.agent.mu.Lock()
	e.agent.fail = errors.New("istiod did not start")
	e.agent.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := e.meshState(key).Servicemesh.ControlPlaneManagement
		if st.State == "STALLED" {
			if !strings.Contains(st.Details[0].Details, "istiod did not start") {
				t.Errorf("stalled details: %+v", st.Details)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not STALLED: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestOwnsSeparatesGKEOperations(t *testing.T) {
	srv := New(&source{sc: scenario.Default()}, Options{})
	defer srv.Close()
	tests := []struct {
		path string
		want bool
	}{
		{"/v1/projects/p/locations/us-central1/memberships", true},
		{"/v1/projects/p/locations/-/memberships", true},
		{"/v1/projects/p/locations/global/features/servicemesh", true},
		{"/v1/projects/p/locations/global/operations/operation-1712000000000-6157c3b6e1d7a-1a2b3c4d-5e6f7a8b", true},
		{"/v1/projects/p/locations/us-central1/operations/operation-1712000000000-1a2b3c4d", false}, // GKE's
		{"/v1/projects/p/locations/us-central1/clusters/meshsim", false},
		{"/v2/projects/p/locations/us-central1/memberships/m/features/servicemesh", true},
		{"/v1/projects/p/services/mesh.googleapis.com:enable", true},
		{"/v1/operations/acat.p2-1-2", true},
		{"/compute/v1/projects/p/global/networks", false},
		{"/meshsim/state", false},
		{"/meshsim/hub/requests", true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, tt.path, nil)
		if got := srv.Owns(r); got != tt.want {
			t.Errorf("Owns(%s) = %v, want %v", tt.path, got, tt.want)
		}
	}
	if id := hubOperationID(time.Now(), 7); !hubV1Op.MatchString("/v1/projects/p/locations/global/operations/" + id) {
		t.Errorf("the fleet's own operation name %s is not routed to it", id)
	}
}

// fleetOfTwo is a ClusterSource with two simulated clusters, as meshsim up
// --clusters 2 has; the second follows GKE's RAPID channel.
type fleetOfTwo struct{ source }

func (f *fleetOfTwo) SimulatedClusters() []scenario.Scenario {
	first := f.Scenario()
	second := first
	second.Location, second.Cluster, second.ReleaseChannel = "europe-west1", "meshsim-2", "RAPID"
	return []scenario.Scenario{first, second}
}

// TestAgentPerMembership: with several clusters, each membership's managed
// mesh is provisioned by an agent of the cluster it names, on the channel
// of that cluster's GKE release channel, and removing one touches only its
// own cluster.
func TestAgentPerMembership(t *testing.T) {
	src := &fleetOfTwo{source{sc: scenario.Default()}}
	var mu sync.Mutex
	agents := map[string]*recordingAgent{}
	agentFor := func(sc scenario.Scenario) (Agent, error) {
		mu.Lock()
		defer mu.Unlock()
		a := &recordingAgent{}
		agents[sc.Location+"/"+sc.Cluster] = a
		return a, nil
	}
	knobs := Knobs{ProvisioningTime: Duration(150 * time.Millisecond), OperationTime: Duration(20 * time.Millisecond)}
	srv := New(src, Options{Knobs: &knobs, AgentFor: agentFor, Logf: t.Logf})
	t.Cleanup(srv.Close)
	hs := httptest.NewServer(Compose(srv, http.NotFoundHandler()))
	t.Cleanup(hs.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	opts := []option.ClientOption{option.WithEndpoint(hs.URL + "/"), option.WithoutAuthentication()}
	v1, err := gkehub.NewService(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := gkehubv2.NewService(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, src: &src.source, srv: srv, v1: v1, v2: v2, url: hs.URL}

	secondLink := "//container.googleapis.com/projects/" + project + "/locations/europe-west1/clusters/meshsim-2"
	e.register("us-central1", "meshsim")
	e.waitV1(v1.Projects.Locations.Memberships.Create("projects/"+project+"/locations/europe-west1",
		&gkehub.Membership{Endpoint: &gkehub.MembershipEndpoint{GkeCluster: &gkehub.GkeCluster{ResourceLink: secondLink}}}).
		MembershipId("meshsim-2").Context(ctx).Do())
	// The second cluster once more, under another id: Google's 409.
	_, err = v1.Projects.Locations.Memberships.Create("projects/"+project+"/locations/europe-west1",
		&gkehub.Membership{Endpoint: &gkehub.MembershipEndpoint{GkeCluster: &gkehub.GkeCluster{ResourceLink: secondLink}}}).
		MembershipId("again").Context(ctx).Do()
	if g := apiErr(t, err); g.Code != 409 || !strings.Contains(g.Message, "already registered as membership projects/"+project+"/locations/europe-west1/memberships/meshsim-2") {
		t.Errorf("second registration of meshsim-2: %v", err)
	}
	m, err := v1.Projects.Locations.Memberships.Get("projects/" + project + "/locations/europe-west1/memberships/meshsim-2").Context(ctx).Do()
	if err != nil || m.Endpoint.KubernetesMetadata == nil || m.MonitoringConfig == nil || m.MonitoringConfig.Cluster != "meshsim-2" {
		t.Errorf("the second cluster's membership: %v %+v", err, m)
	}

	e.enableFeature()
	e.setManagement("us-central1", "meshsim", "MANAGEMENT_AUTOMATIC", "")
	e.setManagement("europe-west1", "meshsim-2", "MANAGEMENT_AUTOMATIC", "")
	for key, want := range map[string]string{
		"us-central1/memberships/meshsim":    "Ready: asm-managed",
		"europe-west1/memberships/meshsim-2": "Ready: asm-managed-rapid",
	} {
		st := e.meshState("projects/" + number + "/locations/" + key)
		if d := st.Servicemesh.ControlPlaneManagement.Details; st.Servicemesh.ControlPlaneManagement.State != "ACTIVE" || len(d) == 0 || d[0].Details != want {
			t.Errorf("%s: %+v, want ACTIVE %s", key, st.Servicemesh.ControlPlaneManagement, want)
		}
	}
	calls := func() string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, k := range []string{"us-central1/meshsim", "europe-west1/meshsim-2"} {
			if a := agents[k]; a != nil {
				out = append(out, k+": "+strings.Join(a.Calls(), ", "))
			}
		}
		return strings.Join(out, "; ")
	}
	if got := calls(); got != "us-central1/meshsim: provision regular asm-managed; europe-west1/meshsim-2: provision rapid asm-managed-rapid" {
		t.Errorf("agent calls = %s", got)
	}

	e.setManagement("europe-west1", "meshsim-2", "MANAGEMENT_NOT_INSTALLED", "")
	e.meshState("projects/" + number + "/locations/europe-west1/memberships/meshsim-2")
	if got := calls(); got != "us-central1/meshsim: provision regular asm-managed; europe-west1/meshsim-2: provision rapid asm-managed-rapid, deprovision asm-managed-rapid" {
		t.Errorf("agent calls after removing meshsim-2's mesh = %s", got)
	}
}
