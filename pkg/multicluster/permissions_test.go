package multicluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/proto"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/kube/kubefake"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/eastwest"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/meshca"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// The permissions test's clusters: two private clusters in two service
// projects and two regions, on a Shared VPC of project host, neither
// connected yet: connect plans the firewall rule (in the host project),
// master global access and authorized networks for each, the readers,
// the remote secrets and the trust domain aliases.
const (
	hostProject = "host"
	sharedVPC   = "shared"
)

// googleJudge plays GKE and Compute for apply: every write must hold the
// permission Google checks for it among those the plan's check asked for.
type googleJudge struct {
	t       *testing.T
	mu      sync.Mutex
	asked   map[string]bool // "permission@project"
	writes  []string
	refused []string
	// made are the firewall rules inserted, listed from then on.
	made []*computepb.Firewall
}

func (g *googleJudge) need(write string, perms ...string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.writes = append(g.writes, write)
	for _, p := range perms {
		if !g.asked[p] {
			g.refused = append(g.refused, write+" needs "+p)
			return errors.New("403 " + p)
		}
	}
	return nil
}

func (g *googleJudge) GetCluster(context.Context, string) (*containerpb.Cluster, error) {
	return nil, errors.New("not read in this test")
}

func (g *googleJudge) UpdateCluster(_ context.Context, name string, _ *containerpb.ClusterUpdate) error {
	project := strings.Split(name, "/")[1]
	return g.need("update "+name, "container.clusters.update@"+project)
}

func (g *googleJudge) ListFirewalls(context.Context, string) ([]*computepb.Firewall, error) {
	var out []*computepb.Firewall
	for _, c := range []string{"east", "west"} {
		out = append(out, &computepb.Firewall{Name: proto.String("gke-" + c + "-1234abcd-all"), Network: proto.String("projects/" + hostProject + "/global/networks/" + sharedVPC),
			TargetTags: []string{"gke-" + c + "-node"}, SourceRanges: []string{"10.0.0.0/8"}, Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp")}}})
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return append(out, g.made...), nil
}

func (g *googleJudge) InsertFirewall(_ context.Context, project string, rule *computepb.Firewall) error {
	// A new rule on a network needs the use of that network (Compute's
	// firewalls.insert: compute.networks.updatePolicy).
	p, n := networkOf(rule)
	if err := g.need("insert firewall "+rule.GetName(), "compute.firewalls.create@"+project, "compute.networks.updatePolicy@"+p+"/"+n); err != nil {
		return err
	}
	g.mu.Lock()
	g.made = append(g.made, rule)
	g.mu.Unlock()
	return nil
}

func (g *googleJudge) UpdateFirewall(_ context.Context, project string, rule *computepb.Firewall) error {
	p, n := networkOf(rule)
	return g.need("update firewall "+rule.GetName(), "compute.firewalls.update@"+project, "compute.networks.updatePolicy@"+p+"/"+n)
}

func (g *googleJudge) DeleteFirewall(_ context.Context, project, name string) error {
	return g.need("delete firewall "+name, "compute.firewalls.delete@"+project)
}

// ask lets through what the check of changes asks for: the Google
// permissions to g, the Kubernetes ones to kube.
func (g *googleJudge) ask(changes []plan.Change, kube *[]preflight.KubeAccess) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.asked, *kube = map[string]bool{}, nil
	for _, p := range preflight.Required(changes) {
		if p.Kubernetes != nil {
			*kube = append(*kube, *p.Kubernetes)
			continue
		}
		g.asked[p.Permission+"@"+p.Project] = true
		if p.Permission == "compute.networks.updatePolicy" {
			// Its resource is the network: the judge names it so.
			g.asked[p.Permission+"@"+p.Project+"/"+sharedVPC] = true
		}
	}
}

func networkOf(rule *computepb.Firewall) (string, string) {
	segs := strings.Split(rule.GetNetwork(), "/")
	return segs[1], segs[len(segs)-1]
}

// kubeJudge makes every write to a cluster's fake API server need what
// RBAC checks for it, and fail unless the plan's check asked for it in
// that cluster: the writes judge the plan's permissions.
func kubeJudge(t *testing.T, context string, kc *fake.Clientset, asked *[]preflight.KubeAccess, refused *[]string, mu *sync.Mutex) {
	kc.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		verb := a.GetVerb()
		if verb != "create" && verb != "update" && verb != "patch" && verb != "delete" {
			return false, nil, nil
		}
		var name string
		switch a := a.(type) {
		case k8stesting.CreateAction: // an UpdateAction too: both carry the object
			name = a.GetObject().(metav1.Object).GetName()
		case k8stesting.DeleteAction:
			name = a.GetName()
		case k8stesting.PatchAction:
			name = a.GetName()
		}
		gvr := a.GetResource()
		for _, k := range *asked {
			if k.Cluster == context && k.Verb == verb && k.Group == gvr.Group && k.Resource == gvr.Resource &&
				k.Namespace == a.GetNamespace() && (k.Name == "" || k.Name == name) {
				return false, nil, nil
			}
		}
		mu.Lock()
		*refused = append(*refused, fmt.Sprintf("%s: %s %s %s/%s", context, verb, gvr.Resource, a.GetNamespace(), name))
		mu.Unlock()
		return true, nil, errors.New("forbidden")
	})
	// The token controller: a reader's token Secret gets its token.
	kc.PrependReactor("create", "secrets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		s := a.(k8stesting.CreateAction).GetObject().(*corev1.Secret)
		if s.Type == corev1.SecretTypeServiceAccountToken {
			s.Data = map[string][]byte{corev1.ServiceAccountTokenKey: []byte("token"), corev1.ServiceAccountRootCAKey: []byte("ca")}
		}
		return false, nil, nil
	})
}

// permissionMembers are the test's two clusters, read as gather would.
func permissionMembers() ([]*member, []*fake.Clientset) {
	var ms []*member
	var clients []*fake.Clientset
	for i, c := range []struct{ name, project, region, pods, td string }{
		{"east", "svc-east", "us-central1", "10.4.0.0/14", "svc-east.svc.id.goog"},
		{"west", "svc-west", "europe-west1", "10.8.0.0/14", "svc-west.svc.id.goog"},
	} {
		ref := Ref{Project: c.project, Location: c.region, Name: c.name, Context: "gke_" + c.project + "_" + c.region + "_" + c.name}
		config := "istio-asm-1"
		kc := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: config, Namespace: mesh.IstioSystem},
			Data: map[string]string{"mesh": "trustDomain: " + c.td + "\n"}})
		clients = append(clients, kc)
		ms = append(ms, &member{
			Ref:  ref,
			kube: kc,
			gke: &containerpb.Cluster{
				Name: c.name, Endpoint: fmt.Sprintf("34.1.1.%d", i+1),
				NetworkConfig:                  &containerpb.NetworkConfig{Network: "projects/" + hostProject + "/global/networks/" + sharedVPC},
				IpAllocationPolicy:             &containerpb.IPAllocationPolicy{ClusterIpv4CidrBlock: c.pods},
				PrivateClusterConfig:           &containerpb.PrivateClusterConfig{EnablePrivateNodes: true, PrivateEndpoint: fmt.Sprintf("172.16.%d.2", i)},                                                    //nolint:staticcheck // GKE still serves these fields, and meshctl reads them
				MasterAuthorizedNetworksConfig: &containerpb.MasterAuthorizedNetworksConfig{Enabled: true, CidrBlocks: []*containerpb.MasterAuthorizedNetworksConfig_CidrBlock{{CidrBlock: "192.168.0.0/24"}}}, //nolint:staticcheck // GKE still serves these fields, and meshctl reads them
			},
			planes:    []plane{{Revision: "asm-1", ClusterID: ref.InstalledName(), Deployment: "istiod-asm-1", MeshConfig: config, TrustDomain: c.td}},
			clusterID: ref.InstalledName(),
		})
	}
	return ms, clients
}

// Every write connect makes, Google's and each cluster's, including the
// verification's probe, is one the permissions derived from its plan
// allow: the firewall rule in the Shared VPC's host project, each
// cluster's update in its own project, the Kubernetes objects in their
// own cluster.
func TestConnectPlanPermissionsCoverTheWrites(t *testing.T) {
	ctx := context.Background()
	j := judgedConnectPlan(t)
	ms, clients, g, c, lp, kubeRefused := j.ms, j.clients, j.g, j.c, j.lp, j.refused
	res := &Result{}
	if err := apply(ctx, c, ui.Discard, lp, res); err != nil {
		t.Fatalf("apply: %v\nrefused: %v %v", err, *kubeRefused, g.refused)
	}
	for i, m := range ms {
		if err := deployProbe(ctx, m, probeAddress(i)); err != nil {
			t.Fatal(err)
		}
		if err := removeProbe(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if len(*kubeRefused) > 0 || len(g.refused) > 0 {
		t.Errorf("writes the plan's permissions did not cover:\n%s", strings.Join(append(*kubeRefused, g.refused...), "\n"))
	}
	// The plan is the fixture's full one: each kind of write happened.
	if len(g.writes) != 3 {
		t.Errorf("Google writes %v, want the firewall rule and both clusters' updates", g.writes)
	}
	for i, kc := range clients {
		var kinds []string
		for _, a := range kc.Actions() {
			if v := a.GetVerb(); v == "create" || v == "update" || v == "delete" {
				kinds = append(kinds, v+" "+a.GetResource().Resource)
			}
		}
		for _, want := range []string{"create serviceaccounts", "create clusterroles", "create clusterrolebindings", "create secrets", "update configmaps", "create services", "delete endpointslices"} {
			if !slices.Contains(kinds, want) {
				t.Errorf("cluster %s: no %q among %v", ms[i].Name, want, kinds)
			}
		}
	}
	// Shared VPC: the rule and its network are checked in the host project.
	for _, want := range []string{"compute.firewalls.create@" + hostProject, "compute.networks.updatePolicy@" + hostProject, "container.clusters.update@svc-east", "container.clusters.update@svc-west"} {
		if !g.asked[want] {
			t.Errorf("the check does not ask %s", want)
		}
	}
}

// rbacDeny is each cluster's authorizer for the check: everything but
// one "context verb resource".
type rbacDeny struct{ deny string }

func (r rbacDeny) Allowed(_ context.Context, a preflight.KubeAccess) (bool, error) {
	return a.Cluster+" "+a.Verb+" "+a.GroupResource() != r.deny, nil
}

// iamDeny holds every permission but one, in one project.
type iamDeny struct{ deny, project string }

func (d iamDeny) TestIamPermissions(_ context.Context, project string, perms []string) ([]string, error) {
	return slices.DeleteFunc(slices.Clone(perms), func(p string) bool { return p == d.deny && project == d.project }), nil
}

// One permission missing, Google's in the host project or Kubernetes' in
// one cluster, stops connect before its first write, naming it and where.
func TestConnectMissingPermissionWritesNothing(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		checker func(ms []*member) *preflight.Checker
		want    string
	}{
		{"firewall in the host project", func(ms []*member) *preflight.Checker {
			return &preflight.Checker{IAM: iamDeny{"compute.firewalls.create", hostProject}, Access: preflight.Clusters{
				ms[0].Context: rbacDeny{}, ms[1].Context: rbacDeny{}}}
		}, "compute.firewalls.create in project host, to create firewalls "},
		{"remote secrets in one cluster", func(ms []*member) *preflight.Checker {
			return &preflight.Checker{IAM: iamDeny{}, Access: preflight.Clusters{
				ms[0].Context: rbacDeny{}, ms[1].Context: rbacDeny{ms[1].Context + " create secrets"}}}
		}, "create secrets in namespace istio-system of cluster gke_svc-west_europe-west1_west, to create Secret istio-system/istio-reader-service-account-istio-remote-secret-token; create Secret istio-system/istio-remote-secret-cn-svc-east-us-central1-east"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, clients := permissionMembers()
			g := &googleJudge{t: t, asked: map[string]bool{}}
			c := Clients{GKE: g, Firewalls: g}
			lp, err := planLinks(ctx, c, ms, Options{})
			if err != nil {
				t.Fatal(err)
			}
			report := checkPermissions(ctx, tc.checker(ms), ms, lp.changes())
			err = report.Err()
			var missing *preflight.MissingError
			if !errors.As(err, &missing) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant it to name %q", err, tc.want)
			}
			if report.Missing != 1 {
				t.Errorf("%d missing, want 1", report.Missing)
			}
			for _, kc := range clients {
				for _, a := range kc.Actions() {
					if v := a.GetVerb(); v != "get" && v != "list" {
						t.Errorf("wrote %s %s while checking", v, a.GetResource().Resource)
					}
				}
			}
			if len(g.writes) > 0 {
				t.Errorf("wrote %v while checking", g.writes)
			}
		})
	}
}

// The dry run's plan says, for each Kubernetes object, its cluster: the
// check's access review goes there.
func TestConnectChangesNameTheirCluster(t *testing.T) {
	ms, _ := permissionMembers()
	lp, err := planLinks(context.Background(), Clients{GKE: &googleJudge{}, Firewalls: &googleJudge{}}, ms, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range lp.changes() {
		if !ch.Action.Changes() {
			continue
		}
		if ch.Resource == "" {
			t.Errorf("%s %s: no resource for the check", ch.Action, ch.Ref())
		}
		google := strings.HasPrefix(ch.Resource, "//")
		if google == (ch.Cluster != "") {
			t.Errorf("%s %s: resource %q, cluster %q", ch.Action, ch.Ref(), ch.Resource, ch.Cluster)
		}
	}
}

// The declared superset (`check --permissions --for mesh-connect`) holds
// every permission a real connect's plan needs, the Google ones by name
// (a plan's projects are the clusters' and the network's) and the
// Kubernetes ones by verb and resource in any cluster.
func TestDeclaredChangesCoverTheConnectPlan(t *testing.T) {
	ms, _ := permissionMembers()
	g := &googleJudge{}
	lp, err := planLinks(context.Background(), Clients{GKE: g, Firewalls: g}, ms, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lp.probe = true
	declared := map[string]bool{}
	for _, p := range preflight.Required(DeclaredChanges("p", "p")) {
		declared[declaredKey(p)] = true
	}
	needs := preflight.Required(lp.changes())
	if len(needs) < 10 {
		t.Fatalf("the fixture's plan needs only %v", needs)
	}
	for _, p := range needs {
		if !declared[declaredKey(p)] {
			t.Errorf("the plan needs %s, which DeclaredChanges lacks", p.Name())
		}
	}
}

func declaredKey(p preflight.Permission) string {
	if k := p.Kubernetes; k != nil {
		return k.Verb + " " + k.GroupResource() + " " + k.Namespace
	}
	return p.Permission
}

// Every removal disconnect makes after a connect (the firewall rule, the
// authorized-network blocks, each cluster's remote secrets, reader and
// aliases, a probe left behind) is one the permissions derived from its
// plan allow.
func TestDisconnectPlanPermissionsCoverTheWrites(t *testing.T) {
	ctx := context.Background()
	j := judgedConnectPlan(t)
	ms, clients, g, c, lp, kubeRefused := j.ms, j.clients, j.g, j.c, j.lp, j.refused
	if err := apply(ctx, c, ui.Discard, lp, &Result{}); err != nil {
		t.Fatalf("connect: %v", err)
	}
	// What disconnect reads of the connected clusters: the remote secrets,
	// the blocks connect added (the fake GKE keeps no state), a probe an
	// interrupted verification left.
	for i, m := range ms {
		list, err := clients[i].CoreV1().Secrets(mesh.IstioSystem).List(ctx, metav1.ListOptions{LabelSelector: LabelMultiCluster + "=true"})
		if err != nil {
			t.Fatal(err)
		}
		m.secrets = list.Items
		for _, o := range ms {
			if o != m {
				m.gke.MasterAuthorizedNetworksConfig.CidrBlocks = append(m.gke.MasterAuthorizedNetworksConfig.CidrBlocks, //nolint:staticcheck // GKE still serves these fields, and meshctl reads them
					&containerpb.MasterAuthorizedNetworksConfig_CidrBlock{DisplayName: blockName(o), CidrBlock: o.gke.IpAllocationPolicy.ClusterIpv4CidrBlock})
			}
		}
		if err := deployProbe(ctx, m, probeAddress(i)); err != nil {
			t.Fatal(err)
		}
	}
	// No east-west gateway: each cluster's objects hold istio-system only.
	c.Objects = func(Ref) (kube.Objects, error) {
		f := kubefake.New()
		f.Add(eastwest.GVRNamespace, &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: mesh.IstioSystem}})
		return f, nil
	}
	d, err := planDisconnect(ctx, c, ms)
	if err != nil {
		t.Fatal(err)
	}
	g.ask(d.changes, j.asked)
	g.writes = nil
	if err := runAll(d.tasks); err != nil {
		t.Fatalf("disconnect: %v\nrefused: %v %v", err, *kubeRefused, g.refused)
	}
	if len(*kubeRefused) > 0 || len(g.refused) > 0 {
		t.Errorf("writes the plan's permissions did not cover:\n%s", strings.Join(append(*kubeRefused, g.refused...), "\n"))
	}
	if len(g.writes) != 3 {
		t.Errorf("Google writes %v, want the firewall rule's deletion and both clusters' updates", g.writes)
	}
	for i, kc := range clients {
		var deletes []string
		for _, a := range kc.Actions() {
			if a.GetVerb() == "delete" {
				deletes = append(deletes, a.GetResource().Resource)
			}
		}
		for _, want := range []string{"secrets", "serviceaccounts", "clusterroles", "clusterrolebindings", "services", "endpointslices"} {
			if !slices.Contains(deletes, want) {
				t.Errorf("cluster %s: no %s deleted among %v", ms[i].Name, want, deletes)
			}
		}
	}
}

// judgedConnect is the fixture's connect plan, with the probe, where every
// Google and Kubernetes write succeeds only if the permissions asked for
// (asked, and g's) cover it; refused collects the Kubernetes writes they
// did not (the Google ones are in g.refused).
type judgedConnect struct {
	ms      []*member
	clients []*fake.Clientset
	g       *googleJudge
	c       Clients
	lp      *linkPlan
	asked   *[]preflight.KubeAccess
	refused *[]string
}

func judgedConnectPlan(t *testing.T) judgedConnect {
	t.Helper()
	return judgedConnectPlanWith(t, Options{}, nil)
}

// judgedConnectPlanWith is judgedConnectPlan for o, with setup run on
// the clusters' fake API servers before the judge (objects added there
// are the clusters' own, not writes).
func judgedConnectPlanWith(t *testing.T, o Options, setup func(*fake.Clientset)) judgedConnect {
	t.Helper()
	ms, clients := permissionMembers()
	for _, kc := range clients {
		if setup != nil {
			setup(kc)
		}
	}
	g := &googleJudge{t: t, asked: map[string]bool{}}
	c := Clients{GKE: g, Firewalls: g}
	lp, err := planLinks(context.Background(), c, ms, o)
	if err != nil {
		t.Fatal(err)
	}
	lp.probe = true
	j := judgedConnect{ms: ms, clients: clients, g: g, c: c, lp: lp, asked: new([]preflight.KubeAccess), refused: new([]string)}
	g.ask(append(lp.changes(), lp.reachChanges()...), j.asked)
	var mu sync.Mutex
	for i, m := range ms {
		kubeJudge(t, m.Context, clients[i], j.asked, j.refused, &mu)
	}
	return j
}

// connect --ca shared: the cacerts Secret each cluster is given and the
// restart of its istiod (a patch of the Deployment) are in the plan, so
// the permissions derived from it cover them; the check asks too for the
// port forward to istiod that the verification reads through, and the
// declared superset holds all of it.
func TestSharedCAPlanPermissionsCoverTheWrites(t *testing.T) {
	ctx := context.Background()
	istiod := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "istiod-asm-1", Namespace: mesh.IstioSystem},
		Status: appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1}}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: mesh.IstioSystem}}
	o := Options{CA: CAOptions{Shared: true, Options: meshca.Options{Dir: t.TempDir(), KeyType: meshca.ECDSA}, RestartTimeout: 10 * time.Second}}
	j := judgedConnectPlanWith(t, o, func(kc *fake.Clientset) {
		for _, obj := range []runtime.Object{istiod, ns} {
			if err := kc.Tracker().Add(obj); err != nil {
				t.Fatal(err)
			}
		}
	})
	res := &Result{CA: j.lp.ca.report()}
	if err := j.lp.ca.apply(ctx, ui.Discard, res.CA); err != nil {
		t.Fatalf("the shared CA's apply: %v\nrefused: %v", err, *j.refused)
	}
	if len(*j.refused) > 0 {
		t.Errorf("writes the plan's permissions did not cover:\n%s", strings.Join(*j.refused, "\n"))
	}
	for i, kc := range j.clients {
		var writes []string
		for _, a := range kc.Actions() {
			if v := a.GetVerb(); v == "create" || v == "patch" {
				writes = append(writes, v+" "+a.GetResource().Resource)
			}
		}
		for _, want := range []string{"create secrets", "patch deployments"} {
			if !slices.Contains(writes, want) {
				t.Errorf("cluster %s: no %q among %v", j.ms[i].Name, want, writes)
			}
		}
		if slices.Contains(writes, "create namespaces") {
			t.Errorf("cluster %s: istio-system exists, yet the apply creates it (RBAC would refuse a caller who may not create namespaces)", j.ms[i].Name)
		}
	}
	var forwards int
	for _, k := range *j.asked {
		if k.Verb == "create" && k.Resource == "pods" && k.Subresource == "portforward" && k.Namespace == mesh.IstioSystem {
			forwards++
		}
	}
	if forwards != len(j.ms) {
		t.Errorf("the check asks create pods/portforward in %d of %d clusters", forwards, len(j.ms))
	}
	declared := map[string]bool{}
	for _, p := range preflight.Required(DeclaredChanges("p", "p")) {
		declared[declaredKey(p)] = true
	}
	for _, p := range preflight.Required(append(j.lp.changes(), j.lp.reachChanges()...)) {
		if !declared[declaredKey(p)] {
			t.Errorf("the plan needs %s, which DeclaredChanges lacks", p.Name())
		}
	}
}
