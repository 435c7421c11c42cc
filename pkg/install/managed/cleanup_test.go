package managed

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/api/gkehub/v1"
	gkehubv2 "google.golang.org/api/gkehub/v2"
)

// removedFleet is a fleet whose managed control plane for the test cluster
// is already removed (management NOT_INSTALLED, state DISABLED), with the
// membership and the feature labelled as meshctl's when made is true, and
// the other memberships the feature holds a spec for.
func removedFleet(t *testing.T, made bool, others ...string) *fakeFleet {
	name := "projects/p/locations/us-central1/memberships/c"
	m := registered(name, tLink)
	feat := &gkehub.Feature{MembershipSpecs: map[string]gkehub.MembershipFeatureSpec{}}
	if made {
		m.Labels, feat.Labels = ownerLabels(), ownerLabels()
	}
	for _, o := range others {
		feat.MembershipSpecs["projects/123/locations/us-central1/memberships/"+o] = gkehub.MembershipFeatureSpec{}
	}
	feat.MembershipSpecs["projects/123/locations/us-central1/memberships/c"] = gkehub.MembershipFeatureSpec{}
	return &fakeFleet{t: t, allowMutations: true, memberships: []*gkehub.Membership{m}, feature: feat,
		spec:     map[string]*gkehubv2.FeatureSpec{name: {Servicemesh: &gkehubv2.ServiceMeshSpec{Management: ManagementNotInstalled}}},
		statuses: []gkehub.MembershipFeatureState{meshState(StateDisabled, StateDisabled, nil)},
	}
}

func mutations(f *fakeFleet) []string {
	var out []string
	for _, c := range f.Calls() {
		if strings.HasPrefix(c, "unregister ") || strings.HasPrefix(c, "disable-feature ") || strings.HasPrefix(c, "patch ") {
			out = append(out, c)
		}
	}
	return out
}

// TestUninstallRemovesWhatMeshctlMade: uninstall --managed removes the
// membership and the servicemesh feature meshctl made (their managed-by
// label), leaves what it did not make, what --keep-membership keeps and a
// feature other memberships use, saying why and how; a dry run plans it.
func TestUninstallRemovesWhatMeshctlMade(t *testing.T) {
	tests := []struct {
		name      string
		fleet     func(t *testing.T) *fakeFleet
		change    func(*Options)
		wantCalls string
		wantNote  string
	}{
		{"made by meshctl", func(t *testing.T) *fakeFleet { return removedFleet(t, true) }, nil,
			"unregister projects/p/locations/us-central1/memberships/c,disable-feature p", ""},
		{"keep-membership", func(t *testing.T) *fakeFleet { return removedFleet(t, true) }, func(o *Options) { o.KeepMembership = true },
			"", "--keep-membership: the membership c stays registered; `gcloud container fleet memberships unregister c --gke-cluster us-central1/c --project p` removes it"},
		{"not made by meshctl", func(t *testing.T) *fakeFleet { return removedFleet(t, false) }, nil,
			"", "the membership c was not registered by meshctl (no managed-by=meshctl label): it stays"},
		{"feature used by others", func(t *testing.T) *fakeFleet { return removedFleet(t, true, "other-1") }, nil,
			"unregister projects/p/locations/us-central1/memberships/c", "meshctl enabled it, but it still serves membership us-central1/other-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.fleet(t)
			in, _ := installer(f, gkeCluster())
			in.Dynamic = dynamicWith()
			o := opts()
			if tt.change != nil {
				tt.change(&o)
			}
			res, err := in.Uninstall(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(mutations(f), ","); got != tt.wantCalls {
				t.Errorf("changes %q, want %q", got, tt.wantCalls)
			}
			if tt.wantNote != "" && !strings.Contains(strings.Join(res.Notes, "\n"), tt.wantNote) {
				t.Errorf("notes %q lack %q", res.Notes, tt.wantNote)
			}
			if tt.wantCalls != "" && !res.Changed {
				t.Error("a removal did not count as a change")
			}
		})
	}

	t.Run("dry run", func(t *testing.T) {
		f := removedFleet(t, true)
		f.allowMutations = false
		f.statuses = nil // a dry run does not wait
		in, _ := installer(f, gkeCluster())
		o := opts()
		o.DryRun = true
		res, err := in.Uninstall(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		var planned []string
		for _, s := range res.Steps {
			if s.Action == ActionPlanned {
				planned = append(planned, s.Name)
			}
		}
		if strings.Join(planned, ",") != StepUnregister+","+StepDisableFeature {
			t.Errorf("planned %v, want unregister and disable-feature (%+v)", planned, res.Steps)
		}
	})
}
