package fakegcp

func targetHTTPSProxyKind() *kind {
	return &kind{
		collection: "targetHttpsProxies", method: "targetHttpsProxies", apiKind: "compute#targetHttpsProxy",
		typeName: "target_https_proxy", quota: "TARGET_HTTPS_PROXIES",
		patch: true, fingerprint: true,
		refs: []refField{
			{path: "urlMap", collections: []string{"urlMaps"}},
			{path: "sslCertificates[]", collections: []string{"sslCertificates"}},
			{path: "sslPolicy", collections: []string{"sslPolicies"}},
		},
		prepare: prepareTargetHTTPSProxy,
		verbs: map[string]verb{
			// As Google serves them: setUrlMap and setSslCertificates at
			// projects/p/targetHttpsProxies/x/..., the others under global/.
			"setUrlMap":          {opType: "setUrlMap", edit: setURLMap, unscoped: true},
			"setSslCertificates": {opType: "setSslCertificates", edit: setSslCertificates, unscoped: true},
			"setSslPolicy":       {opType: "setSslPolicy", edit: setSslPolicy},
			"setQuicOverride":    {opType: "setQuicOverride", edit: setQuicOverride},
			"setCertificateMap":  {opType: "setCertificateMap", edit: setCertificateMap},
		},
	}
}

func targetHTTPProxyKind() *kind {
	return &kind{
		collection: "targetHttpProxies", method: "targetHttpProxies", apiKind: "compute#targetHttpProxy",
		typeName: "target_http_proxy", quota: "TARGET_HTTP_PROXIES",
		patch: true, fingerprint: true,
		refs: []refField{{path: "urlMap", collections: []string{"urlMaps"}}},
		prepare: func(_ *Server, c *change) *APIError {
			if str(c.next, "urlMap") == "" {
				return errRequired("resource.urlMap")
			}
			return nil
		},
		// Google serves setUrlMap at projects/p/targetHttpProxies/x/setUrlMap.
		verbs: map[string]verb{"setUrlMap": {opType: "setUrlMap", edit: setURLMap, unscoped: true}},
	}
}

// regionTargetHTTPProxyKind: the regional application load balancers'
// HTTP proxies, on a regional URL map of their region; setUrlMap lives
// under the region.
func regionTargetHTTPProxyKind() *kind {
	k := targetHTTPProxyKind()
	k.scope, k.method, k.quota = regionalScope, "regionTargetHttpProxies", ""
	k.refs = []refField{{path: "urlMap", collections: []string{"urlMaps"}, sameScope: true}}
	k.verbs = map[string]verb{"setUrlMap": {opType: "setUrlMap", edit: setURLMap}}
	return k
}

// regionTargetHTTPSProxyKind: the regional application load balancers'
// HTTPS proxies, with regional (self-managed) certificates.
func regionTargetHTTPSProxyKind() *kind {
	k := targetHTTPSProxyKind()
	k.scope, k.method, k.quota = regionalScope, "regionTargetHttpsProxies", ""
	k.refs = []refField{
		{path: "urlMap", collections: []string{"urlMaps"}, sameScope: true},
		{path: "sslCertificates[]", collections: []string{"sslCertificates"}, sameScope: true},
		{path: "sslPolicy", collections: []string{"sslPolicies"}},
	}
	k.verbs = map[string]verb{
		"setUrlMap":          {opType: "setUrlMap", edit: setURLMap},
		"setSslCertificates": {opType: "setSslCertificates", edit: setSslCertificates},
	}
	return k
}

// prepareTargetHTTPSProxy: a proxy needs a URL map and at least one
// certificate (or a certificate map); Google adds the QUIC and TLS early
// data defaults.
func prepareTargetHTTPSProxy(s *Server, c *change) *APIError {
	p := c.next
	if str(p, "urlMap") == "" {
		return errRequired("resource.urlMap")
	}
	certs := list(p, "sslCertificates")
	if len(certs) == 0 && str(p, "certificateMap") == "" {
		return errInvalidField("resource.sslCertificates", "", "At least one SSL certificate must be specified for a target HTTPS proxy.")
	}
	if len(certs) > 15 {
		return errInvalidField("resource.sslCertificates", len(certs), "A target HTTPS proxy may have at most 15 SSL certificates.")
	}
	setDefault(p, "quicOverride", "NONE")
	setDefault(p, "tlsEarlyData", "DISABLED")
	return s.resolveCertificateMap(p)
}

func setURLMap(_ *Server, c *change) *APIError {
	link := str(c.call.body, "urlMap")
	if link == "" {
		return errRequired("urlMap")
	}
	c.next["urlMap"] = link
	return nil
}

func setSslCertificates(_ *Server, c *change) *APIError {
	c.next["sslCertificates"] = deepCopy(c.call.body["sslCertificates"])
	return nil
}

// setSslPolicy attaches a policy, or detaches it when the reference is empty.
func setSslPolicy(_ *Server, c *change) *APIError {
	if link := str(c.call.body, "sslPolicy"); link != "" {
		c.next["sslPolicy"] = link
	} else {
		delete(c.next, "sslPolicy")
	}
	return nil
}

func setQuicOverride(_ *Server, c *change) *APIError {
	v := str(c.call.body, "quicOverride")
	if v != "NONE" && v != "ENABLE" && v != "DISABLE" {
		return errInvalidField("quicOverride", v, "Must be one of NONE, ENABLE, DISABLE.")
	}
	c.next["quicOverride"] = v
	return nil
}
