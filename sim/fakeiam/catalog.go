package fakeiam

import (
	_ "embed"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

//go:embed permissions.txt
var permissionsText string

// known holds every permission in permissions.txt; services those
// permissions come from are listed completely, so a name of one of them
// that is not in known does not exist.
var known, listedServices = parseCatalog(permissionsText)

// heldByNoRole exist (testIamPermissions accepts them) but no predefined
// role grants them, so no caller holds them: a preflight that asks for them
// sees them missing even for an owner (managed-mesh-and-iam.md B1, from
// iann0036/iam-dataset). Google checks compute.sslCertificates.get, not
// .use, when a proxy names a certificate.
var heldByNoRole = map[string]bool{
	"compute.sslCertificates.use":       true,
	"compute.globalForwardingRules.use": true,
}

// notTestableOnProjects are permissions on organizations, folders or the
// project collection: asked of a project, testIamPermissions answers 400
// (googleapis/google-cloud-java#722 for resourcemanager.projects.create and
// .list; organization and folder permissions by the same rule).
var notTestableOnProjects = []string{
	"resourcemanager.projects.create", "resourcemanager.projects.list",
	"resourcemanager.organizations.", "resourcemanager.folders.", "compute.organizations.",
}

var permissionName = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*\.[a-zA-Z][a-zA-Z0-9]*\.[a-zA-Z][a-zA-Z0-9]*$`)

func parseCatalog(text string) (map[string]bool, map[string]bool) {
	perms, services := map[string]bool{}, map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		resource, verbs, ok := strings.Cut(line, ":")
		if !ok {
			panic("fakeiam: permissions.txt: no colon in " + line)
		}
		services[strings.SplitN(resource, ".", 2)[0]] = true
		for _, v := range strings.Fields(verbs) {
			perms[resource+"."+v] = true
		}
	}
	return perms, services
}

// Validate reports whether name is a permission testIamPermissions accepts
// for a project. Names of the services meshsim lists (compute, container,
// gkehub, serviceusage, certificatemanager) must exist; names of other
// services only need Google's three-part shape, since the simulator cannot
// know them all.
func Validate(name string) error {
	if strings.Contains(name, "*") {
		return fmt.Errorf("permission %q: wildcards are not allowed", name)
	}
	if !permissionName.MatchString(name) {
		return fmt.Errorf("permission %q is not of the form service.resource.verb", name)
	}
	for _, p := range notTestableOnProjects {
		if name == p || strings.HasSuffix(p, ".") && strings.HasPrefix(name, p) {
			return fmt.Errorf("permission %q cannot be tested on a project", name)
		}
	}
	service := strings.SplitN(name, ".", 2)[0]
	if listedServices[service] && !known[name] {
		if near := nearest(name); near != "" {
			return fmt.Errorf("permission %q does not exist (did you mean %s?)", name, near)
		}
		return fmt.Errorf("permission %q does not exist", name)
	}
	return nil
}

// Grantable reports whether a role can grant name: false for the
// permissions that exist in no role.
func Grantable(name string) bool { return !heldByNoRole[name] }

// nearest suggests the known permissions closest in spelling to name
// (at most three edits away), for an error message.
func nearest(name string) string {
	best, found := 4, []string(nil)
	for p := range known {
		d := editDistance(name, p)
		switch {
		case d < best:
			best, found = d, []string{p}
		case d == best:
			found = append(found, p)
		}
	}
	sort.Strings(found)
	return strings.Join(found, ", ")
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// matchesPattern reports whether a configured pattern names perm: the
// permission itself, or a prefix ending in "*" ("compute.firewalls.*",
// "compute.*", "*").
func matchesPattern(pattern, perm string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(perm, prefix)
	}
	return pattern == perm
}

// validatePattern checks a permission or pattern from meshsim's config.
func validatePattern(pattern string) error {
	prefix, wild := strings.CutSuffix(pattern, "*")
	if strings.Contains(prefix, "*") || wild && prefix != "" && !strings.HasSuffix(prefix, ".") {
		return fmt.Errorf("pattern %q: a \"*\" may only stand for whole trailing parts, as in compute.firewalls.* or compute.*", pattern)
	}
	if !wild {
		if err := Validate(pattern); err != nil {
			return err
		}
		if !Grantable(pattern) {
			return fmt.Errorf("permission %q is in no role, so no caller can hold it", pattern)
		}
		return nil
	}
	if service := strings.SplitN(prefix, ".", 2)[0]; prefix == "" || !listedServices[service] {
		return nil
	}
	for p := range known {
		if strings.HasPrefix(p, prefix) {
			return nil
		}
	}
	return fmt.Errorf("pattern %q matches no permission", pattern)
}
