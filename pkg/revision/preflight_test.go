package revision

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshctl/meshctl/internal/kube/kubefake"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// rbac plays the API server's authorizer: it allows everything but the
// denied "verb resource.group" pairs, and remembers what it allowed.
type rbac struct {
	mu      sync.Mutex
	denied  []string
	allowed []preflight.KubeAccess
}

func (r *rbac) Allowed(_ context.Context, a preflight.KubeAccess) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if slices.Contains(r.denied, a.Verb+" "+a.GroupResource()) {
		return false, nil
	}
	r.allowed = append(r.allowed, a)
	return true, nil
}

// permits reports whether the check allowed verb on the object: for the
// namespace (no name) or for that object by name.
func (r *rbac) permits(verb string, gvr schema.GroupVersionResource, namespace, name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.allowed {
		if a.Verb == verb && a.Group == gvr.Group && a.Resource == gvr.Resource && a.Namespace == namespace && (a.Name == "" || a.Name == name) {
			return true
		}
	}
	return false
}

// authorizeWrites makes every write to f need what RBAC checks for it (a
// server-side apply is a patch, and a create too when the object is new; a
// delete is a delete) and fail unless the permission check asked for it
// and was allowed: the writes are the judge of the plan's permissions, not
// a second list of them.
func authorizeWrites(f *kubefake.Objects, r *rbac, refused *[]string) {
	var mu sync.Mutex
	f.Fail = func(verb string, gvr schema.GroupVersionResource, key string) error {
		namespace, name, _ := strings.Cut(key, "/")
		var needs []string
		switch verb {
		case "apply":
			needs = []string{"patch"}
			if f.Stored(gvr, namespace, name) == nil {
				needs = append(needs, "create")
			}
		case "delete":
			needs = []string{"delete"}
		}
		for _, v := range needs {
			if !r.permits(v, gvr, namespace, name) {
				mu.Lock()
				*refused = append(*refused, fmt.Sprintf("%s %s %s", v, gvr.Resource, key))
				mu.Unlock()
				return errors.New("forbidden")
			}
		}
		return nil
	}
}

// Every write of a tag set (new, moved, the default tag), a tag removal
// and a revision's uninstall is covered by what their plans asked.
func TestPlanPermissionsCoverTheWrites(t *testing.T) {
	f := kubefake.New()
	installRevision(t, f, "asm-1")
	installRevision(t, f, "asm-2")
	legacy := canonicalWebhook(t, "default")
	legacy.Name, legacy.Labels = mesh.LegacyInjector, map[string]string{"app": "sidecar-injector"}
	f.Add(kMutatingWebhook.Resource, legacy)
	removePodsWithIstiod(f)
	ctx := context.Background()
	steps := []struct {
		name string
		run  func(*preflight.Checker) (*preflight.Report, error)
	}{
		{"set a new tag", func(c *preflight.Checker) (*preflight.Report, error) {
			res, err := SetTag(ctx, f, ui.Discard, TagOptions{Tag: "prod", Revision: "asm-1", Preflight: c})
			return res.Permissions, err
		}},
		{"move it", func(c *preflight.Checker) (*preflight.Report, error) {
			res, err := SetTag(ctx, f, ui.Discard, TagOptions{Tag: "prod", Revision: "asm-2", Preflight: c})
			return res.Permissions, err
		}},
		{"set the default tag", func(c *preflight.Checker) (*preflight.Report, error) {
			res, err := SetTag(ctx, f, ui.Discard, TagOptions{Tag: "default", Revision: "asm-2", Preflight: c})
			return res.Permissions, err
		}},
		{"remove a tag", func(c *preflight.Checker) (*preflight.Report, error) {
			res, err := RemoveTag(ctx, f, ui.Discard, RemoveTagOptions{Tag: "prod", Preflight: c})
			return res.Permissions, err
		}},
		{"uninstall a revision", func(c *preflight.Checker) (*preflight.Report, error) {
			res, err := Uninstall(ctx, f, ui.Discard, UninstallOptions{Revision: "asm-1", Preflight: c})
			if res == nil {
				return nil, err
			}
			return res.Permissions, err
		}},
	}
	for _, st := range steps {
		r := &rbac{}
		var refused []string
		authorizeWrites(f, r, &refused)
		writes := len(f.Writes())
		perms, err := st.run(&preflight.Checker{Access: r})
		if err != nil || len(refused) > 0 {
			t.Fatalf("%s: the writes needed what the plan did not ask for: %v\nrefused: %v\nasked: %v", st.name, err, refused, r.allowed)
		}
		if len(f.Writes()) == writes || perms == nil || !perms.Checked() {
			t.Fatalf("%s: wrote %v, checked %+v: the step must write and check", st.name, f.Writes()[writes:], perms)
		}
	}
}

// A caller denied one permission a plan needs is refused before the
// first write, naming the permission and the step that needs it.
func TestMissingPermissionStopsBeforeTheFirstWrite(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, deny, want string
		run              func(*kubefake.Objects, *preflight.Checker) error
	}{
		{"tag set", "create mutatingwebhookconfigurations.admissionregistration.k8s.io",
			"create mutatingwebhookconfigurations.admissionregistration.k8s.io in cluster, to create MutatingWebhookConfiguration istio-revision-tag-prod",
			func(f *kubefake.Objects, c *preflight.Checker) error {
				_, err := SetTag(ctx, f, ui.Discard, TagOptions{Tag: "prod", Revision: "asm-1", Preflight: c})
				return err
			}},
		{"tag remove", "delete services",
			"delete services istiod-revision-tag-canary in namespace istio-system, to delete Service istio-system/istiod-revision-tag-canary",
			func(f *kubefake.Objects, c *preflight.Checker) error {
				_, err := RemoveTag(ctx, f, ui.Discard, RemoveTagOptions{Tag: "canary", Preflight: c})
				return err
			}},
		{"uninstall", "delete clusterroles.rbac.authorization.k8s.io",
			"delete clusterroles.rbac.authorization.k8s.io istiod-clusterrole-asm-1-istio-system in cluster",
			func(f *kubefake.Objects, c *preflight.Checker) error {
				_, err := Uninstall(ctx, f, ui.Discard, UninstallOptions{Revision: "asm-1", Preflight: c})
				return err
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := kubefake.New()
			installRevision(t, f, "asm-1")
			installRevision(t, f, "asm-2")
			if _, err := SetTag(ctx, f, ui.Discard, TagOptions{Tag: "canary", Revision: "asm-2"}); err != nil {
				t.Fatal(err)
			}
			writes := len(f.Writes())
			err := tc.run(f, &preflight.Checker{Access: &rbac{denied: []string{tc.deny}}})
			var missing *preflight.MissingError
			if !errors.As(err, &missing) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing was changed") {
				t.Fatalf("err = %v\nwant it to name %q", err, tc.want)
			}
			if got := f.Writes()[writes:]; len(got) > 0 {
				t.Errorf("wrote %v before refusing", got)
			}
		})
	}
}

// tag set --restart: the restarts its Then plans are checked with the
// tag's objects, so a caller who may not restart is refused with the tag
// unwritten, and Then is asked for exactly the namespaces with pods to move.
func TestTagSetChecksTheRestartsFirst(t *testing.T) {
	f := kubefake.New()
	installRevision(t, f, "asm-1")
	addNamespace(f, "shop", map[string]string{mesh.LabelRevision: "prod"})
	addPod(f, "shop", "web", "web-1", "asm-0")
	var asked []string
	then := func(_ context.Context, namespaces []string) ([]plan.Change, error) {
		asked = namespaces
		return []plan.Change{{Kind: "Deployment", Namespace: "shop", Name: "web", Action: plan.Restart, Resource: "apps/deployments"}}, nil
	}
	check := &preflight.Checker{Access: &rbac{denied: []string{"patch deployments.apps"}}}
	_, err := SetTag(context.Background(), f, ui.Discard, TagOptions{Tag: "prod", Revision: "asm-1", Preflight: check, Then: then})
	want := "patch deployments.apps web in namespace shop, to restart Deployment shop/web"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("err = %v, want it to name %q", err, want)
	}
	if !slices.Equal(asked, []string{"shop"}) {
		t.Errorf("Then asked for %v, want [shop]", asked)
	}
	if w := f.Writes(); len(w) > 0 {
		t.Errorf("wrote %v before refusing", w)
	}
}
