package managed

import (
	"fmt"
	"regexp"
	"strings"
)

// Managed control-plane channels (--channel) and the revisions Google names
// after them.
const (
	ChannelRapid   = "rapid"
	ChannelRegular = "regular"
	ChannelStable  = "stable"
)

// Channels lists the accepted --channel values.
var Channels = []string{ChannelRapid, ChannelRegular, ChannelStable}

// ChannelForGKE maps a GKE release channel to the managed control plane's
// channel as Google does: the same name, and regular for clusters on no
// channel. EXTENDED has no documented mapping; regular is assumed.
func ChannelForGKE(gke string) (channel string, documented bool) {
	switch strings.ToUpper(gke) {
	case "RAPID":
		return ChannelRapid, true
	case "REGULAR":
		return ChannelRegular, true
	case "STABLE":
		return ChannelStable, true
	case "", "UNSPECIFIED":
		return ChannelRegular, true
	default:
		return ChannelRegular, false
	}
}

// RevisionForChannel is the ControlPlaneRevision (and injection revision)
// Google provisions for a channel: asm-managed, asm-managed-rapid or
// asm-managed-stable.
func RevisionForChannel(channel string) string {
	if channel == ChannelRegular || channel == "" {
		return "asm-managed"
	}
	return "asm-managed-" + channel
}

// fleetChannel is the gkehub v2 ServiceMeshSpec.defaultChannel value.
func fleetChannel(channel string) string { return strings.ToUpper(channel) }

// MembershipRef names a fleet membership.
type MembershipRef struct {
	Project  string `json:"project"` // id or number
	Location string `json:"location"`
	ID       string `json:"id"`
}

// Name is the resource name projects/P/locations/L/memberships/M.
func (m MembershipRef) Name() string {
	return fmt.Sprintf("projects/%s/locations/%s/memberships/%s", m.Project, m.Location, m.ID)
}

func (m MembershipRef) String() string { return m.Name() }

// ParseMembershipName parses projects/P/locations/L/memberships/M, with or
// without a leading slash or an API prefix such as
// //gkehub.googleapis.com/.
func ParseMembershipName(name string) (MembershipRef, error) {
	s := name
	if i := strings.Index(s, "projects/"); i >= 0 {
		s = s[i:]
	}
	parts := strings.Split(strings.Trim(s, "/"), "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "locations" || parts[4] != "memberships" ||
		parts[1] == "" || parts[3] == "" || parts[5] == "" {
		return MembershipRef{}, fmt.Errorf("%q is not a membership name (projects/PROJECT/locations/LOCATION/memberships/NAME)", name)
	}
	return MembershipRef{Project: parts[1], Location: parts[3], ID: parts[5]}, nil
}

// SameMembership reports whether two names denote one membership. Google
// writes feature keys with the project number and accepts the id: within
// one fleet project, location and id decide, and the projects must agree
// unless one of them is a number.
func SameMembership(a, b MembershipRef) bool {
	if a.Location != b.Location || a.ID != b.ID {
		return false
	}
	return a.Project == b.Project || isNumber(a.Project) || isNumber(b.Project)
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// FindKey returns the key of keys that denotes m (keys of a Feature's
// membershipSpecs or membershipStates), or "".
func FindKey[V any](keys map[string]V, m MembershipRef) string {
	for k := range keys {
		if ref, err := ParseMembershipName(k); err == nil && SameMembership(ref, m) {
			return k
		}
	}
	return ""
}

// ClusterResourceLink is the GKE cluster's resource link a membership's
// endpoint.gkeCluster.resourceLink holds.
func ClusterResourceLink(project, location, cluster string) string {
	return fmt.Sprintf("//container.googleapis.com/projects/%s/locations/%s/clusters/%s", project, location, cluster)
}

// ClusterIssuer is the cluster's OIDC issuer, the membership's
// authority.issuer for workload identity.
func ClusterIssuer(project, location, cluster string) string {
	return fmt.Sprintf("https://container.googleapis.com/v1/projects/%s/locations/%s/clusters/%s", project, location, cluster)
}

// ClusterRef names a GKE cluster.
type ClusterRef struct {
	Project, Location, Name string
}

// ParseResourceLink reads a GKE cluster from a membership's resource link,
// in the //container.googleapis.com/ or https://container.googleapis.com/v1/
// form, with locations/ or the older zones/.
func ParseResourceLink(link string) (ClusterRef, bool) {
	i := strings.Index(link, "projects/")
	if i < 0 || !strings.Contains(link[:i], "container.googleapis.com") {
		return ClusterRef{}, false
	}
	parts := strings.Split(strings.Trim(link[i:], "/"), "/")
	if len(parts) != 6 || parts[0] != "projects" || (parts[2] != "locations" && parts[2] != "zones") || parts[4] != "clusters" {
		return ClusterRef{}, false
	}
	return ClusterRef{Project: parts[1], Location: parts[3], Name: parts[5]}, true
}

// Matches reports whether a membership's resource link names c. The link's
// project may be c's id or, when known, its number.
func (c ClusterRef) Matches(link, projectNumber string) bool {
	got, ok := ParseResourceLink(link)
	if !ok || got.Location != c.Location || got.Name != c.Name {
		return false
	}
	return got.Project == c.Project || (projectNumber != "" && got.Project == projectNumber)
}

// rfc1123Label is a DNS label (RFC 1123): gkehub's rule for membership ids.
var rfc1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// validMembershipID is gkehub's rule: an RFC 1123 label of at most 63
// characters.
func validMembershipID(id string) bool {
	return len(id) <= 63 && rfc1123Label.MatchString(id)
}
