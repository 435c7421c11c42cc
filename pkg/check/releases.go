package check

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Release is one in-cluster Cloud Service Mesh release and the GKE minor
// versions Google supports it on.
type Release struct {
	Mesh   string // "1.31"
	MinGKE Minor  // oldest supported GKE minor
	MaxGKE Minor  // newest supported GKE minor
	// Inferred marks a window meshctl could not read from Google's page
	// (its section was cut off in every copy found): it is the neighbours'
	// pattern, four GKE minors moving up with the releases, and check says
	// so next to it.
	Inferred bool
}

// Releases is Google's support matrix for the in-cluster control plane
// ("Supported platforms", https://cloud.google.com/service-mesh/docs/supported-platforms),
// oldest first. The last entry is the default target of check when no
// asmcli is found, and the release install downloads asmcli for
// (install.PinnedRelease). Google supports the newest minor and the two
// before it (1.29, 1.30 and 1.31 in November 2026, per the versions page,
// https://cloud.google.com/service-mesh/versions); older lines stay so that
// an existing install can still be checked. To support a new release,
// append a line.
var Releases = []Release{
	{Mesh: "1.21", MinGKE: Minor{1, 27}, MaxGKE: Minor{1, 29}},
	{Mesh: "1.24", MinGKE: Minor{1, 29}, MaxGKE: Minor{1, 31}},
	{Mesh: "1.26", MinGKE: Minor{1, 30}, MaxGKE: Minor{1, 33}},
	{Mesh: "1.27", MinGKE: Minor{1, 30}, MaxGKE: Minor{1, 33}},
	{Mesh: "1.28", MinGKE: Minor{1, 31}, MaxGKE: Minor{1, 34}, Inferred: true},
	{Mesh: "1.29", MinGKE: Minor{1, 32}, MaxGKE: Minor{1, 35}},
	{Mesh: "1.30", MinGKE: Minor{1, 32}, MaxGKE: Minor{1, 35}, Inferred: true},
	{Mesh: "1.31", MinGKE: Minor{1, 33}, MaxGKE: Minor{1, 36}},
}

// Supports reports whether GKE minor m is in the release's window.
func (r Release) Supports(m Minor) bool { return !m.Less(r.MinGKE) && !r.MaxGKE.Less(m) }

// Window is "GKE 1.33 to 1.36" ("GKE 1.32 to 1.35, inferred" for an
// inferred window).
func (r Release) Window() string {
	w := fmt.Sprintf("GKE %s to %s", r.MinGKE, r.MaxGKE)
	if r.Inferred {
		w += ", inferred"
	}
	return w
}

// meshVersionRE accepts a release as users write it (1.31, 1.31.1,
// 1.31.1-asm.19) and as `asmcli --version` prints it (1.31.1-asm.19+config1).
var meshVersionRE = regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.\d+)?(?:-asm\.\d+)?(?:\+config\d+)?$`)

// LookupRelease finds the release for v; "" means the newest.
func LookupRelease(v string) (Release, error) {
	if v == "" {
		return Releases[len(Releases)-1], nil
	}
	m := meshVersionRE.FindStringSubmatch(strings.TrimSpace(v))
	if m != nil {
		for _, r := range Releases {
			if r.Mesh == m[1]+"."+m[2] {
				return r, nil
			}
		}
	}
	return Release{}, fmt.Errorf("unknown mesh release %q: meshctl knows %s", v, strings.Join(releaseNames(), ", "))
}

func releaseNames() []string {
	names := make([]string, len(Releases))
	for i, r := range Releases {
		names[i] = r.Mesh
	}
	return names
}

// releasesSupporting lists the releases whose window holds m, newest first.
func releasesSupporting(m Minor) []string {
	var out []string
	for i := len(Releases) - 1; i >= 0; i-- {
		if Releases[i].Supports(m) {
			out = append(out, Releases[i].Mesh)
		}
	}
	return out
}

// Minor is a Kubernetes major.minor version, e.g. 1.34.
type Minor struct{ Major, Minor int }

func (m Minor) String() string { return fmt.Sprintf("%d.%d", m.Major, m.Minor) }

// Less orders versions.
func (m Minor) Less(o Minor) bool {
	if m.Major != o.Major {
		return m.Major < o.Major
	}
	return m.Minor < o.Minor
}

// Next is the following minor version.
func (m Minor) Next() Minor { return Minor{m.Major, m.Minor + 1} }

var versionRE = regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.(\d+))?`)

// GKEVersion is a parsed GKE version such as 1.34.4-gke.1000.
type GKEVersion struct {
	Minor Minor
	Patch int
	Raw   string
}

// ParseGKEVersion parses versions as GKE and Kubernetes print them
// (1.34.4-gke.1000, v1.34.4).
func ParseGKEVersion(s string) (GKEVersion, bool) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return GKEVersion{}, false
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	patch, _ := strconv.Atoi(m[3])
	return GKEVersion{Minor: Minor{major, minor}, Patch: patch, Raw: s}, true
}
