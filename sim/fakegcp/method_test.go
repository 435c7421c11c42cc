package fakegcp

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meshctl/meshctl/sim/scenario"
)

// A permission layer in front of the fake learns each request's method
// from MethodOf, without the request being served.
func TestMethodOfNamesGooglesMethods(t *testing.T) {
	srv := New(scenario.Default(), Options{})
	p := "/compute/v1/projects/" + project
	for _, c := range []struct{ method, path, want string }{
		{"POST", p + "/regions/us-central1/backendServices", "compute.regionBackendServices.insert"},
		{"POST", p + "/global/backendServices", "compute.backendServices.insert"},
		{"PATCH", p + "/regions/us-central1/forwardingRules/fr", "compute.forwardingRules.patch"},
		{"DELETE", p + "/global/forwardingRules/fr", "compute.globalForwardingRules.delete"},
		{"POST", p + "/targetHttpProxies/x/setUrlMap", "compute.targetHttpProxies.setUrlMap"},
		{"POST", p + "/regions/us-central1/operations/op/wait", "compute.regionOperations.wait"},
		{"GET", p + "/zones/us-central1-a/instances", "compute.instances.list"},
		{"GET", "/v1/projects/" + project + "/locations/us-central1/clusters/meshsim", "container.projects.locations.clusters.get"},
		{"POST", "/storage/v1/b", "storage.buckets.insert"},
		{"POST", p + "/global/targetHttpProxies/x/setUrlMap", "unknown"},
	} {
		r := httptest.NewRequest(c.method, c.path, strings.NewReader(`{"name":"x"}`))
		if got := srv.MethodOf(r); got != c.want {
			t.Errorf("%s %s: %s, want %s", c.method, c.path, got, c.want)
		}
	}
	if n := srv.Requests().Total; n != 0 {
		t.Errorf("MethodOf served %d requests", n)
	}
}
