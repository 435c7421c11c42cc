package managed

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/api/gkehub/v1"
	gkehubv2 "google.golang.org/api/gkehub/v2"
	"google.golang.org/api/googleapi"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/stubs"
	"github.com/meshctl/meshctl/internal/ui"
)

const (
	tProject = "p"
	tNumber  = "123"
	tLoc     = "us-central1"
	tCluster = "c"
	tLink    = "//container.googleapis.com/projects/p/locations/us-central1/clusters/c"
)

func gkeCluster(change ...func(*containerpb.Cluster)) *containerpb.Cluster {
	cl := &containerpb.Cluster{
		Name: tCluster, Location: tLoc, CurrentMasterVersion: "1.34.4-gke.1000",
		CurrentNodeCount:       6, //nolint:staticcheck // GKE still reports it
		ReleaseChannel:         &containerpb.ReleaseChannel{Channel: containerpb.ReleaseChannel_REGULAR},
		WorkloadIdentityConfig: &containerpb.WorkloadIdentityConfig{WorkloadPool: "p.svc.id.goog"},
		NodePools: []*containerpb.NodePool{
			{Name: "default-pool", Config: &containerpb.NodeConfig{WorkloadMetadataConfig: &containerpb.WorkloadMetadataConfig{Mode: containerpb.WorkloadMetadataConfig_GKE_METADATA}}},
			{Name: "pool-2", Config: &containerpb.NodeConfig{WorkloadMetadataConfig: &containerpb.WorkloadMetadataConfig{Mode: containerpb.WorkloadMetadataConfig_GKE_METADATA}}},
		},
	}
	for _, c := range change {
		c(cl)
	}
	return cl
}

type fakeGKE struct{ cl *containerpb.Cluster }

func (f fakeGKE) GetCluster(_ context.Context, name string) (*containerpb.Cluster, error) {
	if f.cl == nil || name != "projects/p/locations/us-central1/clusters/c" {
		return nil, &googleapi.Error{Code: 404, Message: "Not found: " + name}
	}
	return f.cl, nil
}

// fakeFleet is a fleet API in memory. Every call is recorded; a mutating
// call the test did not allow fails the test, and so does a stubbed
// features.create failure or membership status the install never met
// (installer registers them).
type fakeFleet struct {
	t     *testing.T
	stubs *stubs.Registry
	mu    sync.Mutex

	memberships []*gkehub.Membership
	feature     *gkehub.Feature
	spec        map[string]*gkehubv2.FeatureSpec // by membership name
	// statuses are what GetFeature reports for the membership once
	// management is set, one per call; the last one stays.
	statuses          []gkehub.MembershipFeatureState
	createFeatureErrs []error
	allowMutations    bool

	calls    []string
	created  []*gkehub.Membership
	patched  []*gkehubv2.FeatureSpec
	statusAt int
}

func (f *fakeFleet) record(call string, mutation bool) {
	f.calls = append(f.calls, call)
	if mutation && !f.allowMutations {
		f.t.Errorf("unexpected mutating call %s", call)
	}
}

func (f *fakeFleet) ListMemberships(_ context.Context, project string) ([]*gkehub.Membership, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("list "+project, false)
	return f.memberships, nil
}

func (f *fakeFleet) CreateMembership(_ context.Context, ref MembershipRef, m *gkehub.Membership) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("register "+ref.Name(), true)
	m.Name = ref.Name()
	f.created = append(f.created, m)
	f.memberships = append(f.memberships, m)
	return nil
}

func (f *fakeFleet) GetFeature(_ context.Context, project string) (*gkehub.Feature, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("get-feature "+project, false)
	if f.feature == nil {
		return nil, &googleapi.Error{Code: 404, Message: "Resource 'projects/p/locations/global/features/servicemesh' was not found"}
	}
	out := *f.feature
	if len(f.statuses) > 0 && len(f.spec) > 0 {
		i := min(f.statusAt, len(f.statuses)-1)
		st := f.statuses[i]
		f.stubs.Call(fmt.Sprintf("membership status #%d", i))
		f.statusAt++
		out.MembershipStates = map[string]gkehub.MembershipFeatureState{}
		for name := range f.spec {
			ref, _ := ParseMembershipName(name)
			ref.Project = tNumber
			out.MembershipStates[ref.Name()] = st
		}
	}
	return &out, nil
}

func (f *fakeFleet) CreateFeature(_ context.Context, project string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("create-feature "+project, true)
	if len(f.createFeatureErrs) > 0 {
		err := f.createFeatureErrs[0]
		f.createFeatureErrs = f.createFeatureErrs[1:]
		f.stubs.Call(fmt.Sprintf("features.create fails: %v", err))
		return err
	}
	f.feature = &gkehub.Feature{Name: featureName(project), ResourceState: &gkehub.FeatureResourceState{State: "ACTIVE"}, Labels: ownerLabels()}
	return nil
}

func (f *fakeFleet) DeleteMembership(_ context.Context, ref MembershipRef) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("unregister "+ref.Name(), true)
	for i, m := range f.memberships {
		if other, err := ParseMembershipName(m.Name); err == nil && SameMembership(other, ref) {
			f.memberships = append(f.memberships[:i:i], f.memberships[i+1:]...)
			delete(f.spec, m.Name)
			return nil
		}
	}
	return &googleapi.Error{Code: 404, Message: "not found"}
}

func (f *fakeFleet) DeleteFeature(_ context.Context, project string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("disable-feature "+project, true)
	if f.feature == nil {
		return &googleapi.Error{Code: 404, Message: "not found"}
	}
	f.feature = nil
	return nil
}

func (f *fakeFleet) GetMembershipFeature(_ context.Context, ref MembershipRef) (*gkehubv2.MembershipFeature, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("get-membership-feature "+ref.Name(), false)
	if s, ok := f.spec[ref.Name()]; ok {
		return &gkehubv2.MembershipFeature{Spec: s}, nil
	}
	return nil, &googleapi.Error{Code: 404, Message: "not found"}
}

func (f *fakeFleet) PatchMembershipFeature(_ context.Context, ref MembershipRef, spec *gkehubv2.FeatureSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("patch "+ref.Name()+" "+spec.Servicemesh.Management+" "+spec.Servicemesh.DefaultChannel, true)
	if f.spec == nil {
		f.spec = map[string]*gkehubv2.FeatureSpec{}
	}
	f.spec[ref.Name()] = spec
	f.patched = append(f.patched, spec)
	f.statusAt = 0
	return nil
}

func (f *fakeFleet) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// fakeServices enables APIs; a call the test did not stub with expect fails
// it, and so does an expected one that is never made.
type fakeServices struct {
	stubs   *stubs.Registry
	enabled []string
}

func (s *fakeServices) expect(project, service string) {
	s.stubs.Stub("enable " + project + "/" + service)
}

func (s *fakeServices) EnableService(_ context.Context, project, service string) error {
	s.stubs.Call("enable " + project + "/" + service)
	s.enabled = append(s.enabled, project+"/"+service)
	return nil
}

func registered(name, link string) *gkehub.Membership {
	return &gkehub.Membership{Name: name, Endpoint: &gkehub.MembershipEndpoint{GkeCluster: &gkehub.GkeCluster{ResourceLink: link}},
		State: &gkehub.MembershipState{Code: "READY"}}
}

func meshState(cp, dp string, details []*gkehub.ServiceMeshStatusDetails, conds ...*gkehub.ServiceMeshCondition) gkehub.MembershipFeatureState {
	return gkehub.MembershipFeatureState{
		Servicemesh: &gkehub.ServiceMeshMembershipState{
			ControlPlaneManagement: &gkehub.ServiceMeshControlPlaneManagement{State: cp, Implementation: "TRAFFIC_DIRECTOR", Details: details},
			DataPlaneManagement:    &gkehub.ServiceMeshDataPlaneManagement{State: dp},
			Conditions:             conds,
		},
	}
}

func ready(rev string) gkehub.MembershipFeatureState {
	return meshState(StateActive, StateActive, []*gkehub.ServiceMeshStatusDetails{{Code: "REVISION_READY", Details: "Ready: " + rev}})
}

func provisioning() gkehub.MembershipFeatureState {
	return meshState(StateProvisioning, StateProvisioning, nil)
}

var cprGVR = schema.GroupVersionResource{Group: "mesh.cloud.google.com", Version: "v1beta1", Resource: "controlplanerevisions"}

func cpr(name string, conds ...string) *unstructured.Unstructured {
	var cs []any
	for _, c := range conds {
		t, s, _ := strings.Cut(c, "=")
		cs = append(cs, map[string]any{"type": t, "status": s})
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "mesh.cloud.google.com/v1beta1", "kind": "ControlPlaneRevision",
		"metadata": map[string]any{"name": name, "namespace": "istio-system"},
		"spec":     map[string]any{"type": "managed_service", "channel": "regular"},
		"status":   map[string]any{"conditions": cs},
	}}
}

func webhook(name, rev, tag string) *admissionv1.MutatingWebhookConfiguration {
	url := "https://meshconfig.googleapis.com/inject/asm-managed"
	labels := map[string]string{"istio.io/rev": rev}
	if tag != "" {
		labels["istio.io/tag"] = tag
	}
	return &admissionv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Webhooks: []admissionv1.MutatingWebhook{{Name: "rev.namespace.sidecar-injector.istio.io", ClientConfig: admissionv1.WebhookClientConfig{URL: &url}}}}
}

func dynamicWith(objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		cprGVR: "ControlPlaneRevisionList",
		{Group: "mesh.cloud.google.com", Version: "v1alpha1", Resource: "controlplanerevisions"}: "ControlPlaneRevisionList",
	}, objs...)
}

// installer is an Installer over f and a GKE serving cl. Every
// features.create failure and every membership status f was given must be
// met before the test ends.
func installer(f *fakeFleet, cl *containerpb.Cluster) (Installer, *ui.Recorder) {
	f.stubs = stubs.New(f.t)
	for _, err := range f.createFeatureErrs {
		f.stubs.Stub(fmt.Sprintf("features.create fails: %v", err))
	}
	for i := range f.statuses {
		f.stubs.Stub(fmt.Sprintf("membership status #%d", i))
	}
	rec := &ui.Recorder{}
	return Installer{
		GKE: fakeGKE{cl}, Fleet: f, Services: &fakeServices{stubs: f.stubs}, Reporter: rec,
		Kube:    fake.NewSimpleClientset(webhook("istiod-asm-managed", "asm-managed", ""), webhook("istio-revision-tag-default", "asm-managed", "default")),
		Dynamic: dynamicWith(cpr("asm-managed", "Reconciled=True", "ProvisioningFinished=True", "Stalled=False")),
		MinPoll: time.Millisecond, MaxPoll: 2 * time.Millisecond, ConfirmTimeout: 200 * time.Millisecond, APIRetryDelay: time.Millisecond,
	}, rec
}

func opts() Options {
	return Options{Project: tProject, Location: tLoc, Cluster: tCluster}
}

func TestManagedInstallFromScratch(t *testing.T) {
	f := &fakeFleet{t: t, allowMutations: true, statuses: []gkehub.MembershipFeatureState{{}, provisioning(), provisioning(), ready("asm-managed")},
		createFeatureErrs: []error{
			&googleapi.Error{Code: 400, Message: "Service mesh.googleapis.com (with meshconfig.googleapis.com) is not enabled for project 123."},
			&googleapi.Error{Code: 400, Message: "Service mesh.googleapis.com is not enabled for project 123."}, // propagating
		}}
	in, rec := installer(f, gkeCluster())
	services := in.Services.(*fakeServices)
	services.expect("p", "mesh.googleapis.com")
	res, err := in.Install(context.Background(), opts())
	if err != nil {
		t.Fatalf("Install: %v (hint %q)", err, failure.HintOf(err))
	}
	want := []string{
		"list p", "get-feature p",
		"register projects/p/locations/us-central1/memberships/c",
		"create-feature p", "create-feature p", "create-feature p",
		"patch projects/p/locations/us-central1/memberships/c MANAGEMENT_AUTOMATIC ",
	}
	got := f.Calls()
	if strings.Join(got[:len(want)], "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant first:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(services.enabled) != 1 || services.enabled[0] != "p/mesh.googleapis.com" {
		t.Errorf("enabled APIs = %v", services.enabled)
	}
	m := f.created[0]
	if m.Endpoint.GkeCluster.ResourceLink != tLink || m.Authority.Issuer != "https://container.googleapis.com/v1/projects/p/locations/us-central1/clusters/c" ||
		m.Labels[OwnerLabel] != "meshctl" {
		t.Errorf("membership body = %+v %+v, labels %v", m.Endpoint.GkeCluster, m.Authority, m.Labels)
	}
	if res.Revision != "asm-managed" || res.Implementation != "TRAFFIC_DIRECTOR" || !res.Changed || res.Membership != "projects/p/locations/us-central1/memberships/c" ||
		res.Channel != "regular" || res.Webhook.Name != "istiod-asm-managed" || !strings.HasPrefix(res.Webhook.ClientConfig, "url https://") ||
		res.ControlPlaneRevision.Summary() != "Reconciled=True, ProvisioningFinished=True, Stalled=False" ||
		strings.Join(res.InjectionLabels, " ") != "istio-injection=enabled istio.io/rev=asm-managed" ||
		res.NextStep != "meshctl inject --namespace NAMESPACE --revision asm-managed" || len(res.EnabledAPIs) != 1 {
		t.Errorf("result = %+v", res)
	}
	actions := map[string]string{}
	for _, s := range res.Steps {
		actions[s.Name] = s.Action
	}
	for _, s := range []string{StepRegister, StepEnableFeature, StepManagement} {
		if actions[s] != ActionDone {
			t.Errorf("step %s = %q, want done (%+v)", s, actions[s], res.Steps)
		}
	}
	// Progress names the state and the elapsed time.
	progress := strings.Join(rec.Lines(), "\n")
	if !strings.Contains(progress, "control plane PROVISIONING (TRAFFIC_DIRECTOR), data plane PROVISIONING (0s)") ||
		!strings.Contains(progress, "info enabling mesh.googleapis.com in project p") {
		t.Errorf("progress:\n%s", progress)
	}
}

func TestManagedInstallSkipsWhatIsDone(t *testing.T) {
	f := &fakeFleet{t: t,
		memberships: []*gkehub.Membership{registered("projects/p/locations/us-central1/memberships/c", tLink)},
		feature:     &gkehub.Feature{ResourceState: &gkehub.FeatureResourceState{State: "ACTIVE"}},
		spec: map[string]*gkehubv2.FeatureSpec{"projects/p/locations/us-central1/memberships/c": {
			Servicemesh: &gkehubv2.ServiceMeshSpec{Management: ManagementAutomatic}}},
		statuses: []gkehub.MembershipFeatureState{ready("asm-managed")},
	}
	in, _ := installer(f, gkeCluster())
	res, err := in.Install(context.Background(), opts())
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed {
		t.Errorf("a second run changed something: %+v", res.Steps)
	}
	for _, s := range res.Steps {
		if s.Action == ActionDone || s.Action == ActionPlanned {
			t.Errorf("step %s: %s", s.Name, s.Action)
		}
	}
	if res.Revision != "asm-managed" {
		t.Errorf("revision %q", res.Revision)
	}
}

func TestManagedMembershipLookup(t *testing.T) {
	zonal := func(cl *containerpb.Cluster) { cl.Location = "us-central1-a" }
	tests := []struct {
		name        string
		memberships []*gkehub.Membership
		feature     *gkehub.Feature
		membership  string
		cluster     []func(*containerpb.Cluster)
		location    string
		wantRef     string
		registered  bool
		wantErr     string
	}{
		{name: "new: the cluster's location and name", wantRef: "projects/p/locations/us-central1/memberships/c"},
		{name: "new with --membership", membership: "prod-1", wantRef: "projects/p/locations/us-central1/memberships/prod-1"},
		{name: "registered in global under another name is found, not re-registered",
			memberships: []*gkehub.Membership{registered("projects/p/locations/global/memberships/legacy", tLink)},
			wantRef:     "projects/p/locations/global/memberships/legacy", registered: true},
		{name: "registered with the project number in the link",
			memberships: []*gkehub.Membership{registered("projects/p/locations/us-central1/memberships/c", "//container.googleapis.com/projects/123/locations/us-central1/clusters/c")},
			feature: &gkehub.Feature{MembershipStates: map[string]gkehub.MembershipFeatureState{
				"projects/123/locations/us-central1/memberships/other": {}}},
			wantRef: "projects/p/locations/us-central1/memberships/c", registered: true},
		{name: "a zonal cluster registers in its region", cluster: []func(*containerpb.Cluster){zonal}, location: "us-central1-a",
			wantRef: "projects/p/locations/us-central1/memberships/c"},
		{name: "--membership differs from the existing registration", membership: "other",
			memberships: []*gkehub.Membership{registered("projects/p/locations/global/memberships/legacy", tLink)},
			wantErr:     "already registered as membership legacy"},
		{name: "the name is taken by another cluster",
			memberships: []*gkehub.Membership{registered("projects/p/locations/us-central1/memberships/c", "//container.googleapis.com/projects/p/locations/us-east1/clusters/c")},
			wantErr:     "already exists for another cluster"},
		{name: "being unregistered",
			memberships: []*gkehub.Membership{{Name: "projects/p/locations/us-central1/memberships/c", State: &gkehub.MembershipState{Code: "DELETING"},
				Endpoint: &gkehub.MembershipEndpoint{GkeCluster: &gkehub.GkeCluster{ResourceLink: tLink}}}},
			wantErr: "being unregistered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeFleet{t: t, memberships: tt.memberships, feature: tt.feature}
			cl := gkeCluster(tt.cluster...)
			o := opts()
			o.Membership, o.DryRun = tt.membership, true
			in, _ := installer(f, cl)
			if tt.location != "" {
				in.GKE = fakeGKEAt{cl, tt.location}
				o.Location = tt.location
			}
			res, err := in.Install(context.Background(), o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || failure.HintOf(err) == "" {
					t.Fatalf("err = %v, want %q with a hint", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Membership != tt.wantRef {
				t.Errorf("membership = %s, want %s", res.Membership, tt.wantRef)
			}
			step := res.Steps[2]
			if step.Name != StepRegister || (step.Action == ActionSkipped) != tt.registered {
				t.Errorf("register step = %+v", step)
			}
		})
	}
}

type fakeGKEAt struct {
	cl  *containerpb.Cluster
	loc string
}

func (f fakeGKEAt) GetCluster(_ context.Context, name string) (*containerpb.Cluster, error) {
	if name != "projects/p/locations/"+f.loc+"/clusters/c" {
		return nil, &googleapi.Error{Code: 404}
	}
	return f.cl, nil
}

func TestManagedPrechecksChangeNothing(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*containerpb.Cluster)
		code    string
		wantFix string
	}{
		// check's findings (check.ManagedChecks), with the fleet's condition
		// they stand for where check's own text does not say it.
		{"no workload identity", func(cl *containerpb.Cluster) { cl.WorkloadIdentityConfig = nil }, "Error [MC0140] (cluster c) workload identity is off",
			"gcloud container clusters update c --workload-pool p.svc.id.goog --location us-central1 --project p"},
		{"pool on the GCE metadata server", func(cl *containerpb.Cluster) {
			cl.NodePools[1].Config.WorkloadMetadataConfig.Mode = containerpb.WorkloadMetadataConfig_GCE_METADATA
		}, "Error [MC0160] (node pool pool-2) node pool pool-2 does not run the GKE metadata server: the fleet refuses the managed control plane (NODEPOOL_WORKLOAD_IDENTITY_FEDERATION_REQUIRED)",
			"gcloud container node-pools update pool-2 --cluster c --workload-metadata GKE_METADATA --location us-central1 --project p"},
		{"zero nodes", func(cl *containerpb.Cluster) { cl.CurrentNodeCount = 0 }, //nolint:staticcheck // GKE still reports it
			"Error [MC0161] (cluster c) the cluster has no nodes to run the mesh's components on, and no node pool autoscales from one or more: the fleet refuses it (CLUSTER_HAS_ZERO_NODES)",
			"gcloud container clusters resize c --node-pool POOL --num-nodes 1 --location us-central1 --project p"},
		{"zero nodes but a pool autoscales from one: fine, and the next check fails", func(cl *containerpb.Cluster) {
			cl.CurrentNodeCount = 0 //nolint:staticcheck // GKE still reports it
			cl.NodePools[0].Autoscaling = &containerpb.NodePoolAutoscaling{Enabled: true, MinNodeCount: 1}
			cl.WorkloadIdentityConfig = nil
		}, "[MC0140]", "--workload-pool p.svc.id.goog"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeFleet{t: t} // no mutations allowed, and none is read either
			in, _ := installer(f, gkeCluster(tt.change))
			_, err := in.Install(context.Background(), opts())
			if err == nil || !strings.Contains(err.Error(), tt.code) || !strings.Contains(err.Error(), "nothing was changed") ||
				!strings.Contains(failure.HintOf(err), tt.wantFix) || failure.ExitCode(err) != failure.ExitProblems {
				t.Fatalf("err = %v\nhint %s", err, failure.HintOf(err))
			}
			if n := strings.Count(err.Error(), "Error [MC"); n != 1 {
				t.Errorf("%d findings, want one:\n%v", n, err)
			}
			if len(f.Calls()) != 0 {
				t.Errorf("the fleet was called: %v", f.Calls())
			}
		})
	}
	t.Run("both workload identity fixes at once", func(t *testing.T) {
		f := &fakeFleet{t: t}
		in, _ := installer(f, gkeCluster(func(cl *containerpb.Cluster) {
			cl.WorkloadIdentityConfig = nil
			for _, p := range cl.NodePools {
				p.Config.WorkloadMetadataConfig = nil
			}
		}))
		_, err := in.Install(context.Background(), opts())
		if err == nil || !strings.Contains(err.Error(), "[MC0140]") || strings.Count(err.Error(), "[MC0160]") != 2 ||
			!strings.Contains(failure.HintOf(err), "node-pools update default-pool") || !strings.Contains(failure.HintOf(err), "node-pools update pool-2") {
			t.Fatalf("err = %v\nhint %s", err, failure.HintOf(err))
		}
	})
	t.Run("skip-checks goes on to the fleet", func(t *testing.T) {
		f := &fakeFleet{t: t, allowMutations: true, statuses: []gkehub.MembershipFeatureState{
			meshState(StateFailedPrecondition, StateFailedPrecondition, nil, &gkehub.ServiceMeshCondition{
				Code: "WORKLOAD_IDENTITY_REQUIRED", Details: "Workload Identity is not enabled on the cluster.", Severity: "ERROR"})}}
		in, _ := installer(f, gkeCluster(func(cl *containerpb.Cluster) { cl.WorkloadIdentityConfig = nil }))
		o := opts()
		o.SkipChecks = true
		_, err := in.Install(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), "WORKLOAD_IDENTITY_REQUIRED: the cluster does not have Workload Identity") ||
			!strings.Contains(failure.HintOf(err), "--workload-pool=p.svc.id.goog") || !strings.Contains(failure.HintOf(err), "run `meshctl install --managed` again") {
			t.Fatalf("err = %v\nhint %s", err, failure.HintOf(err))
		}
	})
}

func TestManagedWaitTimeout(t *testing.T) {
	f := &fakeFleet{t: t, allowMutations: true, statuses: []gkehub.MembershipFeatureState{provisioning()}}
	in, _ := installer(f, gkeCluster())
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err := in.Install(ctx, opts())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "not ready after") ||
		!strings.Contains(err.Error(), "control plane PROVISIONING") || !strings.Contains(failure.HintOf(err), "--timeout") ||
		!strings.Contains(failure.HintOf(err), "run `meshctl install --managed` again to keep waiting") {
		t.Fatalf("err = %v, hint %q", err, failure.HintOf(err))
	}
}

func TestManagedChannel(t *testing.T) {
	tests := []struct {
		name        string
		gke         containerpb.ReleaseChannel_Channel
		channel     string
		wantRev     string
		wantDefault string
	}{
		{"GKE regular", containerpb.ReleaseChannel_REGULAR, "", "asm-managed", ""},
		{"GKE rapid", containerpb.ReleaseChannel_RAPID, "", "asm-managed-rapid", ""},
		{"GKE stable", containerpb.ReleaseChannel_STABLE, "", "asm-managed-stable", ""},
		{"no GKE channel", containerpb.ReleaseChannel_Channel(0), "", "asm-managed", ""},
		{"--channel as GKE's", containerpb.ReleaseChannel_RAPID, "rapid", "asm-managed-rapid", ""},
		{"--channel overrides", containerpb.ReleaseChannel_REGULAR, "stable", "asm-managed-stable", "STABLE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeFleet{t: t, feature: &gkehub.Feature{}}
			in, _ := installer(f, gkeCluster(func(cl *containerpb.Cluster) { cl.ReleaseChannel.Channel = tt.gke }))
			o := opts()
			o.Channel, o.DryRun = tt.channel, true
			res, err := in.Install(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if res.Revision != tt.wantRev {
				t.Errorf("revision = %s, want %s", res.Revision, tt.wantRev)
			}
			last := res.Steps[len(res.Steps)-1]
			if last.Name != StepManagement || last.Action != ActionPlanned || strings.Contains(last.Detail, "channel") != (tt.wantDefault != "") ||
				!strings.Contains(last.Detail, tt.wantDefault) {
				t.Errorf("management step = %+v", last)
			}
		})
	}
}

func TestManagedDryRunChangesNothing(t *testing.T) {
	f := &fakeFleet{t: t}
	in, _ := installer(f, gkeCluster())
	o := opts()
	o.DryRun = true
	res, err := in.Install(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var planned []string
	for _, s := range res.Steps {
		if s.Action == ActionPlanned {
			planned = append(planned, s.Name)
		}
	}
	if strings.Join(planned, ",") != "register,enable-feature,set-management" || res.Changed {
		t.Errorf("planned = %v changed %v", planned, res.Changed)
	}
}

func TestManagedUninstall(t *testing.T) {
	name := "projects/p/locations/us-central1/memberships/c"
	f := &fakeFleet{t: t, allowMutations: true,
		memberships: []*gkehub.Membership{registered(name, tLink)},
		feature:     &gkehub.Feature{MembershipStates: map[string]gkehub.MembershipFeatureState{"projects/123/locations/us-central1/memberships/c": ready("asm-managed")}},
		spec:        map[string]*gkehubv2.FeatureSpec{name: {Servicemesh: &gkehubv2.ServiceMeshSpec{Management: ManagementAutomatic}}},
		statuses: []gkehub.MembershipFeatureState{ready("asm-managed"), meshState(StateDeprovisioning, StateDeprovisioning, nil),
			meshState(StateDisabled, StateDisabled, nil)},
	}
	in, _ := installer(f, gkeCluster())
	in.Dynamic = dynamicWith() // the CPR is gone
	res, err := in.Uninstall(context.Background(), opts())
	if err != nil {
		t.Fatal(err)
	}
	if got := f.patched; len(got) != 1 || got[0].Servicemesh.Management != ManagementNotInstalled {
		t.Errorf("patched = %+v", got)
	}
	if !res.Changed || res.Revision != "asm-managed" || len(res.Notes) != 2 || !strings.Contains(res.Notes[0], "gcloud container fleet memberships unregister c") {
		t.Errorf("result = %+v", res)
	}
	// Again: nothing to do.
	f.allowMutations = false
	res, err = in.Uninstall(context.Background(), opts())
	if err != nil || res.Changed {
		t.Errorf("second uninstall: %v %+v", err, res.Steps)
	}
	// Not registered at all.
	res, err = Installer{GKE: fakeGKE{gkeCluster()}, Fleet: &fakeFleet{t: t}}.Uninstall(context.Background(), opts())
	if err != nil || res.Changed || !strings.Contains(res.Steps[len(res.Steps)-1].Detail, "not registered") {
		t.Errorf("unregistered: %v %+v", err, res.Steps)
	}
}

func TestManagedConfirmFailsWhenTheClusterDisagrees(t *testing.T) {
	f := &fakeFleet{t: t, allowMutations: true, statuses: []gkehub.MembershipFeatureState{ready("asm-managed")}}
	in, _ := installer(f, gkeCluster())
	in.Dynamic = dynamicWith() // another cluster: no CPR
	_, err := in.Install(context.Background(), opts())
	if err == nil || !strings.Contains(err.Error(), "no ControlPlaneRevision asm-managed in istio-system") || !strings.Contains(failure.HintOf(err), "kube context") {
		t.Fatalf("err = %v", err)
	}
}

func TestManagedErrorsNameThePermission(t *testing.T) {
	f := &deniedFleet{fakeFleet{t: t}}
	in, _ := installer(&f.fakeFleet, gkeCluster())
	in.Fleet = f
	_, err := in.Install(context.Background(), opts())
	if err == nil || !strings.Contains(failure.HintOf(err), "gkehub.memberships.list") {
		t.Fatalf("err = %v hint %q", err, failure.HintOf(err))
	}
	in.GKE = fakeGKE{nil}
	_, err = in.Install(context.Background(), opts())
	if err == nil || !strings.Contains(err.Error(), "cluster c not found") || !strings.Contains(failure.HintOf(err), "gcloud container clusters list --project p") {
		t.Fatalf("err = %v hint %q", err, failure.HintOf(err))
	}
}

type deniedFleet struct{ fakeFleet }

func (d *deniedFleet) ListMemberships(context.Context, string) ([]*gkehub.Membership, error) {
	return nil, &googleapi.Error{Code: http.StatusForbidden, Message: "Permission 'gkehub.memberships.list' denied on 'projects/p/locations/-/memberships'"}
}

func TestManagedStatusAssessment(t *testing.T) {
	fix := FixContext{Project: "p", Location: "us-central1", Cluster: "c", FleetProject: "p", Membership: "c", PoolsWithoutGKEMetadata: []string{"pool-2"}}
	cond := func(code, severity string) *gkehub.ServiceMeshCondition {
		return &gkehub.ServiceMeshCondition{Code: code, Details: "details of " + code, Severity: severity}
	}
	readyDetails := []*gkehub.ServiceMeshStatusDetails{{Code: "REVISION_READY", Details: "Ready: asm-managed"}}
	tests := []struct {
		name      string
		st        gkehub.MembershipFeatureState
		phase     Phase
		codes     string // problem codes, in order
		fixSubstr string
	}{
		{"not reported", gkehub.MembershipFeatureState{}, PhaseWaiting, "", ""},
		{"DISABLED (not picked up yet)", meshState(StateDisabled, StateDisabled, nil), PhaseWaiting, "", ""},
		{"LIFECYCLE_STATE_UNSPECIFIED", meshState(StateUnspecified, StateUnspecified, nil), PhaseWaiting, "", ""},
		{"PROVISIONING", provisioning(), PhaseWaiting, "", ""},
		{"DEPROVISIONING", meshState(StateDeprovisioning, StateDeprovisioning, nil), PhaseWaiting, "", ""},
		{"ACTIVE ready", ready("asm-managed"), PhaseReady, "", ""},
		{"ACTIVE with another revision", ready("asm-managed-rapid"), PhaseWaiting, "", ""},
		{"ACTIVE, data plane provisioning", meshState(StateActive, StateProvisioning, readyDetails), PhaseWaiting, "", ""},
		{"ACTIVE, data plane disabled", meshState(StateActive, StateDisabled, readyDetails), PhaseReady, "DATA_PLANE_DISABLED", ""},
		{"ACTIVE, data plane failed", meshState(StateActive, StateFailedPrecondition, readyDetails), PhaseReady, "DATA_PLANE_FAILED_PRECONDITION", "fleet mesh describe"},
		{"NEEDS_ATTENTION", meshState(StateNeedsAttention, StateActive, readyDetails), PhaseReady, "NEEDS_ATTENTION", "fleet mesh describe"},
		{"DEGRADED", meshState(StateDegraded, StateActive, readyDetails), PhaseReady, "DEGRADED", ""},
		{"FAILED_PRECONDITION without conditions", meshState(StateFailedPrecondition, StateFailedPrecondition, nil), PhaseFailed, "FAILED_PRECONDITION", "gcloud container fleet mesh describe --project p"},
		{"STALLED", meshState(StateStalled, StateStalled, []*gkehub.ServiceMeshStatusDetails{{Code: "STALLED", Details: "boom"}}), PhaseFailed, "STALLED", ""},
		{"WORKLOAD_IDENTITY_REQUIRED", meshState(StateFailedPrecondition, StateFailedPrecondition, nil, cond("WORKLOAD_IDENTITY_REQUIRED", "ERROR")),
			PhaseFailed, "WORKLOAD_IDENTITY_REQUIRED", "--workload-pool=p.svc.id.goog"},
		{"NODEPOOL_WORKLOAD_IDENTITY_FEDERATION_REQUIRED while still provisioning", meshState(StateProvisioning, StateProvisioning, nil, cond("NODEPOOL_WORKLOAD_IDENTITY_FEDERATION_REQUIRED", "ERROR")),
			PhaseFailed, "NODEPOOL_WORKLOAD_IDENTITY_FEDERATION_REQUIRED", "node-pools update pool-2"},
		{"CLUSTER_HAS_ZERO_NODES", meshState(StateFailedPrecondition, StateFailedPrecondition, nil, cond("CLUSTER_HAS_ZERO_NODES", "ERROR")), PhaseFailed, "CLUSTER_HAS_ZERO_NODES", "clusters resize"},
		{"MESH_IAM_PERMISSION_DENIED", meshState(StateFailedPrecondition, StateFailedPrecondition, nil, cond("MESH_IAM_PERMISSION_DENIED", "ERROR")), PhaseFailed, "MESH_IAM_PERMISSION_DENIED", "serviceAccount:service-FLEET_PROJECT_NUMBER@gcp-sa-servicemesh.iam.gserviceaccount.com --role roles/anthosservicemesh.serviceAgent"},
		{"MESH_IAM_CROSS_PROJECT_PERMISSION_DENIED", meshState(StateFailedPrecondition, "", nil, cond("MESH_IAM_CROSS_PROJECT_PERMISSION_DENIED", "ERROR")), PhaseFailed, "MESH_IAM_CROSS_PROJECT_PERMISSION_DENIED", "roles/gkehub.serviceAgent"},
		{"SHARED_VPC_MISSING_PERMISSIONS", meshState(StateFailedPrecondition, "", nil, cond("SHARED_VPC_MISSING_PERMISSIONS", "ERROR")), PhaseFailed, "SHARED_VPC_MISSING_PERMISSIONS", "host project"},
		{"REQUIRED_ORG_POLICY_DISABLED", meshState(StateFailedPrecondition, "", nil, cond("REQUIRED_ORG_POLICY_DISABLED", "ERROR")), PhaseFailed, "REQUIRED_ORG_POLICY_DISABLED", "disableInternetNetworkEndpointGroup"},
		{"GKE_SANDBOX_UNSUPPORTED", meshState(StateFailedPrecondition, "", nil, cond("GKE_SANDBOX_UNSUPPORTED", "ERROR")), PhaseFailed, "GKE_SANDBOX_UNSUPPORTED", "GKE Sandbox"},
		{"CNI_INSTALLATION_FAILED while provisioning is a warning", meshState(StateProvisioning, StateProvisioning, nil, cond("CNI_INSTALLATION_FAILED", "WARNING")), PhaseWaiting, "CNI_INSTALLATION_FAILED", "istio-cni-node"},
		{"CNI_INSTALLATION_FAILED when stalled blocks", meshState(StateStalled, StateStalled, nil, cond("CNI_INSTALLATION_FAILED", "ERROR")), PhaseFailed, "CNI_INSTALLATION_FAILED", "istio-cni-node"},
		{"QUOTA_EXCEEDED_BACKEND_SERVICES when ready is a warning", meshState(StateActive, StateActive, readyDetails, cond("QUOTA_EXCEEDED_BACKEND_SERVICES", "WARNING")), PhaseReady, "QUOTA_EXCEEDED_BACKEND_SERVICES", "quotas"},
		{"VPCSC_GA_SUPPORTED is information", meshState(StateActive, StateActive, readyDetails, cond("VPCSC_GA_SUPPORTED", "INFO")), PhaseReady, "", ""},
		{"an unknown ERROR code with FAILED_PRECONDITION", meshState(StateFailedPrecondition, "", nil, cond("SOMETHING_NEW", "ERROR")), PhaseFailed, "SOMETHING_NEW", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.st
			a := StatusFromV1(&st).Assess("asm-managed", fix)
			var codes []string
			fixes := ""
			for _, p := range a.Problems {
				codes = append(codes, p.Code)
				fixes += p.Fix + "\n"
			}
			if a.Phase != tt.phase || strings.Join(codes, ",") != tt.codes || !strings.Contains(fixes, tt.fixSubstr) {
				t.Errorf("Assess = %s %v, fixes %q; want %s %s with %q", a.Phase, codes, fixes, tt.phase, tt.codes, tt.fixSubstr)
			}
			if tt.phase == PhaseReady && a.Revision != "asm-managed" {
				t.Errorf("revision = %q", a.Revision)
			}
		})
	}
	// Every documented blocking code meshctl knows has an explanation and a fix.
	for _, code := range KnownConditionCodes() {
		p := ExplainCondition(Condition{Code: code}, fix)
		if p.Explanation == "" || (p.Blocking && p.Fix == "") {
			t.Errorf("%s: %+v", code, p)
		}
	}
}

func TestStatusFromV1AndSummary(t *testing.T) {
	st := gkehub.MembershipFeatureState{
		State: &gkehub.FeatureState{Code: "OK", Description: "Revision(s) ready for use: asm-managed-stable."},
		Servicemesh: &gkehub.ServiceMeshMembershipState{
			ControlPlaneManagement: &gkehub.ServiceMeshControlPlaneManagement{State: "ACTIVE", Implementation: "TRAFFIC_DIRECTOR",
				Details: []*gkehub.ServiceMeshStatusDetails{{Code: "REVISION_READY", Details: "Ready: asm-managed-stable, asm-managed"}}},
			DataPlaneManagement: &gkehub.ServiceMeshDataPlaneManagement{State: "ACTIVE", Details: []*gkehub.ServiceMeshStatusDetails{{Code: "OK", Details: "Service is running."}}},
			Conditions:          []*gkehub.ServiceMeshCondition{{Code: "VPCSC_GA_SUPPORTED", Severity: "INFO"}},
		},
	}
	s := StatusFromV1(&st)
	if got := strings.Join(s.ReadyRevisions(), ","); got != "asm-managed-stable,asm-managed" {
		t.Errorf("ReadyRevisions = %s", got)
	}
	if got := s.Summary(); got != "control plane ACTIVE (TRAFFIC_DIRECTOR), data plane ACTIVE, REVISION_READY, VPCSC_GA_SUPPORTED" {
		t.Errorf("Summary = %s", got)
	}
	if s.Code != "OK" || s.Description == "" || !s.Reported {
		t.Errorf("status = %+v", s)
	}
	if StatusFromV1(nil).Summary() != "not reported yet" {
		t.Error("nil status")
	}
}

func TestMembershipKeyForms(t *testing.T) {
	for _, name := range []string{"projects/p/locations/us-central1/memberships/m", "/projects/p/locations/us-central1/memberships/m",
		"//gkehub.googleapis.com/projects/p/locations/us-central1/memberships/m"} {
		ref, err := ParseMembershipName(name)
		if err != nil || ref != (MembershipRef{"p", "us-central1", "m"}) {
			t.Errorf("ParseMembershipName(%s) = %+v %v", name, ref, err)
		}
	}
	for _, bad := range []string{"projects/p/locations/us-central1/memberships/", "projects/p/memberships/m", "m", "projects/p/locations/l/features/f"} {
		if _, err := ParseMembershipName(bad); err == nil {
			t.Errorf("ParseMembershipName(%s) accepted", bad)
		}
	}
	ref := MembershipRef{"p", "us-central1", "m"}
	keys := map[string]int{
		"projects/123/locations/global/memberships/m":      1, // the global mistake: another membership
		"projects/123/locations/us-central1/memberships/m": 2, // the number form Google returns
	}
	if k := FindKey(keys, ref); k != "projects/123/locations/us-central1/memberships/m" {
		t.Errorf("FindKey = %q", k)
	}
	if SameMembership(ref, MembershipRef{"q", "us-central1", "m"}) || !SameMembership(ref, MembershipRef{"p", "us-central1", "m"}) {
		t.Error("SameMembership: two project ids must agree")
	}
	if FindKey(map[string]int{"projects/123/locations/us-central1/memberships/other": 1}, ref) != "" {
		t.Error("FindKey matched another membership")
	}
	c := ClusterRef{"p", "us-central1", "c"}
	for link, want := range map[string]bool{
		"//container.googleapis.com/projects/p/locations/us-central1/clusters/c":          true,
		"https://container.googleapis.com/v1/projects/p/locations/us-central1/clusters/c": true,
		"//container.googleapis.com/projects/p/zones/us-central1/clusters/c":              true,
		"//container.googleapis.com/projects/123/locations/us-central1/clusters/c":        true, // with the number known
		"//container.googleapis.com/projects/999/locations/us-central1/clusters/c":        false,
		"//container.googleapis.com/projects/p/locations/us-east1/clusters/c":             false,
		"//gkeonprem.googleapis.com/projects/p/locations/us-central1/clusters/c":          false,
	} {
		if got := c.Matches(link, "123"); got != want {
			t.Errorf("Matches(%s) = %v", link, got)
		}
	}
	if got := membershipLocation("us-central1-a"); got != "us-central1" {
		t.Errorf("membershipLocation(zone) = %s", got)
	}
	if got := membershipLocation("europe-west4"); got != "europe-west4" {
		t.Errorf("membershipLocation(region) = %s", got)
	}
	if validMembershipID(strings.Repeat("a", 64)) || validMembershipID("-a") || !validMembershipID("prod-1") {
		t.Error("validMembershipID")
	}
	if fmt.Sprint(ref) != "projects/p/locations/us-central1/memberships/m" {
		t.Error("String")
	}
}

func TestManagedFixNamesTheFleetsServiceAgent(t *testing.T) {
	f := &fakeFleet{t: t, allowMutations: true, statuses: []gkehub.MembershipFeatureState{
		meshState(StateFailedPrecondition, StateFailedPrecondition, nil, &gkehub.ServiceMeshCondition{Code: "MESH_IAM_PERMISSION_DENIED", Severity: "ERROR"})}}
	in, _ := installer(f, gkeCluster())
	_, err := in.Install(context.Background(), opts())
	if err == nil || !strings.Contains(failure.HintOf(err), "gcloud projects add-iam-policy-binding p --member serviceAccount:service-123@gcp-sa-servicemesh.iam.gserviceaccount.com") {
		t.Fatalf("err = %v\nhint %s", err, failure.HintOf(err))
	}
}
