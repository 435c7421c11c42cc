package fakeiam

import (
	"fmt"
	"net/http"
	"strings"
)

// Container is the GKE v1 API at /v1/projects/{p}/{locations|zones}/{l}/...
// (clusters, their node pools and operations). GKE permissions are
// project-level: reading a cluster or its node pools needs
// container.clusters.get, changing a node pool container.clusters.update
// (Google's GKE IAM reference; B2 "also covers nodePools.list").
var Container = API{Name: "container", Resolve: resolveContainer, Denied: containerDenied}

func resolveContainer(r *http.Request, body []byte) (Call, bool) {
	segs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/v1/"), "/"), "/")
	if !strings.HasPrefix(r.URL.Path, "/v1/") || len(segs) < 5 || segs[0] != "projects" || (segs[2] != "locations" && segs[2] != "zones") {
		return Call{}, false
	}
	project, form, rest := segs[1], segs[2], segs[4:]
	last, action, _ := strings.Cut(rest[len(rest)-1], ":")
	rest[len(rest)-1] = last
	prefix := "container.projects." + form + "."
	base := strings.Join(segs[:4], "/")
	switch {
	case rest[0] == "clusters":
		return containerClusters(r.Method, prefix, base, project, rest, action, decodeObject(body))
	case rest[0] == "operations" && len(rest) == 1 && r.Method == http.MethodGet && action == "":
		return containerCall(prefix+"operations.list", "container.operations.list", project, "projects/"+project), true
	case rest[0] == "operations" && len(rest) == 2 && r.Method == http.MethodGet && action == "":
		return containerCall(prefix+"operations.get", "container.operations.get", project, base+"/operations/"+rest[1]), true
	}
	return Call{}, false
}

func containerCall(method, perm, project, resource string) Call {
	return Call{Method: method, Checks: []Check{{Permission: perm, Project: project, Resource: resource}}}
}

// containerClusters maps clusters[/c[/nodePools[/np]]][:action].
func containerClusters(httpMethod, prefix, base, project string, rest []string, action string, body map[string]any) (Call, bool) {
	get := httpMethod == http.MethodGet
	switch {
	case len(rest) == 1 && get && action == "":
		// Listing is checked on the project: `Required "container.clusters.list"
		// permission(s) for "projects/p".` (gcloud's output quoted in public code).
		return containerCall(prefix+"clusters.list", "container.clusters.list", project, "projects/"+project), true
	case len(rest) == 1 && httpMethod == http.MethodPost && action == "":
		name := ""
		if cl, ok := body["cluster"].(map[string]any); ok {
			name, _ = cl["name"].(string)
		}
		return containerCall(prefix+"clusters.create", "container.clusters.create", project, base+"/clusters/"+name), true
	case len(rest) < 2:
		return Call{}, false
	}
	cluster := base + "/clusters/" + rest[1]
	if len(rest) == 2 {
		verbs := map[string]string{http.MethodGet: "get", http.MethodPut: "update", http.MethodDelete: "delete"}
		verb := verbs[httpMethod]
		if action != "" && httpMethod == http.MethodPost {
			// setMasterAuth, setResourceLabels, updateMaster, ...: all changes.
			return containerCall(prefix+"clusters."+action, "container.clusters.update", project, cluster), true
		}
		if verb == "" || action != "" {
			return Call{}, false
		}
		return containerCall(prefix+"clusters."+verb, "container.clusters."+verb, project, cluster), true
	}
	if rest[2] != "nodePools" || len(rest) > 4 {
		return Call{}, false
	}
	method, perm := prefix+"clusters.nodePools.", "container.clusters.update"
	switch {
	case len(rest) == 3 && get:
		method, perm = method+"list", "container.clusters.get"
	case len(rest) == 3 && httpMethod == http.MethodPost:
		method += "create"
	case len(rest) == 4 && get:
		method, perm = method+"get", "container.clusters.get"
	case len(rest) == 4 && httpMethod == http.MethodPut:
		method += "update"
	case len(rest) == 4 && httpMethod == http.MethodDelete:
		method += "delete"
	case len(rest) == 4 && httpMethod == http.MethodPost && action != "":
		method += action
	default:
		return Call{}, false
	}
	return containerCall(method, perm, project, cluster), true
}

// containerDenied is GKE's 403: `Required "container.clusters.get"
// permission(s) for "projects/p/zones/z/clusters/c".`, reason forbidden
// (2i2c-org/infrastructure#488, terraform-provider-google#10567), status
// PERMISSION_DENIED as gRPC clients see it (terraform-google-kubernetes-engine#926),
// in the shape fakegcp gives GKE's other errors.
func containerDenied(c Check) (int, any) {
	msg := fmt.Sprintf("Required %q permission(s) for %q.", c.Permission, c.Resource)
	return http.StatusForbidden, map[string]any{"error": map[string]any{
		"code": http.StatusForbidden, "message": msg, "status": "PERMISSION_DENIED",
		"errors": []any{map[string]any{"message": msg, "domain": "global", "reason": "forbidden"}},
	}}
}
