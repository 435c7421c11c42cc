package revision

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube/kubefake"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
)

// TestTagObjectsMatchIstioctl compares the objects meshctl makes for a tag
// with what the real istioctl (bin/sim/istioctl tag generate) printed for
// the same revision webhook: one calling a URL (as meshsim's and Google's
// managed webhooks do) and one calling istiod's Service (as on GKE).
func TestTagObjectsMatchIstioctl(t *testing.T) {
	for _, tc := range []struct{ canonical, revision, tag, istioctl string }{
		{"canonical-asm-1.yaml", "asm-1", "prod", "istioctl-tag-prod-url.yaml"},
		{"canonical-asm-1.yaml", "asm-1", "default", "istioctl-tag-default-url.yaml"},
		{"canonical-asm-svc.yaml", "asm-svc", "prod", "istioctl-tag-prod-service.yaml"},
		{"canonical-asm-svc.yaml", "asm-svc", "default", "istioctl-tag-default-service.yaml"},
	} {
		t.Run(tc.istioctl, func(t *testing.T) {
			var canonical admissionv1.MutatingWebhookConfiguration
			readYAML(t, "testdata/"+tc.canonical, &canonical)
			src, err := sourceOf(&canonical, tc.revision)
			if err != nil {
				t.Fatal(err)
			}
			ours := []runtime.Object{src.tagWebhook(tc.tag)}
			if tc.tag == mesh.DefaultRevision {
				ours = append(ours, src.defaultValidator(nil))
			}
			ours = append(ours, src.tagService(tc.tag))
			theirs := istioctlObjects(t, "testdata/"+tc.istioctl)
			if len(theirs) != len(ours) {
				t.Fatalf("istioctl made %d objects, meshctl %d", len(theirs), len(ours))
			}
			for i, o := range ours {
				got := asMap(t, o)
				if !reflect.DeepEqual(got, theirs[i]) {
					g, _ := yaml.Marshal(got)
					w, _ := yaml.Marshal(theirs[i])
					t.Errorf("object %d differs from istioctl's\nmeshctl:\n%s\nistioctl:\n%s", i, g, w)
				}
			}
		})
	}
}

func istioctlObjects(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, doc := range bytes.Split(b, []byte("\n---\n")) {
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatal(err)
		}
		if m == nil {
			continue
		}
		delete(m, "status") // istioctl prints an empty status; nobody applies it
		out = append(out, m)
	}
	return out
}

func asMap(t *testing.T, o runtime.Object) map[string]any {
	t.Helper()
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok && md["creationTimestamp"] == nil {
		delete(md, "creationTimestamp")
	}
	return m
}

func changeActions(cs []plan.Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, string(c.Action)+" "+c.Kind+" "+c.Name)
	}
	return out
}

func TestSetTagCreatesThenKeeps(t *testing.T) {
	f := kubefake.New()
	installRevision(t, f, "asm-1")
	addNamespace(f, "shop", map[string]string{mesh.LabelRevision: "prod"})
	addPod(f, "shop", "web", "web-1", "asm-0")
	ctx := context.Background()

	res, err := SetTag(ctx, f, ui.Discard, TagOptions{Tag: "prod", Revision: "asm-1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"create MutatingWebhookConfiguration istio-revision-tag-prod", "create Service istiod-revision-tag-prod"}
	if got := changeActions(res.Changes); !slices.Equal(got, want) {
		t.Errorf("changes %v, want %v", got, want)
	}
	hook := f.Stored(kMutatingWebhook.Resource, "", "istio-revision-tag-prod")
	if hook == nil || hook.GetLabels()[mesh.LabelTag] != "prod" || hook.GetLabels()[mesh.LabelRevision] != "asm-1" {
		t.Fatalf("tag webhook %v", hook)
	}
	// The namespace labelled with the tag has one pod of another revision.
	if len(res.Namespaces) != 1 || res.Namespaces[0].Name != "shop" || res.Namespaces[0].Restart != 1 ||
		!strings.Contains(res.NextStep, "meshctl inject --revision prod --namespace shop") {
		t.Errorf("namespaces %+v, next %q", res.Namespaces, res.NextStep)
	}

	writes := len(f.Writes())
	again, err := SetTag(ctx, f, ui.Discard, TagOptions{Tag: "prod", Revision: "asm-1"})
	if err != nil {
		t.Fatal(err)
	}
	if again.Changed() || len(f.Writes()) != writes {
		t.Errorf("second set changed %v (writes %v)", changeActions(again.Changes), f.Writes()[writes:])
	}
}

func TestSetTagMovesATag(t *testing.T) {
	f := kubefake.New()
	installRevision(t, f, "asm-1")
	installRevision(t, f, "asm-2")
	ctx := context.Background()
	if _, err := SetTag(ctx, f, ui.Discard, TagOptions{Tag: "prod", Revision: "asm-1"}); err != nil {
		t.Fatal(err)
	}
	plan, err := SetTag(ctx, f, ui.Discard, TagOptions{Tag: "prod", Revision: "asm-2", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Previous != "asm-1" || plan.Changes[0].Action != "update" || f.Stored(kMutatingWebhook.Resource, "", "istio-revision-tag-prod").GetLabels()[mesh.LabelRevision] != "asm-1" {
		t.Errorf("dry run: previous %q, changes %v (and must not write)", plan.Previous, changeActions(plan.Changes))
	}
	if _, err := SetTag(ctx, f, ui.Discard, TagOptions{Tag: "prod", Revision: "asm-2"}); err != nil {
		t.Fatal(err)
	}
	var h admissionv1.MutatingWebhookConfiguration
	fromStored(t, f, "istio-revision-tag-prod", &h)
	if h.Labels[mesh.LabelRevision] != "asm-2" || h.Webhooks[0].ClientConfig.Service.Name != "istiod-asm-2" {
		t.Errorf("moved tag: labels %v, service %v", h.Labels, h.Webhooks[0].ClientConfig.Service)
	}
}

func fromStored(t *testing.T, f *kubefake.Objects, name string, into any) {
	t.Helper()
	u := f.Stored(kMutatingWebhook.Resource, "", name)
	if u == nil {
		t.Fatalf("no webhook %s", name)
	}
	b, _ := json.Marshal(u.Object)
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatal(err)
	}
}

// TestSetDefaultTag: the default tag also validates, and takes
// istio-injection=enabled from the "default" revision's own webhook, which
// it deactivates rather than deletes (istioctl does the same).
func TestSetDefaultTag(t *testing.T) {
	f := kubefake.New()
	installRevision(t, f, "asm-1")
	legacy := canonicalWebhook(t, "default")
	legacy.Name, legacy.Labels = mesh.LegacyInjector, map[string]string{"app": "sidecar-injector"}
	f.Add(kMutatingWebhook.Resource, legacy)

	res, err := SetTag(context.Background(), f, ui.Discard, TagOptions{Tag: "default", Revision: "asm-1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"create MutatingWebhookConfiguration istio-revision-tag-default", "create Service istiod-revision-tag-default",
		"create ValidatingWebhookConfiguration istiod-default-validator", "update MutatingWebhookConfiguration istio-sidecar-injector"}
	if got := changeActions(res.Changes); !slices.Equal(got, want) {
		t.Errorf("changes %v, want %v", got, want)
	}
	var h admissionv1.MutatingWebhookConfiguration
	fromStored(t, f, mesh.LegacyInjector, &h)
	for _, w := range h.Webhooks {
		if w.NamespaceSelector.MatchLabels["istio.io/deactivated"] != "never-match" {
			t.Errorf("legacy webhook %s still active: %v", w.Name, w.NamespaceSelector)
		}
	}
	var tag admissionv1.MutatingWebhookConfiguration
	fromStored(t, f, "istio-revision-tag-default", &tag)
	if len(tag.Webhooks) != 4 || tag.Webhooks[2].NamespaceSelector.MatchExpressions[0].Key != mesh.LabelInjection {
		t.Errorf("default tag webhooks %v", tag.Webhooks)
	}
}

func TestSetTagRefuses(t *testing.T) {
	f := kubefake.New()
	installRevision(t, f, "asm-1")
	installRevision(t, f, "asm-2")
	ctx := context.Background()
	if _, err := SetTag(ctx, f, ui.Discard, TagOptions{Tag: "prod", Revision: "asm-1"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		o    TagOptions
		want string
		code int
	}{
		{TagOptions{Tag: "asm-2", Revision: "asm-1"}, `a revision named "asm-2" is installed`, failure.ExitUsage},
		{TagOptions{Tag: "canary", Revision: "asm-9"}, `revision "asm-9" is not installed (installed: asm-1, asm-2, prod (tag for asm-1))`, 1},
		{TagOptions{Tag: "canary", Revision: "prod"}, `"prod" is a tag (for revision asm-1)`, failure.ExitUsage},
		{TagOptions{Tag: "Prod", Revision: "asm-1"}, "RFC 1123", failure.ExitUsage},
		{TagOptions{Tag: "prod"}, "--revision is required", failure.ExitUsage},
	} {
		writes := len(f.Writes())
		_, err := SetTag(ctx, f, ui.Discard, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) || failure.ExitCode(err) != tc.code || len(f.Writes()) != writes {
			t.Errorf("%+v: err %v (exit %d), want %q (exit %d), nothing written", tc.o, err, failure.ExitCode(err), tc.want, tc.code)
		}
	}
}

func TestRemoveTag(t *testing.T) {
	f := kubefake.New()
	installRevision(t, f, "asm-1")
	ctx := context.Background()
	if _, err := SetTag(ctx, f, ui.Discard, TagOptions{Tag: "default", Revision: "asm-1"}); err != nil {
		t.Fatal(err)
	}
	addNamespace(f, "legacy", map[string]string{mesh.LabelInjection: "enabled"})

	// istio-injection=enabled uses the default tag: refused, nothing gone.
	_, err := RemoveTag(ctx, f, ui.Discard, RemoveTagOptions{Tag: "default"})
	if err == nil || !strings.Contains(err.Error(), "legacy (istio-injection=enabled)") || f.Stored(kMutatingWebhook.Resource, "", "istio-revision-tag-default") == nil {
		t.Fatalf("err %v", err)
	}
	res, err := RemoveTag(ctx, f, ui.Discard, RemoveTagOptions{Tag: "default", Force: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"delete MutatingWebhookConfiguration istio-revision-tag-default", "delete ValidatingWebhookConfiguration istiod-default-validator",
		"delete Service istiod-revision-tag-default"}
	if got := changeActions(res.Changes); !slices.Equal(got, want) || res.Previous != "asm-1" {
		t.Errorf("changes %v, want %v", got, want)
	}
	for _, k := range []string{"istio-revision-tag-default"} {
		if f.Stored(kMutatingWebhook.Resource, "", k) != nil {
			t.Errorf("%s left", k)
		}
	}
	// The revision's own webhook stays.
	if f.Stored(kMutatingWebhook.Resource, "", "istio-sidecar-injector-asm-1") == nil {
		t.Error("removed the revision's own webhook")
	}
	// Again: nothing to do, not an error.
	again, err := RemoveTag(ctx, f, ui.Discard, RemoveTagOptions{Tag: "default", Force: true})
	if err != nil || len(again.Changes) != 0 {
		t.Errorf("second remove: %v %v", again, err)
	}
}

func TestListTags(t *testing.T) {
	f := kubefake.New()
	installRevision(t, f, "asm-1")
	ctx := context.Background()
	for _, tag := range []string{"prod", "canary"} {
		if _, err := SetTag(ctx, f, ui.Discard, TagOptions{Tag: tag, Revision: "asm-1"}); err != nil {
			t.Fatal(err)
		}
	}
	addNamespace(f, "shop", map[string]string{mesh.LabelRevision: "prod"})
	// A tag whose revision is gone: its webhook is all that is left.
	gone := canonicalWebhook(t, "asm-0")
	gone.Name, gone.Labels[mesh.LabelTag] = "istio-revision-tag-old", "old"
	f.Add(kMutatingWebhook.Resource, gone)
	l, err := ListTags(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := l.RenderText(&out, ui.Styles{}); err != nil {
		t.Fatal(err)
	}
	want := "TAG     REVISION               NAMESPACES\ncanary  asm-1                  \nold     asm-0 (not installed)  \nprod    asm-1                  shop\n"
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
}
