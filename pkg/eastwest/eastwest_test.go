package eastwest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/yaml"

	"github.com/meshctl/meshctl/internal/kube/kubefake"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
)

// generated reads testdata/istio-generator.golden.yaml: what the real
// istioctl (the simulator's, bin/sim/istioctl) renders of Istio's
// gen-eastwest-gateway.sh output for network1 and revision asm-1 with
// GKE's internal load balancer annotations (testdata/eastwest-iop.yaml):
//
//	istioctl manifest generate -f testdata/eastwest-iop.yaml
func generated(t *testing.T) map[string]*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile("testdata/istio-generator.golden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*unstructured.Unstructured{}
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		if m != nil {
			u := &unstructured.Unstructured{Object: m}
			out[u.GetKind()] = u
		}
	}
}

func ours(t *testing.T, kind string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range Objects(Spec{Network: "network1", Revision: "asm-1", GlobalAccess: true}) {
		if o.Kind() == kind {
			// Through JSON, as the API server and the golden see numbers.
			var m map[string]any
			b, _ := o.Obj.MarshalJSON()
			if err := yaml.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			return &unstructured.Unstructured{Object: m}
		}
	}
	t.Fatalf("no %s", kind)
	return nil
}

// TestObjectsMatchIstiosGenerator compares, field by field, what istiod and
// GKE read of the gateway with what Istio's own generator makes.
func TestObjectsMatchIstiosGenerator(t *testing.T) {
	gen := generated(t)
	for _, c := range []struct {
		kind   string
		fields [][]string
	}{
		{"Service", [][]string{{"metadata", "annotations"}, {"spec", "type"}, {"spec", "selector"}, {"metadata", "labels", LabelNetwork},
			{"metadata", "labels", "istio"}, {"metadata", "labels", mesh.LabelRevision}}},
		{"Deployment", [][]string{{"spec", "selector"}, {"spec", "template", "metadata", "annotations", "inject.istio.io/templates"},
			{"spec", "template", "metadata", "labels", "sidecar.istio.io/inject"}, {"spec", "template", "metadata", "labels", LabelNetwork},
			{"spec", "template", "metadata", "labels", mesh.LabelRevision}, {"spec", "template", "spec", "serviceAccountName"},
			{"spec", "template", "spec", "securityContext"}}},
		{"HorizontalPodAutoscaler", [][]string{{"spec"}}},
		{"ServiceAccount", [][]string{{"metadata", "name"}}},
	} {
		want, got := gen[c.kind], ours(t, c.kind)
		if want == nil {
			t.Fatalf("the generator made no %s", c.kind)
		}
		for _, f := range c.fields {
			w, _, _ := unstructured.NestedFieldNoCopy(want.Object, f...)
			g, _, _ := unstructured.NestedFieldNoCopy(got.Object, f...)
			if !equalJSON(w, g) {
				t.Errorf("%s %s: ours %v, Istio's generator %v", c.kind, strings.Join(f, "."), g, w)
			}
		}
	}
	// Ports: the Service's as the generator lists them; the container's
	// numbers and the env it sets.
	wantPorts, _, _ := unstructured.NestedSlice(gen["Service"].Object, "spec", "ports")
	gotPorts, _, _ := unstructured.NestedSlice(ours(t, "Service").Object, "spec", "ports")
	for i := range wantPorts {
		w, g := wantPorts[i].(map[string]any), gotPorts[i].(map[string]any)
		if w["name"] != g["name"] || !equalJSON(w["port"], g["port"]) || !equalJSON(w["targetPort"], g["targetPort"]) {
			t.Errorf("Service port %d: ours %v, generator %v", i, g, w)
		}
	}
	container := func(u *unstructured.Unstructured) map[string]any {
		cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		return cs[0].(map[string]any)
	}
	w, g := container(gen["Deployment"]), container(ours(t, "Deployment"))
	for _, f := range []string{"name", "image", "env", "securityContext", "resources"} {
		if !equalJSON(w[f], g[f]) {
			t.Errorf("container %s: ours %v, generator %v", f, g[f], w[f])
		}
	}
	var wp, gp []string
	for _, p := range w["ports"].([]any) {
		if n := fmt.Sprint(p.(map[string]any)["containerPort"]); n != "15090" { // Envoy's metrics: the chart's, not the gateway's
			wp = append(wp, n)
		}
	}
	for _, p := range g["ports"].([]any) {
		gp = append(gp, fmt.Sprint(p.(map[string]any)["containerPort"]))
	}
	if !slices.Equal(wp, gp) {
		t.Errorf("container ports: ours %v, generator %v", gp, wp)
	}
}

func equalJSON(a, b any) bool {
	ja, _ := (&unstructured.Unstructured{Object: map[string]any{"v": a}}).MarshalJSON()
	jb, _ := (&unstructured.Unstructured{Object: map[string]any{"v": b}}).MarshalJSON()
	return bytes.Equal(ja, jb)
}

func TestGlobalAccessAnnotationAndIstiodExposure(t *testing.T) {
	objs := Objects(Spec{Network: "n", Revision: "asm-1", GlobalAccess: false, ExposeIstiod: true})
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.Kind()+"/"+o.Obj.GetName())
		if o.Kind() == "Service" && o.Obj.GetAnnotations()[AnnotationGlobalAccess] != "false" {
			t.Errorf("global access annotation %q, want false", o.Obj.GetAnnotations()[AnnotationGlobalAccess])
		}
		if o.Kind() == "VirtualService" {
			b, _ := o.Obj.MarshalJSON()
			if !strings.Contains(string(b), `"host":"istiod-asm-1.istio-system.svc.cluster.local"`) {
				t.Errorf("istiod VirtualService routes elsewhere: %s", b)
			}
		}
	}
	want := []string{"ServiceAccount/istio-eastwestgateway-service-account", "Deployment/istio-eastwestgateway", "Service/istio-eastwestgateway",
		"PodDisruptionBudget/istio-eastwestgateway", "HorizontalPodAutoscaler/istio-eastwestgateway", "Gateway/cross-network-gateway",
		"Gateway/istiod-gateway", "VirtualService/istiod-vs"}
	if !slices.Equal(kinds, want) {
		t.Errorf("objects %v, want %v", kinds, want)
	}
}

// namespaces records merge patches of istio-system.
type namespaces struct{ patches []string }

func (n *namespaces) Patch(_ context.Context, name string, pt types.PatchType, data []byte, _ metav1.PatchOptions, _ ...string) (*corev1.Namespace, error) {
	n.patches = append(n.patches, name+" "+string(pt)+" "+string(data))
	return &corev1.Namespace{}, nil
}

func istioSystem(labels map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace"}}
	u.SetName(mesh.IstioSystem)
	u.SetLabels(labels)
	return u
}

// TestPlanApplyRemove: a first plan creates every object and labels
// istio-system; after the apply a second plans keep only; a change of
// global access is an update of the Service alone; removal deletes
// meshctl's objects and only the label meshctl set.
func TestPlanApplyRemove(t *testing.T) {
	ctx := context.Background()
	f := kubefake.New()
	f.Add(GVRNamespace, istioSystem(nil))
	ns := &namespaces{}
	spec := Spec{Network: "p-vpc1", Revision: "asm-1", GlobalAccess: true}
	p, err := PlanGateway(ctx, f, spec)
	if err != nil {
		t.Fatal(err)
	}
	if p.Changes[0].Action != plan.Update || plan.Pending(p.Changes) != 7 {
		t.Fatalf("first plan: %+v", p.Changes)
	}
	if err := Apply(ctx, f, ns, p); err != nil {
		t.Fatal(err)
	}
	if want := `istio-system application/merge-patch+json {"metadata":{"annotations":{"meshctl.io/network-label":"true"},"labels":{"topology.istio.io/network":"p-vpc1"}}}`; len(ns.patches) != 1 || ns.patches[0] != want {
		t.Errorf("namespace patches %v, want %s", ns.patches, want)
	}
	// The API server now has the label (the fake namespace client does
	// not write it through).
	f.Update(GVRNamespace, istioSystem(map[string]string{LabelNetwork: "p-vpc1"}))
	again, err := PlanGateway(ctx, f, spec)
	if err != nil {
		t.Fatal(err)
	}
	if again.Pending() {
		t.Errorf("second plan changes: %+v", again.Changes)
	}
	spec.GlobalAccess = false
	off, err := PlanGateway(ctx, f, spec)
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, c := range off.Changes {
		if c.Action.Changes() {
			changed = append(changed, c.Kind+" "+strings.Join(c.Fields, ","))
		}
	}
	if want := []string{"Service metadata.annotations." + AnnotationGlobalAccess}; !slices.Equal(changed, want) {
		t.Errorf("global access off changes %v, want %v", changed, want)
	}
	if _, err := PlanGateway(ctx, f, Spec{Network: "other", Revision: "asm-1"}); err == nil || !strings.Contains(err.Error(), "labelled topology.istio.io/network=p-vpc1") {
		t.Errorf("another network than the label's: %v", err)
	}

	// Removal: not meshctl's label (no annotation), so it stays.
	rm, err := PlanRemove(ctx, f, ns)
	if err != nil {
		t.Fatal(err)
	}
	if len(rm.Changes) != 6 || rm.Changes[0].Kind != "Gateway" || rm.Changes[5].Kind != "ServiceAccount" {
		t.Errorf("removal %+v", rm.Changes)
	}
	if err := rm.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if keys := f.Keys(); len(keys) != 1 {
		t.Errorf("left after removal: %v", keys)
	}
	f.Update(GVRNamespace, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": mesh.IstioSystem, "labels": map[string]any{LabelNetwork: "p-vpc1"}, "annotations": map[string]any{AnnotationLabelled: "true"}}}})
	rm, err = PlanRemove(ctx, f, ns)
	if err != nil {
		t.Fatal(err)
	}
	if len(rm.Changes) != 1 || rm.Changes[0].Kind != "Namespace" {
		t.Fatalf("removal of meshctl's label: %+v", rm.Changes)
	}
	if err := rm.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if last := ns.patches[len(ns.patches)-1]; !strings.Contains(last, `"labels":{"topology.istio.io/network":null}`) {
		t.Errorf("label removal patch %s", last)
	}
}

// TestAnotherToolsGatewayIsRefused: meshctl does not take over objects it
// did not make.
func TestAnotherToolsGatewayIsRefused(t *testing.T) {
	f := kubefake.New()
	f.Add(GVRNamespace, istioSystem(nil))
	svc := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service"}}
	svc.SetName(Name)
	svc.SetNamespace(mesh.IstioSystem)
	f.Add(GVRService, svc)
	_, err := PlanGateway(context.Background(), f, Spec{Network: "n", Revision: "r"})
	if err == nil || !strings.Contains(err.Error(), "is not meshctl's") {
		t.Errorf("err = %v", err)
	}
}

// TestRemovalWaitsForTheLoadBalancer: GKE's finalizer keeps the deleted
// gateway Service until its load balancer is gone, and removal is done
// only then.
func TestRemovalWaitsForTheLoadBalancer(t *testing.T) {
	ctx := context.Background()
	f := kubefake.New()
	f.Add(GVRNamespace, istioSystem(nil))
	ns := &namespaces{}
	p, err := PlanGateway(ctx, f, Spec{Network: "p-vpc1", Revision: "asm-1", GlobalAccess: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(ctx, f, ns, p); err != nil {
		t.Fatal(err)
	}
	// The controller: a deleted Service comes back terminating, and
	// leaves after two more reads.
	var terminating *unstructured.Unstructured
	f.AfterWrite = func(o *kubefake.Objects, verb string, gvr schema.GroupVersionResource, obj *unstructured.Unstructured) {
		if verb == "delete" && gvr == GVRService && terminating == nil {
			terminating = obj.DeepCopy()
			o.Add(gvr, terminating)
		}
	}
	reads := 0
	f.Fail = func(verb string, gvr schema.GroupVersionResource, key string) error {
		if verb == "get" && gvr == GVRService && terminating != nil {
			if reads++; reads == 2 {
				f.Remove(gvr, mesh.IstioSystem, Name)
			}
		}
		return nil
	}
	rm, err := PlanRemove(ctx, f, ns)
	if err != nil {
		t.Fatal(err)
	}
	if err := rm.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if reads < 2 || f.Stored(GVRService, mesh.IstioSystem, Name) != nil {
		t.Errorf("removal returned after %d reads of the terminating Service", reads)
	}
}
