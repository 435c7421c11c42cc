package fakegcp

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	container "cloud.google.com/go/container/apiv1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/meshctl/meshctl/sim/fakecertmanager"
	"github.com/meshctl/meshctl/sim/fakehub"
	"github.com/meshctl/meshctl/sim/scenario"
)

const project = "meshsim-project" // scenario.Default()'s

// testKnobs keeps operations short so tests run fast but still see RUNNING.
func testKnobs() Knobs {
	k := DefaultKnobs()
	k.OperationDuration = Duration(20 * time.Millisecond)
	k.ClusterOperationDuration = Duration(20 * time.Millisecond)
	k.CertProvisioningDelay = Duration(50 * time.Millisecond)
	k.OperationWaitCap = Duration(5 * time.Second)
	return k
}

// env is a running fake and the official clients pointed at it.
type env struct {
	t   *testing.T
	srv *Server
	cm  *fakecertmanager.Server
	url string
	// opts point more of the official clients at the fake.
	opts []option.ClientOption
	ctx  context.Context

	hc    *compute.HealthChecksClient
	bs    *compute.BackendServicesClient
	um    *compute.UrlMapsClient
	https *compute.TargetHttpsProxiesClient
	http  *compute.TargetHttpProxiesClient
	fr    *compute.GlobalForwardingRulesClient
	addr  *compute.GlobalAddressesClient
	cert  *compute.SslCertificatesClient
	sslp  *compute.SslPoliciesClient
	sp    *compute.SecurityPoliciesClient
	neg   *compute.NetworkEndpointGroupsClient
	fw    *compute.FirewallsClient
	nets  *compute.NetworksClient
	mt    *compute.MachineTypesClient
	zones *compute.ZonesClient
	inst  *compute.InstancesClient
	proj  *compute.ProjectsClient
	gops  *compute.GlobalOperationsClient
	zops  *compute.ZoneOperationsClient
	rops  *compute.RegionOperationsClient
	gke   *container.ClusterManagerClient
}

func newEnv(t *testing.T, tune ...func(*Knobs)) *env {
	return newEnvWith(t, scenario.Default(), Options{}, tune...)
}

func newEnvWith(t *testing.T, sc scenario.Scenario, opts Options, tune ...func(*Knobs)) *env {
	t.Helper()
	k := testKnobs()
	for _, f := range tune {
		f(&k)
	}
	opts.Knobs = &k
	srv := New(sc, opts)
	cmKnobs := fakecertmanager.DefaultKnobs()
	cmKnobs.OperationDuration, cmKnobs.ProvisioningDelay = Duration(10*time.Millisecond), k.CertProvisioningDelay
	handler, cm := meshsimHandler(t, srv, cmKnobs)
	hs := httptest.NewServer(handler)
	t.Cleanup(hs.Close)
	// A bound for a stuck client, not a budget: the gcloud test takes
	// nearly two minutes on a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	t.Cleanup(cancel)
	e := &env{t: t, srv: srv, cm: cm, url: hs.URL, ctx: ctx}
	o := []option.ClientOption{option.WithEndpoint(hs.URL), option.WithoutAuthentication()}
	e.hc = client(t, ctx, compute.NewHealthChecksRESTClient, o)
	e.bs = client(t, ctx, compute.NewBackendServicesRESTClient, o)
	e.um = client(t, ctx, compute.NewUrlMapsRESTClient, o)
	e.https = client(t, ctx, compute.NewTargetHttpsProxiesRESTClient, o)
	e.http = client(t, ctx, compute.NewTargetHttpProxiesRESTClient, o)
	e.fr = client(t, ctx, compute.NewGlobalForwardingRulesRESTClient, o)
	e.addr = client(t, ctx, compute.NewGlobalAddressesRESTClient, o)
	e.cert = client(t, ctx, compute.NewSslCertificatesRESTClient, o)
	e.sslp = client(t, ctx, compute.NewSslPoliciesRESTClient, o)
	e.sp = client(t, ctx, compute.NewSecurityPoliciesRESTClient, o)
	e.neg = client(t, ctx, compute.NewNetworkEndpointGroupsRESTClient, o)
	e.fw = client(t, ctx, compute.NewFirewallsRESTClient, o)
	e.nets = client(t, ctx, compute.NewNetworksRESTClient, o)
	e.mt = client(t, ctx, compute.NewMachineTypesRESTClient, o)
	e.zones = client(t, ctx, compute.NewZonesRESTClient, o)
	e.inst = client(t, ctx, compute.NewInstancesRESTClient, o)
	e.proj = client(t, ctx, compute.NewProjectsRESTClient, o)
	e.gops = client(t, ctx, compute.NewGlobalOperationsRESTClient, o)
	e.zops = client(t, ctx, compute.NewZoneOperationsRESTClient, o)
	e.rops = client(t, ctx, compute.NewRegionOperationsRESTClient, o)
	e.opts = o
	e.gke = client(t, ctx, container.NewClusterManagerRESTClient, o)
	return e
}

// meshsimHandler serves a fake as meshsim does: with the fleet and Service
// Usage (fakehub) and Certificate Manager on the same port.
func meshsimHandler(t *testing.T, srv *Server, cmKnobs fakecertmanager.Knobs) (http.Handler, *fakecertmanager.Server) {
	hub := fakehub.New(srv, fakehub.Options{})
	t.Cleanup(hub.Close)
	cm := fakecertmanager.New(srv.project, srv.projectNumber, fakecertmanager.Options{Knobs: &cmKnobs, Compute: srv})
	srv.SetCertificateMaps(cm)
	mux := http.NewServeMux()
	mux.Handle("/", fakehub.Compose(hub, srv.Handler()))
	mux.Handle(fakecertmanager.Prefix, cm.Handler())
	return mux, cm
}

func client[T interface{ Close() error }](t *testing.T, ctx context.Context, mk func(context.Context, ...option.ClientOption) (T, error), o []option.ClientOption) T {
	t.Helper()
	c, err := mk(ctx, o...)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// done waits for an operation with operations.wait (server side, so tests
// do not sit in the client's one-second polling backoff) and fails the test
// unless it ended without error. Use as e.done(t)(client.Insert(...)).
func (e *env) done(t *testing.T) func(*compute.Operation, error) *computepb.Operation {
	return func(op *compute.Operation, err error) *computepb.Operation {
		t.Helper()
		final := e.finish(t)(op, err)
		if final.GetError() != nil {
			t.Fatalf("operation %s failed: %v", final.GetName(), final.GetError())
		}
		return final
	}
}

// finish waits for an operation to be DONE, failed or not.
func (e *env) finish(t *testing.T) func(*compute.Operation, error) *computepb.Operation {
	return func(op *compute.Operation, err error) *computepb.Operation {
		t.Helper()
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		var final *computepb.Operation
		if zone := op.Proto().GetZone(); zone != "" {
			final, err = e.zops.Wait(e.ctx, &computepb.WaitZoneOperationRequest{Project: project, Zone: lastSegment(zone), Operation: op.Name()})
		} else if region := op.Proto().GetRegion(); region != "" {
			final, err = e.rops.Wait(e.ctx, &computepb.WaitRegionOperationRequest{Project: project, Region: lastSegment(region), Operation: op.Name()})
		} else {
			final, err = e.gops.Wait(e.ctx, &computepb.WaitGlobalOperationRequest{Project: project, Operation: op.Name()})
		}
		if err != nil {
			t.Fatalf("wait %s: %v", op.Name(), err)
		}
		if final.GetStatus() != computepb.Operation_DONE {
			t.Fatalf("operation %s is %v after wait", op.Name(), final.GetStatus())
		}
		return final
	}
}

// wantAPIError fails the test unless err is Google's error with code and reason.
func wantAPIError(t *testing.T, err error, code int, reason string) {
	t.Helper()
	_ = apiError(t, err, code, reason)
}

// apiError is wantAPIError for a test that looks further into the error.
func apiError(t *testing.T, err error, code int, reason string) *googleapi.Error {
	t.Helper()
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		t.Fatalf("want a %d %s error, got %v", code, reason, err)
	}
	if gerr.Code != code || len(gerr.Errors) == 0 || gerr.Errors[0].Reason != reason {
		t.Fatalf("want a %d %s error, got %d %+v", code, reason, gerr.Code, gerr.Errors)
	}
	return gerr
}

func globalLink(collection, name string) string {
	return computeBase + "projects/" + project + "/global/" + collection + "/" + name
}

func zonalLink(zone, collection, name string) string {
	return computeBase + "projects/" + project + "/zones/" + zone + "/" + collection + "/" + name
}

// projectInfrastructure are the kinds a new project (and its cluster)
// already has: networks with their subnetworks and routes, and GKE's
// firewall rules. Tests that tear everything down leave only these.
var projectInfrastructure = map[string]bool{
	"compute#network": true, "compute#subnetwork": true, "compute#route": true, "compute#firewall": true,
}
