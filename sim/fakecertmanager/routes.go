package fakecertmanager

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/meshctl/meshctl/sim/fakeapi"
)

// call is one decoded request.
type call struct {
	r        *http.Request
	query    url.Values
	body     map[string]any
	location string // projects/P/locations/L, where operations live
	parent   string // the location, or .../certificateMaps/M for map entries
	name     string // the object's (or operation's) relative name
	intEnums bool   // $alt=json;enum-encoding=int: enums as numbers
	view     computeView
}

// computeView is what Compute said when the request came in.
type computeView struct {
	users  map[string][]string
	served map[string]time.Time
}

// route is what a path resolves to: Google's method id and its handler.
type route struct {
	method   string
	mutation bool
	handle   func(c *call) (any, *fakeapi.Error)
}

// route resolves /certificatemanager/v1/projects/P/locations/L/...:
// certificates, dnsAuthorizations, certificateMaps (with
// certificateMapEntries) and operations.
func (s *Server) route(r *http.Request) (*call, *route, *fakeapi.Error) {
	segs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, Prefix), "/"), "/")
	if len(segs) < 6 || segs[0] != "v1" || segs[1] != "projects" || segs[3] != "locations" {
		return nil, nil, errNoSuchURL(r)
	}
	if !s.projectMatches(segs[2]) {
		return nil, nil, &fakeapi.Error{Code: http.StatusForbidden, Status: "PERMISSION_DENIED",
			Message: "Permission denied on resource project " + segs[2] + "."}
	}
	location := "projects/" + s.project + "/locations/" + segs[4]
	rest := segs[5:]
	c := &call{r: r, query: r.URL.Query(), location: location, parent: location}
	c.intEnums = strings.Contains(c.query.Get("$alt"), "enum-encoding=int")
	var rt *route
	switch {
	case rest[0] == "operations":
		rt = s.operationRoute(r, c, rest)
	case len(rest) >= 3 && rest[0] == "certificateMaps" && rest[2] == "certificateMapEntries":
		c.parent = location + "/certificateMaps/" + rest[1]
		rt = s.objectRoute(r, c, kinds["certificateMapEntries"], rest[2:])
	case kinds[rest[0]] != nil:
		rt = s.objectRoute(r, c, kinds[rest[0]], rest)
	}
	if rt == nil {
		return nil, nil, errNoSuchURL(r)
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPatch {
		body, err := decodeBody(r.Body)
		if err != nil {
			return c, rt, errInvalid("Invalid JSON payload received. " + err.Error())
		}
		c.body = body
	}
	return c, rt, nil
}

// MethodOf names Google's method for a request
// (certificatemanager.projects.locations.certificates.create), as the
// request log records it, without serving the request or reading its
// body; "unknown" when no method serves the path.
func (s *Server) MethodOf(r *http.Request) string {
	probe := r.Clone(r.Context())
	probe.Body, probe.ContentLength = http.NoBody, 0
	if _, rt, _ := s.route(probe); rt != nil {
		return rt.method
	}
	return "unknown"
}

// objectRoute: segs is [collection] or [collection, id].
func (s *Server) objectRoute(r *http.Request, c *call, k *kind, segs []string) *route {
	prefix := "certificatemanager.projects.locations." + k.methodPath + "."
	if len(segs) == 2 {
		c.name = c.parent + "/" + k.collection + "/" + segs[1]
	}
	switch {
	case len(segs) == 1 && r.Method == http.MethodGet:
		return &route{method: prefix + "list", handle: func(c *call) (any, *fakeapi.Error) { return s.list(c, k) }}
	case len(segs) == 1 && r.Method == http.MethodPost:
		return &route{method: prefix + "create", mutation: true, handle: func(c *call) (any, *fakeapi.Error) { return s.create(c, k) }}
	case len(segs) == 2 && r.Method == http.MethodGet:
		return &route{method: prefix + "get", handle: func(c *call) (any, *fakeapi.Error) { return s.get(c, k) }}
	case len(segs) == 2 && r.Method == http.MethodPatch:
		return &route{method: prefix + "patch", mutation: true, handle: func(c *call) (any, *fakeapi.Error) { return s.patch(c, k) }}
	case len(segs) == 2 && r.Method == http.MethodDelete:
		return &route{method: prefix + "delete", mutation: true, handle: func(c *call) (any, *fakeapi.Error) { return s.delete(c, k) }}
	}
	return nil
}

func (s *Server) operationRoute(r *http.Request, c *call, segs []string) *route {
	const prefix = "certificatemanager.projects.locations.operations."
	switch {
	case len(segs) == 1 && r.Method == http.MethodGet:
		return &route{method: prefix + "list", handle: s.listOperations}
	case len(segs) == 2 && r.Method == http.MethodGet:
		c.name = c.parent + "/operations/" + segs[1]
		return &route{method: prefix + "get", handle: s.getOperation}
	}
	return nil
}

// viewCompute asks Compute, outside this fake's lock, what it knows of
// certificate maps.
func (s *Server) viewCompute() computeView {
	if s.compute == nil {
		return computeView{}
	}
	return computeView{users: s.compute.CertificateMapUsers(), served: s.compute.ServedCertificateMaps()}
}

func decodeBody(r io.Reader) (map[string]any, error) {
	data, err := io.ReadAll(r)
	if err != nil || len(strings.TrimSpace(string(data))) == 0 {
		return map[string]any{}, err
	}
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		return nil, err
	}
	if body == nil {
		body = map[string]any{}
	}
	return body, nil
}
