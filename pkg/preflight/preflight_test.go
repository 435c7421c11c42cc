package preflight

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/googleapi"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/stubs"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/sim/fakeiam"
)

func names(ps []Permission) []string {
	var out []string
	for _, p := range ps {
		if p.Kubernetes != nil {
			out = append(out, p.Kubernetes.String()+" @"+p.Kubernetes.Namespace)
			continue
		}
		out = append(out, p.Permission+" @"+p.Project)
	}
	return out
}

// Each API's changes map to its permissions, in the project the resource
// names: a fleet in its own project, a Shared VPC network in the host.
func TestRequired(t *testing.T) {
	tests := []struct {
		name    string
		changes []plan.Change
		want    []string
	}{
		{"a firewall rule in the Shared VPC host, on the host's network",
			[]plan.Change{{Kind: "firewalls", Name: "fw", Action: plan.Create,
				Resource: ComputeName("host", "global", "firewalls", "fw"), Uses: []string{ComputeName("host", "global", "networks", "shared")}}},
			[]string{"compute.firewalls.create @host", "compute.globalOperations.get @host", "compute.networks.updatePolicy @host"}},
		{"a regional backend service using a host project's subnet",
			[]plan.Change{{Kind: "backendServices", Name: "bs", Action: plan.Create,
				Resource: ComputeName("svc", "regions/europe-west1", "backendServices", "bs"),
				Uses:     []string{ComputeName("host", "regions/europe-west1", "subnetworks", "s"), ComputeName("svc", "regions/europe-west1", "healthChecks", "hc")}}},
			[]string{"compute.subnetworks.use @host", "compute.regionBackendServices.create @svc", "compute.regionHealthChecks.useReadOnly @svc", "compute.regionOperations.get @svc"}},
		{"an HTTPS proxy retargeted and given a new certificate: its set methods, and update for the fingerprinted patch of its certificates",
			[]plan.Change{{Kind: "targetHttpsProxies", Name: "p", Action: plan.Update, Fields: []string{"urlMap", "sslCertificates"},
				Resource: ComputeName("p", "global", "targetHttpsProxies", "p"),
				Uses:     []string{ComputeName("p", "global", "urlMaps", "um"), ComputeName("p", "global", "sslCertificates", "c")}}},
			[]string{"compute.globalOperations.get @p", "compute.sslCertificates.get @p", "compute.targetHttpsProxies.get @p",
				"compute.targetHttpsProxies.setSslCertificates @p", "compute.targetHttpsProxies.setUrlMap @p", "compute.targetHttpsProxies.update @p", "compute.urlMaps.use @p"}},
		{"a forwarding rule on a new port is replaced; one retargeted is set",
			[]plan.Change{
				{Kind: "forwardingRules", Name: "a", Action: plan.Update, Fields: []string{"portRange"}, Resource: ComputeName("p", "global", "forwardingRules", "a")},
				{Kind: "forwardingRules", Name: "b", Action: plan.Update, Fields: []string{"target"}, Resource: ComputeName("p", "global", "forwardingRules", "b"),
					Uses: []string{ComputeName("p", "global", "targetHttpsProxies", "x"), ComputeName("p", "global", "addresses", "ip")}}},
			[]string{"compute.globalAddresses.use @p", "compute.globalForwardingRules.create @p", "compute.globalForwardingRules.delete @p",
				"compute.globalForwardingRules.get @p", "compute.globalForwardingRules.setTarget @p", "compute.globalOperations.get @p", "compute.targetHttpsProxies.use @p"}},
		{"deletes need no use; keep and use need nothing",
			[]plan.Change{
				{Kind: "urlMaps", Name: "um", Action: plan.Delete, Resource: ComputeName("p", "global", "urlMaps", "um"), Uses: []string{ComputeName("p", "global", "backendServices", "bs")}},
				{Kind: "addresses", Name: "ip", Action: plan.Use, Resource: ComputeName("p", "global", "addresses", "ip")},
				{Kind: "healthChecks", Name: "hc", Action: plan.Keep, Resource: ComputeName("p", "global", "healthChecks", "hc")}},
			[]string{"compute.globalOperations.get @p", "compute.urlMaps.delete @p"}},
		{"the managed install in the fleet project",
			[]plan.Change{
				{Kind: "memberships", Name: "c", Action: plan.Create, Resource: GoogleName("gkehub", "projects/fleet/locations/us-central1/memberships/c")},
				{Kind: "features", Name: "servicemesh", Action: plan.Create, Resource: GoogleName("gkehub", "projects/fleet/locations/global/features/servicemesh")},
				{Kind: "services", Name: "mesh.googleapis.com", Action: plan.Create, Resource: GoogleName("serviceusage", "projects/fleet/services/mesh.googleapis.com")},
				{Kind: "membershipFeatures", Name: "c/servicemesh", Action: plan.Update, Resource: GoogleName("gkehub", "projects/fleet/locations/us-central1/memberships/c/features/servicemesh")}},
			[]string{"gkehub.features.create @fleet", "gkehub.membershipfeatures.update @fleet", "gkehub.memberships.create @fleet", "gkehub.operations.get @fleet",
				"serviceusage.operations.get @fleet", "serviceusage.services.enable @fleet"}},
		{"a cluster update and a project's IAM policy",
			[]plan.Change{
				{Kind: "clusters", Name: "c", Action: plan.Update, Resource: GoogleName("container", "projects/p/locations/us-central1/clusters/c")},
				{Kind: "projects", Name: "p", Action: plan.Update, Resource: GoogleName("cloudresourcemanager", "projects/p")}},
			[]string{"container.clusters.update @p", "container.operations.get @p", "resourcemanager.projects.getIamPolicy @p", "resourcemanager.projects.setIamPolicy @p"}},
		{"Kubernetes: server-side apply creates, patches; restarts patch; deletes delete",
			[]plan.Change{
				{Kind: "Deployment", Namespace: "shop", Name: "gw", Action: plan.Create, Resource: "apps/deployments"},
				{Kind: "Namespace", Name: "shop", Action: plan.Update, Resource: "namespaces"},
				{Kind: "StatefulSet", Namespace: "shop", Name: "db", Action: plan.Restart, Resource: "apps/statefulsets"},
				{Kind: "Secret", Namespace: "shop", Name: "cert", Action: plan.Delete, Resource: "secrets"},
				{Kind: "Deployment", Namespace: "shop", Name: "web", Action: plan.Skip, Resource: "apps/deployments"}},
			[]string{"patch namespaces shop @", "create deployments.apps @shop", "delete secrets cert @shop", "patch deployments.apps gw @shop", "patch statefulsets.apps db @shop"}},
		{"Kubernetes: a port forward is create of a subresource, asked apart from its resource",
			[]plan.Change{{Kind: "port-forward", Namespace: "istio-system", Name: "istiod", Action: plan.Create, Replace: true,
				Resource: KubeSubresource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "portforward")}},
			[]string{"create pods/portforward @istio-system"}},
		{"Certificate Manager: short permission names, operations, and the use of an entry's certificate",
			[]plan.Change{
				{Kind: "CertificateMap", Name: "m", Action: plan.Create, Resource: GoogleName("certificatemanager", "projects/p/locations/global/certificateMaps/m")},
				{Kind: "Certificate", Name: "c", Action: plan.Create, Resource: GoogleName("certificatemanager", "projects/p/locations/global/certificates/c")},
				{Kind: "CertificateMapEntry", Name: "e", Action: plan.Create, Resource: GoogleName("certificatemanager", "projects/p/locations/global/certificateMaps/m/certificateMapEntries/e"),
					Uses: []string{GoogleName("certificatemanager", "projects/p/locations/global/certificates/c")}},
				{Kind: "Certificate", Name: "old", Action: plan.Delete, Resource: GoogleName("certificatemanager", "projects/p/locations/global/certificates/old")}},
			[]string{"certificatemanager.certmapentries.create @p", "certificatemanager.certmaps.create @p", "certificatemanager.certs.create @p",
				"certificatemanager.certs.delete @p", "certificatemanager.certs.use @p", "certificatemanager.operations.get @p"}},
		{"reads need their get only (no operation); a token request is a create of the subresource",
			[]plan.Change{
				{Kind: "instances", Name: "vm", Action: plan.Read, Resource: ComputeName("p", "zones/us-central1-a", "instances", "vm")},
				{Kind: "ConfigMap", Namespace: "db", Name: "c", Action: plan.Read, Resource: "configmaps"},
				{Kind: "TokenRequest", Namespace: "db", Name: "vm", Action: plan.Create, Replace: true, Resource: KubeSubresource(schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, "token")}},
			[]string{"compute.instances.get @p", "create serviceaccounts/token @db", "get configmaps c @db"}},
	}
	for _, tt := range tests {
		got := names(Required(tt.changes))
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got  %v\n want %v", tt.name, got, tt.want)
		}
	}
}

// Every permission a change maps to names its steps, once each.
func TestRequiredSteps(t *testing.T) {
	ps := Required([]plan.Change{
		{Kind: "healthChecks", Name: "a", Action: plan.Create, Resource: ComputeName("p", "global", "healthChecks", "a")},
		{Kind: "healthChecks", Name: "b", Action: plan.Create, Resource: ComputeName("p", "global", "healthChecks", "b")},
	})
	if len(ps) != 2 || ps[0].Permission != "compute.globalOperations.get" || ps[1].Permission != "compute.healthChecks.create" ||
		!slices.Equal(ps[1].Steps, []string{"create healthChecks a", "create healthChecks b"}) || ps[1].Status != Unchecked {
		t.Errorf("%+v", ps)
	}
}

// The links of a request body, in every form Compute clients send them.
func TestComputeLinks(t *testing.T) {
	body := `{"name":"bs","selfLink":"https://www.googleapis.com/compute/v1/projects/p/global/backendServices/bs",
		"healthChecks":["https://compute.googleapis.com/compute/v1/projects/p/global/healthChecks/hc"],
		"backends":[{"group":"projects/p/zones/us-central1-a/networkEndpointGroups/neg"},{"group":"zones/us-central1-b/networkEndpointGroups/neg"}],
		"network":"projects/host/global/networks/shared","description":"global/urlMaps/not-a-link","portName":"http"}`
	got := ComputeLinks([]byte(body), "p")
	want := []string{
		"//compute.googleapis.com/projects/host/global/networks/shared",
		"//compute.googleapis.com/projects/p/global/healthChecks/hc",
		"//compute.googleapis.com/projects/p/zones/us-central1-a/networkEndpointGroups/neg",
		"//compute.googleapis.com/projects/p/zones/us-central1-b/networkEndpointGroups/neg",
	}
	if !slices.Equal(got, want) {
		t.Errorf("links:\n got  %v\n want %v", got, want)
	}
}

// The smallest roles are the least privilege that grants everything:
// Load Balancer Admin lacks Cloud Armor and firewall creation, Security
// Admin has them; Compute Admin would do alone but grants far more.
func TestSmallestRoles(t *testing.T) {
	tests := []struct {
		perms     []string
		want      string
		ungranted []string
	}{
		{[]string{"compute.securityPolicies.create"}, "Compute Security Admin", nil},
		{[]string{"compute.backendServices.create", "compute.urlMaps.create"}, "Compute Load Balancer Admin", nil},
		{[]string{"compute.backendServices.create", "compute.securityPolicies.create", "compute.firewalls.create"}, "Compute Load Balancer Admin + Compute Security Admin", nil},
		{[]string{"compute.instances.setMetadata"}, "Compute Admin", nil},
		{[]string{"gkehub.memberships.create", "gkehub.features.create"}, "GKE Hub Editor", nil},
		{[]string{"gkehub.membershipfeatures.update", "gkehub.memberships.create"}, "Fleet Admin", nil},
		{[]string{"container.clusters.update", "serviceusage.services.enable"}, "Kubernetes Engine Cluster Admin + Service Usage Admin", nil},
		{[]string{"meshconfig.projects.init", "container.clusters.get"}, "Kubernetes Engine Cluster Viewer + Mesh Config Admin", nil},
		// Certificate Manager's Editor creates but cannot delete (Google's
		// roles page): unexpose needs its admin role.
		{[]string{"certificatemanager.certmaps.create", "certificatemanager.certmapentries.create"}, "Certificate Manager Editor", nil},
		{[]string{"certificatemanager.certs.delete", "certificatemanager.certmaps.delete"}, "Certificate Admin", nil},
		{[]string{"iam.serviceAccounts.create", "container.clusters.get"}, "Kubernetes Engine Cluster Viewer", []string{"iam.serviceAccounts.create"}},
	}
	for _, tt := range tests {
		roles, ungranted := SmallestRoles(tt.perms)
		if got := RoleTitles(roles); got != tt.want || !slices.Equal(ungranted, tt.ungranted) {
			t.Errorf("SmallestRoles(%v) = %q, ungranted %v; want %q, %v", tt.perms, got, ungranted, tt.want, tt.ungranted)
		}
	}
}

// The role table names only permissions that exist (meshsim's catalog,
// taken from Google's published roles), never the two no role has, and
// every permission meshctl's plans can need is granted by some role.
func TestRoleTable(t *testing.T) {
	for _, r := range Roles {
		if !strings.HasPrefix(r.Name, "roles/") || r.Title == "" || r.size <= 0 {
			t.Errorf("role %+v", r)
		}
		for resource, verbs := range r.grants {
			for _, v := range verbs {
				if v == "*" {
					continue
				}
				perm := resource + "." + v
				if err := fakeiam.Validate(perm); err != nil {
					t.Errorf("%s: %v", r.Name, err)
				}
				if heldByNoRole[perm] {
					t.Errorf("%s grants %s, which no role has", r.Name, perm)
				}
			}
		}
	}
}

// fakeIAM answers testIamPermissions from a set, after a delay, counting
// the requests.
type fakeIAM struct {
	reg     *stubs.Registry
	latency time.Duration
	held    map[string]bool
	err     error

	mu    sync.Mutex
	calls []string
}

func (f *fakeIAM) TestIamPermissions(ctx context.Context, project string, perms []string) ([]string, error) {
	f.reg.Call("testIamPermissions " + project)
	f.mu.Lock()
	f.calls = append(f.calls, fmt.Sprintf("%s:%d", project, len(perms)))
	f.mu.Unlock()
	select {
	case <-time.After(f.latency):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if f.err != nil {
		return nil, f.err
	}
	var out []string
	for _, p := range perms {
		if f.held[p] {
			out = append(out, p)
		}
	}
	return out, nil
}

func computeChanges(projects ...string) []plan.Change {
	var out []plan.Change
	for _, p := range projects {
		for _, kind := range []string{"healthChecks", "backendServices", "urlMaps"} {
			out = append(out, plan.Change{Kind: kind, Name: "x", Action: plan.Create, Resource: ComputeName(p, "global", kind, "x")})
		}
	}
	return out
}

// Each project is asked once, all at once: the check costs one round trip
// however many projects (and chunks) the plan spans.
func TestCheckerOneRoundTrip(t *testing.T) {
	reg := stubs.New(t)
	for _, p := range []string{"a", "b", "c"} {
		reg.Stub("testIamPermissions " + p)
	}
	latency := 200 * time.Millisecond
	iam := &fakeIAM{reg: reg, latency: latency, held: map[string]bool{
		"compute.healthChecks.create": true, "compute.backendServices.create": true, "compute.urlMaps.create": true, "compute.globalOperations.get": true}}
	c := &Checker{IAM: iam, ChunkSize: 2}
	start := time.Now()
	r := c.Check(context.Background(), computeChanges("a", "b", "c"))
	took := time.Since(start)
	if took >= 2*latency {
		t.Errorf("the check took %s with %s a request: not one round trip", took, latency)
	}
	// 4 permissions a project in chunks of 2: two requests each.
	slices.Sort(iam.calls)
	if want := []string{"a:2", "a:2", "b:2", "b:2", "c:2", "c:2"}; !slices.Equal(iam.calls, want) {
		t.Errorf("requests %v, want %v", iam.calls, want)
	}
	if r.Missing != 0 || r.Err() != nil || !r.Checked() {
		t.Errorf("report %+v", r)
	}
}

// A missing permission is named with its project and step, the roles
// that grant it and the gcloud command; the error stops the run.
func TestCheckerMissing(t *testing.T) {
	reg := stubs.New(t)
	reg.Stub("testIamPermissions svc")
	iam := &fakeIAM{reg: reg, held: map[string]bool{"compute.globalOperations.get": true}}
	changes := []plan.Change{{Kind: "securityPolicies", Name: "armor", Action: plan.Create, Resource: ComputeName("svc", "global", "securityPolicies", "armor")}}
	r := (&Checker{IAM: iam}).Check(context.Background(), changes)
	err := r.Err()
	var missing *MissingError
	if !errors.As(err, &missing) || r.Missing != 1 || failure.ExitCode(err) != failure.ExitFailure {
		t.Fatalf("err %v, report %+v", err, r)
	}
	if msg := err.Error(); !strings.Contains(msg, "compute.securityPolicies.create in project svc, to create securityPolicies armor") || !strings.Contains(msg, "nothing was changed") {
		t.Errorf("message %q", msg)
	}
	hint := failure.HintOf(err)
	if !strings.Contains(hint, "grant Compute Security Admin in project svc") ||
		!strings.Contains(hint, "gcloud projects add-iam-policy-binding svc --member=PRINCIPAL --role=roles/compute.securityAdmin") ||
		!strings.Contains(hint, "--skip-permission-check") {
		t.Errorf("hint %q", hint)
	}
}

// Resource Manager disabled in the quota project: a warning that says
// how to enable it, the permissions unchecked, and the run goes on.
func TestCheckerCannotCheck(t *testing.T) {
	reg := stubs.New(t)
	reg.Stub("testIamPermissions svc")
	iam := &fakeIAM{reg: reg, err: &googleapi.Error{Code: 403,
		Message: "Cloud Resource Manager API has not been used in project 222222222222 before or it is disabled. Enable it by visiting ...",
		Errors:  []googleapi.ErrorItem{{Reason: "accessNotConfigured"}}}}
	r := (&Checker{IAM: iam}).Check(context.Background(), computeChanges("svc"))
	if r.Err() != nil || r.Checked() || len(r.Warnings) != 1 {
		t.Fatalf("report %+v", r)
	}
	if w := r.Warnings[0]; !strings.Contains(w, "Cloud Resource Manager API (cloudresourcemanager.googleapis.com) is disabled in project 222222222222") ||
		!strings.Contains(w, "gcloud services enable cloudresourcemanager.googleapis.com --project 222222222222") || !strings.Contains(w, "going on") {
		t.Errorf("warning %q", w)
	}
}

// fakeAccess allows what its set holds.
type fakeAccess struct {
	reg     *stubs.Registry
	allowed map[string]bool
}

func (f *fakeAccess) Allowed(_ context.Context, a KubeAccess) (bool, error) {
	key := a.String() + " @" + a.Namespace
	f.reg.Call("review " + key)
	return f.allowed[key], nil
}

// Kubernetes permissions are asked once per verb, resource and namespace;
// only a refusal is asked again by name (RBAC may grant single objects).
// The hint is a Role with exactly the missing verbs.
func TestCheckerKube(t *testing.T) {
	reg := stubs.New(t)
	for _, s := range []string{"patch deployments.apps @shop", "patch deployments.apps web @shop", "patch deployments.apps api @shop", "patch namespaces @", "patch namespaces shop @"} {
		reg.Stub("review " + s)
	}
	access := &fakeAccess{reg: reg, allowed: map[string]bool{"patch deployments.apps web @shop": true}}
	r := (&Checker{Access: access}).Check(context.Background(), []plan.Change{
		{Kind: "Namespace", Name: "shop", Action: plan.Update, Resource: "namespaces"},
		{Kind: "Deployment", Namespace: "shop", Name: "web", Action: plan.Restart, Resource: "apps/deployments"},
		{Kind: "Deployment", Namespace: "shop", Name: "api", Action: plan.Restart, Resource: "apps/deployments"},
	})
	got := map[string]Status{}
	for _, p := range r.Permissions {
		got[p.Name()] = p.Status
	}
	if got["patch deployments.apps web"] != Held || got["patch deployments.apps api"] != Missing || got["patch namespaces shop"] != Missing || r.Missing != 2 {
		t.Fatalf("statuses %v", got)
	}
	hint := failure.HintOf(r.Err())
	if !strings.Contains(hint, "kubectl create clusterrole meshctl --verb=patch --resource=namespaces") ||
		!strings.Contains(hint, "kubectl create role meshctl -n shop --verb=patch --resource=deployments.apps") {
		t.Errorf("hint %q", hint)
	}
}

// Skipped, the permissions are listed and nothing is asked.
func TestCheckerSkip(t *testing.T) {
	reg := stubs.New(t)
	r := (&Checker{Skip: true, IAM: &fakeIAM{reg: reg}}).Check(context.Background(), computeChanges("p"))
	if len(r.Permissions) != 4 || r.Checked() || r.Err() != nil {
		t.Errorf("report %+v", r)
	}
	var nilChecker *Checker
	if nilChecker.Check(context.Background(), computeChanges("p")) != nil {
		t.Error("a nil checker reported")
	}
}

// allowAll allows every access and remembers what it was asked.
type allowAll struct {
	mu    sync.Mutex
	asked []KubeAccess
}

func (a *allowAll) Allowed(_ context.Context, k KubeAccess) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked = append(a.asked, k)
	return k.Verb != "update", nil
}

// A plan over several clusters: objects written whole need create or
// update (not patch), each access is asked of its own cluster, and the
// grant for what is missing names that cluster's context.
func TestClustersAndWholeObjects(t *testing.T) {
	east, west := &allowAll{}, &allowAll{}
	changes := []plan.Change{
		{Kind: "Secret", Namespace: "istio-system", Name: "s", Action: plan.Create, Resource: "secrets", Cluster: "east", Replace: true},
		{Kind: "ConfigMap", Namespace: "istio-system", Name: "m", Action: plan.Update, Resource: "configmaps", Cluster: "west", Replace: true},
	}
	r := (&Checker{Access: Clusters{"east": east, "west": west}}).Check(context.Background(), changes)
	var got []string
	for _, p := range r.Permissions {
		got = append(got, p.Name()+" in "+p.Where()+": "+string(p.Status))
	}
	want := []string{"create secrets in namespace istio-system of cluster east: held", "update configmaps m in namespace istio-system of cluster west: missing"}
	if !slices.Equal(got, want) {
		t.Errorf("permissions %q, want %q", got, want)
	}
	if len(east.asked) != 1 || east.asked[0].Cluster != "east" || len(west.asked) < 1 || west.asked[0].Cluster != "west" {
		t.Errorf("asked east %v, west %v", east.asked, west.asked)
	}
	if len(r.Grants) != 1 || !strings.HasPrefix(r.Grants[0].Commands[0], "kubectl --context west create role meshctl -n istio-system --verb=update --resource=configmaps") {
		t.Errorf("grants %+v", r.Grants)
	}
	if _, err := (Clusters{}).Allowed(context.Background(), KubeAccess{Cluster: "north"}); err == nil {
		t.Error("a cluster without a client was allowed")
	}
}

// A verb on a resource wanted in several namespaces is asked once across
// all namespaces; only where that is refused is it asked namespace by
// namespace (a RoleBinding grants one namespace), and a resource in one
// namespace is asked there alone. (Objects written whole, so that create
// is the one verb each needs.)
func TestCheckerAsksAcrossNamespacesFirst(t *testing.T) {
	changes := []plan.Change{
		{Kind: "Deployment", Namespace: "a-gateway", Name: "a", Action: plan.Create, Replace: true, Resource: "apps/deployments"},
		{Kind: "Deployment", Namespace: "b-gateway", Name: "b", Action: plan.Create, Replace: true, Resource: "apps/deployments"},
		{Kind: "Role", Namespace: "a-gateway", Name: "a", Action: plan.Create, Replace: true, Resource: "rbac.authorization.k8s.io/roles"},
		{Kind: "Role", Namespace: "b-gateway", Name: "b", Action: plan.Create, Replace: true, Resource: "rbac.authorization.k8s.io/roles"},
		{Kind: "Secret", Namespace: "a-gateway", Name: "a", Action: plan.Create, Replace: true, Resource: "secrets"},
	}
	reg := stubs.New(t)
	for _, s := range []string{
		"create deployments.apps @", "create roles.rbac.authorization.k8s.io @", // across all namespaces
		"create roles.rbac.authorization.k8s.io @a-gateway", "create roles.rbac.authorization.k8s.io @b-gateway", // refused across: each
		"create secrets @a-gateway", // one namespace: asked there only
	} {
		reg.Stub("review " + s)
	}
	access := &fakeAccess{reg: reg, allowed: map[string]bool{
		"create deployments.apps @": true, "create roles.rbac.authorization.k8s.io @a-gateway": true, "create secrets @a-gateway": true,
	}}
	r := (&Checker{Access: access}).Check(context.Background(), changes)
	got := map[string]Status{}
	for _, p := range r.Permissions {
		got[p.Name()+" @"+p.Kubernetes.Namespace] = p.Status
	}
	want := map[string]Status{
		"create deployments.apps @a-gateway": Held, "create deployments.apps @b-gateway": Held,
		"create roles.rbac.authorization.k8s.io @a-gateway": Held, "create roles.rbac.authorization.k8s.io @b-gateway": Missing,
		"create secrets @a-gateway": Held,
	}
	if !reflect.DeepEqual(got, want) || r.Missing != 1 {
		t.Errorf("statuses %v, want %v", got, want)
	}
}
