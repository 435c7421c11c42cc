package managed

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/api/gkehub/v1"
	gkehubv2 "google.golang.org/api/gkehub/v2"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// fakeIAM holds every permission but those denied, and records what it
// was asked, per project.
type fakeIAM struct {
	mu     sync.Mutex
	denied []string
	asked  map[string][]string
}

func (f *fakeIAM) TestIamPermissions(_ context.Context, project string, perms []string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.asked == nil {
		f.asked = map[string][]string{}
	}
	f.asked[project] = append(f.asked[project], perms...)
	var held []string
	for _, p := range perms {
		if !slices.Contains(f.denied, p) {
			held = append(held, p)
		}
	}
	return held, nil
}

func TestManagedInstallChecksPermissionsBeforeTheFirstChange(t *testing.T) {
	f := &fakeFleet{t: t} // a mutation fails the test
	in, _ := installer(f, gkeCluster())
	iam := &fakeIAM{denied: []string{"gkehub.memberships.create"}}
	in.Preflight = &preflight.Checker{IAM: iam}
	res, err := in.Install(context.Background(), opts())
	if err == nil || !strings.Contains(err.Error(), "gkehub.memberships.create in project p") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("err = %v", err)
	}
	if failure.ExitCode(err) == failure.ExitOK {
		t.Errorf("exit code %d", failure.ExitCode(err))
	}
	if res.Permissions == nil || res.Permissions.Missing != 1 {
		t.Errorf("permissions = %+v", res.Permissions)
	}
}

// The permissions asked cover every mutating call a fresh install makes:
// derived from the fleet calls, not from a second list.
func TestManagedInstallAsksWhatItsCallsNeed(t *testing.T) {
	f := &fakeFleet{t: t, allowMutations: true, statuses: []gkehub.MembershipFeatureState{provisioning(), ready("asm-managed")}}
	in, _ := installer(f, gkeCluster())
	iam := &fakeIAM{}
	in.Preflight = &preflight.Checker{IAM: iam}
	if _, err := in.Install(context.Background(), opts()); err != nil {
		t.Fatalf("Install: %v", err)
	}
	// The fake fleet's call names and the permission Google checks for each.
	needs := map[string]string{"register": "gkehub.memberships.create", "create-feature": "gkehub.features.create", "patch": "gkehub.membershipfeatures.update"}
	for _, call := range f.Calls() {
		verb := strings.Fields(call)[0]
		perm, mutating := needs[verb]
		if !mutating {
			continue
		}
		if !slices.Contains(iam.asked[tProject], perm) {
			t.Errorf("%s needs %s, which the check did not ask (asked %v)", call, perm, iam.asked)
		}
	}
}

// A managed uninstall checks, before its first change, what its plan
// needs; a caller without gkehub.memberships.delete is refused with
// nothing changed (the fake fleet fails the test on a mutation).
func TestManagedUninstallChecksPermissionsBeforeTheFirstChange(t *testing.T) {
	f := managedFleet(t)
	f.allowMutations, f.statuses = false, f.statuses[:1] // refused before it waits on a status
	in, _ := installer(f, gkeCluster())
	in.Dynamic = dynamicWith()
	iam := &fakeIAM{denied: []string{"gkehub.memberships.delete"}}
	in.Preflight = &preflight.Checker{IAM: iam}
	res, err := in.Uninstall(context.Background(), opts())
	if err == nil || !strings.Contains(err.Error(), "gkehub.memberships.delete in project p, to delete memberships c") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("err = %v", err)
	}
	if res.Permissions == nil || res.Permissions.Missing != 1 {
		t.Errorf("permissions = %+v", res.Permissions)
	}
}

// managedFleet is a fleet with the managed control plane of the test
// cluster running, whose membership and feature meshctl made.
func managedFleet(t *testing.T) *fakeFleet {
	f := removedFleet(t, true)
	name := "projects/p/locations/us-central1/memberships/c"
	f.spec[name] = &gkehubv2.FeatureSpec{Servicemesh: &gkehubv2.ServiceMeshSpec{Management: ManagementAutomatic}}
	f.feature.MembershipStates = map[string]gkehub.MembershipFeatureState{"projects/123/locations/us-central1/memberships/c": ready("asm-managed")}
	f.statuses = []gkehub.MembershipFeatureState{ready("asm-managed"), meshState(StateDisabled, StateDisabled, nil)}
	return f
}

// The permissions a managed uninstall asks cover every mutating call it
// makes: derived from the fleet calls, not from a second list.
func TestManagedUninstallAsksWhatItsCallsNeed(t *testing.T) {
	f := managedFleet(t)
	in, _ := installer(f, gkeCluster())
	in.Dynamic = dynamicWith()
	iam := &fakeIAM{}
	in.Preflight = &preflight.Checker{IAM: iam}
	if _, err := in.Uninstall(context.Background(), opts()); err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	needs := map[string]string{"patch": "gkehub.membershipfeatures.update", "unregister": "gkehub.memberships.delete", "disable-feature": "gkehub.features.delete"}
	calls := mutations(f)
	if len(calls) != 3 {
		t.Fatalf("mutations %v: want the patch, the unregister and the feature's removal", calls)
	}
	for _, call := range calls {
		if perm := needs[strings.Fields(call)[0]]; !slices.Contains(iam.asked[tProject], perm) {
			t.Errorf("%s needs %s, which the check did not ask (asked %v)", call, perm, iam.asked)
		}
	}
}
