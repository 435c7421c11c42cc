package fakecertmanager

import (
	"crypto/x509"
	"encoding/pem"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/meshctl/meshctl/sim/fakeapi"
)

// kinds holds the collections by URL segment.
var kinds = map[string]*kind{
	"certificates":          certificateKind(),
	"dnsAuthorizations":     dnsAuthorizationKind(),
	"certificateMaps":       certificateMapKind(),
	"certificateMapEntries": certificateMapEntryKind(),
}

var (
	copyObject = fakeapi.CopyObject
	str        = fakeapi.Str
	obj        = fakeapi.Obj
	list       = fakeapi.List
	strList    = fakeapi.StrList
	setDefault = fakeapi.SetDefault
)

// domainRE: a DNS name, a certificate's domain may be a wildcard.
var domainRE = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$`)

func certificateKind() *kind {
	return &kind{
		collection: "certificates", methodPath: "certificates", noun: "certificate", typeName: "Certificate",
		idParam: "certificateId", updatable: []string{"description", "labels", "selfManaged"},
		enums: map[string][]string{
			"scope":         {"DEFAULT", "EDGE_CACHE", "ALL_REGIONS", "CLIENT_AUTH"},
			"managed.state": {"STATE_UNSPECIFIED", "PROVISIONING", "FAILED", "ACTIVE"},
			"managed.authorizationAttemptInfo[].state": {"STATE_UNSPECIFIED", "AUTHORIZING", "", "", "", "", "AUTHORIZED", "FAILED"},
		},
		prepare: prepareCertificate,
		render:  renderCertificate,
		user: func(s *Server, _ *call, r *resource) (string, string) {
			for _, name := range fakeapi.SortedKeys(s.resources) {
				if e := s.resources[name]; e.kind.collection == "certificateMapEntries" && containsName(s, strList(e.obj, "certificates"), r.name) {
					return "certificate", name
				}
			}
			return "", ""
		},
	}
}

// prepareCertificate: a certificate is self-managed (a PEM certificate
// and key; the key is input only) or Google-managed (domains, optionally
// with DNS authorizations that must exist and cover every domain).
func prepareCertificate(s *Server, c *call, next, prev map[string]any) *fakeapi.Error {
	self, managed := obj(next, "selfManaged"), obj(next, "managed")
	switch {
	case (self == nil) == (managed == nil):
		return errInvalid("A certificate is either selfManaged or managed: set exactly one.")
	case self != nil && (prev == nil || !reflect.DeepEqual(self, obj(prev, "selfManaged"))):
		return checkSelfManaged(self)
	case managed != nil && prev == nil:
		return s.checkManaged(c, managed)
	}
	return nil
}

// checkSelfManaged parses the certificate and keeps the key out of every
// answer: Google documents pemPrivateKey as input only.
func checkSelfManaged(self map[string]any) *fakeapi.Error {
	block, _ := pem.Decode([]byte(str(self, "pemCertificate")))
	if block == nil {
		return errInvalid("selfManaged.pemCertificate: the PEM certificate could not be parsed.")
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return errInvalid("selfManaged.pemCertificate: " + err.Error())
	}
	if key, _ := pem.Decode([]byte(str(self, "pemPrivateKey"))); key == nil {
		return errInvalid("selfManaged.pemPrivateKey: a PEM private key is required.")
	}
	delete(self, "pemPrivateKey")
	return nil
}

func (s *Server) checkManaged(c *call, m map[string]any) *fakeapi.Error {
	for _, f := range []string{"state", "authorizationAttemptInfo", "provisioningIssue"} {
		delete(m, f)
	}
	domains := strList(m, "domains")
	if len(domains) == 0 || len(domains) > 100 {
		return errInvalid("managed.domains: a managed certificate needs 1 to 100 domains.")
	}
	var authorized []string
	for _, name := range strList(m, "dnsAuthorizations") {
		auth := s.resources[s.canonical(name)]
		if auth == nil || auth.kind.collection != "dnsAuthorizations" {
			return errNotFound("dnsAuthorization", name)
		}
		authorized = append(authorized, str(auth.obj, "domain"))
	}
	for _, d := range domains {
		if !domainRE.MatchString(d) {
			return errInvalid("managed.domains: '" + d + "' is not a valid domain name.")
		}
		parent := strings.TrimPrefix(d, "*.")
		if len(authorized) > 0 && !slices.Contains(authorized, parent) {
			return errInvalid("managed.domains: no DNS authorization covers '" + d + "'; add one for '" + parent + "'.")
		}
		if strings.HasPrefix(d, "*.") && len(authorized) == 0 {
			return errInvalid("managed.domains: the wildcard '" + d + "' needs a DNS authorization for '" + parent + "'.")
		}
	}
	return nil
}

// renderCertificate shows a managed certificate's provisioning (see
// issuedAt) and each domain's authorization.
func renderCertificate(s *Server, c *call, r *resource, out map[string]any) {
	m := obj(out, "managed")
	if m == nil {
		return
	}
	state, attempt := "PROVISIONING", "AUTHORIZING"
	if s.issuedAt(c, r) {
		state, attempt = "ACTIVE", "AUTHORIZED"
	}
	var info []any
	for _, d := range strList(m, "domains") {
		info = append(info, map[string]any{"domain": d, "state": attempt})
	}
	m["authorizationAttemptInfo"] = info
	m["state"] = state
}

// issuedAt reports whether a managed certificate is issued by now: with DNS
// authorizations, ProvisioningDelay after its creation; with load balancer
// authorization, ProvisioningDelay after one of its maps began to serve.
// Once issued it stays so. Called with s.mu held.
func (s *Server) issuedAt(c *call, r *resource) bool {
	if !r.issued.IsZero() {
		return true
	}
	delay := time.Duration(s.knobs.ProvisioningDelay)
	start, ok := r.created, true
	if len(strList(obj(r.obj, "managed"), "dnsAuthorizations")) == 0 {
		start, ok = s.servingSince(c, r)
	}
	if !ok || time.Now().Before(start.Add(delay)) {
		return false
	}
	r.issued = start.Add(delay)
	return true
}

// servingSince: the earliest time a map with an entry for the certificate
// began to serve. Called with s.mu held.
func (s *Server) servingSince(c *call, cert *resource) (time.Time, bool) {
	var since time.Time
	for _, name := range fakeapi.SortedKeys(s.resources) {
		e := s.resources[name]
		if e.kind.collection != "certificateMapEntries" || !containsName(s, strList(e.obj, "certificates"), cert.name) {
			continue
		}
		mapName := name[:strings.Index(name, "/certificateMapEntries/")]
		if t, ok := c.view.served[mapName]; ok && (since.IsZero() || t.Before(since)) {
			since = t
		}
	}
	return since, !since.IsZero()
}

func dnsAuthorizationKind() *kind {
	return &kind{
		collection: "dnsAuthorizations", methodPath: "dnsAuthorizations", noun: "dnsAuthorization", typeName: "DnsAuthorization",
		idParam: "dnsAuthorizationId", updatable: []string{"description", "labels"}, updateTime: true,
		enums: map[string][]string{"type": {"TYPE_UNSPECIFIED", "FIXED_RECORD", "PER_PROJECT_RECORD"}},
		prepare: func(_ *Server, _ *call, next, prev map[string]any) *fakeapi.Error {
			if prev != nil {
				return nil
			}
			domain := str(next, "domain")
			if !domainRE.MatchString(domain) || strings.HasPrefix(domain, "*.") {
				return errInvalid("domain: '" + domain + "' is not a valid domain name.")
			}
			setDefault(next, "type", "FIXED_RECORD")
			// Recorded: the record to create is a CNAME at _acme-challenge
			// to authorize.certificatemanager.goog. (Google's own data
			// carries a per-authorization prefix the recording normalises
			// away.)
			next["dnsResourceRecord"] = map[string]any{
				"name": "_acme-challenge." + domain + ".", "type": "CNAME", "data": "authorize.certificatemanager.goog.",
			}
			return nil
		},
		user: func(s *Server, _ *call, r *resource) (string, string) {
			for _, name := range fakeapi.SortedKeys(s.resources) {
				if cert := s.resources[name]; cert.kind.collection == "certificates" &&
					containsName(s, strList(obj(cert.obj, "managed"), "dnsAuthorizations"), r.name) {
					return "dnsAuthorization", name
				}
			}
			return "", ""
		},
	}
}

func certificateMapKind() *kind {
	return &kind{
		collection: "certificateMaps", methodPath: "certificateMaps", noun: "certificateMap", typeName: "CertificateMap",
		idParam: "certificateMapId", updatable: []string{"description", "labels"}, updateTime: true, createdInRequest: true,
		prepare: func(*Server, *call, map[string]any, map[string]any) *fakeapi.Error { return nil },
		// gclbTargets lists the target HTTPS proxies serving the map.
		render: func(_ *Server, c *call, r *resource, out map[string]any) {
			var targets []any
			for _, proxy := range c.view.users[r.name] {
				targets = append(targets, map[string]any{"targetHttpsProxy": "//compute.googleapis.com/" + proxy})
			}
			if len(targets) > 0 {
				out["gclbTargets"] = targets
			}
		},
		// Documented: a map with entries cannot be deleted; nor can one a
		// target HTTPS proxy names.
		user: func(s *Server, c *call, r *resource) (string, string) {
			for _, name := range fakeapi.SortedKeys(s.resources) {
				if strings.HasPrefix(name, r.name+"/certificateMapEntries/") {
					return "certificateMap", name
				}
			}
			if users := c.view.users[r.name]; len(users) > 0 {
				return "certificateMap", users[0]
			}
			return "", ""
		},
	}
}

func certificateMapEntryKind() *kind {
	return &kind{
		collection: "certificateMapEntries", methodPath: "certificateMaps.certificateMapEntries", noun: "certificateMapEntry",
		typeName: "CertificateMapEntry", idParam: "certificateMapEntryId", updatable: []string{"description", "labels", "certificates"},
		enums:   map[string][]string{"matcher": {"MATCHER_UNSPECIFIED", "PRIMARY"}},
		prepare: prepareMapEntry,
	}
}

// prepareMapEntry: an entry serves a hostname (or is the map's PRIMARY
// entry) with one to four certificates that exist.
func prepareMapEntry(s *Server, c *call, next, prev map[string]any) *fakeapi.Error {
	host, matcher := str(next, "hostname"), str(next, "matcher")
	if (host == "") == (matcher == "") {
		return errInvalid("A certificate map entry has either a hostname or a matcher: set exactly one.")
	}
	if host != "" && !domainRE.MatchString(host) {
		return errInvalid("hostname: '" + host + "' is not a valid host name.")
	}
	if prev == nil {
		if other := s.entryFor(c.parent, host, matcher); other != "" {
			return errInvalid("The certificate map already has an entry for " + host + matcher + ": " + other + ".")
		}
	}
	certs := strList(next, "certificates")
	if len(certs) < 1 || len(certs) > 4 {
		return errInvalid("certificates: a certificate map entry has 1 to 4 certificates.")
	}
	for i, name := range certs {
		cert := s.resources[s.canonical(name)]
		if cert == nil || cert.kind.collection != "certificates" {
			return errNotFound("certificate", name)
		}
		certs[i] = cert.name
	}
	next["certificates"] = toAnyList(certs)
	return nil
}

// entryFor names the map's entry for a hostname or matcher, or "".
func (s *Server) entryFor(mapName, host, matcher string) string {
	for _, name := range fakeapi.SortedKeys(s.resources) {
		e := s.resources[name]
		if strings.HasPrefix(name, mapName+"/certificateMapEntries/") &&
			((host != "" && str(e.obj, "hostname") == host) || (matcher != "" && str(e.obj, "matcher") == matcher)) {
			return name
		}
	}
	return ""
}

func containsName(s *Server, names []string, name string) bool {
	for _, n := range names {
		if s.canonical(n) == name {
			return true
		}
	}
	return false
}

func toAnyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, v := range ss {
		out[i] = v
	}
	return out
}
