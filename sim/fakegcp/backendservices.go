package fakegcp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

var backendProtocols = map[string]bool{
	"HTTP": true, "HTTPS": true, "HTTP2": true, "H2C": true, "TCP": true, "SSL": true, "UDP": true, "GRPC": true, "UNSPECIFIED": true,
}

func backendServiceKind() *kind {
	return &kind{
		collection: "backendServices", method: "backendServices", apiKind: "compute#backendService",
		typeName: "backend_service", quota: "BACKEND_SERVICES",
		update: true, patch: true, fingerprint: true,
		// The security policy is attached with setSecurityPolicy, never by a write of the object.
		outputOnly: []string{"securityPolicy", "edgeSecurityPolicy", "usedBy"},
		refs: []refField{
			{path: "healthChecks[]", collections: []string{"healthChecks", "httpHealthChecks"}},
			{path: "backends[].group", collections: []string{"networkEndpointGroups", "instanceGroups"}},
			{path: "securityPolicy", collections: []string{"securityPolicies"}},
			{path: "edgeSecurityPolicy", collections: []string{"securityPolicies"}},
		},
		prepare: prepareBackendService,
		verbs: map[string]verb{
			"getHealth":         {read: backendServiceHealth},
			"setSecurityPolicy": {opType: "setSecurityPolicy", edit: setSecurityPolicy},
		},
	}
}

// regionBackendServiceKind: regional backend services serve the internal
// passthrough load balancer (INTERNAL) and the regional application load
// balancers (INTERNAL_MANAGED, EXTERNAL_MANAGED).
func regionBackendServiceKind() *kind {
	k := backendServiceKind()
	k.scope, k.method, k.quota = regionalScope, "regionBackendServices", ""
	k.refs = []refField{
		{path: "healthChecks[]", collections: []string{"healthChecks"}},
		{path: "backends[].group", collections: []string{"networkEndpointGroups", "instanceGroups"}},
		{path: "securityPolicy", collections: []string{"securityPolicies"}},
		// An internal passthrough backend service names its VPC network.
		{path: "network", collections: []string{"networks"}},
	}
	delete(k.verbs, "setEdgeSecurityPolicy")
	return k
}

// backendSchemes are the load balancing schemes a backend service may have,
// global and regional.
var backendSchemes = map[scopeType][]string{
	globalScope:   {"EXTERNAL", "EXTERNAL_MANAGED", "INTERNAL_MANAGED", "INTERNAL_SELF_MANAGED"},
	regionalScope: {"EXTERNAL", "EXTERNAL_MANAGED", "INTERNAL", "INTERNAL_MANAGED"},
}

// prepareBackendService fills the defaults the recordings show and checks
// what Google rejects at once. Where the recordings say nothing (the
// scheme-specific rules) the wording is a guess in Google's style.
func prepareBackendService(s *Server, c *change) *APIError {
	bs := c.next
	setDefault(bs, "affinityCookieTtlSec", 0)
	setDefault(bs, "description", "")
	setDefault(bs, "sessionAffinity", "NONE")
	setDefault(bs, "timeoutSec", 30)
	setDefault(bs, "loadBalancingScheme", "EXTERNAL")
	// Guess: a backend service created without connection draining shows
	// it disabled, as GKE's own backend services do.
	setDefault(bs, "connectionDraining", map[string]any{"drainingTimeoutSec": 0})
	scheme := str(bs, "loadBalancingScheme")
	if !slices.Contains(backendSchemes[c.r.kind.scope], scheme) {
		return errInvalidField("resource.loadBalancingScheme", scheme, "This load balancing scheme is not supported for "+scopeNoun(c.r.kind.scope)+" backend services.")
	}
	if p := str(bs, "protocol"); p != "" && !backendProtocols[p] {
		return errInvalidField("resource.protocol", p, "Protocol must be one of HTTP, HTTPS, HTTP2, H2C, TCP, SSL, UDP, GRPC, UNSPECIFIED.")
	}
	if p := str(bs, "protocol"); scheme == "INTERNAL" && p != "" && p != "TCP" && p != "UDP" && p != "UNSPECIFIED" {
		return errInvalidField("resource.protocol", p, "Backend services with load balancing scheme INTERNAL support the protocols TCP, UDP and UNSPECIFIED.")
	}
	hcs := list(bs, "healthChecks")
	if len(hcs) > 1 {
		return errInvalidField("resource.healthChecks", hcs, "A backend service may have at most one health check.")
	}
	if err := s.checkManagedRegionalHealthCheck(c, scheme, hcs); err != nil {
		return err
	}
	hashIAPSecret(bs)
	return s.prepareBackends(c, scheme)
}

// checkManagedRegionalHealthCheck: a regional managed load balancer's
// backend service must use a health check of its own region.
func (s *Server) checkManagedRegionalHealthCheck(c *change, scheme string, hcs []any) *APIError {
	if c.r.kind.scope != regionalScope || !strings.HasSuffix(scheme, "_MANAGED") || len(hcs) == 0 {
		return nil
	}
	link, _ := hcs[0].(string)
	if ref, ok := parseRef(link, s.project, c.r.ref.Scope, "healthChecks"); !ok || ref.Scope != c.r.ref.Scope {
		return errInvalidField("resource.healthChecks[0]", link, "Backend services with load balancing scheme "+scheme+" must use a health check in "+scopeWords(c.r.ref.Scope)+".")
	}
	return nil
}

// hashIAPSecret: the OAuth client secret is write-only; Google keeps its SHA-256.
func hashIAPSecret(bs map[string]any) {
	iap := obj(bs, "iap")
	if iap == nil {
		return
	}
	if secret, ok := iap["oauth2ClientSecret"].(string); ok {
		sum := sha256.Sum256([]byte(secret))
		iap["oauth2ClientSecretSha256"] = hex.EncodeToString(sum[:])
		delete(iap, "oauth2ClientSecret")
	}
}

// prepareBackends checks each backend and fills its defaults: passthrough
// (INTERNAL) backends balance by CONNECTION and take GCE_VM_IP endpoint
// groups; proxies balance by UTILIZATION or RATE.
func (s *Server) prepareBackends(c *change, scheme string) *APIError {
	seen := map[string]bool{}
	for i, b := range list(c.next, "backends") {
		backend, ok := b.(map[string]any)
		field := fmt.Sprintf("resource.backends[%d]", i)
		if !ok || str(backend, "group") == "" {
			return errRequired(field + ".group")
		}
		group := str(backend, "group")
		ref, isRef := parseRef(group, s.project, "", "networkEndpointGroups", "instanceGroups")
		key := group
		if isRef {
			key = ref.Scope + "/" + ref.Name
		}
		if seen[key] {
			return errInvalidField(field+".group", group, "Duplicate backend group.")
		}
		seen[key] = true
		if scheme == "INTERNAL" {
			setDefault(backend, "balancingMode", "CONNECTION")
			if m := str(backend, "balancingMode"); m != "CONNECTION" {
				return errInvalidField(field+".balancingMode", m, "Backend services with load balancing scheme INTERNAL support only the CONNECTION balancing mode.")
			}
			if err := s.checkPassthroughGroup(field, group, ref, isRef); err != nil {
				return err
			}
			continue
		}
		setDefault(backend, "balancingMode", "UTILIZATION")
		setDefault(backend, "capacityScaler", 1)
		if str(backend, "balancingMode") == "RATE" {
			_, rate := backend["maxRate"]
			_, perEndpoint := backend["maxRatePerEndpoint"]
			_, perInstance := backend["maxRatePerInstance"]
			if !rate && !perEndpoint && !perInstance {
				return errInvalidField(field+".balancingMode", "RATE", "Balancing mode RATE requires one of maxRate, maxRatePerEndpoint or maxRatePerInstance.")
			}
		}
	}
	return nil
}

// checkPassthroughGroup: an internal passthrough load balancer reaches VMs
// by IP, so its network endpoint groups must be of type GCE_VM_IP.
func (s *Server) checkPassthroughGroup(field, group string, ref resourceRef, isRef bool) *APIError {
	if !isRef || ref.Collection != "networkEndpointGroups" {
		return nil
	}
	neg := s.resources[s.canonicalRef(ref).Path()]
	if neg == nil || neg.obj == nil {
		return nil // resolving the reference answers 404
	}
	if t := str(neg.obj, "networkEndpointType"); t != "GCE_VM_IP" {
		return errInvalidField(field+".group", group, "Backend services with load balancing scheme INTERNAL support only network endpoint groups of type GCE_VM_IP, not "+t+".")
	}
	return nil
}

func scopeNoun(t scopeType) string {
	switch t {
	case regionalScope:
		return "regional"
	case zonalScope:
		return "zonal"
	}
	return "global"
}

// setSecurityPolicy attaches (or, given an empty reference, detaches) a
// Cloud Armor policy.
func setSecurityPolicy(_ *Server, c *change) *APIError {
	if link := str(c.call.body, "securityPolicy"); link != "" {
		c.next["securityPolicy"] = link
	} else {
		delete(c.next, "securityPolicy")
	}
	return nil
}
