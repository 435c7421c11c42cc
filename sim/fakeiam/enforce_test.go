package fakeiam_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/api/gkehub/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/api/serviceusage/v1"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/fakehub"
	"github.com/meshctl/meshctl/sim/fakeiam"
	"github.com/meshctl/meshctl/sim/scenario"
)

// stack is meshsim's Google Cloud half as the daemon wires it: Resource
// Manager in front of the fleet in front of Compute and GKE, one policy.
type stack struct {
	policy *fakeiam.Policy
	gcp    *fakegcp.Server
	hub    *fakehub.Server
	url    string
	ctx    context.Context
}

func newStack(t *testing.T, cfg fakeiam.Config) *stack {
	t.Helper()
	policy := newPolicy(t, cfg)
	knobs := fakegcp.DefaultKnobs()
	knobs.OperationDuration = fakegcp.Duration(20 * time.Millisecond)
	gcp := fakegcp.New(scenario.Default(), fakegcp.Options{Knobs: &knobs, IAM: policy})
	hub := fakehub.New(gcp, fakehub.Options{IAM: policy})
	t.Cleanup(hub.Close)
	rm := fakeiam.NewServer(policy, fakeiam.Project{ID: project, Number: number})
	hs := httptest.NewServer(rm.Wrap(fakehub.Compose(hub, gcp.Handler())))
	t.Cleanup(hs.Close)
	// A bound for a stuck client, far above what the tests take (gcloud
	// needs seconds per call on a loaded machine).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return &stack{policy: policy, gcp: gcp, hub: hub, url: hs.URL, ctx: ctx}
}

func (s *stack) options(principal string) []option.ClientOption {
	o := []option.ClientOption{option.WithEndpoint(s.url)}
	if principal == "" {
		return append(o, option.WithoutAuthentication())
	}
	return append(o, option.WithHTTPClient(&http.Client{Transport: fakeiam.AsPrincipal(principal, nil)}))
}

// healthChecks counts the health checks that exist.
func (s *stack) healthChecks() int {
	n := 0
	for _, r := range s.gcp.State().Resources {
		if r["kind"] == "compute#healthCheck" {
			n++
		}
	}
	return n
}

func healthCheck(name string) *computepb.InsertHealthCheckRequest {
	return &computepb.InsertHealthCheckRequest{Project: project, HealthCheckResource: &computepb.HealthCheck{
		Name: proto.String(name), Type: proto.String("TCP"), TcpHealthCheck: &computepb.TCPHealthCheck{Port: proto.Int32(15021)}}}
}

// TestDeniedInsertChangesNothing: a caller without
// compute.healthChecks.create gets Compute's 403 naming it, the request log
// shows the refused call and no mutation, nothing exists; granted back, the
// same insert succeeds.
func TestDeniedInsertChangesNothing(t *testing.T) {
	s := newStack(t, fakeiam.Config{Principals: map[string]fakeiam.Grant{
		fakeiam.DefaultPrincipal: {Permissions: fakeiam.Permissions{Deny: []string{"compute.healthChecks.create"}}}}})
	hc, err := compute.NewHealthChecksRESTClient(s.ctx, s.options("")...)
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()

	_, err = hc.Insert(s.ctx, healthCheck("gw-hc"))
	ge := wantGoogleError(t, err, 403, "forbidden")
	const msg = "Required 'compute.healthChecks.create' permission for 'projects/meshsim-project/global/healthChecks/gw-hc'"
	if ge.Message != msg {
		t.Errorf("message %q, want %q", ge.Message, msg)
	}
	log := s.gcp.Requests()
	last := log.Requests[len(log.Requests)-1]
	if log.Mutations != 0 || last.Method != "compute.healthChecks.insert" || last.Status != 403 || last.Mutation ||
		last.Denied != "compute.healthChecks.create" {
		t.Errorf("request log: %d mutations, last %+v", log.Mutations, last)
	}
	if n := s.healthChecks(); n != 0 {
		t.Errorf("a denied insert left %d health checks", n)
	}

	if err := s.policy.Grant(fakeiam.Change{Permissions: []string{"compute.healthChecks.create"}}); err != nil {
		t.Fatal(err)
	}
	op, err := hc.Insert(s.ctx, healthCheck("gw-hc"))
	if err != nil {
		t.Fatalf("granted back: %v", err)
	}
	ops, err := compute.NewGlobalOperationsRESTClient(s.ctx, s.options("")...)
	if err != nil {
		t.Fatal(err)
	}
	defer ops.Close()
	final, err := ops.Wait(s.ctx, &computepb.WaitGlobalOperationRequest{Project: project, Operation: op.Name()})
	if err != nil || final.GetError() != nil {
		t.Fatalf("wait: %v %v", err, final.GetError())
	}
	if got, err := hc.Get(s.ctx, &computepb.GetHealthCheckRequest{Project: project, HealthCheck: "gw-hc"}); err != nil || got.GetName() != "gw-hc" {
		t.Errorf("after the grant: %v %v", got, err)
	}
	if n := s.gcp.Requests().Mutations; n != 1 {
		t.Errorf("%d mutations, want 1", n)
	}
}

// TestReferencedResourcesAndSharedVPC: the use permissions on what a
// request links to are checked, in the linked resource's project.
func TestReferencedResourcesAndSharedVPC(t *testing.T) {
	s := newStack(t, fakeiam.Config{
		Projects: []fakeiam.Project{{ID: host, Number: "222222222222"}},
		Principals: map[string]fakeiam.Grant{fakeiam.DefaultPrincipal: {
			Permissions: fakeiam.Permissions{Deny: []string{"compute.healthChecks.useReadOnly"}},
			Projects:    map[string]fakeiam.Permissions{host: {Deny: []string{"compute.subnetworks.use"}}},
		}}})
	hc, _ := compute.NewHealthChecksRESTClient(s.ctx, s.options("")...)
	bs, _ := compute.NewBackendServicesRESTClient(s.ctx, s.options("")...)
	neg, _ := compute.NewNetworkEndpointGroupsRESTClient(s.ctx, s.options("")...)
	defer hc.Close()
	defer bs.Close()
	defer neg.Close()
	if _, err := hc.Insert(s.ctx, healthCheck("hc")); err != nil {
		t.Fatal(err)
	}
	_, err := bs.Insert(s.ctx, &computepb.InsertBackendServiceRequest{Project: project, BackendServiceResource: &computepb.BackendService{
		Name: proto.String("bs"), HealthChecks: []string{"https://www.googleapis.com/compute/v1/projects/" + project + "/global/healthChecks/hc"}}})
	ge := wantGoogleError(t, err, 403, "forbidden")
	if want := "Required 'compute.healthChecks.useReadOnly' permission for 'projects/meshsim-project/global/healthChecks/hc'"; ge.Message != want {
		t.Errorf("backend service: %q, want %q", ge.Message, want)
	}

	// A NEG on the host project's subnetwork: allowed in the service
	// project, denied in the host.
	_, err = neg.Insert(s.ctx, &computepb.InsertNetworkEndpointGroupRequest{Project: project, Zone: "us-central1-a",
		NetworkEndpointGroupResource: &computepb.NetworkEndpointGroup{Name: proto.String("neg"),
			Subnetwork: proto.String("projects/" + host + "/regions/us-central1/subnetworks/shared")}})
	ge = wantGoogleError(t, err, 403, "forbidden")
	if want := "Required 'compute.subnetworks.use' permission for 'projects/host-project/regions/us-central1/subnetworks/shared'"; ge.Message != want {
		t.Errorf("NEG: %q, want %q", ge.Message, want)
	}
	if err := s.policy.Grant(fakeiam.Change{Project: host, Permissions: []string{"compute.subnetworks.use"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := neg.Insert(s.ctx, &computepb.InsertNetworkEndpointGroupRequest{Project: project, Zone: "us-central1-a",
		NetworkEndpointGroupResource: &computepb.NetworkEndpointGroup{Name: proto.String("neg"),
			Subnetwork: proto.String("projects/" + host + "/regions/us-central1/subnetworks/shared")}}); err != nil {
		t.Errorf("NEG after the host granted: %v", err)
	}
}

// TestOtherAPIsDenyInTheirOwnWords covers GKE, the fleet and Service Usage.
func TestOtherAPIsDenyInTheirOwnWords(t *testing.T) {
	s := newStack(t, fakeiam.Config{Principals: map[string]fakeiam.Grant{fakeiam.DefaultPrincipal: {Permissions: fakeiam.Permissions{
		Deny: []string{"container.clusters.get", "gkehub.memberships.list", "serviceusage.services.enable"}}}}})

	gke, err := container.NewClusterManagerRESTClient(s.ctx, s.options("")...)
	if err != nil {
		t.Fatal(err)
	}
	defer gke.Close()
	_, err = gke.GetCluster(s.ctx, &containerpb.GetClusterRequest{Name: "projects/meshsim-project/locations/us-central1/clusters/meshsim"})
	ge := wantGoogleError(t, err, 403, "forbidden")
	if want := `Required "container.clusters.get" permission(s) for "projects/meshsim-project/locations/us-central1/clusters/meshsim".`; ge.Message != want {
		t.Errorf("GKE: %q, want %q", ge.Message, want)
	}

	hub, _ := gkehub.NewService(s.ctx, s.options("")...)
	_, err = hub.Projects.Locations.Memberships.List("projects/meshsim-project/locations/-").Do()
	ge = wantGoogleError(t, err, 403, "")
	if want := "Permission 'gkehub.memberships.list' denied on 'projects/meshsim-project/locations/-/memberships'"; ge.Message != want {
		t.Errorf("fleet: %q, want %q", ge.Message, want)
	}
	if !strings.Contains(ge.Body, `"IAM_PERMISSION_DENIED"`) || !strings.Contains(ge.Body, `"PERMISSION_DENIED"`) {
		t.Errorf("fleet body: %s", ge.Body)
	}
	if last := s.hub.Requests().Requests; len(last) != 1 || last[0].Status != 403 || last[0].Denied != "gkehub.memberships.list" {
		t.Errorf("fleet request log: %+v", last)
	}

	su, _ := serviceusage.NewService(s.ctx, s.options("")...)
	_, err = su.Services.Enable("projects/meshsim-project/services/mesh.googleapis.com", &serviceusage.EnableServiceRequest{}).Do()
	ge = wantGoogleError(t, err, 403, "")
	if want := "Permission denied to enable service [mesh.googleapis.com]"; ge.Message != want {
		t.Errorf("service usage: %q, want %q", ge.Message, want)
	}
	if s.hub.Knobs().MeshAPIEnabled {
		t.Error("a denied enable enabled the API")
	}
}

// TestPrincipals: a token names the caller; Google's GKE service agent
// (the Gateway controller's identity) is not the user and keeps its
// permissions; an unknown token is refused.
func TestPrincipals(t *testing.T) {
	const ci = "serviceAccount:ci@meshsim-project.iam.gserviceaccount.com"
	s := newStack(t, fakeiam.Config{Principals: map[string]fakeiam.Grant{
		fakeiam.DefaultPrincipal: {Permissions: fakeiam.Permissions{Deny: []string{"compute.healthChecks.create"}}},
		ci:                       {Permissions: fakeiam.Permissions{Allow: []string{"compute.healthChecks.list"}}},
	}})
	as := func(principal string) *compute.HealthChecksClient {
		c, err := compute.NewHealthChecksRESTClient(s.ctx, s.options(principal)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	if _, err := as(fakeiam.GKEServiceAgent(number)).Insert(s.ctx, healthCheck("gke-hc")); err != nil {
		t.Errorf("the GKE service agent: %v", err)
	}
	it := as(ci).List(s.ctx, &computepb.ListHealthChecksRequest{Project: project})
	if _, err := it.Next(); err != nil && !errors.Is(err, iterator.Done) {
		t.Errorf("ci lists: %v", err)
	}
	_, err := as(ci).Get(s.ctx, &computepb.GetHealthCheckRequest{Project: project, HealthCheck: "gke-hc"})
	_ = wantGoogleError(t, err, 403, "forbidden")
	_, err = as("user:typo@example.com").Get(s.ctx, &computepb.GetHealthCheckRequest{Project: project, HealthCheck: "gke-hc"})
	_ = wantGoogleError(t, err, 401, "authError")
}

func wantGoogleError(t *testing.T, err error, code int, reason string) *googleapi.Error {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("want a %d error, got %v", code, err)
	}
	if ge.Code != code || reason != "" && (len(ge.Errors) == 0 || ge.Errors[0].Reason != reason) {
		t.Fatalf("want %d %s, got %d %+v: %s", code, reason, ge.Code, ge.Errors, ge.Message)
	}
	return ge
}

// fakeiamConfig reads a Config from JSON, as meshsim's iam.json holds it.
func fakeiamConfig(text string) fakeiam.Config {
	var c fakeiam.Config
	if err := json.Unmarshal([]byte(text), &c); err != nil {
		panic(err)
	}
	return c
}
