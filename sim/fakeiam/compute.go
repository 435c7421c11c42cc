package fakeiam

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// Compute is the Compute Engine v1 API at /compute/v1/projects/... .
//
// The permission of a method is derived from its path, not listed per
// method, so collections the fake gains later are covered as they come:
//
//   - the resource in method ids and permissions is the URL collection,
//     with Google's renames by scope: addresses, forwardingRules,
//     networkEndpointGroups, operations and publicDelegatedPrefixes are
//     "global…" under global/; most regional collections are "region…"
//     (regionBackendServices), except those in regionalPlain (addresses,
//     forwardingRules, subnetworks, ...); zonal operations are
//     zoneOperations;
//   - the verb is the HTTP method (GET list or get, POST insert, PUT update,
//     PATCH patch, DELETE delete) or the custom verb at the end of the path;
//   - the permission is the method's verb, with insert → create,
//     patch → update (and get, as Google's IAM reference lists for patch),
//     aggregatedList → list, and the exceptions in computeVerbPermissions;
//   - every link in the request body to another Compute resource needs that
//     resource's use permission (useReadOnly for health checks, get for SSL
//     certificates, updatePolicy on a firewall's network), checked in the
//     linked resource's project (managed-mesh-and-iam.md B2).
var Compute = API{Name: "compute", Resolve: resolveCompute, Denied: computeDenied}

// globalRenamed are the global collections whose methods and permissions
// carry a "global" prefix.
var globalRenamed = map[string]string{
	"addresses": "globalAddresses", "forwardingRules": "globalForwardingRules",
	"networkEndpointGroups": "globalNetworkEndpointGroups", "operations": "globalOperations",
	"publicDelegatedPrefixes": "globalPublicDelegatedPrefixes",
}

// regionalPlain are the regional collections without a "region" prefix.
var regionalPlain = map[string]bool{
	"addresses": true, "forwardingRules": true, "subnetworks": true, "routers": true, "targetPools": true,
	"vpnGateways": true, "vpnTunnels": true, "targetVpnGateways": true, "interconnectAttachments": true,
	"networkAttachments": true, "serviceAttachments": true, "packetMirrorings": true, "resourcePolicies": true,
	"publicDelegatedPrefixes": true, "reservations": true,
}

// permissionResource renames the method resources whose permissions use
// the zonal name (a regional instance group manager is checked as
// compute.instanceGroupManagers.*).
var permissionResource = map[string]string{
	"regionInstanceGroupManagers": "instanceGroupManagers", "regionInstanceGroups": "instanceGroups",
	"regionDisks": "disks", "regionAutoscalers": "autoscalers", "regionCommitments": "commitments",
	"regionInstances": "instances",
}

// computeVerbPermissions are the method verbs whose permission verb
// differs from the method's, as iann0036/iam-dataset's method map records
// them (gcp/map.json, e.g. compute.backendServices.getHealth needs
// compute.backendServices.get; compute.globalOperations.wait needs
// compute.globalOperations.get).
var computeVerbPermissions = map[string]string{
	"insert": "create", "aggregatedList": "list", "wait": "get", "getHealth": "get",
	"listNetworkEndpoints": "get", "getRule": "get",
	"addRule": "update", "patchRule": "update", "removeRule": "update",
	"setEdgeSecurityPolicy": "setSecurityPolicy", "setBackup": "update",
	"addInstances": "update", "removeInstances": "update", "setNamedPorts": "update", "listInstances": "list",
}

// referenceVerbs are the permissions Google checks on a resource another
// one links to, where it is not "use" (B2 and GKE autoneg's minimal role:
// healthChecks.useReadOnly; a proxy reads its certificates with .get since
// compute.sslCertificates.use is in no role).
var referenceVerbs = map[string]string{
	"healthChecks": "useReadOnly", "regionHealthChecks": "useReadOnly",
	"httpHealthChecks": "useReadOnly", "httpsHealthChecks": "useReadOnly",
	"sslCertificates": "get", "regionSslCertificates": "get",
	"images": "useReadOnly", "snapshots": "useReadOnly", "instanceTemplates": "useReadOnly", "machineImages": "useReadOnly",
}

// outputOnlyLinks are fields clients send back on update (gcloud's
// get-modify-put) that the API ignores, so Google checks nothing for them:
// a backend service's security policies are set with setSecurityPolicy.
var outputOnlyLinks = map[string]bool{"selfLink": true, "selfLinkWithId": true, "users": true}

var backendServiceOutputOnly = map[string]bool{"securityPolicy": true, "edgeSecurityPolicy": true}

// computeMethod is a Compute request, parsed.
type computeMethod struct {
	project  string
	scope    string // "", "global", "regions/r", "zones/z"
	resource string // method resource: globalAddresses, regionBackendServices, zones
	path     string // the resource the method acts on, as messages name it
	verb     string // insert, get, list, setUrlMap, ...
}

func (m computeMethod) id() string { return "compute." + m.resource + "." + m.verb }

func resolveCompute(r *http.Request, body []byte) (Call, bool) {
	obj := decodeObject(body)
	m, ok := parseComputePath(r.Method, r.URL.Path, obj)
	if !ok {
		return Call{}, false
	}
	call := Call{Method: m.id()}
	add := func(perm, project, resource string) {
		for _, c := range call.Checks {
			if c.Permission == perm && c.Resource == resource {
				return
			}
		}
		call.Checks = append(call.Checks, Check{Permission: perm, Project: project, Resource: resource})
	}
	for _, verb := range methodPermissionVerbs(m.verb) {
		add(computePermission(m.resource, verb), m.project, m.path)
	}
	for _, ref := range computeLinks(m, obj) {
		add(ref.Permission, ref.Project, ref.Resource)
	}
	return call, true
}

func methodPermissionVerbs(verb string) []string {
	if verb == "patch" {
		return []string{"update", "get"}
	}
	if v, ok := computeVerbPermissions[verb]; ok {
		return []string{v}
	}
	return []string{verb}
}

func computePermission(resource, verb string) string {
	if r, ok := permissionResource[resource]; ok {
		resource = r
	}
	return "compute." + resource + "." + verb
}

// computeResource names a collection's method resource in a scope.
func computeResource(scope, collection string) string {
	switch {
	case scope == "global":
		if r, ok := globalRenamed[collection]; ok {
			return r
		}
	case strings.HasPrefix(scope, "regions/") && !regionalPlain[collection]:
		return "region" + strings.ToUpper(collection[:1]) + collection[1:]
	case strings.HasPrefix(scope, "zones/") && collection == "operations":
		return "zoneOperations"
	}
	return collection
}

// parseComputePath reads /compute/v1/projects/{p}/...; body gives an
// insert's name.
func parseComputePath(httpMethod, path string, body map[string]any) (computeMethod, bool) {
	rest, ok := strings.CutPrefix(path, "/compute/v1/projects/")
	if !ok {
		return computeMethod{}, false
	}
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	m := computeMethod{project: segs[0], path: "projects/" + segs[0]}
	segs = segs[1:]
	get := httpMethod == http.MethodGet
	switch {
	case len(segs) == 0 && get:
		m.resource, m.verb = "projects", "get"
		return m, true
	case len(segs) == 2 && segs[0] == "aggregated" && get:
		m.resource, m.verb = aggregatedResource(segs[1]), "aggregatedList"
		return m, true
	case (segs[0] == "zones" || segs[0] == "regions") && len(segs) <= 2 && get:
		m.resource, m.verb = segs[0], "list"
		if len(segs) == 2 {
			m.verb, m.path = "get", m.path+"/"+segs[0]+"/"+segs[1]
		}
		return m, true
	case segs[0] == "global" && len(segs) >= 2:
		m.scope, segs = "global", segs[1:]
	case (segs[0] == "zones" || segs[0] == "regions") && len(segs) >= 3:
		m.scope, segs = segs[0]+"/"+segs[1], segs[2:]
	case len(segs) == 3:
		// Methods older than scopes: projects/p/targetHttpsProxies/x/setUrlMap.
		m.scope = "global"
	default:
		return computeMethod{}, false
	}
	return m.inCollection(httpMethod, segs, body)
}

// inCollection reads [collection], [collection name] or [collection name verb].
func (m computeMethod) inCollection(httpMethod string, segs []string, body map[string]any) (computeMethod, bool) {
	collection := segs[0]
	m.resource = computeResource(m.scope, collection)
	base := m.path + "/" + m.scope + "/" + collection
	switch {
	case len(segs) == 1 && httpMethod == http.MethodGet:
		m.verb = "list"
	case len(segs) == 1 && httpMethod == http.MethodPost:
		m.verb = "insert"
		name, _ := body["name"].(string)
		m.path = base + "/" + name
	case len(segs) == 2:
		m.path = base + "/" + segs[1]
		verbs := map[string]string{http.MethodGet: "get", http.MethodDelete: "delete", http.MethodPut: "update", http.MethodPatch: "patch"}
		if m.verb = verbs[httpMethod]; m.verb == "" {
			return computeMethod{}, false
		}
	case len(segs) == 3 && (httpMethod == http.MethodPost || httpMethod == http.MethodGet):
		m.path, m.verb = base+"/"+segs[1], segs[2]
	default:
		return computeMethod{}, false
	}
	return m, true
}

// aggregatedResource names an aggregatedList's method resource: the
// regional (or zonal) name, operations under globalOperations.
func aggregatedResource(collection string) string {
	if collection == "operations" {
		return "globalOperations"
	}
	return collection
}

// computeLinks finds every link in a request body to another Compute
// resource (or a Certificate Manager map) and the permission Google checks
// on it.
func computeLinks(m computeMethod, body map[string]any) []Check {
	if body == nil {
		return nil
	}
	var out []Check
	walkLinks(body, "", func(field, value string) {
		if outputOnlyLinks[field] || m.resource == "backendServices" && isWrite(m.verb) && backendServiceOutputOnly[field] {
			return
		}
		if c, ok := certificateMapLink(value); ok {
			out = append(out, c)
			return
		}
		ref, ok := parseComputeLink(value, m.project)
		if !ok || ref.path == m.path {
			return
		}
		verb := "use"
		if v, ok := referenceVerbs[ref.resource]; ok {
			verb = v
		}
		if ref.resource == "networks" && m.resource == "firewalls" {
			// Creating or changing a firewall rule changes its network's
			// policy (B2, from Google's firewall docs).
			verb = "updatePolicy"
		}
		perm := computePermission(ref.resource, verb)
		if known[perm] {
			out = append(out, Check{Permission: perm, Project: ref.project, Resource: ref.path})
		}
	})
	return out
}

func isWrite(verb string) bool { return verb == "insert" || verb == "update" || verb == "patch" }

// walkLinks calls visit for every string in v with the name of the field
// that holds it (list items take their list's name).
func walkLinks(v any, field string, visit func(field, value string)) {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(t)) {
			walkLinks(t[k], k, visit)
		}
	case []any:
		for _, item := range t {
			walkLinks(item, field, visit)
		}
	case string:
		visit(field, t)
	}
}

type computeRef struct {
	project, resource, path string
}

// parseComputeLink reads a link to a Compute resource in the forms clients
// send: a full URL with any host (gcloud builds them from its endpoint
// override), projects/p/..., or global/..., regions/r/..., zones/z/...
// relative to the request's project. Bare names are not links: Google
// resolves them in the collection a field implies, which needs the fake's
// own knowledge of fields; they are left unchecked.
func parseComputeLink(s, project string) (computeRef, bool) {
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		j := strings.Index(rest, "/")
		if j < 0 {
			return computeRef{}, false
		}
		s = rest[j+1:]
		var ok bool
		if s, ok = cutAPIVersion(s); !ok {
			return computeRef{}, false
		}
	}
	segs := strings.Split(strings.Trim(s, "/"), "/")
	if len(segs) >= 2 && segs[0] == "projects" {
		project, segs = segs[1], segs[2:]
	}
	var scope string
	switch {
	case len(segs) == 3 && segs[0] == "global":
		scope, segs = "global", segs[1:]
	case len(segs) == 4 && (segs[0] == "regions" || segs[0] == "zones"):
		scope, segs = segs[0]+"/"+segs[1], segs[2:]
	default:
		return computeRef{}, false
	}
	if segs[1] == "" || strings.ContainsAny(segs[1], " .") {
		return computeRef{}, false
	}
	return computeRef{project: project, resource: computeResource(scope, segs[0]),
		path: fmt.Sprintf("projects/%s/%s/%s/%s", project, scope, segs[0], segs[1])}, true
}

func cutAPIVersion(path string) (string, bool) {
	for _, v := range []string{"compute/v1/", "compute/beta/", "compute/alpha/"} {
		if rest, ok := strings.CutPrefix(path, v); ok {
			return rest, true
		}
	}
	return "", false
}

// certificateMapLink reads a target proxy's certificateMap,
// //certificatemanager.googleapis.com/projects/p/locations/global/certificateMaps/m,
// which needs certificatemanager.certmaps.use (roles/compute.loadBalancerAdmin
// carries it for this).
func certificateMapLink(s string) (Check, bool) {
	rest, ok := strings.CutPrefix(s, "//certificatemanager.googleapis.com/")
	if !ok {
		return Check{}, false
	}
	segs := strings.Split(rest, "/")
	if len(segs) != 6 || segs[0] != "projects" || segs[4] != "certificateMaps" {
		return Check{}, false
	}
	return Check{Permission: "certificatemanager.certmaps.use", Project: segs[1], Resource: rest}, true
}

// computeDenied is Compute's 403 for a missing permission, as recorded in
// hashicorp/terraform#18873 and terraform-google-modules/terraform-google-vault#206:
// {"error":{"code":403,"message":"Required 'compute.networks.create' permission
// for 'projects/p/global/networks/n'","errors":[{...,"domain":"global","reason":"forbidden"}]}}.
// (Through GKE the same text comes prefixed "Google Compute Engine: ",
// tpg#8262.)
func computeDenied(c Check) (int, any) {
	msg := fmt.Sprintf("Required '%s' permission for '%s'", c.Permission, c.Resource)
	return http.StatusForbidden, map[string]any{"error": map[string]any{
		"code": http.StatusForbidden, "message": msg,
		"errors": []any{map[string]any{"message": msg, "domain": "global", "reason": "forbidden"}},
	}}
}
