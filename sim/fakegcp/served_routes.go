package fakegcp

import (
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"

	"github.com/meshctl/meshctl/sim/fakeapi"
)

// Route is one method the fake serves.
type Route = fakeapi.Route

// Routes lists every Compute and GKE method the server answers, found by
// asking its own routers about every path shape a collection can take, so
// the list follows the routers as they grow (meshsim's permission mapping
// is tested against it). Only routing is exercised: no handler runs.
func (s *Server) Routes() []Route {
	var out []Route
	probe := func(method, path string, resolve router) {
		var body *strings.Reader
		if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
			body = strings.NewReader(`{"name":"x"}`)
		} else {
			body = strings.NewReader("")
		}
		r := httptest.NewRequest(method, path, body)
		if rt, _, err := resolve(r); err == nil {
			out = append(out, Route{HTTPMethod: method, Path: path, Method: rt.method})
		}
	}
	for _, path := range s.computePathShapes() {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			probe(m, path, s.routeCompute)
		}
	}
	for _, path := range s.gkePathShapes() {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
			probe(m, path, s.routeGKE)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Path+" "+out[i].HTTPMethod < out[j].Path+" "+out[j].HTTPMethod
	})
	return out
}

// computePathShapes are the paths worth asking about: every collection the
// fake stores or computes, in every scope, bare, named and with each verb.
func (s *Server) computePathShapes() []string {
	base := "/compute/v1/projects/" + s.project
	zone := "zones/" + s.zones()[0]
	region := "regions/" + s.sc.Region
	collections := map[string][]string{"operations": {"wait"}, "machineTypes": nil, "instances": nil}
	for _, byName := range kinds {
		for name, k := range byName {
			for v := range k.verbs {
				collections[name] = append(collections[name], v)
			}
			if _, ok := collections[name]; !ok {
				collections[name] = nil
			}
		}
	}
	paths := []string{base, base + "/zones", base + "/" + zone, base + "/regions", base + "/" + region}
	for name, verbs := range collections {
		paths = append(paths, base+"/aggregated/"+name)
		for _, scope := range []string{"global", region, zone, ""} {
			prefix := base + "/" + scope + "/" + name
			if scope == "" {
				prefix = base + "/" + name
			}
			paths = append(paths, prefix, prefix+"/x")
			for _, v := range verbs {
				paths = append(paths, prefix+"/x/"+v)
			}
		}
	}
	return paths
}

func (s *Server) gkePathShapes() []string {
	var paths []string
	for _, form := range []string{"locations", "zones"} {
		base := "/v1/projects/" + s.project + "/" + form + "/" + s.sc.Location
		paths = append(paths, base+"/clusters", base+"/clusters/x", base+"/clusters/x/nodePools",
			base+"/clusters/x/nodePools/y", base+"/operations", base+"/operations/x")
	}
	return paths
}
