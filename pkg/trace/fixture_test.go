package trace

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/meshctl/meshctl/internal/stubs"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/lb"
)

// now is the tests' clock: the fixtures' load balancer was made an hour
// before.
var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const (
	link    = "https://www.googleapis.com/compute/v1/projects/p/"
	negName = "k8s1-neg-shop-web-gateway-443"
	frIP    = "34.1.1.1"
	host    = "web.example.com"
)

// fakeCompute serves a world of Compute objects. Lists are allowed; every
// other call must be stubbed by the test (stubs fail the test when never
// made) or fails as unexpected.
type fakeCompute struct {
	reg       *stubs.Registry
	mu        sync.Mutex
	objs      map[lb.Kind][]proto.Message
	health    map[string]*computepb.BackendServiceGroupHealth // by NEG link
	endpoints map[string][]*computepb.NetworkEndpointWithHealthStatus
	nodes     []*computepb.Instance
	listErr   map[lb.Kind]error
	latency   time.Duration
}

func (f *fakeCompute) wait(ctx context.Context) {
	if f.latency > 0 {
		select {
		case <-time.After(f.latency):
		case <-ctx.Done():
		}
	}
}

func (f *fakeCompute) List(ctx context.Context, kind lb.Kind, filter string) ([]proto.Message, error) {
	f.wait(ctx)
	f.reg.Call("list " + string(kind))
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.listErr[kind]; err != nil {
		return nil, err
	}
	return f.objs[kind], nil
}

func (f *fakeCompute) GetHealth(ctx context.Context, bs, group string) (*computepb.BackendServiceGroupHealth, error) {
	f.wait(ctx)
	f.reg.Call("getHealth " + linkZone(group))
	if h, ok := f.health[group]; ok {
		return h, nil
	}
	return &computepb.BackendServiceGroupHealth{}, nil
}

func (f *fakeCompute) NetworkEndpoints(ctx context.Context, zone, neg string) ([]*computepb.NetworkEndpointWithHealthStatus, error) {
	f.wait(ctx)
	f.reg.Call("listNetworkEndpoints " + zone)
	eps, ok := f.endpoints[zone+"/"+neg]
	if !ok {
		return nil, &googleapi.Error{Code: 404, Message: "networkEndpointGroup " + neg + " not found"}
	}
	return eps, nil
}

func (f *fakeCompute) Instances(ctx context.Context, filter string) ([]*computepb.Instance, error) {
	f.wait(ctx)
	f.reg.Call("list instances")
	return f.nodes, nil
}

// put adds (or replaces, by name) objects given as Compute's JSON.
func (f *fakeCompute) put(t testing.TB, kind lb.Kind, js string) proto.Message {
	t.Helper()
	var m proto.Message
	switch kind {
	case lb.KindForwardingRule:
		m = &computepb.ForwardingRule{}
	case lb.KindHTTPSProxy:
		m = &computepb.TargetHttpsProxy{}
	case lb.KindHTTPProxy:
		m = &computepb.TargetHttpProxy{}
	case lb.KindURLMap:
		m = &computepb.UrlMap{}
	case lb.KindBackendService:
		m = &computepb.BackendService{}
	case lb.KindHealthCheck:
		m = &computepb.HealthCheck{}
	case lb.KindCertificate:
		m = &computepb.SslCertificate{}
	case lb.KindSSLPolicy:
		m = &computepb.SslPolicy{}
	case lb.KindSecurityPolicy:
		m = &computepb.SecurityPolicy{}
	case lb.KindFirewall:
		m = &computepb.Firewall{}
	default:
		t.Fatalf("kind %s", kind)
	}
	if err := protojson.Unmarshal([]byte(js), m); err != nil {
		t.Fatalf("%s: %v\n%s", kind, err, js)
	}
	name := m.(interface{ GetName() string }).GetName()
	for i, o := range f.objs[kind] {
		if o.(interface{ GetName() string }).GetName() == name {
			f.objs[kind][i] = m
			return m
		}
	}
	f.objs[kind] = append(f.objs[kind], m)
	return m
}

func (f *fakeCompute) get(kind lb.Kind, name string) proto.Message {
	for _, o := range f.objs[kind] {
		if o.(interface{ GetName() string }).GetName() == name {
			return o
		}
	}
	return nil
}

func (f *fakeCompute) remove(kind lb.Kind, name string) {
	var keep []proto.Message
	for _, o := range f.objs[kind] {
		if o.(interface{ GetName() string }).GetName() != name {
			keep = append(keep, o)
		}
	}
	f.objs[kind] = keep
}

func negLink(zone string) string { return link + "zones/" + zone + "/networkEndpointGroups/" + negName }

// world is one fixture: the load balancer meshctl expose builds for
// shop/web, the gateway and the app behind it.
type world struct {
	t       *testing.T
	reg     *stubs.Registry
	compute *fakeCompute
	kube    *kubefake.Clientset
	dyn     *dynamicfake.FakeDynamicClient
	kubeObj []runtime.Object
	istio   []runtime.Object
	opts    Options
	dns     map[string][]string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	reg := stubs.New(t)
	f := &fakeCompute{reg: reg, objs: map[lb.Kind][]proto.Message{}, health: map[string]*computepb.BackendServiceGroupHealth{},
		endpoints: map[string][]*computepb.NetworkEndpointWithHealthStatus{}, listErr: map[lb.Kind]error{}}
	for _, k := range frontKinds {
		reg.Allow("list " + string(k))
	}
	w := &world{t: t, reg: reg, compute: f, dns: map[string][]string{}}
	w.opts = Options{Target: host + "/cart", Address: frIP, Now: func() time.Time { return now }, LookupHost: w.lookup}
	w.loadBalancer()
	w.endpointsIn("us-central1-a", "10.0.0.5", "node-a", "HEALTHY")
	w.endpointsIn("us-central1-b", "10.0.1.7", "node-b", "HEALTHY")
	for _, n := range []string{"node-a", "node-b"} {
		f.nodes = append(f.nodes, &computepb.Instance{Name: proto.String(n), Tags: &computepb.Tags{Items: []string{"gke-node"}},
			NetworkInterfaces: []*computepb.NetworkInterface{{Network: proto.String(link + "global/networks/default")}}})
	}
	f.put(t, lb.KindFirewall, `{"name":"gfe","network":"`+link+`global/networks/default","direction":"INGRESS","sourceRanges":["35.191.0.0/16","130.211.0.0/22"],
		"allowed":[{"IPProtocol":"tcp","ports":["8443","15021"]}],"targetTags":["gke-node"]}`)
	w.cluster()
	return w
}

func (w *world) lookup(_ context.Context, h string) ([]string, error) {
	if a, ok := w.dns[h]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: h, IsNotFound: true}
}

func (w *world) loadBalancer() {
	t, f := w.t, w.compute
	created := now.Add(-time.Hour).Format(time.RFC3339)
	f.put(t, lb.KindForwardingRule, `{"name":"fr-443","IPAddress":"`+frIP+`","portRange":"443-443","loadBalancingScheme":"EXTERNAL_MANAGED",
		"target":"`+link+`global/targetHttpsProxies/https","description":"{\"managedBy\":\"meshctl\",\"lb\":\"c/shop/web\"}"}`)
	f.put(t, lb.KindHTTPSProxy, `{"name":"https","urlMap":"`+link+`global/urlMaps/um","sslCertificates":["`+link+`global/sslCertificates/cert"],"sslPolicy":"`+link+`global/sslPolicies/ssl"}`)
	f.put(t, lb.KindCertificate, `{"name":"cert","type":"MANAGED","creationTimestamp":"`+created+`","managed":{"domains":["`+host+`"],"status":"ACTIVE","domainStatus":{"`+host+`":"ACTIVE"}}}`)
	f.put(t, lb.KindSSLPolicy, `{"name":"ssl","profile":"RESTRICTED","minTlsVersion":"TLS_1_2"}`)
	f.put(t, lb.KindURLMap, `{"name":"um","defaultService":"`+link+`global/backendServices/bs","hostRules":[{"hosts":["`+host+`"],"pathMatcher":"pm"}],
		"pathMatchers":[{"name":"pm","defaultService":"`+link+`global/backendServices/bs"}]}`)
	f.put(t, lb.KindBackendService, `{"name":"bs","protocol":"HTTP2","loadBalancingScheme":"EXTERNAL_MANAGED","creationTimestamp":"`+created+`",
		"healthChecks":["`+link+`global/healthChecks/hc"],"securityPolicy":"`+link+`global/securityPolicies/armor",
		"backends":[{"group":"`+negLink("us-central1-a")+`"},{"group":"`+negLink("us-central1-b")+`"}]}`)
	f.put(t, lb.KindHealthCheck, `{"name":"hc","type":"HTTP","httpHealthCheck":{"port":15021,"portSpecification":"USE_FIXED_PORT","requestPath":"/healthz/ready"}}`)
	f.put(t, lb.KindSecurityPolicy, `{"name":"armor","rules":[{"priority":1000,"action":"deny(403)","match":{"expr":{"expression":"evaluatePreconfiguredExpr('xss-v33-stable')"}}},
		{"priority":2147483647,"action":"allow","description":"default rule","match":{"versionedExpr":"SRC_IPS_V1","config":{"srcIpRanges":["*"]}}}]}`)
}

// endpointsIn puts one endpoint in a zone's NEG with its health.
func (w *world) endpointsIn(zone, ip, node, state string) {
	w.compute.endpoints[zone+"/"+negName] = []*computepb.NetworkEndpointWithHealthStatus{{NetworkEndpoint: &computepb.NetworkEndpoint{
		IpAddress: proto.String(ip), Port: proto.Int32(8443), Instance: proto.String(node)}}}
	w.compute.health[negLink(zone)] = &computepb.BackendServiceGroupHealth{HealthStatus: []*computepb.HealthStatus{{
		IpAddress: proto.String(ip), Port: proto.Int32(8443), HealthState: proto.String(state)}}}
}

// The cluster: the gateway meshctl expose makes and the app.
const gatewayYAML = `
apiVersion: v1
kind: Service
metadata:
  name: web-gateway
  namespace: shop
  annotations:
    cloud.google.com/neg-status: '{"network_endpoint_groups":{"443":"` + negName + `"},"zones":["us-central1-a","us-central1-b"]}'
spec:
  selector: {meshctl.io/gateway: web-gateway}
  ports:
  - {name: status-port, port: 15021, targetPort: 15021, appProtocol: http}
  - {name: https, port: 443, targetPort: 8443, appProtocol: HTTP2}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: istio-sidecar-injector-asm-1, labels: {istio.io/rev: asm-1}}
webhooks:
- name: rev.namespace.sidecar-injector.istio.io
  clientConfig: {service: {name: istiod-asm-1, namespace: istio-system}}
  sideEffects: None
  admissionReviewVersions: [v1]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod-asm-1, namespace: istio-system, labels: {app: istiod, istio.io/rev: asm-1}}
spec:
  selector: {matchLabels: {app: istiod}}
  template: {metadata: {labels: {app: istiod}}, spec: {containers: [{name: discovery, image: pilot}]}}
`

func gatewayPod(name, ip, zoneNode string) string {
	return fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: shop
  labels: {meshctl.io/gateway: web-gateway}
  annotations: {sidecar.istio.io/status: '{"revision":"asm-1"}'}
spec:
  nodeName: %s
  containers:
  - name: istio-proxy
    image: proxyv2:1.28
    ports: [{containerPort: 8443}, {containerPort: 15021}]
status:
  podIP: %s
  conditions: [{type: Ready, status: "True", lastTransitionTime: "2026-06-01T10:00:00Z"}]
`, name, zoneNode, ip)
}

func appPod(name string, ready, injected bool) string {
	proxy, ann := "", ""
	if injected {
		proxy = "\n  - {name: istio-proxy, image: proxyv2:1.28}"
		ann = `annotations: {sidecar.istio.io/status: '{"revision":"asm-1"}'}`
	}
	return fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: shop
  labels: {app: web}
  %s
spec:
  containers:
  - {name: web, image: nginx}%s
status:
  podIP: 10.0.2.9
  conditions: [{type: Ready, status: "%s"}]
`, name, ann, proxy, map[bool]string{true: "True", false: "False"}[ready])
}

const istioYAML = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web-gateway, namespace: shop}
spec:
  selector: {meshctl.io/gateway: web-gateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["./*"]
    tls: {mode: SIMPLE, credentialName: web-gateway-cert}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web-gateway, namespace: shop}
spec:
  hosts: [` + host + `]
  gateways: [web-gateway]
  http:
  - route: [{destination: {host: web.shop.svc.cluster.local, port: {number: 80}}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web-gateway, namespace: shop}
spec:
  host: web.shop.svc.cluster.local
  exportTo: ["."]
  workloadSelector: {matchLabels: {meshctl.io/gateway: web-gateway}}
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
`

func (w *world) cluster() {
	w.kubeYAML(gatewayYAML + "---" + gatewayPod("gw-a", "10.0.0.5", "node-a") + "---" + gatewayPod("gw-b", "10.0.1.7", "node-b") + "---" + appPod("web-1", true, true))
	w.kubeObj = append(w.kubeObj, tlsSecret(w.t, "shop", "web-gateway-cert", now.Add(90*24*time.Hour)))
	w.istioYAML(istioYAML)
}

// kubeYAML adds Kubernetes objects, replacing those of the same kind and
// name.
func (w *world) kubeYAML(docs string) {
	for _, doc := range strings.Split(docs, "\n---") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		if err != nil {
			w.t.Fatalf("%v\n%s", err, doc)
		}
		w.kubeObj = replaceObj(w.kubeObj, obj)
	}
}

func (w *world) istioYAML(docs string) {
	for _, doc := range strings.Split(docs, "\n---") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			w.t.Fatal(err)
		}
		w.istio = replaceObj(w.istio, u)
	}
}

func replaceObj(objs []runtime.Object, obj runtime.Object) []runtime.Object {
	key := func(o runtime.Object) string {
		m := o.(interface {
			GetNamespace() string
			GetName() string
		})
		return fmt.Sprintf("%T %s %s/%s", o, o.GetObjectKind().GroupVersionKind().Kind, m.GetNamespace(), m.GetName())
	}
	for i, o := range objs {
		if key(o) == key(obj) {
			objs[i] = obj
			return objs
		}
	}
	return append(objs, obj)
}

// removeKube drops a Kubernetes object by its "Kind ns/name".
func (w *world) removeKube(kind, ns, name string) {
	var keep []runtime.Object
	for _, o := range append(w.kubeObj, w.istio...) {
		m := o.(interface {
			GetNamespace() string
			GetName() string
		})
		k := o.GetObjectKind().GroupVersionKind().Kind
		if k == "" {
			k = strings.TrimPrefix(fmt.Sprintf("%T", o), "*v1.")
		}
		if !(k == kind && m.GetNamespace() == ns && m.GetName() == name) {
			keep = append(keep, o)
		}
	}
	w.kubeObj, w.istio = nil, nil
	for _, o := range keep {
		if _, ok := o.(*unstructured.Unstructured); ok {
			w.istio = append(w.istio, o)
		} else {
			w.kubeObj = append(w.kubeObj, o)
		}
	}
}

func tlsSecret(t testing.TB, ns, name string, notAfter time.Time) runtime.Object {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: notAfter.Add(-365 * 24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(fmt.Sprintf(`
apiVersion: v1
kind: Secret
metadata: {name: %s, namespace: %s}
type: kubernetes.io/tls
`, name, ns)), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sec := obj.(*corev1.Secret)
	sec.Data = map[string][]byte{
		"tls.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"tls.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}),
	}
	return sec
}

// clients builds the fakes from the world as it is now; they fail the
// test on any write.
func (w *world) clients() Clients {
	w.kube = kubefake.NewClientset(w.kubeObj...)
	w.reg.ReadOnly(w.kube)
	gvrs := map[string]schema.GroupVersionResource{"Gateway": gvrGateway, "VirtualService": gvrVirtualService, "DestinationRule": gvrDestinationRule, "PeerAuthentication": gvrPeerAuth}
	w.dyn = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		gvrGateway: "GatewayList", gvrVirtualService: "VirtualServiceList", gvrDestinationRule: "DestinationRuleList", gvrPeerAuth: "PeerAuthenticationList",
	})
	for _, o := range w.istio {
		u := o.(*unstructured.Unstructured)
		if _, err := w.dyn.Resource(gvrs[u.GetKind()]).Namespace(u.GetNamespace()).Create(context.Background(), u, metav1.CreateOptions{}); err != nil {
			w.t.Fatal(err)
		}
	}
	w.reg.ReadOnly(w.dyn)
	return Clients{Compute: w.compute, Kube: w.kube, Dynamic: w.dyn}
}

// run traces with the world's options.
func (w *world) run() *Result {
	w.t.Helper()
	res, err := Run(context.Background(), w.clients(), w.opts)
	if err != nil {
		w.t.Fatal(err)
	}
	return res
}

var errDenied = &googleapi.Error{Code: 403, Message: "Required 'compute.globalForwardingRules.list' permission for 'projects/p'"}

var noColor = ui.Styles{}
