package fakegcp

import (
	"slices"
	"strings"
)

// scopeType says where a Compute collection lives: once per project
// (global/...), per region (regions/r/...) or per zone (zones/z/...). Many
// collections exist in more than one (backendServices are global and
// regional), each with its own method ids (compute.backendServices,
// compute.regionBackendServices) and rules, so a kind is one collection in
// one scope type.
type scopeType int

const (
	globalScope scopeType = iota
	regionalScope
	zonalScope
)

func scopeTypeOf(scope string) scopeType {
	switch {
	case strings.HasPrefix(scope, "zones/"):
		return zonalScope
	case strings.HasPrefix(scope, "regions/"):
		return regionalScope
	}
	return globalScope
}

// Regional kinds are made from their global counterparts and differ where
// Google's rules do; they count toward no quota (Google counts regional
// quotas per region, which the simulator does not model).

// kinds holds every stored Compute collection by scope type and URL name.
// It is filled in init, not by an initializer, because kinds refer to each
// other through it (a URL map checks backend services, and so on).
var kinds map[scopeType]map[string]*kind

func init() {
	kinds = map[scopeType]map[string]*kind{globalScope: {}, regionalScope: {}, zonalScope: {}}
	for _, k := range []*kind{
		healthCheckKind(), backendServiceKind(), backendBucketKind(), urlMapKind(),
		targetHTTPSProxyKind(), targetHTTPProxyKind(), forwardingRuleKind(), addressKind(),
		sslCertificateKind(), sslPolicyKind(), securityPolicyKind(), firewallKind(), networkKind(),
		routeKind(), httpHealthCheckKind(),
		regionHealthCheckKind(), regionBackendServiceKind(), regionURLMapKind(),
		regionTargetHTTPSProxyKind(), regionTargetHTTPProxyKind(), regionForwardingRuleKind(),
		regionAddressKind(), regionSslCertificateKind(), subnetworkKind(),
		negKind(), instanceKind(), instanceGroupKind(),
	} {
		if kinds[k.scope][k.collection] != nil {
			panic("fakegcp: two kinds for " + k.collection)
		}
		kinds[k.scope][k.collection] = k
	}
}

// kindOf is the global or zonal kind of a collection; no collection is both.
func kindOf(collection string) *kind {
	if k := kinds[globalScope][collection]; k != nil {
		return k
	}
	return kinds[zonalScope][collection]
}

// kindAt is the kind of a collection in a scope ("global", "regions/r",
// "zones/z"); nil when the collection does not live there.
func kindAt(scope, collection string) *kind { return kinds[scopeTypeOf(scope)][collection] }

// googleRegions are the regions a project can use (as the default network's
// subnetworks list them in the recordings); each has zones -a, -b and -c.
var googleRegions = []string{
	"africa-south1", "asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3",
	"asia-south1", "asia-south2", "asia-southeast1", "asia-southeast2", "australia-southeast1",
	"australia-southeast2", "europe-central2", "europe-north1", "europe-north2", "europe-southwest1",
	"europe-west1", "europe-west10", "europe-west12", "europe-west2", "europe-west3", "europe-west4",
	"europe-west6", "europe-west8", "europe-west9", "me-central1", "me-west1", "northamerica-northeast1",
	"northamerica-northeast2", "northamerica-south1", "southamerica-east1", "southamerica-west1",
	"us-central1", "us-east1", "us-east4", "us-east5", "us-south1", "us-west1", "us-west2", "us-west3", "us-west4",
}

// knownRegion: Google's regions and the scenario's own.
func (s *Server) knownRegion(region string) bool {
	return region == s.sc.Region || slices.Contains(googleRegions, region)
}

// regionZones lists a region's zones: the scenario's where it has nodes,
// else -a, -b and -c. Called with s.mu held.
func (s *Server) regionZones(region string) []string {
	var out []string
	for _, z := range s.zones() {
		if regionOfZone(z) == region {
			out = append(out, z)
		}
	}
	if len(out) == 0 {
		out = []string{region + "-a", region + "-b", region + "-c"}
	}
	return out
}

// usedRegions are the regions aggregated lists report: the scenario's and
// any that holds an object. Called with s.mu held.
func (s *Server) usedRegions() []string {
	seen := map[string]bool{s.sc.Region: true}
	for _, r := range s.resources {
		if strings.HasPrefix(r.ref.Scope, "regions/") {
			seen[strings.TrimPrefix(r.ref.Scope, "regions/")] = true
		}
	}
	return sortedKeys(seen)
}

func (s *Server) renderRegion(region string) map[string]any {
	var zones []any
	for _, z := range s.regionZones(region) {
		zones = append(zones, computeBase+"projects/"+s.project+"/zones/"+z)
	}
	return map[string]any{
		"kind":              "compute#region",
		"id":                itoa(int64(nameID(region) >> 8)),
		"creationTimestamp": "1969-12-31T16:00:00.000-08:00",
		"name":              region,
		"description":       region,
		"status":            "UP",
		"zones":             zones,
		"selfLink":          computeBase + "projects/" + s.project + "/regions/" + region,
		"supportsPzs":       false,
	}
}

func (s *Server) getRegion(c *apiCall) (any, *APIError) { return s.renderRegion(c.name), nil }

func (s *Server) listRegions(c *apiCall) (any, *APIError) {
	var items []map[string]any
	for _, r := range googleRegions {
		items = append(items, s.renderRegion(r))
	}
	return s.listResponse(c, "compute#regionList", "projects/"+s.project+"/regions", items, true)
}
