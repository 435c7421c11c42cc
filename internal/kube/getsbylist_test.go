package kube_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/kube/kubefake"
)

var gvrServices = schema.GroupVersionResource{Version: "v1", Resource: "services"}

func service(ns, name, owner string) *corev1.Service {
	return &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"owner": owner}}}
}

// counted counts the fake's calls by verb.
func counted(f *kubefake.Objects, forbidList bool) func() map[string]int {
	var mu sync.Mutex
	n := map[string]int{}
	f.Fail = func(verb string, _ schema.GroupVersionResource, _ string) error {
		mu.Lock()
		defer mu.Unlock()
		n[verb]++
		if verb == "list" && forbidList {
			return apierrors.NewForbidden(gvrServices.GroupResource(), "", errors.New("no cluster-wide list"))
		}
		return nil
	}
	return func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for k, v := range n {
			out[k] = v
		}
		return out
	}
}

// Many waiters asking at once share one List (or two: those asking while
// the first runs wait for the next), each gets its own object, and a Get
// asked after a change sees it.
func TestGetsByListShareOneList(t *testing.T) {
	f := kubefake.New()
	for _, ns := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		f.Add(gvrServices, service(ns, "gw", "meshctl"))
	}
	calls := counted(f, false)
	// The first List is held until every waiter has asked: those asked
	// meanwhile share the next List.
	var arrived sync.WaitGroup
	arrived.Add(40)
	hold := f.Fail
	var first sync.Once
	f.Fail = func(verb string, gvr schema.GroupVersionResource, key string) error {
		if verb == "list" {
			first.Do(arrived.Wait)
		}
		return hold(verb, gvr, key)
	}
	g := kube.NewGetsByList(context.Background(), f, "owner=meshctl", gvrServices)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 5 {
		for _, ns := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				arrived.Done()
				u, err := g.Get(ctx, gvrServices, ns, "gw")
				if err != nil || u.GetNamespace() != ns {
					t.Errorf("get %s/gw: %v, %v", ns, u, err)
				}
			}()
		}
	}
	wg.Wait()
	if n := calls(); n["get"] != 0 || n["list"] < 1 || n["list"] > 3 {
		t.Errorf("40 Gets at once made %v, want two Lists (a third for a waiter the scheduler held back) and no Get", n)
	}
	// A change made before a Get is asked is in its answer.
	f.Update(gvrServices, func() *corev1.Service {
		s := service("a", "gw", "meshctl")
		s.Annotations = map[string]string{"neg": "ready"}
		return s
	}())
	if u, err := g.Get(ctx, gvrServices, "a", "gw"); err != nil || u.GetAnnotations()["neg"] != "ready" {
		t.Errorf("after the change: %v, %v", u, err)
	}
	// What the List does not select is read on its own; so is what is not found.
	f.Add(gvrServices, service("a", "other", "someone"))
	if u, err := g.Get(ctx, gvrServices, "a", "other"); err != nil || u.GetName() != "other" {
		t.Errorf("unselected: %v, %v", u, err)
	}
	if _, err := g.Get(ctx, gvrServices, "a", "missing"); !kube.IsNotFound(err) {
		t.Errorf("missing: %v", err)
	}
}

// Where the caller may not list cluster-wide, each Get is its own after
// the first refusal.
func TestGetsByListFallsBackToGets(t *testing.T) {
	f := kubefake.New()
	f.Add(gvrServices, service("a", "gw", "meshctl"))
	calls := counted(f, true)
	g := kube.NewGetsByList(context.Background(), f, "owner=meshctl", gvrServices)
	for range 3 {
		if u, err := g.Get(context.Background(), gvrServices, "a", "gw"); err != nil || u.GetName() != "gw" {
			t.Fatalf("get: %v, %v", u, err)
		}
	}
	if n := calls(); n["list"] != 1 || n["get"] != 3 {
		t.Errorf("calls %v, want one refused List and three Gets", n)
	}
}
