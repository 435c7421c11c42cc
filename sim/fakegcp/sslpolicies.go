package fakegcp

import "slices"

// sslProfileFeatures are the cipher suites each pre-configured profile
// enables, as Compute lists them in enabledFeatures (sorted).
var sslProfileFeatures = map[string][]string{
	"COMPATIBLE": {
		"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
		"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
		"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
		"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
		"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
		"TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_128_GCM_SHA256",
		"TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_256_GCM_SHA384",
	},
	// Recorded for MODERN.
	"MODERN": {
		"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
		"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
		"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
		"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
		"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	},
	// Recorded for RESTRICTED.
	"RESTRICTED": {
		"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
		"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	},
	"FIPS_202205": {
		"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
		"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	},
}

var tlsVersions = []string{"TLS_1_0", "TLS_1_1", "TLS_1_2", "TLS_1_3"}

func sslPolicyKind() *kind {
	return &kind{
		collection: "sslPolicies", method: "sslPolicies", apiKind: "compute#sslPolicy",
		typeName: "ssl_policy", quota: "SSL_POLICIES",
		patch: true, fingerprint: true,
		outputOnly: []string{"enabledFeatures", "warnings"},
		prepare:    prepareSslPolicy,
	}
}

// prepareSslPolicy fills the defaults (COMPATIBLE, TLS 1.0) and derives
// enabledFeatures from the profile.
func prepareSslPolicy(_ *Server, c *change) *APIError {
	p := c.next
	setDefault(p, "profile", "COMPATIBLE")
	setDefault(p, "minTlsVersion", "TLS_1_0")
	if v := str(p, "minTlsVersion"); !slices.Contains(tlsVersions, v) {
		return errInvalidField("resource.minTlsVersion", v, "Must be one of TLS_1_0, TLS_1_1, TLS_1_2, TLS_1_3.")
	}
	profile := str(p, "profile")
	if profile == "CUSTOM" {
		custom := strList(p, "customFeatures")
		if len(custom) == 0 {
			return errInvalidField("resource.customFeatures", "", "A CUSTOM profile requires customFeatures.")
		}
		features := slices.Clone(custom)
		slices.Sort(features)
		p["enabledFeatures"] = toAnyList(features)
		return nil
	}
	features, ok := sslProfileFeatures[profile]
	if !ok {
		return errInvalidField("resource.profile", profile, "Must be one of COMPATIBLE, MODERN, RESTRICTED, CUSTOM, FIPS_202205.")
	}
	if len(strList(p, "customFeatures")) > 0 {
		return errInvalidField("resource.customFeatures", strList(p, "customFeatures"), "customFeatures may only be set with the CUSTOM profile.")
	}
	p["enabledFeatures"] = toAnyList(features)
	return nil
}
