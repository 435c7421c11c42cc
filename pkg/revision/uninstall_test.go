package revision

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube/kubefake"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// asm1Objects are what installRevision made for asm-1, in the order an
// uninstall deletes them (istiod's pod goes with its Deployment).
var asm1Objects = []string{
	"delete MutatingWebhookConfiguration istio-sidecar-injector-asm-1",
	"delete ValidatingWebhookConfiguration istio-validator-asm-1-istio-system",
	"delete Service istiod-asm-1",
	"delete HorizontalPodAutoscaler istiod-asm-1",
	"delete ConfigMap istio-asm-1",
	"delete ConfigMap istio-sidecar-injector-asm-1",
	"delete ConfigMap values-asm-1",
	"delete RoleBinding istiod-asm-1",
	"delete Role istiod-asm-1",
	"delete ClusterRoleBinding istiod-clusterrole-asm-1-istio-system",
	"delete ClusterRoleBinding istiod-gateway-controller-asm-1-istio-system",
	"delete ClusterRole istiod-clusterrole-asm-1-istio-system",
	"delete ClusterRole istiod-gateway-controller-asm-1-istio-system",
	"delete ClusterRole istio-reader-clusterrole-asm-1-istio-system",
	"delete ServiceAccount istiod-asm-1",
	"delete Deployment istiod-asm-1",
}

// removePodsWithIstiod plays the Deployment controller: deleting istiod's
// Deployment takes its pods.
func removePodsWithIstiod(f *kubefake.Objects) {
	f.AfterWrite = func(o *kubefake.Objects, verb string, gvr schema.GroupVersionResource, u *unstructured.Unstructured) {
		if verb == "delete" && gvr == kDeployment.Resource {
			o.Remove(kPod.Resource, mesh.IstioSystem, u.GetName()+"-abc")
		}
	}
}

func TestUninstallRemovesExactlyTheRevision(t *testing.T) {
	f := kubefake.New()
	installRevision(t, f, "asm-1")
	installRevision(t, f, "asm-2")
	removePodsWithIstiod(f)
	ctx := context.Background()
	// A tag of asm-1 that nothing uses goes with it; asm-2's stays.
	for tag, rev := range map[string]string{"old": "asm-1", "prod": "asm-2"} {
		if _, err := SetTag(ctx, f, ui.Discard, TagOptions{Tag: tag, Revision: rev}); err != nil {
			t.Fatal(err)
		}
	}
	// What is not the control plane stays: a gateway labelled with the
	// revision, Istio's CRDs, the namespace's shared config.
	f.Add(kDeployment.Resource, &appsv1.Deployment{TypeMeta: typeMeta("apps/v1", "Deployment"),
		ObjectMeta: metav1.ObjectMeta{Name: "istio-ingressgateway", Namespace: mesh.IstioSystem,
			Labels: map[string]string{"app": "istio-ingressgateway", mesh.LabelRevision: "asm-1"}}})
	addNamespace(f, "shop", map[string]string{mesh.LabelRevision: "prod"})
	addPod(f, "shop", "web", "web-1", "asm-2")
	before := f.Keys()

	dry, err := Uninstall(ctx, f, ui.Discard, UninstallOptions{Revision: "asm-1", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Insert(slices.Clone(asm1Objects), 0, "delete MutatingWebhookConfiguration istio-revision-tag-old")
	want = slices.Insert(want, 4, "delete Service istiod-revision-tag-old")
	if got := changeActions(dry.Changes); !slices.Equal(got, want) {
		t.Errorf("plan\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !slices.Equal(f.Keys(), before) {
		t.Error("--dry-run deleted something")
	}

	res, err := Uninstall(ctx, f, ui.Discard, UninstallOptions{Revision: "asm-1", Poll: time.Millisecond})
	if err != nil || res.Refused {
		t.Fatalf("err %v, refused %v", err, res.Refused)
	}
	var deleted []string
	for _, w := range f.Writes() {
		if strings.HasPrefix(w, "delete ") {
			deleted = append(deleted, w)
		}
	}
	if len(deleted) != len(want) || !strings.HasSuffix(deleted[len(deleted)-1], "Deployment istio-system/istiod-asm-1") {
		t.Errorf("deleted %v; want %d objects, istiod last", deleted, len(want))
	}
	for _, k := range f.Keys() {
		if strings.Contains(k, "asm-1") && !strings.Contains(k, "istio-ingressgateway") {
			t.Errorf("left %s", k)
		}
	}
	for _, keep := range []string{"Deployment istio-system/istiod-asm-2", "Deployment istio-system/istio-ingressgateway",
		"MutatingWebhookConfiguration /istio-revision-tag-prod", "ServiceAccount istio-system/istiod-asm-2"} {
		if !slices.Contains(f.Keys(), keep) {
			t.Errorf("removed %s", keep)
		}
	}
	// Again: nothing left to do.
	again, err := Uninstall(ctx, f, ui.Discard, UninstallOptions{Revision: "asm-1"})
	if err != nil || len(again.Changes) != 0 {
		t.Errorf("second run: %v, %v", again.Changes, err)
	}
	var out bytes.Buffer
	_ = again.RenderText(&out, ui.Styles{})
	if !strings.Contains(out.String(), "revision asm-1 is not installed: nothing to remove") {
		t.Errorf("text %q", out.String())
	}
}

func TestUninstallRefusesWhileInUse(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, f *kubefake.Objects)
		want  []string
	}{
		{"namespace label", func(t *testing.T, f *kubefake.Objects) {
			addNamespace(f, "shop", map[string]string{mesh.LabelRevision: "asm-1"})
		}, []string{"(Namespace shop) labelled istio.io/rev=asm-1", "meshctl inject --namespace shop --revision OTHER"}},
		{"tag", func(t *testing.T, f *kubefake.Objects) {
			if _, err := SetTag(context.Background(), f, ui.Discard, TagOptions{Tag: "prod", Revision: "asm-1"}); err != nil {
				t.Fatal(err)
			}
			addNamespace(f, "shop", map[string]string{mesh.LabelRevision: "prod"})
		}, []string{"labelled istio.io/rev=prod: tag prod points at revision asm-1", "meshctl revision tag set prod --revision OTHER --restart"}},
		{"default tag", func(t *testing.T, f *kubefake.Objects) {
			if _, err := SetTag(context.Background(), f, ui.Discard, TagOptions{Tag: "default", Revision: "asm-1"}); err != nil {
				t.Fatal(err)
			}
			addNamespace(f, "legacy", map[string]string{mesh.LabelInjection: "enabled"})
		}, []string{"(Namespace legacy) labelled istio-injection=enabled: tag default points at revision asm-1"}},
		{"pods", func(t *testing.T, f *kubefake.Objects) {
			addNamespace(f, "shop", map[string]string{mesh.LabelRevision: "asm-2"})
			addPod(f, "shop", "web", "web-1", "asm-1")
			addPod(f, "shop", "web", "web-2", "asm-1")
			addPod(f, "shop", "api", "api-1", "asm-2")
		}, []string{"(Deployment/web in shop) 2 pods run istio-proxy of revision asm-1", "kubectl -n shop rollout restart deployment/web"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := kubefake.New()
			installRevision(t, f, "asm-1")
			installRevision(t, f, "asm-2")
			tc.setup(t, f)
			writes := len(f.Writes())
			res, err := Uninstall(context.Background(), f, ui.Discard, UninstallOptions{Revision: "asm-1"})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Refused || len(f.Writes()) != writes {
				t.Fatalf("refused %v, writes %v", res.Refused, f.Writes()[writes:])
			}
			var out bytes.Buffer
			_ = res.RenderText(&out, ui.Styles{})
			for _, w := range append(tc.want, "revision asm-1 is still in use", "nothing was deleted", "[MC0276]") {
				if !strings.Contains(out.String(), w) {
					t.Errorf("text lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestUninstallStopsBeforeIstiod: when a delete fails, istiod stays, so the
// revision still shows as installed and a second run finishes the job.
func TestUninstallStopsBeforeIstiod(t *testing.T) {
	f := kubefake.New()
	installRevision(t, f, "asm-1")
	removePodsWithIstiod(f)
	f.FailWhen(t, func(verb string, gvr schema.GroupVersionResource, key string) error {
		if verb == "delete" && gvr == kConfigMap.Resource && strings.HasSuffix(key, "/values-asm-1") {
			return errors.New("etcd timeout")
		}
		return nil
	})
	ctx := context.Background()
	_, err := Uninstall(ctx, f, ui.Discard, UninstallOptions{Revision: "asm-1"})
	if err == nil || !strings.Contains(err.Error(), "etcd timeout") || !strings.Contains(failure.HintOf(err), "again") {
		t.Fatalf("err %v", err)
	}
	if f.Stored(kDeployment.Resource, mesh.IstioSystem, "istiod-asm-1") == nil {
		t.Fatal("istiod deleted although an earlier delete failed")
	}
	f.Fail = nil
	res, err := Uninstall(ctx, f, ui.Discard, UninstallOptions{Revision: "asm-1", Poll: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if got := changeActions(res.Changes); !slices.Equal(got, []string{"delete ConfigMap values-asm-1", "delete Deployment istiod-asm-1"}) {
		t.Errorf("second run deleted %v", got)
	}
}

func TestUninstallRefusesManagedAndTags(t *testing.T) {
	f := kubefake.New()
	installRevision(t, f, "asm-1")
	managed := canonicalWebhook(t, "asm-managed")
	managed.Name = "istiod-asm-managed"
	for i := range managed.Webhooks {
		url := "https://meshconfig.googleapis.com/inject"
		managed.Webhooks[i].ClientConfig.Service, managed.Webhooks[i].ClientConfig.URL = nil, &url
	}
	f.Add(kMutatingWebhook.Resource, managed)
	if _, err := SetTag(context.Background(), f, ui.Discard, TagOptions{Tag: "prod", Revision: "asm-1"}); err != nil {
		t.Fatal(err)
	}
	for rev, want := range map[string]string{"asm-managed": "meshctl uninstall --managed", "prod": "meshctl revision tag remove prod"} {
		_, err := Uninstall(context.Background(), f, ui.Discard, UninstallOptions{Revision: rev})
		if failure.ExitCode(err) != failure.ExitUsage || !strings.Contains(failure.HintOf(err), want) {
			t.Errorf("%s: err %v (hint %q)", rev, err, failure.HintOf(err))
		}
	}
}
