package mesh

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshctl/meshctl/internal/kube/kubefake"
)

// hook is an injection webhook calling istiod-REV in istio-system, or url
// when it is set (a managed control plane).
func hook(name string, labels map[string]string, url string) *admissionv1.MutatingWebhookConfiguration {
	cc := admissionv1.WebhookClientConfig{Service: &admissionv1.ServiceReference{Namespace: IstioSystem, Name: "istiod-" + labels[LabelRevision]}}
	if url != "" {
		cc = admissionv1.WebhookClientConfig{URL: &url}
	}
	return &admissionv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Webhooks: []admissionv1.MutatingWebhook{{Name: "rev.namespace.sidecar-injector.istio.io", ClientConfig: cc}}}
}

func injector(rev string) *admissionv1.MutatingWebhookConfiguration {
	return hook("istio-sidecar-injector-"+rev, map[string]string{LabelRevision: rev}, "")
}

// inCluster is an in-cluster revision as asmcli installs it: its webhook
// and its istiod.
func inCluster(rev string) []runtime.Object { return []runtime.Object{injector(rev), istiod(rev)} }

func objects(parts ...any) []runtime.Object {
	var out []runtime.Object
	for _, p := range parts {
		switch x := p.(type) {
		case runtime.Object:
			out = append(out, x)
		case []runtime.Object:
			out = append(out, x...)
		}
	}
	return out
}

func tag(name, rev string) *admissionv1.MutatingWebhookConfiguration {
	return hook("istio-revision-tag-"+name, map[string]string{LabelRevision: rev, LabelTag: name}, "")
}

func istiod(rev string) *appsv1.Deployment {
	l := map[string]string{"app": IstiodApp}
	name := "istiod"
	if rev != "" {
		l[LabelRevision], name = rev, "istiod-"+rev
	}
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: IstioSystem, Name: name, Labels: l}}
}

func revisionsOf(t *testing.T, objs ...runtime.Object) Revisions {
	t.Helper()
	var hooks []admissionv1.MutatingWebhookConfiguration
	var deps []appsv1.Deployment
	for _, o := range objs {
		switch x := o.(type) {
		case *admissionv1.MutatingWebhookConfiguration:
			hooks = append(hooks, *x)
		case *appsv1.Deployment:
			deps = append(deps, *x)
		}
	}
	r, err := NewRevisions(hooks, deps, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type resolved struct {
	rev       string
	installed bool
}

// Each rule of the Revisions doc comment, one case or more.
func TestRevisionRules(t *testing.T) {
	elsewhere := injector("asm-1")
	elsewhere.Webhooks[0].ClientConfig.Service.Namespace = "istio-1"
	tests := []struct {
		name     string
		objs     []runtime.Object
		names    []string
		resolve  map[string]resolved
		def      resolved
		managed  []string
		webhooks int
	}{
		{name: "rule 1: an in-cluster revision: webhook and istiod", objs: inCluster("asm-1"),
			names: []string{"asm-1"}, resolve: map[string]resolved{"asm-1": {"asm-1", true}, "asm-2": {"asm-2", false}}, webhooks: 1},
		{name: "rule 1: a managed control plane: a webhook calling a URL, no istiod",
			objs:  []runtime.Object{hook("istiod-asm-managed", map[string]string{LabelRevision: "asm-managed"}, "https://meshconfig.googleapis.com/inject")},
			names: []string{"asm-managed"}, resolve: map[string]resolved{"asm-managed": {"asm-managed", true}}, managed: []string{"asm-managed"}, webhooks: 1},
		{name: "rule 1: istiod with a webhook calling a URL is in-cluster, not managed",
			objs:  objects(istiod("asm-1"), hook("istio-sidecar-injector-asm-1", map[string]string{LabelRevision: "asm-1"}, "https://localhost:15017/inject")),
			names: []string{"asm-1"}, resolve: map[string]resolved{"asm-1": {"asm-1", true}}, webhooks: 1},
		{name: "rule 1: istiod without its webhook", objs: []runtime.Object{istiod("asm-1")},
			names: []string{"asm-1"}, resolve: map[string]resolved{"asm-1": {"asm-1", true}}},
		{name: "rule 1: a webhook calling istiod in istio-system that does not run is a leftover", objs: objects(injector("asm-0"), inCluster("asm-1")),
			names: []string{"asm-1"}, resolve: map[string]resolved{"asm-0": {"asm-0", false}}, webhooks: 2},
		{name: "rule 1: a webhook calling istiod elsewhere is taken at its word",
			objs:  []runtime.Object{elsewhere},
			names: []string{"asm-1"}, webhooks: 1},
		{name: "rule 1: istiod without a revision label is the default revision", objs: []runtime.Object{istiod("")},
			names: []string{"default"}, def: resolved{"default", true}},
		{name: "rule 2: the legacy injector without istio.io/rev is the default revision's",
			objs:  objects(hook(LegacyInjector, map[string]string{"app": "sidecar-injector"}, ""), istiod("")),
			names: []string{"default"}, def: resolved{"default", true}, webhooks: 1},
		{name: "rule 2: other unlabelled webhooks are not the mesh's",
			objs:  []runtime.Object{hook("cert-manager-webhook", nil, ""), hook("other", map[string]string{"app": "x"}, "")},
			names: nil, def: resolved{"default", false}},
		{name: "rule 3: a tag resolves to its revision and is not one", objs: objects(inCluster("asm-2"), tag("prod", "asm-2")),
			names: []string{"asm-2"}, resolve: map[string]resolved{"prod": {"asm-2", true}}, webhooks: 2},
		{name: "rule 3: a tag of a revision that is gone resolves to nothing installed", objs: objects(inCluster("asm-1"), tag("prod", "asm-0")),
			names: []string{"asm-1"}, resolve: map[string]resolved{"prod": {"asm-0", false}}, webhooks: 2},
		{name: "rules 4 and 5: the default tag wins over the revision named default",
			objs:  objects(injector("default"), istiod(""), inCluster("asm-2"), tag("default", "asm-2")),
			names: []string{"asm-2", "default"}, resolve: map[string]resolved{"default": {"asm-2", true}}, def: resolved{"asm-2", true}, webhooks: 3},
		{name: "rule 5: without a default tag or revision, nothing is the default", objs: inCluster("asm-1"),
			names: []string{"asm-1"}, def: resolved{"default", false}, webhooks: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := revisionsOf(t, tt.objs...)
			if got := r.Names(); !slices.Equal(got, tt.names) {
				t.Errorf("Names() = %v, want %v", got, tt.names)
			}
			for name, want := range tt.resolve {
				if rev, ok := r.Resolve(name); rev != want.rev || ok != want.installed {
					t.Errorf("Resolve(%s) = %s, %v; want %s, %v", name, rev, ok, want.rev, want.installed)
				}
			}
			if tt.def != (resolved{}) {
				if rev, ok := r.Default(); rev != tt.def.rev || ok != tt.def.installed {
					t.Errorf("Default() = %s, %v; want %s, %v", rev, ok, tt.def.rev, tt.def.installed)
				}
			}
			var managed []string
			for _, n := range r.Names() {
				if r.Revision(n).Managed {
					managed = append(managed, n)
				}
			}
			if !slices.Equal(managed, tt.managed) {
				t.Errorf("managed revisions %v, want %v", managed, tt.managed)
			}
			if len(r.Webhooks) != tt.webhooks {
				t.Errorf("%d webhooks, want %d: %+v", len(r.Webhooks), tt.webhooks, r.Webhooks)
			}
		})
	}
}

func TestRevisionsString(t *testing.T) {
	r := revisionsOf(t, objects(inCluster("asm-1"), inCluster("asm-2"), tag("prod", "asm-2"))...)
	if got := r.String(); got != "asm-1, asm-2, prod (tag for asm-2)" {
		t.Errorf("String() = %q", got)
	}
	if got := revisionsOf(t).String(); got != "none" {
		t.Errorf("String() with nothing installed = %q", got)
	}
}

// Rule 6: what a namespace's labels ask of its pods.
func TestInjection(t *testing.T) {
	r := revisionsOf(t, objects(inCluster("asm-1"), inCluster("asm-2"), tag("prod", "asm-2"), tag("default", "asm-1"))...)
	noDefault := revisionsOf(t, inCluster("asm-1")...)
	tests := []struct {
		name   string
		revs   Revisions
		labels map[string]string
		want   Injection
	}{
		{"unlabelled: injection is not managed there", r, nil, Injection{}},
		{"a revision", r, map[string]string{LabelRevision: "asm-1"},
			Injection{Labelled: true, Label: LabelRevision, Enabled: true, Name: "asm-1", Revision: "asm-1", Installed: true}},
		{"a tag", r, map[string]string{LabelRevision: "prod"},
			Injection{Labelled: true, Label: LabelRevision, Enabled: true, Name: "prod", Revision: "asm-2", Installed: true}},
		{"a revision that is not installed", r, map[string]string{LabelRevision: "asm-0"},
			Injection{Labelled: true, Label: LabelRevision, Enabled: true, Name: "asm-0", Revision: "asm-0"}},
		{"istio-injection=enabled: the default revision", r, map[string]string{LabelInjection: "enabled"},
			Injection{Labelled: true, Label: LabelInjection, Enabled: true, Name: "default", Revision: "asm-1", Installed: true}},
		{"istio-injection=enabled without a default revision: nothing injects", noDefault, map[string]string{LabelInjection: "enabled"},
			Injection{Labelled: true, Label: LabelInjection, Enabled: true, Name: "default", Revision: "default"}},
		{"istio-injection=disabled", r, map[string]string{LabelInjection: "disabled"}, Injection{Labelled: true, Label: LabelInjection}},
		{"both labels: istio-injection wins", r, map[string]string{LabelInjection: "enabled", LabelRevision: "asm-2"},
			Injection{Labelled: true, Label: LabelInjection, Enabled: true, Name: "default", Revision: "asm-1", Installed: true}},
		{"both labels, injection disabled: the revision label does nothing", r, map[string]string{LabelInjection: "disabled", LabelRevision: "asm-2"},
			Injection{Labelled: true, Label: LabelInjection}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.revs.Injection(tt.labels); got != tt.want {
				t.Errorf("Injection(%v) = %+v, want %+v", tt.labels, got, tt.want)
			}
		})
	}
}

// Rule 7: how failures to read are treated.
func TestRevisionReadErrors(t *testing.T) {
	deployments := schema.GroupResource{Group: "apps", Resource: "deployments"}
	forbidden := apierrors.NewForbidden(deployments, "", errors.New("cannot list deployments in istio-system"))
	tests := []struct {
		name        string
		hookErr     error
		istiodErr   error
		wantErr     bool
		wantNames   []string
		unreadIstio bool
	}{
		{name: "istio-system forbidden: the webhook is taken at its word", istiodErr: forbidden, wantNames: []string{"asm-1"}, unreadIstio: true},
		{name: "istio-system not found: no istiod, so the webhook calling it is a leftover", istiodErr: apierrors.NewNotFound(deployments, "")},
		{name: "istio-system unreachable: an error", istiodErr: errors.New("connection refused"), wantErr: true},
		{name: "webhooks forbidden: an error", hookErr: apierrors.NewForbidden(schema.GroupResource{Resource: "mutatingwebhookconfigurations"}, "", errors.New("no")), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kc := fake.NewClientset(injector("asm-1"), istiod("asm-1"))
			kc.PrependReactor("list", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
				return tt.istiodErr != nil, nil, tt.istiodErr
			})
			kc.PrependReactor("list", "mutatingwebhookconfigurations", func(k8stesting.Action) (bool, runtime.Object, error) {
				return tt.hookErr != nil, nil, tt.hookErr
			})
			r, err := ReadRevisions(context.Background(), kc)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !slices.Equal(r.Names(), tt.wantNames) {
				t.Errorf("Names() = %v, want %v", r.Names(), tt.wantNames)
			}
			if (r.IstiodErr != nil) != tt.unreadIstio || (tt.unreadIstio && !apierrors.IsForbidden(r.IstiodErr)) {
				t.Errorf("IstiodErr = %v, want set: %v", r.IstiodErr, tt.unreadIstio)
			}
		})
	}
}

// The typed and the dynamic client read the same cluster the same way.
func TestBothReadersAgree(t *testing.T) {
	objs := []runtime.Object{injector("asm-1"), istiod("asm-1"), tag("prod", "asm-1"), istiod(""),
		hook(LegacyInjector, nil, ""), hook("unrelated", nil, "")}
	typed, err := ReadRevisions(context.Background(), fake.NewClientset(objs...))
	if err != nil {
		t.Fatal(err)
	}
	f := kubefake.New()
	for _, o := range objs {
		gvr := gvrDeployments
		if _, ok := o.(*admissionv1.MutatingWebhookConfiguration); ok {
			gvr = gvrMutatingWebhooks
		}
		f.Add(gvr, o)
	}
	dynamic, err := ReadRevisionsFrom(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(typed.Names(), []string{"asm-1", "default"}) || !slices.Equal(typed.Names(), dynamic.Names()) {
		t.Errorf("Names: typed %v, dynamic %v", typed.Names(), dynamic.Names())
	}
	if !reflect.DeepEqual(typed.Tags, dynamic.Tags) || !reflect.DeepEqual(typed.Webhooks, dynamic.Webhooks) {
		t.Errorf("typed %+v %+v\ndynamic %+v %+v", typed.Tags, typed.Webhooks, dynamic.Tags, dynamic.Webhooks)
	}
	for _, n := range typed.Names() {
		if (typed.Revision(n).Istiod == nil) != (dynamic.Revision(n).Istiod == nil) {
			t.Errorf("revision %s: istiod found by one reader only", n)
		}
	}
}
