package inject

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/meshctl/meshctl/internal/stubs"
	"github.com/meshctl/meshctl/pkg/mesh"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// Test objects. Workloads start fully rolled out (observedGeneration equal
// to generation, all replicas updated and available).

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func revLabel(rev string) map[string]string { return map[string]string{mesh.LabelRevision: rev} }

func podTemplate(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: app, Image: "nginx"}}},
	}
}

func deployment(ns, name string, replicas int32, mods ...func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 1},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Template: podTemplate(name),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: replicas, UpdatedReplicas: replicas,
			ReadyReplicas: replicas, AvailableReplicas: replicas},
	}
	for _, m := range mods {
		m(d)
	}
	return d
}

func statefulSet(ns, name string, replicas int32) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 1},
		Spec: appsv1.StatefulSetSpec{Replicas: &replicas, Template: podTemplate(name),
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType}},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 1, Replicas: replicas, ReadyReplicas: replicas,
			UpdatedReplicas: replicas, CurrentRevision: name + "-1", UpdateRevision: name + "-1"},
	}
}

func daemonSet(ns, name string, nodes int32) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 1},
		Spec: appsv1.DaemonSetSpec{Template: podTemplate(name),
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType}},
		Status: appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: nodes,
			UpdatedNumberScheduled: nodes, NumberAvailable: nodes, NumberReady: nodes},
	}
}

func controllerRef(kind, name string) []metav1.OwnerReference {
	yes := true
	apiVersion := "apps/v1"
	return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, Controller: &yes}}
}

// replicaSet returns a ReplicaSet of deploy; "new" ones (made by a
// restart) have a higher revision than the others.
func replicaSet(ns, deploy, hash string) *appsv1.ReplicaSet {
	rev := "1"
	if hash == "new" {
		rev = "2"
	}
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: deploy + "-" + hash,
		OwnerReferences: controllerRef(KindDeployment, deploy),
		Annotations:     map[string]string{"deployment.kubernetes.io/revision": rev}}}
}

// pod returns a running pod owned by kind/owner, with istio-proxy of rev
// (a native sidecar) unless rev is empty.
func pod(ns, name, kind, owner, rev string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, OwnerReferences: controllerRef(kind, owner)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	if rev != "" {
		always := corev1.ContainerRestartPolicyAlways
		p.Spec.InitContainers = []corev1.Container{{Name: "istio-init"}, {Name: mesh.ProxyContainer, RestartPolicy: &always}}
		p.Annotations = map[string]string{mesh.AnnotationStatus: fmt.Sprintf(`{"initContainers":["istio-init","istio-proxy"],"revision":%q}`, rev)}
	}
	return p
}

// withPods returns d, its ReplicaSet and its pods, all injected with rev.
func withPods(d *appsv1.Deployment, rev string) []runtime.Object {
	rs := replicaSet(d.Namespace, d.Name, "abc")
	objs := []runtime.Object{d, rs}
	for i := range *d.Spec.Replicas {
		objs = append(objs, pod(d.Namespace, fmt.Sprintf("%s-abc-%d", d.Name, i), "ReplicaSet", rs.Name, rev))
	}
	return objs
}

func injector(rev string) *admissionv1.MutatingWebhookConfiguration {
	return &admissionv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{
		Name: "istio-sidecar-injector-" + rev, Labels: map[string]string{mesh.LabelRevision: rev, "app": "sidecar-injector"}}}
}

func istiod(rev string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "istiod-" + rev,
		Labels: map[string]string{"app": "istiod", mesh.LabelRevision: rev}}}
}

// fakeCluster is a fake clientset with a stand-in for the controllers and
// Istio's injection webhook: restarting a workload replaces its pods with
// pods injected as the namespace's labels say at that moment.
type fakeCluster struct {
	*fake.Clientset
	t     *testing.T
	stubs *stubs.Registry
	// failInjection makes restarted Deployments create no pods, as when the
	// webhook rejects them, and leaves their rollout stuck.
	failInjection bool
	// failCreate, when set, makes restarted Deployments create no new pods
	// and keep their old ones (as a quota does with a surge), with this
	// FailedCreate message.
	failCreate string
}

// failInjectionOnRestart and failCreateOnRestart stub those failures: a
// test that sets one fails if no Deployment is restarted to meet it.
func (c *fakeCluster) failInjectionOnRestart() {
	c.failInjection = true
	c.stubs.Stub("a restart meets the failing injector")
}

func (c *fakeCluster) failCreateOnRestart(message string) {
	c.failCreate = message
	c.stubs.Stub("a restart meets the failing pod creation")
}

var (
	podsGVR   = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	nsGVR     = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	deployGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

// newFakeCluster serves objs. inject writes only by patching namespaces
// and workloads: any other write fails the test, but for the status
// updates of tests that play a workload controller.
func newFakeCluster(t *testing.T, objs ...runtime.Object) *fakeCluster {
	t.Helper()
	c := &fakeCluster{Clientset: fake.NewClientset(objs...), t: t, stubs: stubs.New(t)}
	c.stubs.ReadOnly(c, "patch namespaces", "patch deployments", "patch statefulsets", "patch daemonsets",
		"update deployments/status", "update statefulsets/status", "update daemonsets/status")
	for _, res := range []string{"deployments", "statefulsets", "daemonsets"} {
		c.PrependReactor("patch", res, func(a k8stesting.Action) (bool, runtime.Object, error) {
			c.restarted(a.(k8stesting.PatchAction))
			return false, nil, nil // the tracker applies the patch itself
		})
	}
	return c
}

// restarted plays the controller and the injector for a restart patch. It
// runs inside the fake's reactor chain, so it uses the tracker directly.
func (c *fakeCluster) restarted(a k8stesting.PatchAction) {
	tr := c.Tracker()
	ns := a.GetNamespace()
	nsObj, err := tr.Get(nsGVR, "", ns)
	if err != nil {
		c.t.Errorf("restart in unknown namespace %s", ns)
		return
	}
	labels := nsObj.(*corev1.Namespace).Labels
	rev := ""
	if _, legacy := labels[mesh.LabelInjection]; !legacy {
		rev = labels[mesh.LabelRevision]
	}
	kind := map[string]string{"deployments": KindDeployment, "statefulsets": KindStatefulSet, "daemonsets": KindDaemonSet}[a.GetResource().Resource]
	owner, ownerKind := a.GetName(), kind
	if kind == KindDeployment {
		rs := replicaSet(ns, a.GetName(), "new")
		_ = tr.Add(rs)
		owner, ownerKind = rs.Name, "ReplicaSet"
	}
	if c.failCreate != "" && kind == KindDeployment {
		c.stubs.Call("a restart meets the failing pod creation")
		c.stuck(ns, a.GetName(), owner, c.failCreate)
		return
	}
	list, _ := tr.List(podsGVR, schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, ns)
	n := 0
	for _, p := range list.(*corev1.PodList).Items {
		ref := metav1.GetControllerOf(&p)
		if ref == nil || !belongsTo(ref, kind, a.GetName()) {
			continue
		}
		_ = tr.Delete(podsGVR, ns, p.Name)
		n++
	}
	if c.failInjection && kind == KindDeployment {
		c.stubs.Call("a restart meets the failing injector")
		c.stuck(ns, a.GetName(), owner, `Error creating: Internal error occurred: failed calling webhook "rev.namespace.sidecar-injector.istio.io": connection refused`)
		return
	}
	for i := range n {
		_ = tr.Add(pod(ns, fmt.Sprintf("%s-new-%d", a.GetName(), i), ownerKind, owner, rev))
	}
}

// stuck records a FailedCreate on the new ReplicaSet and leaves the
// Deployment's rollout unobserved.
func (c *fakeCluster) stuck(ns, deploy, rs, message string) {
	tr := c.Tracker()
	_ = tr.Add(&corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: rs + ".1"},
		InvolvedObject: corev1.ObjectReference{Kind: "ReplicaSet", Name: rs, Namespace: ns},
		Reason:         "FailedCreate", Type: corev1.EventTypeWarning, Message: message})
	d, _ := tr.Get(deployGVR, ns, deploy)
	dep := d.(*appsv1.Deployment).DeepCopy()
	dep.Generation++
	_ = tr.Update(deployGVR, dep, ns)
}

func belongsTo(ref *metav1.OwnerReference, kind, name string) bool {
	if kind == KindDeployment {
		return ref.Kind == "ReplicaSet" && strings.HasPrefix(ref.Name, name+"-")
	}
	return ref.Kind == kind && ref.Name == name
}

// patches returns the patch actions as "resource ns/name" strings.
func (c *fakeCluster) patches() []string {
	var out []string
	for _, a := range c.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok {
			out = append(out, fmt.Sprintf("%s %s/%s", p.GetResource().Resource, p.GetNamespace(), p.GetName()))
		}
	}
	return out
}

// nsLabels reads a namespace's labels back.
func (c *fakeCluster) nsLabels(name string) map[string]string {
	c.t.Helper()
	ns, err := c.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	return ns.Labels
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sortedStrings(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
