package expose

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/kube/kubefake"
	"github.com/meshctl/meshctl/pkg/mesh"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// testNow is the clock of every test: certificates made "now" expire a
// year later.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// cluster is a fake cluster with one mesh revision (asm-1), namespace shop
// (labelled for it) holding Services web (one port) and api (two ports)
// with injected pods, and controllers that roll out Deployments with
// injected gateway pods and write NEG status for annotated Services.
type cluster struct {
	*kubefake.Objects
	// inject is false to play an injector that does not run.
	inject bool
	zones  []string
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{Objects: kubefake.New(), inject: true, zones: []string{"us-central1-a", "us-central1-b", "us-central1-c"}}
	c.Add(kNamespace.Resource, &corev1.Namespace{TypeMeta: tm("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: "kube-system", UID: "0a1b2c3d-4e5f-6789-abcd-ef0123456789"}})
	c.Add(kNamespace.Resource, &corev1.Namespace{TypeMeta: tm("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: "default"}})
	c.addNamespace("shop", map[string]string{mesh.LabelRevision: "asm-1"})
	c.addRevision("asm-1", "")
	c.addService("shop", "web", []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}, 2, true)
	c.addService("shop", "api", []corev1.ServicePort{
		{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP},
		{Name: "grpc", Port: 9090, Protocol: corev1.ProtocolTCP},
	}, 1, true)
	c.AfterWrite = c.controllers
	return c
}

func tm(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

func (c *cluster) addNamespace(name string, labels map[string]string) {
	c.Add(kNamespace.Resource, &corev1.Namespace{TypeMeta: tm("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}})
}

// addRevision adds a revision's injection webhook, or a tag's when tag is set.
func (c *cluster) addRevision(rev, tag string) {
	name, l := "istio-sidecar-injector-"+rev, map[string]string{mesh.LabelRevision: rev}
	if tag != "" {
		name, l[mesh.LabelTag] = "istio-revision-tag-"+tag, tag
	}
	c.Add(kMutatingWebhookConf.Resource, &admissionv1.MutatingWebhookConfiguration{
		TypeMeta: tm("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"), ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}})
}

func (c *cluster) addService(ns, name string, ports []corev1.ServicePort, pods int, injected bool) {
	sel := map[string]string{"app": name}
	c.Add(kService.Resource, &corev1.Service{TypeMeta: tm("v1", "Service"), ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: sel, Ports: ports}})
	for i := range pods {
		p := &corev1.Pod{TypeMeta: tm("v1", "Pod"), ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", name, i), Namespace: ns, Labels: sel},
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "nginx"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning}}
		if injected {
			// A native sidecar, as Istio injects on current Kubernetes.
			p.Spec.InitContainers = []corev1.Container{{Name: "istio-proxy", Image: "proxyv2"}}
		}
		c.Add(kPod.Resource, p)
	}
}

// controllers plays the Deployment controller, the injector and GKE's NEG
// controller.
func (c *cluster) controllers(f *kubefake.Objects, verb string, gvr schema.GroupVersionResource, obj *unstructured.Unstructured) {
	switch {
	case gvr == kDeployment.Resource && verb == "apply":
		var d appsv1.Deployment
		must(kube.FromUnstructured(obj, &d))
		n := *d.Spec.Replicas
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n}
		f.Update(gvr, &d)
		for i := range n {
			pod := &corev1.Pod{TypeMeta: tm("v1", "Pod"),
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", d.Name, i), Namespace: d.Namespace,
					Labels: d.Spec.Template.Labels, Annotations: map[string]string{}},
				Spec: *d.Spec.Template.Spec.DeepCopy()}
			if c.inject {
				pod.Annotations["sidecar.istio.io/status"] = `{"containers":["istio-proxy"]}`
				pod.Spec.Containers[0].Image = "gcr.io/gke-release/asm/proxyv2:1.28.2-asm.4"
			}
			f.Update(kPod.Resource, pod)
		}
	case gvr == kDeployment.Resource && verb == "delete":
		for i := range 10 {
			f.Remove(kPod.Resource, obj.GetNamespace(), fmt.Sprintf("%s-%d", obj.GetName(), i))
		}
	case gvr == kService.Resource && verb == "apply":
		raw := obj.GetAnnotations()[NEGAnnotation]
		if raw == "" {
			return
		}
		var ann struct {
			ExposedPorts map[string]struct{ Name string } `json:"exposed_ports"`
		}
		must(json.Unmarshal([]byte(raw), &ann))
		st := negStatus{NetworkEndpointGroups: map[string]string{}, Zones: c.zones}
		for port, p := range ann.ExposedPorts {
			st.NetworkEndpointGroups[port] = p.Name
		}
		b, _ := json.Marshal(st)
		a := obj.GetAnnotations()
		a[NEGStatusAnnotation] = string(b)
		obj.SetAnnotations(a)
		f.Update(gvr, obj)
	}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// opts returns valid options for exposing shop/web with the gateway next
// to the Service (--gateway-namespace shop), where most tests look for it;
// ownNamespaceOpts leaves the default, the gateway's own namespace.
func opts(hosts ...string) Options {
	if len(hosts) == 0 {
		hosts = []string{"www.example.com"}
	}
	return Options{
		Namespace: "shop", Service: "web", Hosts: hosts, GatewayNamespace: "shop",
		MinReplicas: DefaultMinReplicas, MaxReplicas: DefaultMaxReplicas, CPUTarget: DefaultCPUTarget,
		Now: func() time.Time { return testNow }, PollInterval: time.Millisecond, WaitTimeout: 2 * time.Second,
	}
}
