package kube_test

import (
	"context"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/kube/kubefake"
)

// Each distinct read reaches the cluster once, however many ask for it at
// the same time; each caller gets its own copy (a change to one is not
// seen by the others), a miss is remembered as a miss, and dry runs pass
// through every time.
func TestReadMemoAnswersEachReadOnce(t *testing.T) {
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	f := kubefake.New()
	f.Add(gvr, &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"a": "b"}}})
	var mu sync.Mutex
	calls := map[string]int{}
	f.Fail = func(verb string, _ schema.GroupVersionResource, key string) error {
		mu.Lock()
		defer mu.Unlock()
		calls[verb+" "+key]++
		return nil
	}
	m := kube.NewReadMemo(f)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ns, err := m.Get(ctx, gvr, "", "shop")
			if err != nil {
				t.Error(err)
				return
			}
			ns.SetLabels(map[string]string{"changed": "by one caller"})
			if _, err := m.Get(ctx, gvr, "", "missing"); !kube.IsNotFound(err) {
				t.Errorf("missing namespace: %v", err)
			}
			items, err := m.List(ctx, gvr, "", "a=b")
			if err != nil || len(items) != 1 {
				t.Errorf("list: %v, %d items", err, len(items))
				return
			}
			items[0].SetName("renamed")
		}()
	}
	wg.Wait()
	if ns, _ := m.Get(ctx, gvr, "", "shop"); ns.GetLabels()["a"] != "b" {
		t.Errorf("a caller's change leaked into the memo: %v", ns.GetLabels())
	}
	if items, _ := m.List(ctx, gvr, "", "a=b"); items[0].GetName() != "shop" {
		t.Errorf("a caller's change leaked into the memo: %s", items[0].GetName())
	}
	if _, err := m.List(ctx, gvr, "", "a=c"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		ns, _ := m.Get(ctx, gvr, "", "shop")
		if _, err := m.Apply(ctx, gvr, ns, true); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int{"get /shop": 1, "get /missing": 1, "list /": 2, "dry-run /shop": 2}
	for k, n := range want {
		if calls[k] != n {
			t.Errorf("%s reached the cluster %d times, want %d (all: %v)", k, calls[k], n, calls)
		}
	}
}
