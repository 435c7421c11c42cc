package fakegcp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// TestGcloudAgainstTheFake drives the real gcloud CLI through the load
// balancer's life: create, describe, a refused out-of-order delete, the
// teardown, and a GKE describe. gcloud takes most of a second per call, so
// this test does only that.
func TestGcloudAgainstTheFake(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := newGcloud(t, e)
	must := g.must

	must("compute", "health-checks", "create", "http", "gw-hc", "--global", "--port", "15021", "--request-path", "/healthz/ready")
	must("compute", "backend-services", "create", "gw-bs", "--global", "--load-balancing-scheme", "EXTERNAL_MANAGED",
		"--protocol", "HTTP2", "--health-checks", "gw-hc")
	must("compute", "url-maps", "create", "web-map", "--default-service", "gw-bs", "--global")
	must("compute", "ssl-certificates", "create", "web-cert", "--domains", "www.example.com", "--global")
	must("compute", "target-https-proxies", "create", "web-https", "--url-map", "web-map", "--ssl-certificates", "web-cert", "--global")
	must("compute", "forwarding-rules", "create", "web-443", "--global", "--load-balancing-scheme", "EXTERNAL_MANAGED",
		"--target-https-proxy", "web-https", "--ports", "443")

	describe := func(group, name string, fields map[string]any) {
		t.Helper()
		g.describe([]string{"compute", group, "describe", name, "--global"}, fields)
	}
	describe("health-checks", "gw-hc", map[string]any{"type": "HTTP", "httpHealthCheck.requestPath": "/healthz/ready"})
	describe("backend-services", "gw-bs", map[string]any{"protocol": "HTTP2", "loadBalancingScheme": "EXTERNAL_MANAGED"})
	describe("url-maps", "web-map", map[string]any{"defaultService": globalLink("backendServices", "gw-bs")})
	// The forwarding rule made the certificate serve; the (test) provisioning
	// delay is far shorter than a gcloud call.
	describe("ssl-certificates", "web-cert", map[string]any{"type": "MANAGED", "managed.status": "ACTIVE"})
	describe("target-https-proxies", "web-https", map[string]any{"urlMap": globalLink("urlMaps", "web-map")})
	describe("forwarding-rules", "web-443", map[string]any{"portRange": "443-443", "target": globalLink("targetHttpsProxies", "web-https")})

	g.refused([]string{"compute", "health-checks", "delete", "gw-hc", "--global", "--log-http"}, "resourceInUseByAnotherResource", "is already being used by")

	// A target HTTP proxy on the same URL map, moved to a second one.
	must("compute", "url-maps", "create", "web-map-2", "--default-service", "gw-bs", "--global")
	must("compute", "target-http-proxies", "create", "web-http", "--url-map", "web-map", "--global")
	describe("target-http-proxies", "web-http", map[string]any{"urlMap": globalLink("urlMaps", "web-map")})
	must("compute", "target-http-proxies", "update", "web-http", "--url-map", "web-map-2", "--global")
	e.wantFields(globalLink("targetHttpProxies", "web-http"), map[string]any{"urlMap": globalLink("urlMaps", "web-map-2")})
	g.refused([]string{"compute", "url-maps", "delete", "web-map-2", "--global"}, "is already being used by 'projects/"+project+"/global/targetHttpProxies/web-http'")
	must("compute", "target-http-proxies", "delete", "web-http", "--global")
	must("compute", "url-maps", "delete", "web-map-2", "--global")

	for _, del := range [][]string{
		{"forwarding-rules", "web-443"}, {"target-https-proxies", "web-https"}, {"ssl-certificates", "web-cert"},
		{"url-maps", "web-map"}, {"backend-services", "gw-bs"}, {"health-checks", "gw-hc"},
	} {
		must("compute", del[0], "delete", del[1], "--global")
	}
	e.leftBehind(t)
	// gcloud waits on every operation still RUNNING: all inserts, deletes
	// and updates but the URL maps' four, which are born DONE. That gcloud gets through
	// those two at all is what the replay test's bornDoneOperation rests on:
	// it reads their operationType and targetLink.
	if waits := e.srv.Requests().ByMethod["compute.globalOperations.wait"]; waits != 13 {
		t.Errorf("gcloud waited on %d operations, want 13", waits)
	}

	cluster := g.describe([]string{"container", "clusters", "describe", "meshsim", "--region", "us-central1"}, nil)
	if cluster["name"] != "meshsim" || cluster["status"] != "RUNNING" || cluster["currentMasterVersion"] != e.srv.Scenario().MasterVersion {
		t.Errorf("cluster: name %v status %v version %v", cluster["name"], cluster["status"], cluster["currentMasterVersion"])
	}
}

// TestGcloudNeedsTheBornDoneOperationsFields backs the replay test's
// bornDoneOperation: the recordings answer a URL map's insert with an
// operation already DONE that carries neither operationType nor
// targetLink. The real gcloud, given that recorded answer (a proxy in front
// of the fake takes the two fields out and sets progress 0), crashes though
// the URL map was made (googlecloudsdk api_lib/compute/waiters.py:
// _IsDeleteOp(operation.operationType) calls endswith on None); given the
// simulator's own answer, it succeeds.
func TestGcloudNeedsTheBornDoneOperationsFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.done(t)(e.hc.Insert(e.ctx, &computepb.InsertHealthCheckRequest{Project: project,
		HealthCheckResource: &computepb.HealthCheck{Name: proto.String("hc"), Type: proto.String("HTTP")}}))
	e.done(t)(e.bs.Insert(e.ctx, &computepb.InsertBackendServiceRequest{Project: project,
		BackendServiceResource: &computepb.BackendService{Name: proto.String("bs"), Protocol: proto.String("HTTP"),
			LoadBalancingScheme: proto.String("EXTERNAL_MANAGED"), HealthChecks: []string{globalLink("healthChecks", "hc")}}}))

	target, _ := url.Parse(e.url)
	proxy := httputil.NewSingleHostReverseProxy(target)
	insert := "/compute/v1/projects/" + project + "/global/urlMaps"
	proxy.ModifyResponse = func(r *http.Response) error {
		if r.Request.Method != http.MethodPost || r.Request.URL.Path != insert {
			return nil
		}
		var op map[string]any
		if err := json.NewDecoder(r.Body).Decode(&op); err != nil {
			return err
		}
		r.Body.Close()
		if op["status"] != "DONE" {
			return fmt.Errorf("the URL map's insert answered %v, want an operation born DONE", op)
		}
		delete(op, "operationType")
		delete(op, "targetLink")
		op["progress"] = 0
		b, _ := json.Marshal(op)
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		r.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	recorded := httptest.NewServer(proxy)
	t.Cleanup(recorded.Close)
	asRecorded := *e
	asRecorded.url = recorded.URL

	newGcloud(t, &asRecorded).refused([]string{"compute", "url-maps", "create", "recorded-map", "--default-service", "bs", "--global"},
		"gcloud crashed (AttributeError): 'NoneType' object has no attribute 'endswith'")
	if _, ok := e.srv.Resource(globalLink("urlMaps", "recorded-map")); !ok {
		t.Error("the URL map was not made: gcloud failed before the insert, not on its operation")
	}
	newGcloud(t, e).must("compute", "url-maps", "create", "simulated-map", "--default-service", "bs", "--global")
}
