package fakegcp

import (
	"net/http"
	"strings"
)

// kindsByCollection holds every stored Compute collection by its URL name.
// It is filled in init, not by an initializer, because kinds refer to each
// other through it (a URL map checks backend services, and so on).
var kindsByCollection map[string]*kind

func init() {
	kindsByCollection = map[string]*kind{}
	for _, k := range []*kind{
		healthCheckKind(), backendServiceKind(), backendBucketKind(), urlMapKind(),
		targetHTTPSProxyKind(), targetHTTPProxyKind(), forwardingRuleKind(), addressKind(),
		sslCertificateKind(), sslPolicyKind(), securityPolicyKind(), negKind(),
		firewallKind(), networkKind(),
	} {
		kindsByCollection[k.collection] = k
	}
}

func kindOf(collection string) *kind { return kindsByCollection[collection] }

func errNoSuchURL(r *http.Request) *APIError {
	return &APIError{Code: http.StatusNotFound, Reason: "notFound",
		Message: "The requested URL " + r.URL.Path + " was not found on this server."}
}

// routeCompute maps a /compute/v1/projects/{project}/... request to Google's
// method id and its handler.
func (s *Server) routeCompute(r *http.Request) (route, *apiCall, *APIError) {
	segs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/compute/v1/"), "/"), "/")
	if len(segs) < 2 || segs[0] != "projects" {
		return route{}, nil, errNoSuchURL(r)
	}
	project, segs := segs[1], segs[2:]
	if !s.projectMatches(project) {
		return route{}, nil, errNotFound("projects/" + project)
	}
	switch {
	case len(segs) == 0:
		return s.readRoute(r, "compute.projects.get", "global", "", s.getProject)
	case segs[0] == "global" && len(segs) >= 2 && segs[1] == "operations":
		return s.operationRoute(r, "globalOperations", "global", segs[2:])
	case segs[0] == "zones" && len(segs) == 1:
		return s.readRoute(r, "compute.zones.list", "", "", s.listZones)
	case segs[0] == "zones":
		zone := segs[1]
		if !s.knownZone(zone) {
			return route{method: "compute.zones.get"}, nil, errNotFound("projects/" + s.project + "/zones/" + zone)
		}
		scope := "zones/" + zone
		switch {
		case len(segs) == 2:
			return s.readRoute(r, "compute.zones.get", scope, zone, s.getZone)
		case segs[2] == "operations":
			return s.operationRoute(r, "zoneOperations", scope, segs[3:])
		case segs[2] == "machineTypes":
			return s.computedRoute(r, "machineTypes", scope, segs[3:], s.getMachineType, s.listMachineTypes)
		case segs[2] == "instances":
			return s.computedRoute(r, "instances", scope, segs[3:], s.getInstance, s.listInstances)
		}
		return s.collectionRoute(r, scope, segs[2:])
	case segs[0] == "global":
		return s.collectionRoute(r, "global", segs[1:])
	case segs[0] == "aggregated" && len(segs) == 2:
		return s.aggregatedRoute(r, segs[1])
	case len(segs) == 3:
		// Older methods live outside "global": projects/p/targetHttpsProxies/x/setUrlMap.
		return s.collectionRoute(r, "global", segs)
	}
	return route{}, nil, errNoSuchURL(r)
}

// readRoute is a GET answered by a handler that needs no stored kind.
func (s *Server) readRoute(r *http.Request, method, scope, name string, h func(*apiCall) (any, *APIError)) (route, *apiCall, *APIError) {
	rt := route{method: method, handle: h}
	if r.Method != http.MethodGet {
		return rt, nil, errNoSuchURL(r)
	}
	c, err := newCall(r, method, s.project, scope, name)
	return rt, c, err
}

func (s *Server) operationRoute(r *http.Request, resource, scope string, segs []string) (route, *apiCall, *APIError) {
	prefix := "compute." + resource + "."
	switch {
	case len(segs) == 0 && r.Method == http.MethodGet:
		return s.readRoute(r, prefix+"list", scope, "", s.listOperations)
	case len(segs) == 1 && r.Method == http.MethodGet:
		return s.readRoute(r, prefix+"get", scope, segs[0], s.getOperation)
	case len(segs) == 2 && segs[1] == "wait" && r.Method == http.MethodPost:
		rt := route{method: prefix + "wait", handle: s.waitOperation, unlocked: true}
		c, err := newCall(r, rt.method, s.project, scope, segs[0])
		return rt, c, err
	}
	return route{method: prefix + "get"}, nil, errNoSuchURL(r)
}

// computedRoute serves collections derived from the scenario (machine
// types, instances): get and list only.
func (s *Server) computedRoute(r *http.Request, resource, scope string, segs []string, get, lst func(*apiCall) (any, *APIError)) (route, *apiCall, *APIError) {
	switch len(segs) {
	case 0:
		return s.readRoute(r, "compute."+resource+".list", scope, "", lst)
	case 1:
		return s.readRoute(r, "compute."+resource+".get", scope, segs[0], get)
	}
	return route{method: "compute." + resource + ".get"}, nil, errNoSuchURL(r)
}

// collectionRoute serves a stored collection: segs is [collection],
// [collection, name] or [collection, name, verb].
func (s *Server) collectionRoute(r *http.Request, scope string, segs []string) (route, *apiCall, *APIError) {
	k := kindOf(segs[0])
	if k == nil || k.zonal != strings.HasPrefix(scope, "zones/") {
		return route{}, nil, errNoSuchURL(r)
	}
	name := ""
	if len(segs) > 1 {
		name = segs[1]
	}
	var rt route
	switch {
	case len(segs) == 1 && r.Method == http.MethodGet:
		rt = route{method: "list", handle: func(c *apiCall) (any, *APIError) { return s.listResources(c, k) }}
	case len(segs) == 1 && r.Method == http.MethodPost:
		rt = route{method: "insert", mutation: true, handle: func(c *apiCall) (any, *APIError) { return s.insertResource(c, k) }}
	case len(segs) == 2 && r.Method == http.MethodGet:
		rt = route{method: "get", handle: func(c *apiCall) (any, *APIError) { return s.getResource(c, k) }}
	case len(segs) == 2 && r.Method == http.MethodDelete:
		rt = route{method: "delete", mutation: true, handle: func(c *apiCall) (any, *APIError) { return s.deleteResource(c, k) }}
	case len(segs) == 2 && r.Method == http.MethodPut && k.update:
		rt = route{method: "update", mutation: true, handle: func(c *apiCall) (any, *APIError) { return s.writeResource(c, k, false) }}
	case len(segs) == 2 && r.Method == http.MethodPatch && k.patch:
		rt = route{method: "patch", mutation: true, handle: func(c *apiCall) (any, *APIError) { return s.writeResource(c, k, true) }}
	case len(segs) == 3:
		v, ok := k.verbs[segs[2]]
		if !ok || v.get != (r.Method == http.MethodGet) || (!v.get && r.Method != http.MethodPost) {
			return route{}, nil, errNoSuchURL(r)
		}
		rt = route{method: segs[2], mutation: v.read == nil, handle: func(c *apiCall) (any, *APIError) { return s.runVerb(c, k, v) }}
	default:
		return route{}, nil, errNoSuchURL(r)
	}
	rt.method = "compute." + k.method + "." + rt.method
	if rt.mutation {
		handle := rt.handle
		rt.handle = func(c *apiCall) (any, *APIError) {
			if c.requestID != "" {
				if err := validRequestID(c.requestID); err != nil {
					return nil, err
				}
			}
			return handle(c)
		}
	}
	c, err := newCall(r, rt.method, s.project, scope, name)
	return rt, c, err
}

func (s *Server) getResource(c *apiCall, k *kind) (any, *APIError) {
	r, err := s.visible(s.refFor(c, k))
	if err != nil {
		return nil, err
	}
	return s.render(r), nil
}

func (s *Server) listResources(c *apiCall, k *kind) (any, *APIError) {
	var items []map[string]any
	for _, r := range s.inScope(k, c.scope) {
		items = append(items, s.render(r))
	}
	return s.listResponse(c, k.apiKind+"List", "projects/"+s.project+"/"+c.scope+"/"+k.collection, items, true)
}

// aggregatedRoute answers aggregatedList, which gcloud uses to list zonal
// collections and operations: items grouped by scope, with Google's warning
// for a scope that has none.
func (s *Server) aggregatedRoute(r *http.Request, collection string) (route, *apiCall, *APIError) {
	if r.Method != http.MethodGet {
		return route{}, nil, errNoSuchURL(r)
	}
	apiKind, method, zonal := "", "", true
	var items func(scope string) []map[string]any
	switch collection {
	case "instances":
		apiKind, method = "compute#instance", "instances"
		items = func(scope string) []map[string]any {
			var out []map[string]any
			for _, n := range s.nodes() {
				if "zones/"+n.zone == scope {
					out = append(out, s.renderInstance(n))
				}
			}
			return out
		}
	case "machineTypes":
		apiKind, method = "compute#machineType", "machineTypes"
		items = func(scope string) []map[string]any {
			var out []map[string]any
			for _, name := range sortedKeys(predefinedMachineTypes) {
				out = append(out, s.renderMachineType(scope, predefinedMachineTypes[name]))
			}
			return out
		}
	case "operations":
		apiKind, method, zonal = "compute#operation", "globalOperations", false
		items = func(scope string) []map[string]any {
			var out []map[string]any
			for _, op := range s.sortedOperations() {
				if op.scope == scope {
					out = append(out, s.renderOp(op))
				}
			}
			return out
		}
	default:
		k := kindOf(collection)
		if k == nil {
			return route{}, nil, errNoSuchURL(r)
		}
		apiKind, method, zonal = k.apiKind, k.method, k.zonal
		items = func(scope string) []map[string]any {
			var out []map[string]any
			for _, res := range s.inScope(k, scope) {
				out = append(out, s.render(res))
			}
			return out
		}
	}
	rt := route{method: "compute." + method + ".aggregatedList", handle: func(c *apiCall) (any, *APIError) {
		var scopes []string
		if !zonal {
			scopes = append(scopes, "global")
		}
		for _, z := range s.zones() {
			scopes = append(scopes, "zones/"+z)
		}
		f, ferr := parseFilter(c.query.Get("filter"))
		if ferr != nil {
			return nil, errInvalidField("filter", c.query.Get("filter"), "Invalid list filter expression: "+ferr.Error())
		}
		grouped := map[string]any{}
		for _, scope := range scopes {
			var found []any
			for _, it := range items(scope) {
				if f == nil || f.match(it) {
					found = append(found, it)
				}
			}
			if len(found) > 0 {
				grouped[scope] = map[string]any{collection: found}
				continue
			}
			grouped[scope] = map[string]any{"warning": map[string]any{
				"code":    "NO_RESULTS_ON_PAGE",
				"message": "There are no results for scope '" + scope + "' on this page.",
				"data":    []any{map[string]any{"key": "scope", "value": scope}},
			}}
		}
		id := "projects/" + s.project + "/aggregated/" + collection
		return map[string]any{"kind": apiKind + "AggregatedList", "id": id, "items": grouped, "selfLink": computeBase + id}, nil
	}}
	c, err := newCall(r, rt.method, s.project, "", "")
	return rt, c, err
}
