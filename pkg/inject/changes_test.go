package inject

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/preflight"
	"k8s.io/apimachinery/pkg/runtime"
)

// denyAccess refuses what its set names ("patch deployments.apps" in a
// namespace, by name or not) and records what was asked.
type denyAccess struct {
	mu     sync.Mutex
	denied map[string]bool
	asked  []preflight.KubeAccess
}

func (d *denyAccess) Allowed(_ context.Context, a preflight.KubeAccess) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.asked = append(d.asked, a)
	return !d.denied[a.Verb+" "+a.GroupResource()], nil
}

func injectFixture(t *testing.T) *fakeCluster {
	objs := []runtime.Object{injector("asm-1"), injector("asm-2"), namespace("shop", revLabel("asm-1"))}
	objs = append(objs, withPods(deployment("shop", "web", 2), "asm-1")...)
	return newFakeCluster(t, objs...)
}

// Every write inject makes (the namespace's labels, each restart) is one
// the permissions derived from its planned changes allow: the changes are
// the plan's, and the check asks for each of them.
func TestChangesCoverEveryWrite(t *testing.T) {
	c := injectFixture(t)
	access := &denyAccess{}
	res, _ := run(t, c, Options{Namespaces: []string{"shop"}, Revision: "asm-2", Preflight: &preflight.Checker{Access: access}})
	perms := preflight.Required(res.Changes(false))
	allowed := map[string]bool{}
	for _, p := range perms {
		k := p.Kubernetes
		allowed[k.Verb+" "+k.Resource+" "+k.Namespace+"/"+k.Name] = true
	}
	writes := 0
	for _, a := range c.Actions() {
		if a.GetVerb() == "get" || a.GetVerb() == "list" || a.GetVerb() == "watch" || a.GetSubresource() == "status" {
			continue // reads, and the fake's rollout controller
		}
		writes++
		name := ""
		if n, ok := a.(interface{ GetName() string }); ok {
			name = n.GetName()
		}
		key := a.GetVerb() + " " + a.GetResource().Resource + " " + a.GetNamespace() + "/" + name
		if a.GetResource().Resource == "namespaces" {
			key = a.GetVerb() + " namespaces /" + name
		}
		if !allowed[key] {
			t.Errorf("inject did %q, which the permission check did not ask for (asked %v)", key, perms)
		}
	}
	if writes < 2 || res.Permissions == nil || res.Permissions.Missing != 0 || !res.Permissions.Checked() {
		t.Errorf("writes %d, report %+v", writes, res.Permissions)
	}
}

// A caller that may not restart Deployments is stopped before the first
// label, told the permission and the Role that grants it.
func TestMissingPermissionChangesNothing(t *testing.T) {
	c := injectFixture(t)
	access := &denyAccess{denied: map[string]bool{"patch deployments.apps": true}}
	_, err := Run(context.Background(), c, &ui.Recorder{}, Options{Namespaces: []string{"shop"}, Revision: "asm-2",
		Now: fixedNow, Preflight: &preflight.Checker{Access: access}})
	if err == nil || !strings.Contains(err.Error(), "patch deployments.apps web in namespace shop, to restart Deployment shop/web") {
		t.Fatalf("err %v", err)
	}
	for _, a := range c.Actions() {
		if v := a.GetVerb(); v != "get" && v != "list" && v != "watch" {
			t.Errorf("with a permission missing inject did %s %s", v, a.GetResource().Resource)
		}
	}
}

// A dry run lists the permissions, in text and JSON, and changes nothing.
func TestDryRunListsPermissions(t *testing.T) {
	c := injectFixture(t)
	res, _ := run(t, c, Options{Namespaces: []string{"shop"}, Revision: "asm-2", DryRun: true, Preflight: &preflight.Checker{Access: &denyAccess{}}})
	var b strings.Builder
	if err := res.RenderText(&b, ui.Styles{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Permissions this plan needs (2, all held)", "patch namespaces shop", "patch deployments.apps web"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
	if js := mustJSON(t, res); !strings.Contains(js, `"verb": "patch"`) && !strings.Contains(js, `"verb":"patch"`) {
		t.Errorf("json lacks the permissions: %s", js)
	}
}
