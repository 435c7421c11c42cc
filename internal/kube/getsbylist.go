package kube

import (
	"context"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GetsByList is Objects that answers the Gets of some resources, asked by
// many waiters at once, with one cluster-wide List of a label selector:
// twenty gateways each polling its Deployment every second then cost a
// List a second, not twenty Gets. Each Get is answered by a List that
// began after the Get was asked, so it never sees older state than a Get
// of its own would; the Gets that arrive while a List runs wait for the
// next one, which answers them all. An object the List does not hold (not
// selected, or made after the List) is read with a Get of its own, and
// where the caller may not List cluster-wide, every Get is its own.
// Everything else passes through.
type GetsByList struct {
	Objects
	ctx       context.Context
	selector  string
	resources map[schema.GroupVersionResource]bool

	mu      sync.Mutex
	next    map[schema.GroupVersionResource]*listBatch    // gathering Gets; its List has not begun
	running map[schema.GroupVersionResource]chan struct{} // closed when the running List ends
	off     map[schema.GroupVersionResource]bool          // a List was refused
}

type listBatch struct {
	done  chan struct{}
	items map[string]*unstructured.Unstructured // by namespace/name
	err   error
}

// NewGetsByList answers Gets of resources from Lists of selector, made
// with ctx (the command's: one List serves many callers).
func NewGetsByList(ctx context.Context, c Objects, selector string, resources ...schema.GroupVersionResource) *GetsByList {
	g := &GetsByList{Objects: c, ctx: ctx, selector: selector, resources: map[schema.GroupVersionResource]bool{},
		next: map[schema.GroupVersionResource]*listBatch{}, running: map[schema.GroupVersionResource]chan struct{}{},
		off: map[schema.GroupVersionResource]bool{}}
	for _, r := range resources {
		g.resources[r] = true
	}
	return g
}

// Get answers from the next List of gvr, or with a Get of its own.
func (g *GetsByList) Get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error) {
	if !g.resources[gvr] {
		return g.Objects.Get(ctx, gvr, namespace, name)
	}
	g.mu.Lock()
	if g.off[gvr] {
		g.mu.Unlock()
		return g.Objects.Get(ctx, gvr, namespace, name)
	}
	b := g.next[gvr]
	if b == nil {
		b = &listBatch{done: make(chan struct{})}
		g.next[gvr] = b
		go g.list(gvr, b)
	}
	g.mu.Unlock()
	select {
	case <-b.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if u, ok := b.items[namespace+"/"+name]; ok && b.err == nil {
		return u.DeepCopy(), nil
	}
	return g.Objects.Get(ctx, gvr, namespace, name)
}

// list runs batch b's List once the running one (if any) has ended; the
// Gets asked until it begins join b.
func (g *GetsByList) list(gvr schema.GroupVersionResource, b *listBatch) {
	g.mu.Lock()
	prev := g.running[gvr]
	g.mu.Unlock()
	if prev != nil {
		<-prev
	}
	g.mu.Lock()
	delete(g.next, gvr) // Gets from now on wait for the next List
	mine := make(chan struct{})
	g.running[gvr] = mine
	g.mu.Unlock()

	items, err := g.List(g.ctx, gvr, "", g.selector)
	b.err = err
	if err == nil {
		b.items = make(map[string]*unstructured.Unstructured, len(items))
		for i := range items {
			b.items[items[i].GetNamespace()+"/"+items[i].GetName()] = &items[i]
		}
	}
	g.mu.Lock()
	if apierrors.IsForbidden(err) {
		g.off[gvr] = true
	}
	if g.running[gvr] == mine {
		delete(g.running, gvr)
	}
	g.mu.Unlock()
	close(mine)
	close(b.done)
}
