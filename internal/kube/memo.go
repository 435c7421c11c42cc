package kube

import (
	"context"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// ReadMemo is Objects that answers each distinct read (a Get of one object,
// a List of one selector) once: later and concurrent identical reads get
// copies of the first answer, error included. It is for a pass that only
// reads and dry-runs, such as planning many Services at once, where each
// plan reads the same namespace, revisions and cluster identity: one read
// of each describes the cluster at one moment for every plan, instead of
// each plan spending the client's rate limit on its own. Apply (dry run or
// not) and Delete pass through, and forget nothing: use a ReadMemo only
// for the reading pass, never for one that writes what it reads.
type ReadMemo struct {
	Objects
	mu    sync.Mutex
	reads map[string]*memoRead
}

type memoRead struct {
	once sync.Once
	one  *unstructured.Unstructured
	many []unstructured.Unstructured
	err  error
}

// NewReadMemo wraps c.
func NewReadMemo(c Objects) *ReadMemo {
	return &ReadMemo{Objects: c, reads: map[string]*memoRead{}}
}

func (m *ReadMemo) read(key string) *memoRead {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.reads[key]
	if !ok {
		r = &memoRead{}
		m.reads[key] = r
	}
	return r
}

func memoKey(verb string, gvr schema.GroupVersionResource, parts ...string) string {
	return strings.Join(append([]string{verb, gvr.String()}, parts...), "\x00")
}

// Get answers from the first Get of the same object.
func (m *ReadMemo) Get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error) {
	r := m.read(memoKey("get", gvr, namespace, name))
	r.once.Do(func() { r.one, r.err = m.Objects.Get(ctx, gvr, namespace, name) })
	if r.err != nil {
		return nil, r.err
	}
	return r.one.DeepCopy(), nil
}

// List answers from the first List of the same namespace and selector.
func (m *ReadMemo) List(ctx context.Context, gvr schema.GroupVersionResource, namespace, selector string) ([]unstructured.Unstructured, error) {
	r := m.read(memoKey("list", gvr, namespace, selector))
	r.once.Do(func() { r.many, r.err = m.Objects.List(ctx, gvr, namespace, selector) })
	if r.err != nil {
		return nil, r.err
	}
	out := make([]unstructured.Unstructured, len(r.many))
	for i := range r.many {
		out[i] = *r.many[i].DeepCopy()
	}
	return out, nil
}

// Apply passes through.
func (m *ReadMemo) Apply(ctx context.Context, gvr schema.GroupVersionResource, obj *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, error) {
	return m.Objects.Apply(ctx, gvr, obj, dryRun)
}

// Delete passes through.
func (m *ReadMemo) Delete(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string, uid types.UID, foreground bool) error {
	return m.Objects.Delete(ctx, gvr, namespace, name, uid, foreground)
}
