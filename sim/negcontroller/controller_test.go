package negcontroller

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/meshctl/meshctl/sim/fakegcp"
)

type fakeCompute struct {
	mu        sync.Mutex
	negs      map[string]fakegcp.NEGInfo // zone/name
	endpoints map[string][]fakegcp.Endpoint
	inUse     map[string]bool
}

func newFakeCompute() *fakeCompute {
	return &fakeCompute{negs: map[string]fakegcp.NEGInfo{}, endpoints: map[string][]fakegcp.Endpoint{}, inUse: map[string]bool{}}
}

func (f *fakeCompute) EnsureNEG(zone, name, desc string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.negs[zone+"/"+name] = fakegcp.NEGInfo{Zone: zone, Name: name, Description: desc}
	return nil
}

func (f *fakeCompute) SetNEGEndpoints(zone, name string, eps []fakegcp.Endpoint) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.endpoints[zone+"/"+name] = eps
	return nil
}

func (f *fakeCompute) DeleteNEG(zone, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inUse[name] {
		return fmt.Errorf("resourceInUseByAnotherResource")
	}
	delete(f.negs, zone+"/"+name)
	return nil
}

func (f *fakeCompute) NEGs() []fakegcp.NEGInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakegcp.NEGInfo
	for _, n := range f.negs {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Zone+out[i].Name < out[j].Zone+out[j].Name })
	return out
}

func node(name, zone string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"topology.kubernetes.io/zone": zone}}}
}

func ptr[T any](v T) *T { return &v }

func TestControllerCreatesNEGsPerZoneAndStatus(t *testing.T) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: "shop", Annotations: map[string]string{
			NEGAnnotation: `{"exposed_ports":{"443":{"name":"shop-gw-neg"}}}`}},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "https", Port: 443}}},
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "gw-1", Namespace: "shop"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "istio-proxy", Ports: []corev1.ContainerPort{{ContainerPort: 8443}, {ContainerPort: 15021}}}}}}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "gw-abc", Namespace: "shop", Labels: map[string]string{discoveryv1.LabelServiceName: "gw"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("https"), Port: ptr(int32(8443))}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.0.0.5"}, NodeName: ptr("n-a"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)},
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "gw-1"}},
			{Addresses: []string{"10.0.0.6"}, NodeName: ptr("n-b"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)}},
		},
	}
	kube := fake.NewClientset(svc, pod, slice, node("n-a", "zone-a"), node("n-b", "zone-b"))
	compute := newFakeCompute()
	c := New(kube, compute, "0123456789")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.factory.Start(ctx.Done())
	c.factory.WaitForCacheSync(ctx.Done())
	if err := c.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if len(compute.negs) != 2 || compute.negs["zone-a/shop-gw-neg"].Name == "" || compute.negs["zone-b/shop-gw-neg"].Name == "" {
		t.Fatalf("NEGs = %v, want shop-gw-neg in zone-a and zone-b", compute.negs)
	}
	eps := compute.endpoints["zone-a/shop-gw-neg"]
	if len(eps) != 1 || eps[0].IPAddress != "10.0.0.5" || eps[0].Port != 8443 || eps[0].Instance != "n-a" ||
		fmt.Sprint(eps[0].ServedPorts) != "[8443 15021]" {
		t.Errorf("zone-a endpoints = %+v", eps)
	}
	if len(compute.endpoints["zone-b/shop-gw-neg"]) != 0 {
		t.Errorf("a not-ready pod was attached: %+v", compute.endpoints["zone-b/shop-gw-neg"])
	}
	got, _ := kube.CoreV1().Services("shop").Get(ctx, "gw", metav1.GetOptions{})
	want := `{"network_endpoint_groups":{"443":"shop-gw-neg"},"zones":["zone-a","zone-b"]}`
	if got.Annotations[NEGStatusAnnotation] != want {
		t.Errorf("neg-status = %s\nwant        %s", got.Annotations[NEGStatusAnnotation], want)
	}

	// The annotation goes: NEGs go, except one still used by a backend service.
	compute.inUse["shop-gw-neg"] = true
	got.Annotations = map[string]string{NEGStatusAnnotation: got.Annotations[NEGStatusAnnotation]}
	if _, err := kube.CoreV1().Services("shop").Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventuallyReconciled(t, c, func() bool {
		s, _ := kube.CoreV1().Services("shop").Get(ctx, "gw", metav1.GetOptions{})
		_, has := s.Annotations[NEGStatusAnnotation]
		return !has
	})
	if len(compute.NEGs()) != 2 {
		t.Errorf("in-use NEGs were deleted: %v", compute.NEGs())
	}
	compute.inUse["shop-gw-neg"] = false
	if err := c.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if len(compute.NEGs()) != 0 {
		t.Errorf("released NEGs were kept: %v", compute.NEGs())
	}
}

func eventuallyReconciled(t *testing.T, c *Controller, cond func() bool) {
	t.Helper()
	for i := 0; i < 100; i++ {
		_ = c.Reconcile(context.Background())
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("condition not reached")
}

func TestNEGNameFollowsGKEScheme(t *testing.T) {
	short := NEGName("0123456789abcdef", "shop", "gw", 443)
	if !strings.HasPrefix(short, "k8s1-01234567-shop-gw-443-") || len(short) != len("k8s1-01234567-shop-gw-443-")+8 {
		t.Errorf("NEGName = %s", short)
	}
	long := NEGName("0123456789abcdef", strings.Repeat("n", 50), strings.Repeat("s", 50), 8443)
	if len(long) != 63 || !strings.Contains(long, "-8443-") {
		t.Errorf("long NEGName = %s (%d chars)", long, len(long))
	}
	if NEGName("0123456789abcdef", "a", "b", 1) == NEGName("0123456789abcdef", "a", "b", 2) {
		t.Error("names collide across ports")
	}
}
