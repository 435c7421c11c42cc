package kube

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestChangedFields(t *testing.T) {
	live := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "a", "resourceVersion": "7", "generation": int64(2),
			"managedFields": []any{"x"}, "labels": map[string]any{"k": "v"}},
		"spec":   map[string]any{"replicas": int64(3), "ports": []any{int64(80)}},
		"status": map[string]any{"ready": int64(3)},
	}}
	same := live.DeepCopy()
	same.SetResourceVersion("8")
	same.SetManagedFields(nil)
	unstructured.RemoveNestedField(same.Object, "status")
	if got := ChangedFields(live, same); len(got) != 0 {
		t.Errorf("only server-set fields differ, got %v", got)
	}
	changed := live.DeepCopy()
	_ = unstructured.SetNestedField(changed.Object, int64(4), "spec", "replicas")
	_ = unstructured.SetNestedSlice(changed.Object, []any{int64(80), int64(443)}, "spec", "ports")
	_ = unstructured.SetNestedField(changed.Object, "w", "metadata", "labels", "k2")
	want := []string{"metadata.labels.k2", "spec.ports", "spec.replicas"}
	if got := ChangedFields(live, changed); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestToUnstructuredDropsWhatTheServerWrites(t *testing.T) {
	d := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: metav1.ObjectMeta{Name: "x"}}
	u, err := ToUnstructured(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := u.Object["status"]; ok {
		t.Error("status kept")
	}
	if _, ok := u.Object["metadata"].(map[string]any)["creationTimestamp"]; ok {
		t.Error("null creationTimestamp kept")
	}
	var back appsv1.Deployment
	if err := FromUnstructured(u, &back); err != nil || back.Name != "x" {
		t.Errorf("round trip: %v %+v", err, back.ObjectMeta)
	}
}
