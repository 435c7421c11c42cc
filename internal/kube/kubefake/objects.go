// Package kubefake is an in-memory kube.Objects for unit tests. It keeps
// objects by resource, namespace and name, records every write, and lets a
// test play the cluster's controllers after each write.
//
// Apply merges the applied object into the stored one (maps merged, other
// values replaced), which is server-side apply's effect for objects a
// single manager owns. It does not default fields as an API server would.
//
// Only tests import it; `go list -deps ./cmd/meshctl` does not list it.
package kubefake

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Objects is the fake. The zero value is not usable; call New.
type Objects struct {
	mu      sync.Mutex
	objs    map[string]*unstructured.Unstructured
	writes  []string
	version int

	// AfterWrite, when set, runs after every stored write (not dry runs),
	// without the lock held: tests use it to act as controllers (roll out
	// a Deployment, write a Service's NEG status).
	AfterWrite func(o *Objects, verb string, gvr schema.GroupVersionResource, obj *unstructured.Unstructured)
	// Fail, when set, can fail a call before it happens: it gets the verb
	// ("get", "list", "apply", "dry-run", "delete"), the resource and the
	// object's namespace/name.
	Fail func(verb string, gvr schema.GroupVersionResource, key string) error
}

// FailWhen stubs failures: calls for which fail returns an error fail with
// it. A test whose stubbed failure no call meets fails when it ends, so it
// cannot pass for the wrong reason.
func (f *Objects) FailWhen(t testing.TB, fail func(verb string, gvr schema.GroupVersionResource, key string) error) {
	var mu sync.Mutex
	met := 0
	f.Fail = func(verb string, gvr schema.GroupVersionResource, key string) error {
		err := fail(verb, gvr, key)
		if err != nil {
			mu.Lock()
			met++
			mu.Unlock()
		}
		return err
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if met == 0 {
			t.Errorf("kubefake: the stubbed failure was never met")
		}
	})
}

// New returns an empty fake.
func New() *Objects {
	return &Objects{objs: map[string]*unstructured.Unstructured{}}
}

func key(gvr schema.GroupVersionResource, namespace, name string) string {
	return gvr.Group + "/" + gvr.Resource + "/" + namespace + "/" + name
}

// Add stores obj as is (plus a resourceVersion and UID), without
// recording a write. obj may be a typed object or an unstructured one.
func (f *Objects) Add(gvr schema.GroupVersionResource, obj any) *unstructured.Unstructured {
	u := toUnstructured(obj)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.store(gvr, u)
	return u.DeepCopy()
}

func (f *Objects) store(gvr schema.GroupVersionResource, u *unstructured.Unstructured) {
	f.version++
	u.SetResourceVersion(strconv.Itoa(f.version))
	if u.GetUID() == "" {
		u.SetUID(types.UID(fmt.Sprintf("uid-%s-%d", u.GetName(), f.version)))
	}
	if u.GetGeneration() == 0 {
		u.SetGeneration(1)
	}
	f.objs[key(gvr, u.GetNamespace(), u.GetName())] = u
}

// Update replaces a stored object (as a controller would), without
// recording a write.
func (f *Objects) Update(gvr schema.GroupVersionResource, obj any) {
	u := toUnstructured(obj)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.store(gvr, u)
}

func toUnstructured(obj any) *unstructured.Unstructured {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u.DeepCopy()
	}
	b, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// Writes returns the writes so far, as "apply Kind ns/name" or
// "delete resource ns/name".
func (f *Objects) Writes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.writes)
}

// Keys returns "resource ns/name" of every stored object, sorted.
func (f *Objects) Keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, u := range f.objs {
		out = append(out, fmt.Sprintf("%s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName()))
	}
	sort.Strings(out)
	return out
}

// Stored returns a copy of a stored object, or nil.
func (f *Objects) Stored(gvr schema.GroupVersionResource, namespace, name string) *unstructured.Unstructured {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u, ok := f.objs[key(gvr, namespace, name)]; ok {
		return u.DeepCopy()
	}
	return nil
}

func (f *Objects) fail(verb string, gvr schema.GroupVersionResource, namespace, name string) error {
	if f.Fail == nil {
		return nil
	}
	return f.Fail(verb, gvr, namespace+"/"+name)
}

func notFound(gvr schema.GroupVersionResource, name string) error {
	return apierrors.NewNotFound(schema.GroupResource{Group: gvr.Group, Resource: gvr.Resource}, name)
}

// Get implements kube.Objects.
func (f *Objects) Get(_ context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error) {
	if err := f.fail("get", gvr, namespace, name); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.objs[key(gvr, namespace, name)]
	if !ok {
		return nil, notFound(gvr, name)
	}
	return u.DeepCopy(), nil
}

// List implements kube.Objects.
func (f *Objects) List(_ context.Context, gvr schema.GroupVersionResource, namespace, selector string) ([]unstructured.Unstructured, error) {
	if err := f.fail("list", gvr, namespace, ""); err != nil {
		return nil, err
	}
	sel, err := labels.Parse(selector)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []unstructured.Unstructured
	for k, u := range f.objs {
		if !strings.HasPrefix(k, gvr.Group+"/"+gvr.Resource+"/") {
			continue
		}
		if namespace != "" && u.GetNamespace() != namespace {
			continue
		}
		if !sel.Matches(labels.Set(u.GetLabels())) {
			continue
		}
		out = append(out, *u.DeepCopy())
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].GetNamespace()+out[i].GetName() < out[j].GetNamespace()+out[j].GetName()
	})
	return out, nil
}

// Apply implements kube.Objects. Every call that is not a dry run counts
// as a write, even when it changes nothing, as it would on a real cluster.
func (f *Objects) Apply(_ context.Context, gvr schema.GroupVersionResource, obj *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, error) {
	verb := "apply"
	if dryRun {
		verb = "dry-run"
	}
	if err := f.fail(verb, gvr, obj.GetNamespace(), obj.GetName()); err != nil {
		return nil, err
	}
	f.mu.Lock()
	k := key(gvr, obj.GetNamespace(), obj.GetName())
	live, exists := f.objs[k]
	result := obj.DeepCopy()
	if exists {
		result = live.DeepCopy()
		merge(result.Object, obj.DeepCopy().Object)
	}
	if dryRun {
		f.mu.Unlock()
		return result, nil
	}
	f.writes = append(f.writes, fmt.Sprintf("%s %s %s/%s", verb, obj.GetKind(), obj.GetNamespace(), obj.GetName()))
	if exists && equalValues(live.Object, result.Object) {
		f.mu.Unlock()
		return result, nil
	}
	if exists && !equalValues(live.Object["spec"], result.Object["spec"]) {
		result.SetGeneration(live.GetGeneration() + 1)
	}
	f.store(gvr, result)
	f.mu.Unlock()
	if f.AfterWrite != nil {
		f.AfterWrite(f, "apply", gvr, result.DeepCopy())
	}
	return result.DeepCopy(), nil
}

// Delete implements kube.Objects.
func (f *Objects) Delete(_ context.Context, gvr schema.GroupVersionResource, namespace, name string, uid types.UID, _ bool) error {
	if err := f.fail("delete", gvr, namespace, name); err != nil {
		return err
	}
	f.mu.Lock()
	k := key(gvr, namespace, name)
	u, ok := f.objs[k]
	if !ok {
		f.mu.Unlock()
		return notFound(gvr, name)
	}
	if uid != "" && u.GetUID() != uid {
		f.mu.Unlock()
		return apierrors.NewConflict(schema.GroupResource{Group: gvr.Group, Resource: gvr.Resource}, name, fmt.Errorf("UID precondition failed"))
	}
	delete(f.objs, k)
	f.writes = append(f.writes, fmt.Sprintf("delete %s %s/%s", u.GetKind(), namespace, name))
	f.mu.Unlock()
	if f.AfterWrite != nil {
		f.AfterWrite(f, "delete", gvr, u)
	}
	return nil
}

// Remove deletes a stored object without recording a write (a controller's
// doing).
func (f *Objects) Remove(gvr schema.GroupVersionResource, namespace, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.objs, key(gvr, namespace, name))
}

// merge overlays src onto dst: maps merge, anything else replaces.
func merge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

func equalValues(a, b any) bool {
	ab, _ := json.Marshal(a)
	bb, _ := json.Marshal(b)
	return string(ab) == string(bb)
}
