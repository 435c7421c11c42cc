package fakehub

import (
	"errors"
	"net/http"
	"testing"

	"google.golang.org/api/gkehub/v1"
	"google.golang.org/api/googleapi"
)

// TestLabelsKeptAndChecked: memberships and the feature keep the labels
// they were created with (meshctl marks what it made with them), and a
// label Google refuses is refused.
func TestLabelsKeptAndChecked(t *testing.T) {
	e := newEnv(t, nil)
	owner := map[string]string{"managed-by": "meshctl"}
	m := &gkehub.Membership{Endpoint: &gkehub.MembershipEndpoint{GkeCluster: &gkehub.GkeCluster{ResourceLink: link}}, Labels: owner}
	e.waitV1(e.v1.Projects.Locations.Memberships.Create("projects/"+project+"/locations/us-central1", m).MembershipId("meshsim").Context(e.ctx).Do())
	e.srv.SetKnobs(func() Knobs { k := e.srv.Knobs(); k.MeshAPIEnabled = true; return k }())
	e.waitV1(e.v1.Projects.Locations.Features.Create("projects/"+project+"/locations/global", &gkehub.Feature{Labels: owner}).FeatureId("servicemesh").Context(e.ctx).Do())
	got, err := e.v1.Projects.Locations.Memberships.Get("projects/" + project + "/locations/us-central1/memberships/meshsim").Context(e.ctx).Do()
	if err != nil || got.Labels["managed-by"] != "meshctl" {
		t.Errorf("membership labels %v, %v", got.Labels, err)
	}
	f, err := e.v1.Projects.Locations.Features.Get("projects/" + project + "/locations/global/features/servicemesh").Context(e.ctx).Do()
	if err != nil || f.Labels["managed-by"] != "meshctl" {
		t.Errorf("feature labels %v, %v", f.Labels, err)
	}
	bad := &gkehub.Membership{Endpoint: m.Endpoint, Labels: map[string]string{"Managed-By": "meshctl"}}
	_, err = e.v1.Projects.Locations.Memberships.Create("projects/"+project+"/locations/us-central1", bad).MembershipId("other").Context(e.ctx).Do()
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Code != http.StatusBadRequest {
		t.Errorf("upper-case label key: %v, want 400", err)
	}
}
