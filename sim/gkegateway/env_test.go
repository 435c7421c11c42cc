package gkegateway

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	gkev1 "github.com/GoogleCloudPlatform/gke-gateway-api/apis/networking/v1"
	gkefake "github.com/GoogleCloudPlatform/gke-gateway-api/pkg/client/clientset/versioned/fake"
	compute "google.golang.org/api/compute/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/negcontroller"
	"github.com/meshctl/meshctl/sim/scenario"
)

// env is the controller against the fake Compute API (over HTTP, through
// the official client), with meshsim's NEG controller making the NEGs,
// on fake Kubernetes clientsets holding a cluster like the scenario's.
type env struct {
	ctx      context.Context
	srv      *fakegcp.Server
	g        gce
	kube     *kubefake.Clientset
	gw       *gwfake.Clientset
	gke      *gkefake.Clientset
	c        *Controller
	certMaps *certMapStub
}

// certMapStub stands in for Certificate Manager: the maps it holds exist.
type certMapStub struct {
	mu   sync.Mutex
	maps map[string]bool
}

func (s *certMapStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	if !strings.Contains(r.URL.Path, "/locations/global/certificateMaps/") {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":{"code":404,"message":"The requested URL %s was not found on this server.","status":"NOT_FOUND"}}`, r.URL.Path)
		return
	}
	if !s.maps[name] {
		w.WriteHeader(http.StatusNotFound)
		// As recorded (gcp-recorded/regional-and-certificatemanager).
		fmt.Fprintf(w, `{"error":{"code":404,"message":"certificateMap \"%s\" not found","status":"NOT_FOUND"}}`, strings.TrimPrefix(r.URL.Path, "/v1/"))
		return
	}
	fmt.Fprintf(w, `{"name":%q}`, strings.TrimPrefix(r.URL.Path, "/v1/"))
}

const testNS = "ingress-gateway"

// newEnv starts the controllers with objs in the clusters' API servers.
func newEnv(t *testing.T, objs ...runtime.Object) *env {
	t.Helper()
	return newEnvFor(t, scenario.Default(), objs...)
}

// newEnvFor is newEnv for the cluster sc describes.
func newEnvFor(t *testing.T, sc scenario.Scenario, objs ...runtime.Object) *env {
	t.Helper()
	k := fakegcp.DefaultKnobs()
	k.OperationDuration = fakegcp.Duration(20 * time.Millisecond)
	srv := fakegcp.New(sc, fakegcp.Options{Knobs: &k})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	stub := &certMapStub{maps: map[string]bool{"edge2mesh-cert-map": true}}
	cm := httptest.NewServer(stub)
	t.Cleanup(cm.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)

	var kubeObjs, gwObjs, gkeObjs []runtime.Object
	for _, n := range sc.Nodes() {
		kubeObjs = append(kubeObjs, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: map[string]string{"topology.kubernetes.io/zone": n.Zone}}})
	}
	kubeObjs = append(kubeObjs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNS}})
	kubeObjs = append(kubeObjs, gatewayPods(sc)...)
	for _, o := range objs {
		switch o.(type) {
		case *gwv1.Gateway, *gwv1.HTTPRoute:
			gwObjs = append(gwObjs, o)
		case *gkev1.HealthCheckPolicy, *gkev1.GCPBackendPolicy, *gkev1.GCPGatewayPolicy:
			gkeObjs = append(gkeObjs, o)
		default:
			kubeObjs = append(kubeObjs, o)
		}
	}
	e := &env{ctx: ctx, srv: srv, certMaps: stub,
		kube: kubefake.NewClientset(kubeObjs...),
		// NewClientset's field-managed tracker knows no gateways resource
		// ("no matches for gateway.networking.k8s.io/v1, Resource=gateways").
		gw:  gwfake.NewSimpleClientset(gwObjs...), //nolint:staticcheck // NewClientset fails here, see above
		gke: gkefake.NewSimpleClientset(gkeObjs...)}
	svc, err := NewComputeService(ctx, hs.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.g = gce{svc: svc, project: sc.Project}
	knobs := NewKnobsHolder(Knobs{Resync: Duration(time.Hour), RetryDelay: Duration(50 * time.Millisecond)})
	e.c = New(Clients{Kube: e.kube, Gateway: e.gw, GKE: e.gke, Compute: svc}, Options{
		Project: sc.Project, ProjectNumber: sc.ProjectNumber, Location: sc.Location, Cluster: sc.Cluster,
		Network: sc.Network, NetworkProject: sc.NetworkProject(), NodeTag: sc.NodeTag(), ClusterUID: "test-cluster", Knobs: knobs,
		CertificateMaps: CertificateManagerREST{Endpoint: cm.URL}, Logf: t.Logf,
	})
	negs := negcontroller.New(e.kube, srv, "0123abcd")
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); negs.Run(ctx) }()
	go func() { defer wg.Done(); e.c.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return e
}

// gatewayPods are the mesh ingress gateway's pods, one per zone, serving
// 8443 and Istio's status port 15021, behind the guide's Service.
func gatewayPods(sc scenario.Scenario) []runtime.Object {
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: testNS, Name: "asm-ingressgateway-x", Labels: map[string]string{discoveryv1.LabelServiceName: "asm-ingressgateway"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptrTo("https"), Port: ptrTo(int32(8443))}, {Name: ptrTo("status-port"), Port: ptrTo(int32(15021))}},
	}
	out := []runtime.Object{guideService()}
	seen := map[string]bool{}
	for i, n := range sc.Nodes() {
		if seen[n.Zone] {
			continue
		}
		seen[n.Zone] = true
		name := fmt.Sprintf("asm-ingressgateway-%d", i)
		out = append(out, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name, Labels: map[string]string{"asm": "ingressgateway"}},
			Spec: corev1.PodSpec{NodeName: n.Name, Containers: []corev1.Container{{Name: "istio-proxy",
				Ports: []corev1.ContainerPort{{Name: "https", ContainerPort: 8443}, {Name: "status-port", ContainerPort: 15021}}}}},
		})
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{fmt.Sprintf("10.8.0.%d", i+2)}, NodeName: ptrTo(n.Name),
			Conditions: discoveryv1.EndpointConditions{Ready: ptrTo(true)}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: name},
		})
	}
	return append(out, slice)
}

// eventually polls cond until it holds or 30 s pass.
func (e *env) eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after 30s (last: %s)", what, detail)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) gateway(t *testing.T, name string) *gwv1.Gateway {
	t.Helper()
	g, err := e.gw.GatewayV1().Gateways(testNS).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// condition returns a Gateway's condition of a type, or a zero one.
func conditionOf(conds []metav1.Condition, typ string) metav1.Condition {
	for _, c := range conds {
		if c.Type == typ {
			return c
		}
	}
	return metav1.Condition{}
}

// waitProgrammed waits until the Gateway's Programmed is status (True or
// False) and returns it.
func (e *env) waitProgrammed(t *testing.T, name string, status metav1.ConditionStatus) *gwv1.Gateway {
	t.Helper()
	var gw *gwv1.Gateway
	e.eventually(t, "Gateway "+name+" Programmed="+string(status), func() (bool, string) {
		gw = e.gateway(t, name)
		c := conditionOf(gw.Status.Conditions, "Programmed")
		return c.Status == status, fmt.Sprintf("%+v", gw.Status.Conditions)
	})
	return gw
}

// mustDo runs a Compute mutation and waits for it.
func (e *env) mustDo(t *testing.T, call func(id string) (*compute.Operation, error)) {
	t.Helper()
	if err := e.g.do(e.ctx, call); err != nil {
		t.Fatal(err)
	}
}

// events lists the controller's events on an object, as "Type Reason: message".
func (e *env) events(t *testing.T, name string) []string {
	t.Helper()
	list, err := e.kube.CoreV1().Events(testNS).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range list.Items {
		if ev.InvolvedObject.Name == name && ev.Source.Component == eventSource {
			out = append(out, ev.Type+" "+ev.Reason+": "+ev.Message)
		}
	}
	return out
}

// owned lists the simulated project's resources named with the
// controller's prefix.
func (e *env) owned() []string {
	var out []string
	for _, r := range e.srv.State().Resources {
		if name, _ := r["name"].(string); strings.HasPrefix(name, e.c.names.prefix()) {
			out = append(out, r["kind"].(string)+" "+name)
		}
	}
	return out
}

func TestMain(m *testing.M) {
	// The generated fake clientsets of the Gateway API and GKE modules do
	// not answer client-go's watch-list requests (the initial events
	// stream); informers fall back to list and watch without it.
	os.Setenv("KUBE_FEATURE_WatchListClient", "false")
	os.Exit(m.Run())
}
