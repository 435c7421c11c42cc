package preflight

import (
	_ "embed"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Role is a predefined IAM role meshctl suggests granting.
type Role struct {
	// Name is the role's id, "roles/compute.securityAdmin".
	Name string `json:"name"`
	// Title is how the console shows it, "Compute Security Admin".
	Title string `json:"title"`
	// size is how many permissions the role grants in all.
	size   int
	grants map[string][]string // "compute.firewalls" -> verbs; "*" for all
}

// Grants reports whether the role grants perm.
func (r Role) Grants(perm string) bool {
	i := strings.LastIndex(perm, ".")
	if i < 0 {
		return false
	}
	resource, verb := perm[:i], perm[i+1:]
	for _, key := range []string{resource, strings.SplitN(resource, ".", 2)[0] + ".*"} {
		if vs, ok := r.grants[key]; ok && (slices.Contains(vs, verb) || slices.Contains(vs, "*")) {
			return true
		}
	}
	return false
}

//go:embed roles.txt
var rolesText string

// Roles are the roles meshctl knows, as roles.txt lists them.
var Roles = mustParseRoles(rolesText)

func mustParseRoles(text string) []Role {
	roles, err := parseRoles(text)
	if err != nil {
		panic("preflight: roles.txt: " + err.Error())
	}
	return roles
}

func parseRoles(text string) ([]Role, error) {
	var out []Role
	var cur *Role
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "#"):
		case line == "":
			cur = nil
		case cur == nil:
			parts := strings.Split(line, "|")
			if len(parts) != 3 {
				return nil, fmt.Errorf("line %d: want roles/NAME | Title | SIZE, got %q", n+1, line)
			}
			size, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(parts[2]), "~"))
			if err != nil {
				return nil, fmt.Errorf("line %d: size: %w", n+1, err)
			}
			out = append(out, Role{Name: strings.TrimSpace(parts[0]), Title: strings.TrimSpace(parts[1]), size: size, grants: map[string][]string{}})
			cur = &out[len(out)-1]
		default:
			resource, verbs, ok := strings.Cut(line, ":")
			if !ok {
				return nil, fmt.Errorf("line %d: want service.resource: verbs, got %q", n+1, line)
			}
			cur.grants[strings.TrimSpace(resource)] = strings.Fields(verbs)
		}
	}
	return out, nil
}

// SmallestRoles picks the roles to grant for perms: the set of roles that
// grants them all with the fewest permissions in total (least privilege:
// Compute Load Balancer Admin and Compute Security Admin rather than
// Compute Admin), the fewest roles among equals. Permissions no known role
// grants are returned apart.
func SmallestRoles(perms []string) (roles []Role, ungranted []string) {
	var want []string
	for _, p := range perms {
		if slices.ContainsFunc(Roles, func(r Role) bool { return r.Grants(p) }) {
			want = append(want, p)
		} else if !slices.Contains(ungranted, p) {
			ungranted = append(ungranted, p)
		}
	}
	if len(want) == 0 {
		return nil, ungranted
	}
	// Only roles that grant something wanted can be in the best set, and
	// there are few: every subset is tried.
	var useful []Role
	for _, r := range Roles {
		if slices.ContainsFunc(want, r.Grants) {
			useful = append(useful, r)
		}
	}
	bestSize, bestCount := -1, 0
	var best []Role
	for mask := 1; mask < 1<<len(useful); mask++ {
		var set []Role
		size := 0
		for i, r := range useful {
			if mask&(1<<i) != 0 {
				set, size = append(set, r), size+r.size
			}
		}
		if !grantsAll(set, want) {
			continue
		}
		if bestSize < 0 || size < bestSize || size == bestSize && len(set) < bestCount {
			best, bestSize, bestCount = set, size, len(set)
		}
	}
	return best, ungranted
}

func grantsAll(roles []Role, perms []string) bool {
	for _, p := range perms {
		if !slices.ContainsFunc(roles, func(r Role) bool { return r.Grants(p) }) {
			return false
		}
	}
	return true
}

// RoleTitles joins roles as people read them: "Compute Load Balancer Admin
// + Compute Security Admin".
func RoleTitles(roles []Role) string {
	titles := make([]string, len(roles))
	for i, r := range roles {
		titles[i] = r.Title
	}
	return strings.Join(titles, " + ")
}
