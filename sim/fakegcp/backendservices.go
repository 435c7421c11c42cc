package fakegcp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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
			{path: "healthChecks[]", collections: []string{"healthChecks"}},
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

// prepareBackendService fills the defaults the recordings show and checks
// what Google rejects at once.
func prepareBackendService(_ *Server, c *change) *APIError {
	bs := c.next
	setDefault(bs, "affinityCookieTtlSec", 0)
	setDefault(bs, "description", "")
	setDefault(bs, "sessionAffinity", "NONE")
	setDefault(bs, "timeoutSec", 30)
	setDefault(bs, "loadBalancingScheme", "EXTERNAL")
	if p := str(bs, "protocol"); p != "" && !backendProtocols[p] {
		return errInvalidField("resource.protocol", p, "Protocol must be one of HTTP, HTTPS, HTTP2, H2C, TCP, SSL, UDP, GRPC, UNSPECIFIED.")
	}
	if hcs := list(bs, "healthChecks"); len(hcs) > 1 {
		return errInvalidField("resource.healthChecks", hcs, "A backend service may have at most one health check.")
	}
	// The OAuth client secret is write-only: Google keeps its SHA-256.
	if iap := obj(bs, "iap"); iap != nil {
		if secret, ok := iap["oauth2ClientSecret"].(string); ok {
			sum := sha256.Sum256([]byte(secret))
			iap["oauth2ClientSecretSha256"] = hex.EncodeToString(sum[:])
			delete(iap, "oauth2ClientSecret")
		}
	}
	seen := map[string]bool{}
	for i, b := range list(bs, "backends") {
		backend, ok := b.(map[string]any)
		field := fmt.Sprintf("resource.backends[%d]", i)
		if !ok || str(backend, "group") == "" {
			return errRequired(field + ".group")
		}
		group := str(backend, "group")
		if ref, ok := parseRef(group, "", "", "networkEndpointGroups", "instanceGroups"); ok {
			group = ref.Scope + "/" + ref.Name
		}
		if seen[group] {
			return errInvalidField(field+".group", str(backend, "group"), "Duplicate backend group.")
		}
		seen[group] = true
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
