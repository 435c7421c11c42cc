package ilbcontroller

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/scenario"
)

const clusterID = "0123456789abcdef"

// env is the controller against the fake Compute API over HTTP, on a fake
// cluster holding the scenario's nodes.
type env struct {
	t    *testing.T
	ctx  context.Context
	sc   scenario.Scenario
	srv  *fakegcp.Server
	kube *kubefake.Clientset
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvFor(t, scenario.Default())
}

func newEnvFor(t *testing.T, sc scenario.Scenario) *env {
	t.Helper()
	k := fakegcp.DefaultKnobs()
	k.OperationDuration = fakegcp.Duration(10 * time.Millisecond)
	srv := fakegcp.New(sc, fakegcp.Options{Knobs: &k})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	var objs []runtime.Object
	for _, n := range sc.Nodes() {
		objs = append(objs, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: map[string]string{corev1.LabelTopologyZone: n.Zone}}})
	}
	e := &env{t: t, ctx: ctx, sc: sc, srv: srv, kube: kubefake.NewClientset(objs...)}
	svc, err := NewComputeService(ctx, hs.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := New(e.kube, svc, Options{Project: sc.Project, Region: sc.Region, Network: sc.Network, Subnetwork: sc.Subnetwork,
		NetworkProject: sc.NetworkProject(), NodeTag: sc.NodeTag(), ClusterID: clusterID, Resync: time.Hour, Logf: t.Logf})
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// gateway is an east-west gateway Service as Istio's generator makes it,
// with GKE's internal annotations.
func gateway(name, uid string, annotations map[string]string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "istio-system", UID: types.UID(uid), Annotations: annotations,
			Labels: map[string]string{"topology.istio.io/network": "net-1"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"istio": "eastwestgateway"},
			Ports: []corev1.ServicePort{
				{Name: "status-port", Port: 15021, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(15021)},
				{Name: "tls", Port: 15443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(15443)},
			}},
	}
}

var internalGlobal = map[string]string{TypeAnnotation: "Internal", GlobalAccessAnnotation: "true"}

// ingress waits until the Service's status holds an address that pred likes.
func (e *env) ingress(name string, pred func(string) bool) string {
	e.t.Helper()
	var ip string
	for {
		svc, err := e.kube.CoreV1().Services("istio-system").Get(e.ctx, name, metav1.GetOptions{})
		if err == nil {
			ip = ""
			if len(svc.Status.LoadBalancer.Ingress) > 0 {
				ip = svc.Status.LoadBalancer.Ingress[0].IP
			}
			if pred(ip) {
				return ip
			}
		}
		select {
		case <-e.ctx.Done():
			e.t.Fatalf("service %s: address %q never as wanted", name, ip)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// eventually waits for cond on the fake Compute's state.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	for !cond() {
		select {
		case <-e.ctx.Done():
			e.t.Fatalf("never: %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (e *env) object(path string) map[string]any {
	o, _ := e.srv.Resource("projects/" + e.sc.Project + "/" + path)
	return o
}

func TestInternalServiceGetsGKEsLoadBalancer(t *testing.T) {
	e := newEnv(t)
	svc := gateway("istio-eastwestgateway", "6f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b", internalGlobal)
	if _, err := e.kube.CoreV1().Services("istio-system").Create(e.ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ip := e.ingress(svc.Name, func(ip string) bool { return ip != "" })
	if a, err := netip.ParseAddr(ip); err != nil || !e.sc.SubnetRange().Contains(a) {
		t.Errorf("address %q is not in the subnet %s", ip, e.sc.SubnetRange())
	}
	name := "a6f0c1a2b3c4d4e5f8a9b0c1d2e3f4a5"
	if LoadBalancerName(svc) != name {
		t.Fatalf("load balancer name %s, want %s", LoadBalancerName(svc), name)
	}
	rule := e.object("regions/us-central1/forwardingRules/" + name)
	base := "https://www.googleapis.com/compute/v1/projects/" + e.sc.Project
	for k, want := range map[string]any{
		"IPAddress": ip, "loadBalancingScheme": "INTERNAL", "allowGlobalAccess": true, "IPProtocol": "TCP",
		"backendService": base + "/regions/us-central1/backendServices/" + name,
		"subnetwork":     base + "/regions/us-central1/subnetworks/default", "network": base + "/global/networks/default",
		"description": `{"kubernetes.io/service-name":"istio-system/istio-eastwestgateway"}`,
	} {
		if rule[k] != want {
			t.Errorf("forwarding rule %s = %v, want %v", k, rule[k], want)
		}
	}
	if ports, _ := rule["ports"].([]any); len(ports) != 2 {
		t.Errorf("forwarding rule ports %v, want 15021 and 15443", rule["ports"])
	}
	bs := e.object("regions/us-central1/backendServices/" + name)
	if bs["loadBalancingScheme"] != "INTERNAL" || len(bs["backends"].([]any)) != len(e.sc.Zones()) {
		t.Errorf("backend service %v, want INTERNAL with the instance group of each of %d zones", bs, len(e.sc.Zones()))
	}
	hc := e.object("global/healthChecks/k8s-" + clusterID + "-node")
	if hc["type"] != "HTTP" || fmt.Sprintf("%v %v", hc["checkIntervalSec"], obj(hc, "httpHealthCheck")["port"]) != "8 10256" {
		t.Errorf("health check %v", hc)
	}
	for _, zone := range e.sc.Zones() {
		if g := e.object("zones/" + zone + "/instanceGroups/k8s-ig--" + clusterID); fmt.Sprint(g["size"]) != "2" {
			t.Errorf("instance group in %s: %v, want the zone's two nodes", zone, g)
		}
	}
	fw := e.object("global/firewalls/k8s-fw-" + name)
	if fw == nil || !slices.Contains(fw["destinationRanges"].([]any), any(ip)) {
		t.Errorf("traffic firewall rule %v", fw)
	}
	if e.object("global/firewalls/k8s-"+clusterID+"-node-hc") == nil {
		t.Error("no health-check firewall rule")
	}
	got, _ := e.kube.CoreV1().Services("istio-system").Get(e.ctx, svc.Name, metav1.GetOptions{})
	if !slices.Contains(got.Finalizers, Finalizer) {
		t.Errorf("finalizers %v", got.Finalizers)
	}
	e.wantEvents(svc.Name, "EnsuringLoadBalancer", "EnsuredLoadBalancer")

	// Global access off: the rule is made again, on the same address.
	got.Annotations = map[string]string{TypeAnnotation: "Internal"}
	if _, err := e.kube.CoreV1().Services("istio-system").Update(e.ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually("the rule without global access", func() bool {
		r := e.object("regions/us-central1/forwardingRules/" + name)
		return r != nil && r["allowGlobalAccess"] == nil && r["IPAddress"] == ip
	})
}

// On a Shared VPC the load balancer sits on the host project's network
// and subnetwork, and its firewall rules are made (and deleted) in the
// host project, where the nodes' network is: a rule in the service
// project would be another network's.
func TestSharedVPCLoadBalancerUsesTheHostsNetwork(t *testing.T) {
	const host = "net-host"
	sc := scenario.Default()
	sc.SharedVPCHost = host
	e := newEnvFor(t, sc)
	svc := gateway("istio-eastwestgateway", "6f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b", internalGlobal)
	if _, err := e.kube.CoreV1().Services("istio-system").Create(e.ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.ingress(svc.Name, func(ip string) bool { return ip != "" })
	name := LoadBalancerName(svc)
	hostBase := "https://www.googleapis.com/compute/v1/projects/" + host
	rule := e.object("regions/us-central1/forwardingRules/" + name)
	if rule["network"] != hostBase+"/global/networks/default" || rule["subnetwork"] != hostBase+"/regions/us-central1/subnetworks/default" {
		t.Errorf("forwarding rule on %v / %v, want the host's network and subnetwork", rule["network"], rule["subnetwork"])
	}
	hostRule := func(name string) map[string]any {
		o, _ := e.srv.Resource("projects/" + host + "/global/firewalls/" + name)
		return o
	}
	for _, fw := range []string{"k8s-fw-" + name, "k8s-" + clusterID + "-node-hc"} {
		if r := hostRule(fw); r == nil || r["network"] != hostBase+"/global/networks/default" {
			t.Errorf("firewall rule %s in the host project: %v", fw, r)
		}
		if e.object("global/firewalls/"+fw) != nil {
			t.Errorf("firewall rule %s made in the service project", fw)
		}
	}

	// Deleted (the API server marks it; the finalizer holds it).
	cur, _ := e.kube.CoreV1().Services("istio-system").Get(e.ctx, svc.Name, metav1.GetOptions{})
	now := metav1.Now()
	cur.DeletionTimestamp = &now
	if _, err := e.kube.CoreV1().Services("istio-system").Update(e.ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually("the host project's rules deleted with the Service", func() bool {
		return hostRule("k8s-fw-"+name) == nil && hostRule("k8s-"+clusterID+"-node-hc") == nil
	})
}

func (e *env) wantEvents(name string, reasons ...string) {
	e.t.Helper()
	e.eventually("events "+strings.Join(reasons, ", ")+" for "+name, func() bool {
		list, _ := e.kube.CoreV1().Events("istio-system").List(e.ctx, metav1.ListOptions{})
		seen := map[string]bool{}
		for _, ev := range list.Items {
			if ev.InvolvedObject.Name == name && ev.Source.Component == eventSource {
				seen[ev.Reason] = true
			}
		}
		for _, r := range reasons {
			if !seen[r] {
				return false
			}
		}
		return true
	})
}

func TestSharedObjectsOutliveOneService(t *testing.T) {
	e := newEnv(t)
	a := gateway("gw-a", "aaaaaaaa-0000-0000-0000-000000000001", internalGlobal)
	b := gateway("gw-b", "bbbbbbbb-0000-0000-0000-000000000002", map[string]string{"cloud.google.com/load-balancer-type": "Internal"})
	external := gateway("gw-external", "cccccccc-0000-0000-0000-000000000003", nil)
	for _, s := range []*corev1.Service{a, b, external} {
		if _, err := e.kube.CoreV1().Services("istio-system").Create(e.ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ipA := e.ingress(a.Name, func(ip string) bool { return ip != "" })
	ipB := e.ingress(b.Name, func(ip string) bool { return ip != "" })
	if ipA == ipB {
		t.Errorf("two load balancers on %s", ipA)
	}
	// A Service without the internal annotation is not GKE's internal kind.
	if r := e.object("regions/us-central1/forwardingRules/" + LoadBalancerName(external)); r != nil {
		t.Errorf("an external Service got an internal rule: %v", r)
	}
	// a turns into a ClusterIP Service: its objects go, the shared ones stay for b.
	cur, _ := e.kube.CoreV1().Services("istio-system").Get(e.ctx, a.Name, metav1.GetOptions{})
	cur.Spec.Type = corev1.ServiceTypeClusterIP
	if _, err := e.kube.CoreV1().Services("istio-system").Update(e.ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.ingress(a.Name, func(ip string) bool { return ip == "" })
	e.eventually("a's rule gone", func() bool { return e.object("regions/us-central1/forwardingRules/"+LoadBalancerName(a)) == nil })
	if e.object("global/healthChecks/k8s-"+clusterID+"-node") == nil || e.object("zones/"+e.sc.Zones()[0]+"/instanceGroups/k8s-ig--"+clusterID) == nil {
		t.Error("the shared health check or instance groups went while b uses them")
	}
	e.wantEvents(a.Name, "DeletingLoadBalancer", "DeletedLoadBalancer")
	// b is deleted (the API server marks it; the finalizer holds it): everything goes.
	cur, _ = e.kube.CoreV1().Services("istio-system").Get(e.ctx, b.Name, metav1.GetOptions{})
	now := metav1.Now()
	cur.DeletionTimestamp = &now
	if _, err := e.kube.CoreV1().Services("istio-system").Update(e.ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually("b's finalizer removed", func() bool {
		s, _ := e.kube.CoreV1().Services("istio-system").Get(e.ctx, b.Name, metav1.GetOptions{})
		return !slices.Contains(s.Finalizers, Finalizer)
	})
	for _, r := range e.srv.State().Resources {
		kind, _ := r["kind"].(string)
		if link, _ := r["selfLink"].(string); kind != "compute#network" && kind != "compute#subnetwork" && kind != "compute#route" &&
			!strings.Contains(link, "/firewalls/gke-") {
			t.Errorf("left behind: %s", link)
		}
	}
}

func obj(m map[string]any, key string) map[string]any {
	o, _ := m[key].(map[string]any)
	return o
}
