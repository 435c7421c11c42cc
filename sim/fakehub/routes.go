package fakehub

import (
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/meshctl/meshctl/sim/fakeapi"
)

// Route is one method the fake serves.
type Route = fakeapi.Route

// Routes lists every fleet and Service Usage method the server answers,
// found by asking its router about every path shape it could take, so
// meshsim's permission mapping can be tested against what is served. No
// handler runs.
func (s *Server) Routes() []Route {
	p := "projects/" + s.project + "/locations/global"
	paths := []string{
		"/v1/operations/x", "/v1/projects/" + s.project + "/services", "/v1/projects/" + s.project + "/services/x",
		"/v1/projects/" + s.project + "/services/x:enable", "/v1/projects/" + s.project + "/services/x:disable",
		"/v1/projects/" + s.project + "/locations/-/memberships",
	}
	for _, v := range []string{"v1", "v2"} {
		for _, c := range []string{"memberships", "features", "operations", "memberships/m/features"} {
			paths = append(paths, "/"+v+"/"+p+"/"+c, "/"+v+"/"+p+"/"+c+"/x")
		}
	}
	var out []Route
	for _, path := range paths {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodPut} {
			r := httptest.NewRequest(m, path, strings.NewReader("{}"))
			if method, h, _ := s.resolve(m, strings.Split(strings.Trim(path, "/"), "/"), r); h != nil {
				out = append(out, Route{HTTPMethod: m, Path: path, Method: method})
			}
		}
	}
	return out
}
