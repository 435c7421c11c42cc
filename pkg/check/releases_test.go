package check

import (
	"strings"
	"testing"
)

// TestLookupReleaseReadsAsmcliVersions: the target comes from
// `asmcli --version` as often as from a person, so both spellings resolve,
// and every release Google supports in November 2026 (1.29 to 1.31) is in
// the table.
func TestLookupReleaseReadsAsmcliVersions(t *testing.T) {
	for in, want := range map[string]string{
		"":                      Releases[len(Releases)-1].Mesh,
		"1.31":                  "1.31",
		"1.31.1-asm.19+config1": "1.31",
		"1.30.5-asm.11":         "1.30",
		"v1.29.8":               "1.29",
		"1.28.2-asm.4+config1":  "1.28",
	} {
		r, err := LookupRelease(in)
		if err != nil || r.Mesh != want {
			t.Errorf("LookupRelease(%q) = %s, %v; want %s", in, r.Mesh, err, want)
		}
	}
	for _, bad := range []string{"1.25", "1.31.1-asm.19+configX", "latest"} {
		if _, err := LookupRelease(bad); err == nil || !strings.Contains(err.Error(), "meshctl knows") {
			t.Errorf("LookupRelease(%q) = %v, want an error listing the releases", bad, err)
		}
	}
	r, _ := LookupRelease("1.30")
	if !r.Inferred || r.Window() != "GKE 1.32 to 1.35, inferred" {
		t.Errorf("1.30's window = %q (inferred %v): an unconfirmed window must say so", r.Window(), r.Inferred)
	}
	for i := 1; i < len(Releases); i++ {
		if !Releases[i-1].MinGKE.Less(Releases[i].MinGKE) && Releases[i-1].MinGKE != Releases[i].MinGKE {
			t.Errorf("releases out of order at %s", Releases[i].Mesh)
		}
	}
}
