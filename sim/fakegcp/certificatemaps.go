package fakegcp

import (
	"regexp"
	"strings"
	"time"
)

// CertificateMaps is what Compute needs of Certificate Manager: whether a
// certificate map exists, so that a target HTTPS proxy names only one that
// does. It is called with the Compute fake's lock held and must not call
// back into it.
type CertificateMaps interface {
	// CertificateMapExists reports whether the map
	// projects/P/locations/global/certificateMaps/M exists.
	CertificateMapExists(name string) bool
}

// SetCertificateMaps connects the Certificate Manager fake, which is built
// after (and on top of) this one.
func (s *Server) SetCertificateMaps(cm CertificateMaps) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.certMaps = cm
}

// certificateMapRE finds a certificate map's relative name at the end of a
// reference.
var certificateMapRE = regexp.MustCompile(`(projects/[^/]+/locations/global/certificateMaps/[a-zA-Z0-9_-]+)$`)

// certificateMapName reads a proxy's certificateMap field as the map's
// relative name; ok is false when the field does not name a map. Google
// answers //certificatemanager.googleapis.com/projects/P/locations/global/certificateMaps/M
// and takes that, the relative name, or the map's URL (gcloud sends
// https://certificatemanager.googleapis.com/v1/..., or its endpoint
// override's address).
func certificateMapName(field string) (string, bool) {
	loc := certificateMapRE.FindStringSubmatchIndex(field)
	if loc == nil {
		return "", false
	}
	prefix := field[:loc[2]]
	if prefix != "" && !strings.HasPrefix(prefix, "//certificatemanager.googleapis.com/") && !strings.Contains(prefix, "://") {
		return "", false
	}
	return field[loc[2]:loc[3]], true
}

// resolveCertificateMap checks a proxy's certificateMap and writes it in
// Google's form. Called with s.mu held.
func (s *Server) resolveCertificateMap(p map[string]any) *APIError {
	field := str(p, "certificateMap")
	if field == "" {
		return nil
	}
	name, ok := certificateMapName(field)
	if !ok {
		return errInvalidField("resource.certificateMap", field, "Must be of the form //certificatemanager.googleapis.com/projects/{project}/locations/global/certificateMaps/{name}.")
	}
	if s.certMaps != nil && !s.certMaps.CertificateMapExists(name) {
		return errNotFound(name)
	}
	p["certificateMap"] = "//certificatemanager.googleapis.com/" + name
	return nil
}

// setCertificateMap attaches a certificate map (or detaches it, given an
// empty one); the proxy then serves its certificates.
func setCertificateMap(s *Server, c *change) *APIError {
	field := str(c.call.body, "certificateMap")
	if field == "" {
		delete(c.next, "certificateMap")
		if len(list(c.next, "sslCertificates")) == 0 {
			return errInvalidField("certificateMap", "", "A target HTTPS proxy without SSL certificates needs a certificate map.")
		}
		return nil
	}
	c.next["certificateMap"] = field
	return s.resolveCertificateMap(c.next)
}

// CertificateMapUsers lists, by certificate map, the target HTTPS proxies
// (by path) that name it, proxies being created included: Certificate
// Manager refuses to delete a map in use, and shows its users.
func (s *Server) CertificateMapUsers() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	users := map[string][]string{}
	for _, path := range sortedKeys(s.resources) {
		r := s.resources[path]
		if r.kind.collection != "targetHttpsProxies" {
			continue
		}
		seen := map[string]bool{}
		for _, state := range []map[string]any{r.obj, pendingState(r)} {
			if m, ok := certificateMapName(str(state, "certificateMap")); ok && !seen[m] {
				seen[m] = true
				users[m] = append(users[m], path)
			}
		}
	}
	return users
}

// ServedCertificateMaps tells, for each certificate map serving behind a
// forwarding rule (through a target HTTPS proxy), since when.
func (s *Server) ServedCertificateMaps() map[string]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	return copyMap(s.mapServingSince)
}

// refreshCertificateMaps records when each certificate map starts to serve,
// and forgets the maps that no longer do. Called with s.mu held after every
// completed change.
func (s *Server) refreshCertificateMaps(at time.Time) {
	serving := map[string]bool{}
	for _, proxy := range s.servingHTTPSProxies() {
		if name, ok := certificateMapName(str(proxy.obj, "certificateMap")); ok {
			serving[name] = true
		}
	}
	for name := range s.mapServingSince {
		if !serving[name] {
			delete(s.mapServingSince, name)
		}
	}
	for name := range serving {
		if _, ok := s.mapServingSince[name]; !ok {
			s.mapServingSince[name] = at
		}
	}
}
