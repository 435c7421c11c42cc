package expose

import (
	"context"
	"errors"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/gcp"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/scenario"
)

func TestBatchValidate(t *testing.T) {
	cases := []struct {
		b    Batch
		want string
	}{
		{Batch{Services: []string{"web"}, Hosts: []string{"www.example.com"}}, ""},
		{Batch{Services: []string{"web", "api"}, Hosts: []string{"{service}.example.com"}}, ""},
		{Batch{Services: []string{"web", "api"}, Hosts: []string{"web=www.example.com", "api=api.example.com"}}, ""},
		{Batch{All: true, Selector: "tier=front", Hosts: []string{"{service}.example.com"}}, ""},
		{Batch{}, "name the Service to expose"},
		{Batch{All: true, Services: []string{"web"}, Hosts: []string{"{service}.example.com"}}, "not both"},
		{Batch{Services: []string{"web"}, Selector: "a=b", Hosts: []string{"x.example.com"}}, "add --all"},
		{Batch{Services: []string{"web", "api"}, Hosts: []string{"www.example.com"}}, "a host goes to one"},
		{Batch{All: true, Hosts: []string{"web=www.example.com"}}, "--all picks them"},
		{Batch{Services: []string{"web"}, Hosts: []string{"api=api.example.com"}}, `names Service "api", which is not among`},
		{Batch{Services: []string{"web", "api"}, Hosts: []string{"web=www.example.com"}}, "Service api gets no host"},
		{Batch{Services: []string{"web", "api"}, Hosts: []string{"{service}.example.com"}, Template: Options{CertSecret: "mine"}}, "--gateway-cert-secret serves one Service"},
	}
	for _, tc := range cases {
		err := tc.b.Validate()
		if (tc.want == "") != (err == nil) || err != nil && (!strings.Contains(err.Error(), tc.want) || failure.ExitCode(err) != failure.ExitUsage) {
			t.Errorf("%+v: %v, want %q as a usage error", tc.b, err, tc.want)
		}
	}
}

// --all finds the namespace's Services matching the selector, but not
// meshctl's own gateways, and every Service is checked before any is
// exposed.
func TestBatchOptions(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	if _, err := RunWithLoadBalancer(ctx, c, ui.Discard, opts(), nil, nil); err != nil {
		t.Fatal(err)
	}
	tmpl := opts()
	b := Batch{Template: tmpl, All: true, Hosts: []string{"{service}.example.com"}}
	all, err := b.Options(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range all {
		names = append(names, o.Service+"="+strings.Join(o.Hosts, ","))
	}
	if want := []string{"api=api.example.com", "web=web.example.com"}; !reflect.DeepEqual(names, want) {
		t.Errorf("--all: %v, want %v (no gateway Service)", names, want)
	}
	b.Selector = "tier=none"
	if _, err := b.Options(ctx, c); err == nil || !strings.Contains(err.Error(), `no Service in namespace shop matches "tier=none"`) {
		t.Errorf("nothing selected: %v", err)
	}
	bad := Batch{Template: tmpl, Services: []string{"web", "Api"}, Hosts: []string{"{service}.example.com"}}
	if _, err := bad.Options(ctx, c); err == nil || !strings.Contains(err.Error(), "Service Api") {
		t.Errorf("invalid name: %v", err)
	}
}

// Several Services in one run: the gateways are rolled out together and
// put behind one load balancer in one plan; a dry run first plans it with
// the NEGs GKE will make, in the zones of the cluster's nodes.
func TestRunManyOneLoadBalancer(t *testing.T) {
	sc := scenario.Default()
	srv, client := fakeLBClient(t, sc, nil)
	l := &LoadBalancer{Spec: lb.Spec{Project: sc.Project, Location: sc.Location, Cluster: sc.Cluster, LB: "shop"}, Client: client}
	c := newCluster(t)
	c.addService("shop", "cart", []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}, 1, true)
	for i, z := range c.zones {
		c.Add(gvrNodes, &corev1.Node{TypeMeta: tm("v1", "Node"), ObjectMeta: metav1.ObjectMeta{Name: "n" + string(rune('0'+i)), Labels: map[string]string{corev1.LabelTopologyZone: z}}})
	}
	ctx := context.Background()
	var all []Options
	for _, name := range []string{"web", "cart"} {
		o := opts(name + ".example.com")
		o.Service = name
		all = append(all, o)
	}
	dry := make([]Options, len(all))
	for i, o := range all {
		o.DryRun = true
		dry[i] = o
	}
	planned, err := RunMany(ctx, c, ui.Discard, dry, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	if planned.LoadBalancer == nil || !planned.LoadBalancer.DryRun || len(planned.Warnings) != 0 {
		t.Fatalf("dry run: load balancer %+v, warnings %v", planned.LoadBalancer, planned.Warnings)
	}
	if n := countBackendServices(planned.LoadBalancer.Plan); n != 2 {
		t.Errorf("dry run plans %d backend services, want one per Service", n)
	}
	for _, s := range planned.Services {
		if !s.NEG.Planned || !reflect.DeepEqual(s.NEG.Zones, c.zones) {
			t.Errorf("%s: planned NEG %+v, want the nodes' zones %v", s.Service.Name, s.NEG, c.zones)
		}
		for _, z := range c.zones {
			if err := srv.EnsureNEG(z, s.NEG.Name, `{"cluster-uid":"0a1b2c3d"}`); err != nil {
				t.Fatal(err)
			}
		}
	}
	if w := c.Writes(); len(w) != 0 {
		t.Errorf("dry run wrote %v", w)
	}

	out, err := RunMany(ctx, c, ui.Discard, all, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Services) != 2 || out.LoadBalancer == nil || out.LoadBalancer.DryRun || out.LoadBalancer.IPAddress == "" {
		t.Fatalf("services %d, load balancer %+v", len(out.Services), out.LoadBalancer)
	}
	var hosts []string
	for _, r := range srv.State().Resources {
		if r["kind"] == "compute#urlMap" {
			rules, _ := r["hostRules"].([]any) // the http:// redirect's has none
			for _, hr := range rules {
				for _, h := range hr.(map[string]any)["hosts"].([]any) {
					hosts = append(hosts, h.(string))
				}
			}
		}
	}
	slices.Sort(hosts)
	if !reflect.DeepEqual(hosts, []string{"cart.example.com", "web.example.com"}) {
		t.Errorf("URL map hosts %v, want both Services' on the one load balancer", hosts)
	}
	again, err := RunMany(ctx, c, ui.Discard, all, l, nil)
	if err != nil || again.LoadBalancer.Mutations != 0 {
		t.Errorf("re-run: %v, %d load balancer mutations", err, again.LoadBalancer.Mutations)
	}
}

func countBackendServices(changes []plan.Change) int {
	n := 0
	for _, ch := range changes {
		if ch.Kind == "backendServices" && ch.Action == plan.Create {
			n++
		}
	}
	return n
}

// fakeLBClient serves Google's APIs from fakegcp (operations taking 20 ms)
// for the test's life, and returns a load balancer client factory on it
// that counts the clients built in *built, when given.
func fakeLBClient(t *testing.T, sc scenario.Scenario, built *int) (*fakegcp.Server, func(context.Context) (*lb.Client, func(), error)) {
	k := fakegcp.DefaultKnobs()
	k.OperationDuration = fakegcp.Duration(20 * time.Millisecond)
	srv := fakegcp.New(sc, fakegcp.Options{Knobs: &k})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return srv, func(ctx context.Context) (*lb.Client, func(), error) {
		if built != nil {
			*built++
		}
		cfg := gcp.Config{ComputeEndpoint: hs.URL, ContainerEndpoint: hs.URL}
		g, err := lb.NewGCE(ctx, cfg, sc.Project)
		if err != nil {
			return nil, nil, err
		}
		gke, err := gcp.NewClusterManager(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		return lb.New(g, gke, ui.Discard), func() { _ = g.Close(); _ = gke.Close() }, nil
	}
}

// Several Services in one run list what meshctl made for them once per
// kind, cluster-wide, not once per kind and Service, and each plan still
// finds its own Service's objects no longer wanted (and no other's); where
// the caller may not list cluster-wide, each plan lists for itself in its
// namespaces, as one Service's run does.
func TestRunManyListsWhatMeshctlMadeOncePerKind(t *testing.T) {
	for _, forbidden := range []bool{false, true} {
		c := newCluster(t)
		c.addService("shop", "cart", []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}, 1, true)
		ctx := context.Background()
		two := func(strictWeb bool) []Options {
			var all []Options
			for _, name := range []string{"web", "cart"} {
				o := opts(name + ".example.com")
				o.Service, o.StrictMTLS = name, name == "cart" || strictWeb
				all = append(all, o)
			}
			return all
		}
		if _, err := RunMany(ctx, c, ui.Discard, two(true), nil, nil); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		lists := map[string]int{} // by "namespace/" ("/": cluster-wide)
		c.Fail = func(verb string, gvr schema.GroupVersionResource, key string) error {
			if verb != "list" || gvr != kPeerAuthentication.Resource {
				return nil
			}
			mu.Lock()
			defer mu.Unlock()
			lists[key]++
			if forbidden && key == "/" {
				return apierrors.NewForbidden(gvr.GroupResource(), "", errors.New("no cluster-wide list"))
			}
			return nil
		}
		// web drops --strict-mtls: its PeerAuthentication goes, cart's stays.
		out, err := RunMany(ctx, c, ui.Discard, two(false), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, res := range out.Services {
			var deleted []string
			for _, ch := range res.Changes {
				if ch.Action == plan.Delete {
					deleted = append(deleted, ch.Kind+" "+ch.Namespace+"/"+ch.Name)
				}
			}
			want := []string(nil)
			if res.Service.Name == "web" {
				want = []string{"PeerAuthentication shop/web-strict-mtls"}
			}
			if !reflect.DeepEqual(deleted, want) {
				t.Errorf("forbidden=%v: %s deletes %v, want %v", forbidden, res.Service.Name, deleted, want)
			}
		}
		want := map[string]int{"/": 1}
		if forbidden {
			// Each plan then lists for itself, as owned does: cluster-wide
			// first, then in its namespaces.
			want = map[string]int{"/": 3, "shop/": 2}
		}
		if !reflect.DeepEqual(lists, want) {
			t.Errorf("forbidden=%v: PeerAuthentication lists by namespace %v, want %v", forbidden, lists, want)
		}
	}
}

// The plans of several Services read what they share (the Services'
// namespace, the revisions' webhooks, the cluster's identity) once, and
// their waits share Lists.
func TestRunManyReadsWhatThePlansShareOnce(t *testing.T) {
	c := newCluster(t)
	var all []Options
	for _, name := range []string{"s1", "s2", "s3"} {
		c.addService("shop", name, []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}, 1, true)
		o := ownNamespaceOpts()
		o.Service, o.Hosts = name, []string{name + ".example.com"}
		all = append(all, o)
	}
	var mu sync.Mutex
	reads := map[string]int{}
	c.Fail = func(verb string, gvr schema.GroupVersionResource, key string) error {
		mu.Lock()
		defer mu.Unlock()
		reads[verb+" "+gvr.Resource+" "+key]++
		return nil
	}
	if _, err := RunMany(context.Background(), c, ui.Discard, all, nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, read := range []string{"get namespaces /shop", "get namespaces /kube-system", "list mutatingwebhookconfigurations /"} {
		if reads[read] != 1 {
			t.Errorf("%s: %d times, want once for the three plans", read, reads[read])
		}
	}
	// Each plan's own objects are still read (and dry-run) by each; the
	// waits for the gateways poll their Deployments and Services with
	// Lists shared between them, not each with Gets of its own.
	for _, name := range []string{"s1", "s2", "s3"} {
		if key := "get services shop/" + name; reads[key] != 1 {
			t.Errorf("%s: %d times", key, reads[key])
		}
		gw := "shop-" + name + "-gateway/" + name + "-gateway"
		if key := "get deployments " + gw; reads[key] != 1 { // the plan's own (the replicas the autoscaler chose)
			t.Errorf("%s: %d times, want once (the plan's; the wait lists)", key, reads[key])
		}
		if key := "get services " + gw; reads[key] != 0 {
			t.Errorf("%s: %d times, want none (the wait for NEGs lists)", key, reads[key])
		}
	}
	if reads["list deployments /"] < 2 || reads["list services /"] < 2 { // one each is the plans' (ownedIndex)
		t.Errorf("the waits made %d Deployment and %d Service Lists", reads["list deployments /"]-1, reads["list services /"]-1)
	}
}
