package fakegcp

import (
	"net/http"
	"strings"
)

func errNoSuchURL(r *http.Request) *APIError {
	return &APIError{Code: http.StatusNotFound, Reason: "notFound",
		Message: "The requested URL " + r.URL.Path + " was not found on this server."}
}

// routeCompute maps a /compute/v1/projects/{project}/... request to Google's
// method id and its handler. A Shared VPC's host project is served from
// the same store: its objects' paths name it.
func (s *Server) routeCompute(r *http.Request) (route, *apiCall, *APIError) {
	rt, c, err := s.routeComputeIn(r)
	if c != nil {
		if p := s.hostProject(r); p != "" {
			c.project = p
		}
	}
	return rt, c, err
}

// hostProject is the Shared VPC host project a Compute path names, or "".
func (s *Server) hostProject(r *http.Request) string {
	segs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/compute/v1/"), "/"), "/")
	if len(segs) >= 2 && segs[0] == "projects" && s.isHost(segs[1]) {
		return s.host
	}
	return ""
}

// isHost reports whether p is the Shared VPC host project (id or number).
func (s *Server) isHost(p string) bool {
	return s.host != "" && (p == s.host || p == s.hostNumber)
}

func (s *Server) routeComputeIn(r *http.Request) (route, *apiCall, *APIError) {
	segs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/compute/v1/"), "/"), "/")
	if len(segs) < 2 || segs[0] != "projects" {
		return route{}, nil, errNoSuchURL(r)
	}
	project, segs := segs[1], segs[2:]
	if publicImages[project] != nil && len(segs) >= 2 && segs[0] == "global" && segs[1] == "images" {
		return s.imageRoute(r, project, segs[2:])
	}
	if !s.projectMatches(project) && !s.isHost(project) {
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
		}
		return s.collectionRoute(r, scope, segs[2:], false)
	case segs[0] == "regions" && len(segs) == 1:
		return s.readRoute(r, "compute.regions.list", "", "", s.listRegions)
	case segs[0] == "regions":
		region := segs[1]
		if !s.knownRegion(region) {
			return route{method: "compute.regions.get"}, nil, errNotFound("projects/" + s.project + "/regions/" + region)
		}
		scope := "regions/" + region
		switch {
		case len(segs) == 2:
			return s.readRoute(r, "compute.regions.get", scope, region, s.getRegion)
		case segs[2] == "operations":
			return s.operationRoute(r, "regionOperations", scope, segs[3:])
		}
		return s.collectionRoute(r, scope, segs[2:], false)
	case segs[0] == "global" && len(segs) >= 2 && segs[1] == "images":
		return s.imageRoute(r, s.project, segs[2:])
	case segs[0] == "global":
		return s.collectionRoute(r, "global", segs[1:], false)
	case segs[0] == "aggregated" && len(segs) == 2:
		return s.aggregatedRoute(r, segs[1])
	case len(segs) == 3:
		// A few older methods live outside "global":
		// projects/p/targetHttpProxies/x/setUrlMap.
		return s.collectionRoute(r, "global", segs, true)
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
// [collection, name] or [collection, name, verb]. unscoped is set for the
// path without a scope (projects/p/targetHttpProxies/x/setUrlMap), where
// only the verbs Google serves there are found.
func (s *Server) collectionRoute(r *http.Request, scope string, segs []string, unscoped bool) (route, *apiCall, *APIError) {
	k := kindAt(scope, segs[0])
	if k == nil || (unscoped && len(segs) != 3) {
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
		if !ok || v.unscoped != unscoped || v.get != (r.Method == http.MethodGet) || (!v.get && r.Method != http.MethodPost) {
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
	if obj := s.computedObject(k, c.scope, c.name); obj != nil {
		return obj, nil
	}
	r, err := s.visible(s.refFor(c, k))
	if err != nil {
		return nil, err
	}
	return s.render(r), nil
}

func (s *Server) listResources(c *apiCall, k *kind) (any, *APIError) {
	project := c.projectOr(s.project)
	var items []map[string]any
	for _, it := range s.itemsIn(k, c.scope) {
		// The store holds a Shared VPC host project's objects too.
		if ref, ok := parseRef(str(it, "selfLink"), s.project, c.scope, k.collection); !ok || ref.Project == project {
			items = append(items, it)
		}
	}
	return s.listResponse(c, k.apiKind+"List", "projects/"+project+"/"+c.scope+"/"+k.collection, items, true)
}

// itemsIn renders every object of a kind in a scope, stored or computed.
func (s *Server) itemsIn(k *kind, scope string) []map[string]any {
	var items []map[string]any
	for _, r := range s.inScope(k, scope) {
		items = append(items, s.render(r))
	}
	if k.computed != nil {
		computed := k.computed(s, scope)
		for _, name := range sortedKeys(computed) {
			items = append(items, computed[name])
		}
	}
	return items
}

// computedObject is a derived object of the kind (a node among instances), or nil.
func (s *Server) computedObject(k *kind, scope, name string) map[string]any {
	if k.computed == nil {
		return nil
	}
	return k.computed(s, scope)[name]
}

// aggregatedRoute answers aggregatedList, which gcloud uses to list zonal
// collections and operations: items grouped by scope, with Google's warning
// for a scope that has none.
func (s *Server) aggregatedRoute(r *http.Request, collection string) (route, *apiCall, *APIError) {
	if r.Method != http.MethodGet {
		return route{}, nil, errNoSuchURL(r)
	}
	apiKind, method := "", ""
	var scopeTypes []scopeType // where the collection lives; aggregated lists show each scope of those
	var items func(scope string) []map[string]any
	switch collection {
	case "machineTypes":
		apiKind, method, scopeTypes = "compute#machineType", "machineTypes", []scopeType{zonalScope}
		items = func(scope string) []map[string]any {
			var out []map[string]any
			for _, name := range sortedKeys(predefinedMachineTypes) {
				out = append(out, s.renderMachineType(scope, predefinedMachineTypes[name]))
			}
			return out
		}
	case "operations":
		apiKind, method, scopeTypes = "compute#operation", "globalOperations", []scopeType{globalScope, regionalScope, zonalScope}
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
		for _, st := range []scopeType{globalScope, regionalScope, zonalScope} {
			if k := kinds[st][collection]; k != nil {
				scopeTypes = append(scopeTypes, st)
				if apiKind == "" || st == regionalScope {
					// Aggregated lists are named after the regional or zonal
					// method: compute.backendServices, compute.forwardingRules.
					apiKind, method = k.apiKind, k.method
				}
			}
		}
		if len(scopeTypes) == 0 {
			return route{}, nil, errNoSuchURL(r)
		}
		items = func(scope string) []map[string]any { return s.itemsIn(kindAt(scope, collection), scope) }
	}
	rt := route{method: "compute." + method + ".aggregatedList", handle: func(c *apiCall) (any, *APIError) {
		f, ferr := parseFilter(c.query.Get("filter"))
		if ferr != nil {
			return nil, errInvalidField("filter", c.query.Get("filter"), "Invalid list filter expression: "+ferr.Error())
		}
		grouped := map[string]any{}
		for _, scope := range s.aggregatedScopes(scopeTypes) {
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

// aggregatedScopes lists the scopes an aggregated list reports. Called with s.mu held.
func (s *Server) aggregatedScopes(types []scopeType) []string {
	var scopes []string
	for _, st := range types {
		switch st {
		case globalScope:
			scopes = append(scopes, "global")
		case regionalScope:
			for _, r := range s.usedRegions() {
				scopes = append(scopes, "regions/"+r)
			}
		case zonalScope:
			for _, z := range s.zones() {
				scopes = append(scopes, "zones/"+z)
			}
		}
	}
	return scopes
}
