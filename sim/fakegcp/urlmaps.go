package fakegcp

import "fmt"

// urlMapServiceFields are the places a URL map names a backend service or bucket.
var urlMapServiceFields = []string{
	"defaultService",
	"defaultRouteAction.weightedBackendServices[].backendService",
	"pathMatchers[].defaultService",
	"pathMatchers[].defaultRouteAction.weightedBackendServices[].backendService",
	"pathMatchers[].pathRules[].service",
	"pathMatchers[].pathRules[].routeAction.weightedBackendServices[].backendService",
	"pathMatchers[].routeRules[].service",
	"pathMatchers[].routeRules[].routeAction.weightedBackendServices[].backendService",
	"tests[].service",
}

func urlMapKind() *kind {
	var refs []refField
	for _, f := range urlMapServiceFields {
		refs = append(refs, refField{path: f, collections: []string{"backendServices", "backendBuckets"}})
	}
	return &kind{
		collection: "urlMaps", method: "urlMaps", apiKind: "compute#urlMap",
		typeName: "url_map", quota: "URL_MAPS",
		update: true, patch: true, fingerprint: true,
		refs:    refs,
		prepare: prepareURLMap,
	}
}

// prepareURLMap checks the map is coherent: host rules name path matchers
// that exist, and a default is either a service or a redirect.
func prepareURLMap(_ *Server, c *change) *APIError {
	um := c.next
	if _, ok := um["defaultService"]; ok {
		if _, redirect := um["defaultUrlRedirect"]; redirect {
			return errInvalid("Invalid value for field 'resource': only one of defaultService, defaultRouteAction.weightedBackendServices or defaultUrlRedirect may be set.")
		}
	}
	matchers := map[string]bool{}
	for _, pm := range list(um, "pathMatchers") {
		if m, ok := pm.(map[string]any); ok {
			matchers[str(m, "name")] = true
		}
	}
	for i, hr := range list(um, "hostRules") {
		m, _ := hr.(map[string]any)
		if name := str(m, "pathMatcher"); !matchers[name] {
			return errInvalidField(fmt.Sprintf("resource.hostRules[%d].pathMatcher", i), name, "The path matcher does not exist in the URL map.")
		}
	}
	return nil
}

// regionURLMapKind: a regional application load balancer's URL map, whose
// services are regional backend services of its region.
func regionURLMapKind() *kind {
	k := urlMapKind()
	k.scope, k.method, k.quota = regionalScope, "regionUrlMaps", ""
	k.refs = nil
	for _, f := range urlMapServiceFields {
		k.refs = append(k.refs, refField{path: f, collections: []string{"backendServices"}, sameScope: true})
	}
	return k
}
