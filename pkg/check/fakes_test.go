package check

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/meshctl/meshctl/internal/stubs"
	"google.golang.org/api/googleapi"
	"google.golang.org/protobuf/proto"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

const (
	testProject  = "shop-prod"
	testNumber   = 246813579
	testLocation = "us-central1"
	testCluster  = "mesh-1"
	testNodeTag  = "gke-mesh-1-1a2b3c4d-node"
	testCIDR     = "172.16.0.0/28"
)

func testOptions() Options {
	return Options{Project: testProject, Location: testLocation, Cluster: testCluster, KubeContext: "gke_shop-prod_us-central1_mesh-1"}
}

// calls counts API calls by name, for "fetched once" assertions.
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) add(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[name]++
}

func (c *calls) get(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[name]
}

func (c *calls) repeated() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for k, v := range c.n {
		if v > 1 {
			out = append(out, fmt.Sprintf("%s ×%d", k, v))
		}
	}
	return out
}

// fakeGKE serves one cluster and fails the test on any other name; a
// failure stubbed with fail must be met.
type fakeGKE struct {
	t       testing.TB
	stubs   *stubs.Registry
	cluster *containerpb.Cluster
	err     error
	latency time.Duration
	calls   calls
}

// fail makes clusters.get answer err; the test fails if it is never asked.
func (g *fakeGKE) fail(err error) {
	g.err = err
	g.stubs.Stub("clusters.get fails")
}

func (g *fakeGKE) GetCluster(ctx context.Context, name string) (*containerpb.Cluster, error) {
	g.calls.add("clusters.get " + name)
	time.Sleep(g.latency)
	if name != "projects/"+testProject+"/locations/"+testLocation+"/clusters/"+testCluster {
		g.t.Errorf("unexpected GetCluster(%s)", name)
	}
	if g.err != nil {
		g.stubs.Call("clusters.get fails")
		return nil, g.err
	}
	g.stubs.Call("clusters.get")
	return proto.Clone(g.cluster).(*containerpb.Cluster), nil
}

type machineShape struct {
	cpus, mb int
	shared   bool
}

// fakeCompute serves machine types by name (custom ones as Compute
// computes them), the project, firewall rules and, when the test allows
// them, inserts. A failure stubbed with fail must be met.
type fakeCompute struct {
	t         testing.TB
	stubs     *stubs.Registry
	types     map[string]machineShape
	firewalls []*computepb.Firewall
	errs      map[string]error // by method: projects.get, machineTypes.get, firewalls.list, firewalls.insert; set with fail
	latency   time.Duration
	calls     calls

	mu       sync.Mutex
	inserted []*computepb.Firewall
}

var predefined = map[string]machineShape{
	"e2-small": {2, 2048, true}, "e2-medium": {2, 4096, true}, "e2-standard-2": {2, 8192, false},
	"e2-standard-4": {4, 16384, false}, "n2-standard-8": {8, 32768, false},
}

// fail makes method answer err; the test fails if it is never called.
func (c *fakeCompute) fail(method string, err error) {
	c.errs[method] = err
	c.stubs.Stub(method + " fails")
}

// allowInsert lets the code under test create firewall rules (--fix).
func (c *fakeCompute) allowInsert() { c.stubs.Allow("firewalls.insert") }

func (c *fakeCompute) GetProject(ctx context.Context, project string) (*computepb.Project, error) {
	c.calls.add("projects.get " + project)
	time.Sleep(c.latency)
	if err := c.errs["projects.get"]; err != nil {
		c.stubs.Call("projects.get fails")
		return nil, err
	}
	return &computepb.Project{Id: proto.Uint64(testNumber), Name: proto.String(project),
		DefaultServiceAccount: proto.String(fmt.Sprintf("%d-compute@developer.gserviceaccount.com", testNumber))}, nil
}

func (c *fakeCompute) GetMachineType(ctx context.Context, project, zone, name string) (*computepb.MachineType, error) {
	c.calls.add("machineTypes.get " + name)
	time.Sleep(c.latency)
	if project != testProject || !strings.HasPrefix(zone, testLocation+"-") {
		c.t.Errorf("unexpected GetMachineType(%s, %s, %s)", project, zone, name)
	}
	if err := c.errs["machineTypes.get"]; err != nil {
		c.stubs.Call("machineTypes.get fails")
		return nil, err
	}
	shape, ok := c.types[name]
	if !ok {
		shape, ok = predefined[name]
	}
	if !ok {
		var cpus, mb int
		if n, _ := fmt.Sscanf(strings.TrimPrefix(name, "e2-"), "custom-%d-%d", &cpus, &mb); n == 2 {
			shape, ok = machineShape{cpus, mb, false}, true
		}
	}
	if !ok {
		return nil, &googleapi.Error{Code: 404, Message: "The resource 'projects/x/zones/" + zone + "/machineTypes/" + name + "' was not found"}
	}
	return &computepb.MachineType{Name: proto.String(name), GuestCpus: proto.Int32(int32(shape.cpus)),
		MemoryMb: proto.Int32(int32(shape.mb)), IsSharedCpu: proto.Bool(shape.shared)}, nil
}

func (c *fakeCompute) ListFirewalls(ctx context.Context, project string) ([]*computepb.Firewall, error) {
	c.calls.add("firewalls.list " + project)
	time.Sleep(c.latency)
	if err := c.errs["firewalls.list"]; err != nil {
		c.stubs.Call("firewalls.list fails")
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*computepb.Firewall
	for _, fw := range append(append([]*computepb.Firewall(nil), c.firewalls...), c.inserted...) {
		out = append(out, proto.Clone(fw).(*computepb.Firewall))
	}
	return out, nil
}

func (c *fakeCompute) InsertFirewall(ctx context.Context, project string, rule *computepb.Firewall) error {
	c.calls.add("firewalls.insert " + rule.GetName())
	if err := c.errs["firewalls.insert"]; err != nil {
		c.stubs.Call("firewalls.insert fails")
		return err
	}
	c.stubs.Call("firewalls.insert")
	c.mu.Lock()
	defer c.mu.Unlock()
	rule = proto.Clone(rule).(*computepb.Firewall)
	rule.Network = proto.String("https://www.googleapis.com/compute/v1/" + rule.GetNetwork())
	c.inserted = append(c.inserted, rule)
	return nil
}

// healthyCluster is a public regional Standard cluster in the support
// window: two pools of e2-standard-4 over three zones, one autoscaled.
func healthyCluster() *containerpb.Cluster {
	zones := []string{"us-central1-a", "us-central1-b", "us-central1-c"}
	pool := func(name string, autoscale bool) *containerpb.NodePool {
		p := &containerpb.NodePool{
			Name: name, Version: "1.34.4-gke.1000", InitialNodeCount: 1, Locations: zones,
			Config: &containerpb.NodeConfig{MachineType: "e2-standard-4", ServiceAccount: "default",
				WorkloadMetadataConfig: &containerpb.WorkloadMetadataConfig{Mode: containerpb.WorkloadMetadataConfig_GKE_METADATA}},
		}
		if autoscale {
			p.Autoscaling = &containerpb.NodePoolAutoscaling{Enabled: true, MinNodeCount: 1, MaxNodeCount: 3}
		}
		return p
	}
	return &containerpb.Cluster{
		Name: testCluster, Location: testLocation, Locations: zones,
		CurrentMasterVersion:   "1.34.4-gke.1000",
		ReleaseChannel:         &containerpb.ReleaseChannel{Channel: containerpb.ReleaseChannel_REGULAR},
		WorkloadIdentityConfig: &containerpb.WorkloadIdentityConfig{WorkloadPool: testProject + ".svc.id.goog"},
		LoggingService:         kubernetesLogging, MonitoringService: kubernetesMonitoring,
		ResourceLabels: map[string]string{"mesh_id": fmt.Sprintf("proj-%d", testNumber)},
		Network:        "default", Subnetwork: "default",
		NetworkConfig: &containerpb.NetworkConfig{Network: "projects/" + testProject + "/global/networks/default",
			Subnetwork: "projects/" + testProject + "/regions/us-central1/subnetworks/default"},
		ControlPlaneEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig{IpEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig_IPEndpointsConfig{
			EnablePublicEndpoint: proto.Bool(true), PrivateEndpoint: "10.128.0.2", PublicEndpoint: "34.1.2.3",
		}},
		NodePools: []*containerpb.NodePool{pool("default-pool", false), pool("pool-2", true)},
	}
}

// privateCluster is healthyCluster with private nodes.
func privateCluster() *containerpb.Cluster {
	cl := healthyCluster()
	cl.NetworkConfig.DefaultEnablePrivateNodes = proto.Bool(true)
	cl.PrivateClusterConfig = &containerpb.PrivateClusterConfig{MasterIpv4CidrBlock: testCIDR}
	return cl
}

func networkLink(project, name string) *string {
	return proto.String("https://www.googleapis.com/compute/v1/projects/" + project + "/global/networks/" + name)
}

// gkeRules are the firewall rules GKE makes for the cluster's nodes.
func gkeRules(private bool) []*computepb.Firewall {
	rule := func(suffix string, src string, allowed ...*computepb.Allowed) *computepb.Firewall {
		return &computepb.Firewall{Name: proto.String("gke-mesh-1-1a2b3c4d-" + suffix), Network: networkLink(testProject, "default"),
			Direction: proto.String("INGRESS"), Priority: proto.Int32(1000), SourceRanges: []string{src},
			TargetTags: []string{testNodeTag}, Allowed: allowed}
	}
	tcp := func(ports ...string) *computepb.Allowed {
		return &computepb.Allowed{IPProtocol: proto.String("tcp"), Ports: ports}
	}
	rules := []*computepb.Firewall{
		rule("all", "10.112.0.0/14", tcp(), &computepb.Allowed{IPProtocol: proto.String("udp")}),
		rule("vms", "10.128.0.0/9", tcp("1-65535")),
	}
	if private {
		rules = append(rules, rule("master", testCIDR, tcp("10250", "443")))
	}
	return rules
}

func node(name, pool string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{nodePoolLabel: pool}}}
}

// healthyKube is a cluster with six nodes (two pools over three zones),
// istio-system, a caller with cluster-admin and well-named Services.
func healthyKube() []runtime.Object {
	objs := []runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system"}},
		service("default", "kubernetes", corev1.ServicePort{Name: "https", Port: 443}),
		service("kube-system", "kube-dns", corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
			corev1.ServicePort{Name: "dns-tcp", Port: 53}),
	}
	for _, p := range []string{"default-pool", "pool-2"} {
		for _, z := range []string{"a", "b", "c"} {
			objs = append(objs, node("gke-mesh-1-"+p+"-"+z, p))
		}
	}
	return objs
}

func service(ns, name string, ports ...corev1.ServicePort) *corev1.Service {
	for i := range ports {
		if ports[i].Protocol == "" {
			ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{Ports: ports}}
}

// newKube returns a fake clientset whose caller is cluster-admin (admin
// true) or not, named alice@example.com.
func newKube(admin bool, objs ...runtime.Object) *fake.Clientset {
	cs := fake.NewClientset(objs...)
	cs.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authzv1.SelfSubjectAccessReview).DeepCopy()
		ra := r.Spec.ResourceAttributes
		if ra == nil || ra.Verb != "*" || ra.Resource != "*" || ra.Group != "*" {
			return true, nil, fmt.Errorf("unexpected access review %+v", ra)
		}
		r.Status.Allowed = admin
		return true, r, nil
	})
	cs.PrependReactor("create", "selfsubjectreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authnv1.SelfSubjectReview).DeepCopy()
		r.Status.UserInfo.Username = "alice@example.com"
		return true, r, nil
	})
	return cs
}

// forbid makes verb on resource answer 403 as the API server does; the
// test fails if the code never asks.
func (e *env) forbid(verb, resource string) {
	e.stubs.React(e.kube, verb, resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: resource}, "",
			fmt.Errorf("User \"alice@example.com\" cannot %s resource \"%s\" in API group \"\" at the cluster scope", verb, resource))
	})
}

type env struct {
	stubs   *stubs.Registry
	gke     *fakeGKE
	compute *fakeCompute
	kube    *fake.Clientset
	clients Clients
}

// newEnv is a run's clients. Reads are allowed; writes are not, but for the
// caller's access reviews (and firewall inserts once allowInsert).
func newEnv(t testing.TB, cl *containerpb.Cluster, rules []*computepb.Firewall, kube *fake.Clientset) *env {
	reg := stubs.New(t)
	reg.Allow("clusters.get", "projects.get", "machineTypes.get", "firewalls.list")
	reg.ReadOnly(kube, "create selfsubjectaccessreviews", "create selfsubjectreviews")
	e := &env{
		stubs:   reg,
		gke:     &fakeGKE{t: t, stubs: reg, cluster: cl},
		compute: &fakeCompute{t: t, stubs: reg, firewalls: rules, errs: map[string]error{}},
		kube:    kube,
	}
	e.clients = Clients{GKE: e.gke, Compute: e.compute, Kube: kube}
	return e
}

func (e *env) run(t *testing.T, opts Options) *Result {
	t.Helper()
	res, err := Run(context.Background(), e.clients, nil, opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func googleErr(code int, reason, message string) error {
	return &googleapi.Error{Code: code, Message: message, Errors: []googleapi.ErrorItem{{Reason: reason, Message: message}}}
}
