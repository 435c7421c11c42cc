package validate

import (
	"context"
	"slices"
	"testing"

	admv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshctl/meshctl/pkg/install/managed"
)

// managedMesh is the healthy fixture with revision asm-1 served by Google:
// its webhook calls a URL and no istiod runs in the cluster.
func managedMesh(t *testing.T) *fixture {
	url := "https://meshconfig.googleapis.com/v1alpha1/projects/p/locations/l/clusters/c/asm-1:inject"
	return healthy(t).without("Deployment", "istio-system", "istiod-asm-1").without("MutatingWebhookConfiguration", "", "istio-sidecar-injector-asm-1").
		with(&admv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "istiod-asm-1", Labels: map[string]string{"istio.io/rev": "asm-1"}},
			Webhooks: []admv1.MutatingWebhook{{Name: "rev.namespace.sidecar-injector.istio.io", ClientConfig: admv1.WebhookClientConfig{URL: &url}}}})
}

func TestAManagedMeshIsValidatedThroughItsFleetNotAsmcli(t *testing.T) {
	ready := managed.ClusterStatus{FleetProject: "p", Membership: "projects/p/locations/l/memberships/c", Registered: true, FeatureEnabled: true,
		Status: managed.MeshStatus{Reported: true, ControlPlane: managed.StateActive, DataPlane: managed.StateActive}, Assessment: managed.Assessment{Phase: managed.PhaseReady, Revision: "asm-1"}}
	failed := ready
	failed.Status.ControlPlane = managed.StateFailedPrecondition
	failed.Assessment = managed.Assessment{Phase: managed.PhaseFailed, Problems: []managed.Problem{{Code: "PREREQUISITE_NOT_MET", Explanation: "workload identity is off", Fix: "enable it", Blocking: true}}}
	provisioning := ready
	provisioning.Assessment = managed.Assessment{Phase: managed.PhaseWaiting}
	dataPlaneOff := ready
	dataPlaneOff.Assessment.Problems = []managed.Problem{{Code: "DATA_PLANE_DISABLED", Explanation: "the managed data plane is off"}}
	unregistered := managed.ClusterStatus{FleetProject: "p"}
	tests := []struct {
		name   string
		status managed.ClusterStatus
		want   []string
	}{
		{"ready", ready, nil},
		{"failed", failed, []string{"MC0245 membership projects/p/locations/l/memberships/c"}},
		{"still provisioning", provisioning, []string{"MC0245 membership projects/p/locations/l/memberships/c"}},
		{"data plane off", dataPlaneOff, []string{"MC0246 membership projects/p/locations/l/memberships/c"}},
		{"not registered", unregistered, []string{"MC0245 cluster"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := managedMesh(t).clients(t)
			c.Asmcli = func(context.Context) ([]string, error) {
				t.Error("asmcli ran on a managed mesh")
				return nil, nil
			}
			reads := 0
			c.Fleet = func(context.Context) (managed.ClusterStatus, error) { reads++; return tt.status, nil }
			r := run(t, c, Options{})
			if got := codes(r); !slices.Equal(sorted(got), sorted(tt.want)) {
				t.Errorf("findings = %v, want %v", got, tt.want)
			}
			if reads != 1 {
				t.Errorf("the fleet was read %d times", reads)
			}
		})
	}
}

// A mesh with an in-cluster control plane still runs asmcli validate, and
// does not ask the fleet.
func TestAnInClusterMeshRunsAsmcli(t *testing.T) {
	c, _ := healthy(t).clients(t)
	ran := false
	c.Asmcli = func(context.Context) ([]string, error) { ran = true; return nil, nil }
	c.Fleet = func(context.Context) (managed.ClusterStatus, error) {
		t.Error("the fleet was read for an in-cluster control plane")
		return managed.ClusterStatus{}, nil
	}
	run(t, c, Options{})
	if !ran {
		t.Error("asmcli did not run")
	}
}
