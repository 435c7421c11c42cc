// Package stubs keeps unit-test fakes honest, as the GitHub CLI's httpmock
// registry does: a test stubs the calls it means the code under test to
// make (an error to return, a reaction of a client-go fake), the fake
// reports every call it serves, and when the test ends every stub must have
// been used and every call must have been stubbed or allowed. A test that
// stubs a failure the code never meets then fails instead of passing for
// the wrong reason.
//
// Only tests import it (it imports package testing); `go list -deps
// ./cmd/meshctl` does not list it.
package stubs

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// Registry records the stubs of one test's fakes and the calls they served.
type Registry struct {
	t     testing.TB
	mu    sync.Mutex
	stubs map[string]int // stubbed call -> times made
	allow map[string]bool
	order []string
}

// New returns a registry that verifies itself when t ends.
func New(t testing.TB) *Registry {
	r := &Registry{t: t, stubs: map[string]int{}, allow: map[string]bool{}}
	t.Cleanup(r.verify)
	return r
}

// Stub declares a call the test means the code to make at least once.
func (r *Registry) Stub(call string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.stubs[call]; !ok {
		r.order = append(r.order, call)
	}
	r.stubs[call] += 0
}

// Allow declares calls the code may make or not (reads a fake answers from
// its state).
func (r *Registry) Allow(calls ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range calls {
		r.allow[c] = true
	}
}

// Call records a call a fake serves. One neither stubbed nor allowed fails
// the test; ok reports whether it was expected.
func (r *Registry) Call(call string) (ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, stubbed := r.stubs[call]; stubbed {
		r.stubs[call]++
		return true
	}
	if r.allow[call] {
		return true
	}
	r.t.Errorf("unexpected call %s", call)
	return false
}

// Reactor is a client-go fake clientset (kubernetes or dynamic).
type Reactor interface {
	PrependReactor(verb, resource string, fn k8stesting.ReactionFunc)
}

// React stubs verb on resource of a client-go fake with fn: fn must run at
// least once before the test ends (whether it answers or passes the call
// on).
func (r *Registry) React(f Reactor, verb, resource string, fn k8stesting.ReactionFunc) {
	call := verb + " " + resource
	r.Stub(call)
	f.PrependReactor(verb, resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
		r.Call(call)
		return fn(a)
	})
}

// ReadOnly fails the test on any write to f (create, update, patch,
// delete) except those allowed, given as "verb resource" or "verb
// resource/subresource" (e.g. "create selfsubjectaccessreviews", or
// "update deployments/status" for a test that plays a controller through
// f). Stubs added later go before it and still answer the writes they stub.
func (r *Registry) ReadOnly(f Reactor, allowed ...string) {
	f.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		call := a.GetVerb() + " " + a.GetResource().Resource
		if sub := a.GetSubresource(); sub != "" {
			call += "/" + sub
		}
		switch a.GetVerb() {
		case "get", "list", "watch":
			return false, nil, nil
		}
		if slices.Contains(allowed, call) {
			return false, nil, nil
		}
		r.t.Errorf("unexpected write: %s", call)
		return true, nil, fmt.Errorf("the test does not allow %s", call)
	})
}

func (r *Registry) verify() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.order {
		if r.stubs[c] == 0 {
			r.t.Errorf("stubbed call %s was never made", c)
		}
	}
}
