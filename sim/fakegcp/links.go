package fakegcp

import (
	"regexp"
	"strings"
)

// computeBase is the prefix of every link Compute hands out. Clients talking
// to a local endpoint (gcloud with api_endpoint_overrides) send links built
// from their override address instead; those are accepted on the way in and
// answered with Google's form on the way out.
const computeBase = "https://www.googleapis.com/compute/v1/"

// resourceRef names one Compute resource.
type resourceRef struct {
	Project    string
	Scope      string // "global", "zones/us-central1-a" or "regions/us-central1"
	Collection string
	Name       string
}

// Path is the relative resource name Google uses in messages:
// projects/p/global/healthChecks/hc.
func (r resourceRef) Path() string {
	return "projects/" + r.Project + "/" + r.Scope + "/" + r.Collection + "/" + r.Name
}

// Link is the full selfLink.
func (r resourceRef) Link() string { return computeBase + r.Path() }

func scopeLink(project, scope string) string {
	return computeBase + "projects/" + project + "/" + scope
}

func zoneOf(scope string) string { return strings.TrimPrefix(scope, "zones/") }

var nameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// validateName applies the RFC 1035 rule Compute enforces on every name.
func validateName(name string) *APIError {
	if !nameRE.MatchString(name) {
		return errInvalidField("resource.name", name, "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
	}
	return nil
}

// parseRef reads a reference in any form clients send: a full link with any
// scheme and host and API version, a relative "projects/..." path, a
// "global/..." or "zones/..." path, or a bare name (taken to be in project
// and defaultScope). It reports false when the text is not a link to one of
// the collections allowed.
func parseRef(s, project, defaultScope string, collections ...string) (resourceRef, bool) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "://") && !strings.Contains(s[strings.Index(s, "://")+3:], "/") {
		return resourceRef{}, false
	}
	segs := strings.Split(strings.TrimPrefix(trimLinkHost(s), "/"), "/")
	ref := resourceRef{Project: project, Scope: defaultScope}
	if len(segs) >= 2 && segs[0] == "projects" {
		ref.Project = segs[1]
		segs = segs[2:]
	}
	switch {
	case len(segs) == 1 && len(collections) > 0:
		ref.Collection, ref.Name = collections[0], segs[0]
	case len(segs) == 2:
		ref.Collection, ref.Name = segs[0], segs[1]
	case len(segs) == 3 && segs[0] == "global":
		ref.Scope, ref.Collection, ref.Name = "global", segs[1], segs[2]
	case len(segs) == 4 && (segs[0] == "zones" || segs[0] == "regions"):
		ref.Scope, ref.Collection, ref.Name = segs[0]+"/"+segs[1], segs[2], segs[3]
	default:
		return resourceRef{}, false
	}
	if ref.Name == "" || ref.Project == "" || ref.Scope == "" {
		return resourceRef{}, false
	}
	if len(collections) == 0 {
		return ref, true
	}
	for _, c := range collections {
		if c == ref.Collection {
			return ref, true
		}
	}
	return resourceRef{}, false
}

// trimLinkHost removes the scheme, host and API version of a full link,
// leaving "projects/...", as relative links are written.
func trimLinkHost(link string) string {
	if i := strings.Index(link, "://"); i >= 0 {
		rest := link[i+3:]
		if j := strings.Index(rest, "/"); j >= 0 {
			link = rest[j:]
		}
	}
	link = strings.TrimPrefix(link, "/")
	for _, prefix := range []string{"compute/v1/", "compute/beta/", "compute/alpha/"} {
		link = strings.TrimPrefix(link, prefix)
	}
	return link
}
