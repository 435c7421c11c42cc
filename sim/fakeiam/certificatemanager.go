package fakeiam

import (
	"fmt"
	"net/http"
	"strings"
)

// CertificateManager is the Certificate Manager v1 API at
// /v1/projects/{p}/locations/{l}/{certificates|certificateMaps|dnsAuthorizations|operations}/...
// and certificateMaps/{m}/certificateMapEntries/... . Its permissions use
// short resource names (certificatemanager.certs.create,
// certificatemanager.certmapentries.update; roles/certificatemanager.owner).
// A map entry naming certificates needs certificatemanager.certs.use on
// them, a certificate naming DNS authorizations
// certificatemanager.dnsauthorizations.use.
var CertificateManager = API{Name: "certificatemanager", Resolve: resolveCertificateManager, Denied: certificateManagerDenied}

var certificateManagerResources = map[string]string{
	"certificates": "certs", "certificateMaps": "certmaps", "certificateMapEntries": "certmapentries",
	"dnsAuthorizations": "dnsauthorizations", "operations": "operations",
}

// certificateManagerMount is where meshsim serves Certificate Manager
// beside Compute (sim/fakecertmanager.Prefix; fakecertmanager imports this
// package): its paths are Google's after it.
const certificateManagerMount = "/certificatemanager/"

func resolveCertificateManager(r *http.Request, body []byte) (Call, bool) {
	path := r.URL.Path
	if rest, ok := strings.CutPrefix(path, certificateManagerMount); ok {
		path = "/" + rest
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) < 6 || segs[0] != "v1" || segs[1] != "projects" || segs[3] != "locations" {
		return Call{}, false
	}
	project, rest := segs[2], segs[5:]
	collections := []string{rest[0]}
	if len(rest) >= 3 && rest[0] == "certificateMaps" {
		// certificateMaps/m/certificateMapEntries[/e]
		collections, rest = append(collections, rest[2]), append([]string{rest[2]}, rest[3:]...)
	}
	collection := collections[len(collections)-1]
	short, ok := certificateManagerResources[collection]
	if !ok || len(rest) > 2 {
		return Call{}, false
	}
	named := len(rest) == 2
	action := ""
	if named {
		_, action, _ = strings.Cut(rest[1], ":")
	}
	verb, ok := restVerb(r.Method, named)
	if action == "cancel" && r.Method == http.MethodPost && collection == "operations" {
		verb, ok = "cancel", true
	} else if action != "" {
		ok = false
	}
	if !ok {
		return Call{}, false
	}
	resource := strings.Join(segs[1:], "/")
	if named {
		resource = strings.TrimSuffix(resource, ":"+action)
	}
	method := "certificatemanager.projects.locations." + strings.Join(collections, ".") + "." + verb
	call := containerCall(method, "certificatemanager."+short+"."+permissionVerb(verb), project, resource)
	if !named || verb == "patch" {
		call.Checks = append(call.Checks, certificateManagerLinks(decodeObject(body), resource)...)
	}
	return call, true
}

// certificateManagerLinks finds the certificates and DNS authorizations a
// body names (projects/p/locations/l/certificates/c, with or without
// //certificatemanager.googleapis.com/).
func certificateManagerLinks(body map[string]any, self string) []Check {
	var out []Check
	walkLinks(body, "", func(field, value string) {
		value = strings.TrimPrefix(value, "//certificatemanager.googleapis.com/")
		segs := strings.Split(value, "/")
		if field == "name" || len(segs) != 6 || segs[0] != "projects" || segs[2] != "locations" || value == self {
			return
		}
		if short, ok := map[string]string{"certificates": "certs", "dnsAuthorizations": "dnsauthorizations"}[segs[4]]; ok {
			out = append(out, Check{Permission: "certificatemanager." + short + ".use", Project: segs[1], Resource: value})
		}
	})
	return out
}

// certificateManagerDenied words a denial as One Platform APIs do for IAM:
// "Permission 'p' denied on resource '//certificatemanager.googleapis.com/r'
// (or it may not exist)." with an ErrorInfo, the shape Artifact Registry's
// shows in 2i2c-org/infrastructure#488; not recorded for Certificate
// Manager itself.
func certificateManagerDenied(c Check) (int, any) {
	msg := fmt.Sprintf("Permission '%s' denied on resource '//certificatemanager.googleapis.com/%s' (or it may not exist).", c.Permission, c.Resource)
	return http.StatusForbidden, permissionDenied(msg, "certificatemanager.googleapis.com", c)
}
