package stubs

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// recorder is a testing.TB that keeps errors and cleanups instead of
// failing, so the registry's own failures can be checked.
type recorder struct {
	testing.TB
	errs     []string
	cleanups []func()
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) end() []string {
	for _, f := range r.cleanups {
		f()
	}
	return r.errs
}

func TestUnusedStubFails(t *testing.T) {
	rec := &recorder{TB: t}
	r := New(rec)
	r.Stub("firewalls.list fails")
	r.Stub("clusters.get fails")
	r.Call("clusters.get fails")
	if got := rec.end(); len(got) != 1 || !strings.Contains(got[0], "firewalls.list fails was never made") {
		t.Errorf("errors %v", got)
	}
}

func TestUnexpectedCallFails(t *testing.T) {
	rec := &recorder{TB: t}
	r := New(rec)
	r.Allow("projects.get")
	if !r.Call("projects.get") || r.Call("firewalls.insert") {
		t.Error("Call: allowed refused or unexpected accepted")
	}
	if got := rec.end(); len(got) != 1 || !strings.Contains(got[0], "unexpected call firewalls.insert") {
		t.Errorf("errors %v", got)
	}
}

func TestReactAndReadOnly(t *testing.T) {
	rec := &recorder{TB: t}
	r := New(rec)
	kc := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}})
	r.ReadOnly(kc)
	r.React(kc, "list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	r.React(kc, "list", "services", func(k8stesting.Action) (bool, runtime.Object, error) { return false, nil, nil })
	if _, err := kc.CoreV1().Pods("shop").List(t.Context(), metav1.ListOptions{}); err == nil {
		t.Error("the stub did not answer")
	}
	if err := kc.CoreV1().Namespaces().Delete(t.Context(), "shop", metav1.DeleteOptions{}); err == nil {
		t.Error("a write went through a read-only fake")
	}
	got := strings.Join(rec.end(), "\n")
	if !strings.Contains(got, "unexpected write: delete namespaces") || !strings.Contains(got, "list services was never made") || strings.Contains(got, "list pods") {
		t.Errorf("errors:\n%s", got)
	}
}
