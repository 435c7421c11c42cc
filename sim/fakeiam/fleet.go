package fakeiam

import (
	"fmt"
	"net/http"
	"strings"
)

// Fleet is the fleet API (GKE Hub v1 memberships, features and operations;
// v2 membership features) and the part of Service Usage meshsim fakes, as
// sim/fakehub serves them. home is the project of the paths that name none
// (Service Usage's /v1/operations/...).
func Fleet(home string) API {
	return API{Name: "fleet", Resolve: func(r *http.Request, _ []byte) (Call, bool) {
		segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if call, ok := resolveServiceUsage(r.Method, segs, home); ok {
			return call, true
		}
		return resolveHub(r.Method, segs)
	}, Denied: fleetDenied}
}

// resolveServiceUsage maps /v1/projects/p/services[/s[:enable|:disable]]
// and /v1/operations/op.
func resolveServiceUsage(httpMethod string, segs []string, home string) (Call, bool) {
	get, post := httpMethod == http.MethodGet, httpMethod == http.MethodPost
	if len(segs) >= 3 && segs[0] == "v1" && segs[1] == "operations" && get {
		op := strings.Join(segs[1:], "/")
		return containerCall("serviceusage.operations.get", "serviceusage.operations.get", home, op), true
	}
	if len(segs) < 4 || segs[0] != "v1" || segs[1] != "projects" || segs[3] != "services" || len(segs) > 5 {
		return Call{}, false
	}
	project := segs[2]
	if len(segs) == 4 {
		if !get {
			return Call{}, false
		}
		return containerCall("serviceusage.services.list", "serviceusage.services.list", project, "projects/"+project), true
	}
	name, action, _ := strings.Cut(segs[4], ":")
	resource := "projects/" + project + "/services/" + name
	switch {
	case action == "" && get:
		return containerCall("serviceusage.services.get", "serviceusage.services.get", project, resource), true
	case (action == "enable" || action == "disable") && post:
		return containerCall("serviceusage.services."+action, "serviceusage.services."+action, project, resource), true
	}
	return Call{}, false
}

// resolveHub maps the gkehub v1 and v2 paths fakehub serves.
func resolveHub(httpMethod string, segs []string) (Call, bool) {
	if len(segs) < 6 || (segs[0] != "v1" && segs[0] != "v2") || segs[1] != "projects" || segs[3] != "locations" {
		return Call{}, false
	}
	project, rest := segs[2], segs[5:]
	base := strings.Join(segs[1:5], "/")
	collection := rest[0]
	if segs[0] == "v2" && collection == "memberships" && len(rest) >= 3 && rest[2] == "features" {
		// v2 membership features: memberships/m/features[/f].
		collection, base, rest = "membershipfeatures", base+"/memberships/"+rest[1], rest[2:]
	}
	perms := map[string]string{"memberships": "gkehub.memberships.", "features": "gkehub.features.",
		"operations": "gkehub.operations.", "membershipfeatures": "gkehub.membershipfeatures."}
	prefix, ok := perms[collection]
	if !ok || len(rest) > 2 || segs[0] == "v2" && collection != "membershipfeatures" && collection != "operations" {
		return Call{}, false
	}
	verb, ok := restVerb(httpMethod, len(rest) == 2)
	if !ok {
		return Call{}, false
	}
	resource := base + "/" + rest[0]
	if len(rest) == 2 {
		resource += "/" + rest[1]
	}
	method := "gkehub.projects.locations." + rest[0] + "." + verb
	if collection == "membershipfeatures" {
		method = "gkehub.projects.locations.memberships.features." + verb
	}
	return containerCall(method, prefix+permissionVerb(verb), project, resource), true
}

// restVerb is a One Platform API's standard method for an HTTP method on a
// collection or (named) one of its items.
func restVerb(httpMethod string, named bool) (string, bool) {
	verbs := map[bool]map[string]string{
		false: {http.MethodGet: "list", http.MethodPost: "create"},
		true:  {http.MethodGet: "get", http.MethodPatch: "patch", http.MethodDelete: "delete"},
	}
	v, ok := verbs[named][httpMethod]
	return v, ok
}

// permissionVerb is the permission verb of a standard method: patch needs
// update.
func permissionVerb(verb string) string {
	if verb == "patch" {
		return "update"
	}
	return verb
}

// fleetDenied words a denial as gkehub and Service Usage do. gkehub:
// "Permission 'gkehub.memberships.list' denied on
// 'projects/p/locations/-/memberships'" (gcloud's output quoted in
// rhesis-ai/rhesis#2337). Service Usage enable: "Permission denied to
// enable service [s]" with a PreconditionFailure and ErrorInfo
// AUTH_PERMISSION_DENIED (su-kaka/gcli2api#283). Service Usage's other
// methods are worded like gkehub's: a guess.
func fleetDenied(c Check) (int, any) {
	if action, ok := strings.CutPrefix(c.Permission, "serviceusage.services."); ok && (action == "enable" || action == "disable") {
		service := c.Resource[strings.LastIndex(c.Resource, "/")+1:]
		return http.StatusForbidden, map[string]any{"error": map[string]any{
			"code": http.StatusForbidden, "message": fmt.Sprintf("Permission denied to %s service [%s]", action, service),
			"status": "PERMISSION_DENIED",
			"details": []any{
				map[string]any{"@type": "type.googleapis.com/google.rpc.PreconditionFailure",
					"violations": []any{map[string]any{"type": "googleapis.com", "subject": "110002"}}},
				map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "AUTH_PERMISSION_DENIED",
					"domain": "serviceusage.googleapis.com"},
			},
		}}
	}
	domain := strings.SplitN(c.Permission, ".", 2)[0] + ".googleapis.com"
	return http.StatusForbidden, permissionDenied(fmt.Sprintf("Permission '%s' denied on '%s'", c.Permission, c.Resource), domain, c)
}
