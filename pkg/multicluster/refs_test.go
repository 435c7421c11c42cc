package multicluster

import (
	"testing"

	"github.com/meshctl/meshctl/internal/failure"
)

func TestParseRefs(t *testing.T) {
	d := RefDefaults{Project: "p", Location: "us-central1", Contexts: []string{
		"gke_p_us-central1_east", "gke_p_europe-west1-b_west", "kind-local"}}
	got, err := ParseRefs([]string{"p/us-central1/east", "gke_p_europe-west1-b_west"}, d)
	if err != nil {
		t.Fatal(err)
	}
	want := []Ref{{Project: "p", Location: "us-central1", Name: "east", Context: "gke_p_us-central1_east"},
		{Project: "p", Location: "europe-west1-b", Name: "west", Context: "gke_p_europe-west1-b_west"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("ParseRefs = %+v, want %+v", got, want)
	}
	if got[1].Region() != "europe-west1" || got[0].InstalledName() != "cn-p-us-central1-east" {
		t.Errorf("region %s, installed name %s", got[1].Region(), got[0].InstalledName())
	}
	if bare, err := ParseRefs([]string{"east"}, d); err != nil || bare[0] != want[0] {
		t.Errorf("bare name: %+v, %v", bare, err)
	}
	for _, bad := range [][]string{
		{"p/us-central1/east", "gke_p_us-central1_east"}, // the same cluster twice
		{"p/us-central1"},       // not PROJECT/LOCATION/NAME
		{"kind-local"},          // a context, not GKE's
		{"p/us-central1/north"}, // no context for it
	} {
		if _, err := ParseRefs(bad, d); err == nil || failure.ExitCode(err) != failure.ExitUsage {
			t.Errorf("ParseRefs(%q) = %v, want a usage error", bad, err)
		}
	}
	if _, err := ParseRefs([]string{"east"}, RefDefaults{Contexts: d.Contexts}); err == nil {
		t.Error("a bare name without --project and --location was accepted")
	}
}
