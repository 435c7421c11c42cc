package fakegcp

import (
	"crypto/x509"
	"encoding/pem"
	"time"
)

const managedCertLifetime = 90 * 24 * time.Hour

func sslCertificateKind() *kind {
	return &kind{
		collection: "sslCertificates", method: "sslCertificates", apiKind: "compute#sslCertificate",
		typeName: "ssl_certificate", quota: "SSL_CERTIFICATES",
		outputOnly: []string{"expireTime", "subjectAlternativeNames"},
		prepare:    prepareSslCertificate,
		render:     renderSslCertificate,
	}
}

// regionSslCertificateKind: regional certificates, self-managed only (Google
// manages global certificates alone).
func regionSslCertificateKind() *kind {
	k := sslCertificateKind()
	k.scope, k.method, k.quota = regionalScope, "regionSslCertificates", ""
	prepare := k.prepare
	k.prepare = func(s *Server, c *change) *APIError {
		if _, managed := c.next["managed"]; managed || str(c.next, "type") == "MANAGED" {
			return errInvalidField("resource.type", "MANAGED", "Regional SSL certificates must be SELF_MANAGED.")
		}
		return prepare(s, c)
	}
	return k
}

// prepareSslCertificate: a self-managed certificate must parse (its expiry
// and names come from it; the private key is never returned); a managed one
// needs domains.
func prepareSslCertificate(_ *Server, c *change) *APIError {
	cert := c.next
	if _, managed := cert["managed"]; managed {
		setDefault(cert, "type", "MANAGED")
	}
	setDefault(cert, "type", "SELF_MANAGED")
	switch str(cert, "type") {
	case "MANAGED":
		m := ensureObj(cert, "managed")
		delete(m, "status")
		delete(m, "domainStatus")
		domains := strList(m, "domains")
		if len(domains) == 0 {
			return errRequired("resource.managed.domains")
		}
		if len(domains) > 100 {
			return errInvalidField("resource.managed.domains", len(domains), "A managed certificate may have at most 100 domains.")
		}
		// The recordings show an expireTime even before the certificate is issued.
		cert["expireTime"] = googleTime(time.Now().Add(managedCertLifetime))
	case "SELF_MANAGED":
		self := ensureObj(cert, "selfManaged")
		pemText := str(cert, "certificate")
		if pemText == "" {
			pemText = str(self, "certificate")
		}
		if pemText == "" {
			return errRequired("resource.certificate")
		}
		if str(cert, "privateKey") == "" && str(self, "privateKey") == "" {
			return errRequired("resource.privateKey")
		}
		block, _ := pem.Decode([]byte(pemText))
		if block == nil {
			return errInvalid("The SSL certificate could not be parsed.")
		}
		parsed, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return errInvalid("The SSL certificate could not be parsed.")
		}
		delete(cert, "privateKey")
		delete(self, "privateKey")
		self["certificate"] = pemText
		cert["expireTime"] = googleTime(parsed.NotAfter)
		if len(parsed.DNSNames) > 0 {
			cert["subjectAlternativeNames"] = toAnyList(parsed.DNSNames)
		}
	default:
		return errInvalidField("resource.type", str(cert, "type"), "Must be SELF_MANAGED or MANAGED.")
	}
	return nil
}

// renderSslCertificate shows a managed certificate's provisioning: it is
// PROVISIONING until it has served behind a forwarding rule (through a
// target HTTPS proxy) for the configured delay, then ACTIVE, per domain too.
func renderSslCertificate(s *Server, r *resource, out map[string]any) {
	if str(out, "type") != "MANAGED" {
		return
	}
	status := "PROVISIONING"
	if !r.servingSince.IsZero() && !time.Now().Before(r.servingSince.Add(time.Duration(s.knobs.CertProvisioningDelay))) {
		status = "ACTIVE"
	}
	m := ensureObj(out, "managed")
	m["status"] = status
	domainStatus := map[string]any{}
	for _, d := range strList(m, "domains") {
		domainStatus[d] = status
	}
	m["domainStatus"] = domainStatus
}

// refreshCertificates records when each managed certificate starts serving
// (it is on a target HTTPS proxy that a forwarding rule targets). Once a
// certificate has been issued it stays ACTIVE, as Google's do when detached.
// Called with s.mu held after every completed change.
func (s *Server) refreshCertificates(at time.Time) {
	serving := map[string]bool{}
	for _, proxy := range s.servingHTTPSProxies() {
		for _, path := range s.refsIn(proxy.kind, proxy.obj) {
			serving[path] = true
		}
	}
	for _, cert := range s.allOf(kindOf("sslCertificates")) {
		issued := !cert.servingSince.IsZero() && !at.Before(cert.servingSince.Add(time.Duration(s.knobs.CertProvisioningDelay)))
		switch {
		case serving[cert.ref.Path()] && cert.servingSince.IsZero():
			cert.servingSince = at
		case !serving[cert.ref.Path()] && !issued:
			cert.servingSince = time.Time{}
		}
	}
}

// servingHTTPSProxies lists the global target HTTPS proxies a forwarding
// rule sends traffic to: their certificates (and certificate maps) serve.
// Called with s.mu held.
func (s *Server) servingHTTPSProxies() []*resource {
	var out []*resource
	for _, fr := range s.allOf(kindOf("forwardingRules")) {
		ref, ok := parseRef(str(fr.obj, "target"), s.project, "global", "targetHttpsProxies")
		if !ok {
			continue
		}
		if proxy := s.resources[s.canonicalRef(ref).Path()]; proxy != nil && proxy.obj != nil {
			out = append(out, proxy)
		}
	}
	return out
}
