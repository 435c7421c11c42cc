package inject

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/mesh"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
)

var fixedNow = func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }

func run(t *testing.T, c *fakeCluster, opts Options) (*Result, *ui.Recorder) {
	t.Helper()
	opts.Now = fixedNow
	if opts.WaitTimeout == 0 {
		opts.WaitTimeout = 10 * time.Second
	}
	rec := &ui.Recorder{}
	res, err := Run(context.Background(), c, rec, opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res, rec
}

// workloads returns "Kind/name action outcome" per workload of ns.
func workloads(res *Result, ns string) []string {
	var out []string
	for _, n := range res.Namespaces {
		if n.Name != ns {
			continue
		}
		for _, w := range n.Workloads {
			out = append(out, w.Kind+"/"+w.Name+" "+string(w.Action)+" "+string(w.Outcome))
		}
	}
	return out
}

func nsResult(t *testing.T, res *Result, name string) NamespaceResult {
	t.Helper()
	for _, n := range res.Namespaces {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("namespace %s not in result", name)
	return NamespaceResult{}
}

func TestLabelChange(t *testing.T) {
	tests := []struct {
		name      string
		labels    map[string]string
		mode      Mode
		set       map[string]string
		remove    []string
		migration *Migration
	}{
		{"unlabelled", nil, ModeEnable, revLabel("asm-2"), nil, nil},
		{"already right", revLabel("asm-2"), ModeEnable, nil, nil, nil},
		{"older revision: a migration", revLabel("asm-1"), ModeEnable, revLabel("asm-2"), nil, &Migration{From: "asm-1", To: "asm-2"}},
		{"legacy label: replaced, never both (IST0123)", map[string]string{mesh.LabelInjection: "enabled"}, ModeEnable,
			revLabel("asm-2"), []string{mesh.LabelInjection}, &Migration{From: "default", To: "asm-2"}},
		{"both labels: the legacy one goes", map[string]string{mesh.LabelInjection: "enabled", mesh.LabelRevision: "asm-2"}, ModeEnable,
			nil, []string{mesh.LabelInjection}, &Migration{From: "default", To: "asm-2"}},
		{"disabled before", map[string]string{mesh.LabelInjection: "disabled"}, ModeEnable, revLabel("asm-2"), []string{mesh.LabelInjection}, nil},
		{"disable a revision namespace", revLabel("asm-1"), ModeDisable,
			map[string]string{mesh.LabelInjection: "disabled"}, []string{mesh.LabelRevision}, nil},
		{"disable again", map[string]string{mesh.LabelInjection: "disabled"}, ModeDisable, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, m := labelChange(namespace("x", tt.labels), tt.mode, "asm-2")
			if !maps.Equal(c.Set, tt.set) || !slices.Equal(c.Remove, tt.remove) {
				t.Errorf("set %v remove %v, want set %v remove %v", c.Set, c.Remove, tt.set, tt.remove)
			}
			if (m == nil) != (tt.migration == nil) || m != nil && *m != *tt.migration {
				t.Errorf("migration %+v, want %+v", m, tt.migration)
			}
		})
	}
}

func TestRunLabelsRestartsAndVerifies(t *testing.T) {
	objs := []runtime.Object{injector("asm-1"), istiod("asm-1"),
		namespace("shop", map[string]string{mesh.LabelInjection: "enabled", "team": "web"}),
		namespace("blog", map[string]string{"team": "web"}),
		namespace("other", nil)}
	objs = append(objs, withPods(deployment("shop", "web", 2), "")...)
	objs = append(objs, withPods(deployment("shop", "api", 1), "asm-1")...) // already right
	objs = append(objs, statefulSet("shop", "db", 1), pod("shop", "db-0", KindStatefulSet, "db", ""))
	objs = append(objs, daemonSet("shop", "agent", 2), pod("shop", "agent-a", KindDaemonSet, "agent", ""),
		pod("shop", "agent-b", KindDaemonSet, "agent", ""))
	objs = append(objs, withPods(deployment("blog", "cms", 1), "")...)
	objs = append(objs, withPods(deployment("other", "x", 1), "")...)
	c := newFakeCluster(t, objs...)

	res, rec := run(t, c, Options{Selector: "team=web"})

	if res.Revision != "asm-1" || res.RevisionSource != "detected" {
		t.Errorf("revision %q (%s), want asm-1 detected", res.Revision, res.RevisionSource)
	}
	for _, ns := range []string{"shop", "blog"} {
		got := c.nsLabels(ns)
		if got[mesh.LabelRevision] != "asm-1" {
			t.Errorf("%s: istio.io/rev = %q, want asm-1", ns, got[mesh.LabelRevision])
		}
		if _, both := got[mesh.LabelInjection]; both {
			t.Errorf("%s keeps istio-injection next to istio.io/rev (IST0123): %v", ns, got)
		}
	}
	if got := c.nsLabels("other"); got[mesh.LabelRevision] != "" {
		t.Errorf("a namespace the selector does not match was labelled: %v", got)
	}
	wantShop := []string{
		"Deployment/api keep converged",
		"Deployment/web restart converged",
		"StatefulSet/db restart converged",
		"DaemonSet/agent restart converged",
	}
	if got := workloads(res, "shop"); !slices.Equal(got, wantShop) {
		t.Errorf("shop workloads:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantShop, "\n"))
	}
	wantPatches := []string{"daemonsets shop/agent", "deployments blog/cms", "deployments shop/web",
		"namespaces /blog", "namespaces /shop", "statefulsets shop/db"}
	if got := sortedStrings(c.patches()); !slices.Equal(got, wantPatches) {
		t.Errorf("patches %v, want %v", got, wantPatches)
	}
	if m := nsResult(t, res, "shop").Migration; m == nil || m.From != "default" || m.To != "asm-1" {
		t.Errorf("shop migration %+v, want default -> asm-1", m)
	}
	if res.Failed() || res.Summary.Restarted != 4 || res.Summary.Unchanged != 1 || res.Summary.Relabelled != 2 {
		t.Errorf("summary %+v", res.Summary)
	}
	lines := strings.Join(rec.Lines(), "\n")
	if !strings.Contains(lines, "progress restart 4 workload(s) in 2 namespace(s): 4/4 workloads rolled out") ||
		!strings.Contains(lines, "done restart 4 workload(s) in 2 namespace(s)") {
		t.Errorf("progress does not count workloads done / total:\n%s", lines)
	}
}

func TestRunPatchesLikeKubectl(t *testing.T) {
	objs := []runtime.Object{injector("asm-1"), namespace("shop", map[string]string{mesh.LabelInjection: "enabled"})}
	objs = append(objs, withPods(deployment("shop", "web", 1), "")...)
	c := newFakeCluster(t, objs...)
	run(t, c, Options{Namespaces: []string{"shop"}})

	var got []string
	for _, a := range c.Actions() {
		p, ok := a.(k8stesting.PatchActionImpl)
		if !ok {
			continue
		}
		if p.PatchOptions.FieldManager != kube.FieldManager {
			t.Errorf("%s patched with field manager %q, want %q", p.Resource.Resource, p.PatchOptions.FieldManager, kube.FieldManager)
		}
		got = append(got, string(p.PatchType)+" "+string(p.Patch))
	}
	want := []string{
		string(types.MergePatchType) + ` {"metadata":{"labels":{"istio-injection":null,"istio.io/rev":"asm-1"}}}`,
		string(types.StrategicMergePatchType) + ` {"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-05-01T12:00:00Z"}}}}}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("patches:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSecondRunChangesNothing(t *testing.T) {
	objs := []runtime.Object{injector("asm-1"), namespace("shop", nil)}
	objs = append(objs, withPods(deployment("shop", "web", 2), "")...)
	objs = append(objs, statefulSet("shop", "db", 1), pod("shop", "db-0", KindStatefulSet, "db", ""))
	c := newFakeCluster(t, objs...)
	run(t, c, Options{Namespaces: []string{"shop"}})
	if n := len(c.patches()); n != 3 {
		t.Fatalf("first run: %d patches (%v), want 3", n, c.patches())
	}
	c.ClearActions()

	res, _ := run(t, c, Options{Namespaces: []string{"shop"}})
	if p := c.patches(); len(p) != 0 {
		t.Errorf("second run patched %v", p)
	}
	for _, a := range c.Actions() {
		if a.GetVerb() == "watch" {
			t.Errorf("second run waited on %s", a.GetResource().Resource)
		}
	}
	want := []string{"Deployment/web keep converged", "StatefulSet/db keep converged"}
	if got := workloads(res, "shop"); !slices.Equal(got, want) {
		t.Errorf("second run: %v, want %v", got, want)
	}
	if res.Summary.Relabelled != 0 || res.Summary.Restarted != 0 {
		t.Errorf("second run summary %+v", res.Summary)
	}
}

func TestOptedOutWorkloadsAreLeftAlone(t *testing.T) {
	byAnnotation := deployment("shop", "legacy", 1, func(d *appsv1.Deployment) {
		d.Spec.Template.Annotations = map[string]string{mesh.AnnotationInject: "false"}
	})
	byLabel := deployment("shop", "batch", 1, func(d *appsv1.Deployment) {
		d.Spec.Template.Labels[mesh.AnnotationInject] = "false"
	})
	hostNet := daemonSet("shop", "node-agent", 1)
	hostNet.Spec.Template.Spec.HostNetwork = true
	objs := []runtime.Object{injector("asm-1"), namespace("shop", nil), hostNet, pod("shop", "na", KindDaemonSet, "node-agent", "")}
	objs = append(objs, withPods(byAnnotation, "")...)
	objs = append(objs, withPods(byLabel, "")...)
	c := newFakeCluster(t, objs...)

	res, _ := run(t, c, Options{Namespaces: []string{"shop"}})

	if p := c.patches(); !slices.Equal(p, []string{"namespaces /shop"}) {
		t.Errorf("patches %v: opted-out workloads must not be restarted", p)
	}
	for _, w := range nsResult(t, res, "shop").Workloads {
		if w.Action != ActionSkip || w.Outcome != OutcomeSkipped || w.Why == "" {
			t.Errorf("%s/%s: %s %s %q, want skipped with a reason", w.Kind, w.Name, w.Action, w.Outcome, w.Why)
		}
	}
	if res.Failed() || res.Summary.Skipped != 3 {
		t.Errorf("summary %+v, want 3 skipped and no failure", res.Summary)
	}
}

func TestDisable(t *testing.T) {
	objs := []runtime.Object{namespace("shop", revLabel("asm-1"))}
	objs = append(objs, withPods(deployment("shop", "web", 2), "asm-1")...)
	objs = append(objs, withPods(deployment("shop", "plain", 1), "")...)
	c := newFakeCluster(t, objs...)
	// No revision is installed: --disable needs none.
	res, _ := run(t, c, Options{Namespaces: []string{"shop"}, Disable: true})

	got := c.nsLabels("shop")
	if got[mesh.LabelInjection] != "disabled" || got[mesh.LabelRevision] != "" {
		t.Errorf("labels %v, want istio-injection=disabled and no istio.io/rev", got)
	}
	want := []string{"Deployment/plain keep converged", "Deployment/web restart converged"}
	if got := workloads(res, "shop"); !slices.Equal(got, want) {
		t.Errorf("workloads %v, want %v", got, want)
	}
	pods, _ := c.CoreV1().Pods("shop").List(context.Background(), metav1.ListOptions{})
	for _, p := range pods.Items {
		if mesh.ProxyOf(&p).Injected {
			t.Errorf("pod %s still has istio-proxy", p.Name)
		}
	}
}

func TestMigrationBetweenRevisions(t *testing.T) {
	objs := []runtime.Object{injector("asm-1"), injector("asm-2"), istiod("asm-1"), istiod("asm-2"),
		namespace("shop", revLabel("asm-1")), namespace("blog", revLabel("asm-2"))}
	objs = append(objs, withPods(deployment("shop", "web", 2), "asm-1")...)
	objs = append(objs, withPods(deployment("blog", "cms", 1), "asm-2")...)
	c := newFakeCluster(t, objs...)

	res, rec := run(t, c, Options{Namespaces: []string{"shop", "blog"}, Revision: "asm-2"})

	if m := nsResult(t, res, "shop").Migration; m == nil || *m != (Migration{From: "asm-1", To: "asm-2"}) {
		t.Errorf("shop migration %+v, want asm-1 -> asm-2", m)
	}
	if m := nsResult(t, res, "blog").Migration; m != nil {
		t.Errorf("blog is on asm-2 already, migration %+v", m)
	}
	if got := workloads(res, "shop"); !slices.Equal(got, []string{"Deployment/web restart converged"}) {
		t.Errorf("shop: %v", got)
	}
	if w := nsResult(t, res, "shop").Workloads[0]; !strings.Contains(w.Why, "istio-proxy of revision asm-1; want asm-2") {
		t.Errorf("why = %q, want the old and new revision", w.Why)
	}
	if got := workloads(res, "blog"); !slices.Equal(got, []string{"Deployment/cms keep converged"}) {
		t.Errorf("blog: %v", got)
	}
	if !slices.Contains(rec.Lines(), "info namespace shop: revision asm-1 -> asm-2") {
		t.Errorf("no migration line in %v", rec.Lines())
	}
}

func TestRevisionChoice(t *testing.T) {
	base := func(objs ...runtime.Object) []runtime.Object {
		return append(objs, namespace("shop", nil))
	}
	tag := injector("asm-2")
	tag.Name, tag.Labels[mesh.LabelTag] = "istio-revision-tag-prod", "prod"
	danglingTag := injector("asm-0")
	danglingTag.Name, danglingTag.Labels[mesh.LabelTag] = "istio-revision-tag-old", "old"
	leftover := injector("asm-0")
	leftover.Webhooks = []admissionv1.MutatingWebhook{{Name: "rev.namespace.sidecar-injector.istio.io",
		ClientConfig: admissionv1.WebhookClientConfig{Service: &admissionv1.ServiceReference{Namespace: mesh.IstioSystem, Name: "istiod-asm-0"}}}}
	legacy := injector("")
	legacy.Name, legacy.Labels = mesh.LegacyInjector, map[string]string{"app": "sidecar-injector"}
	tests := []struct {
		name      string
		objs      []runtime.Object
		revision  string
		force     bool
		wantLabel string // istio.io/rev set; "" when Run must fail
		wantProxy string
		wantCode  int
		wantErr   string
	}{
		{name: "the only revision", objs: base(istiod("asm-1"), injector("asm-1")), wantLabel: "asm-1", wantProxy: "asm-1"},
		{name: "a managed control plane: webhook only", objs: base(injector("asm-managed")), wantLabel: "asm-managed", wantProxy: "asm-managed"},
		{name: "several and none chosen", objs: base(injector("asm-1"), injector("asm-2")),
			wantCode: failure.ExitUsage, wantErr: "2 revisions are installed (asm-1, asm-2)"},
		{name: "several, one chosen", objs: base(injector("asm-1"), injector("asm-2")), revision: "asm-1", wantLabel: "asm-1", wantProxy: "asm-1"},
		{name: "a tag", objs: base(injector("asm-2"), tag), revision: "prod", wantLabel: "prod", wantProxy: "asm-2"},
		{name: "unknown revision", objs: base(injector("asm-1")), revision: "asm-9",
			wantCode: failure.ExitFailure, wantErr: `revision "asm-9" is not installed in the cluster (installed: asm-1)`},
		{name: "unknown revision, forced", objs: base(injector("asm-1")), revision: "asm-9", force: true, wantLabel: "asm-9", wantProxy: "asm-9"},
		{name: "none installed", objs: base(), wantCode: failure.ExitFailure, wantErr: "no Istio control plane revision found"},
		// The revision rules of pkg/mesh, as inject, expose and validate
		// now share them.
		{name: "one revision and its tag: the only revision", objs: base(injector("asm-2"), tag), wantLabel: "asm-2", wantProxy: "asm-2"},
		{name: "a tag whose revision is gone is not installed", objs: base(injector("asm-1"), danglingTag), revision: "old",
			wantCode: failure.ExitFailure, wantErr: `revision "old" is not installed in the cluster (installed: asm-1, old (tag for asm-0))`},
		{name: "a tag whose revision is gone, forced: pods want the tag's revision", objs: base(injector("asm-1"), danglingTag), revision: "old", force: true,
			wantLabel: "old", wantProxy: "asm-0"},
		{name: "the injector of an install from before revisions is the default revision", objs: base(legacy), wantLabel: "default", wantProxy: "default"},
		{name: "a webhook left behind by a removed istiod is not an installation", objs: base(injector("asm-1"), leftover), revision: "asm-0",
			wantCode: failure.ExitFailure, wantErr: `revision "asm-0" is not installed in the cluster (installed: asm-1)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeCluster(t, tt.objs...)
			res, err := Run(context.Background(), c, nil, Options{Namespaces: []string{"shop"}, Revision: tt.revision, Force: tt.force, NoRestart: true})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || failure.ExitCode(err) != tt.wantCode {
					t.Fatalf("err = %v (exit %d), want %q (exit %d)", err, failure.ExitCode(err), tt.wantErr, tt.wantCode)
				}
				if p := c.patches(); len(p) != 0 {
					t.Errorf("patched %v before failing", p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Revision != tt.wantLabel || res.ProxyRevision != tt.wantProxy {
				t.Errorf("revision %q proxy %q, want %q %q", res.Revision, res.ProxyRevision, tt.wantLabel, tt.wantProxy)
			}
			if got := c.nsLabels("shop")[mesh.LabelRevision]; got != tt.wantLabel {
				t.Errorf("label %q, want %q", got, tt.wantLabel)
			}
		})
	}
}

func TestNamespaceSelection(t *testing.T) {
	objs := []runtime.Object{injector("asm-1"), namespace("kube-system", map[string]string{"mesh": "yes"}),
		namespace("gke-managed-system", map[string]string{"mesh": "yes"}), namespace("shop", map[string]string{"mesh": "yes"})}
	tests := []struct {
		name     string
		opts     Options
		wantCode int
		wantErr  string
		wantNS   []string
		skipped  []string
	}{
		{name: "a system namespace by name is refused", opts: Options{Namespaces: []string{"shop", "kube-system"}},
			wantCode: failure.ExitUsage, wantErr: "refusing to inject into system namespace kube-system"},
		{name: "gke-* too", opts: Options{Namespaces: []string{"gke-managed-system"}},
			wantCode: failure.ExitUsage, wantErr: "system namespace gke-managed-system"},
		{name: "forced", opts: Options{Namespaces: []string{"kube-system"}, Force: true}, wantNS: []string{"kube-system"}},
		{name: "a selector skips them and says so", opts: Options{Selector: "mesh=yes"},
			wantNS: []string{"shop"}, skipped: []string{"gke-managed-system", "kube-system"}},
		{name: "missing namespace", opts: Options{Namespaces: []string{"shop", "nope"}},
			wantCode: failure.ExitFailure, wantErr: "namespace nope not found"},
		{name: "selector matching nothing", opts: Options{Selector: "mesh=no"},
			wantCode: failure.ExitFailure, wantErr: `no namespace matches --selector "mesh=no"`},
		{name: "bad selector", opts: Options{Selector: "a=(b"}, wantCode: failure.ExitUsage, wantErr: "--selector"},
		{name: "nothing named", opts: Options{}, wantCode: failure.ExitUsage, wantErr: "--namespace"},
		{name: "disable with a revision", opts: Options{Namespaces: []string{"shop"}, Disable: true, Revision: "asm-1"},
			wantCode: failure.ExitUsage, wantErr: "--disable and --revision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeCluster(t, objs...)
			tt.opts.NoRestart = true
			res, err := Run(context.Background(), c, nil, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || failure.ExitCode(err) != tt.wantCode {
					t.Fatalf("err = %v (exit %d), want %q (exit %d)", err, failure.ExitCode(err), tt.wantErr, tt.wantCode)
				}
				if p := c.patches(); len(p) != 0 {
					t.Errorf("patched %v before refusing", p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got, skipped []string
			for _, n := range res.Namespaces {
				got = append(got, n.Name)
			}
			for _, s := range res.SkippedNamespaces {
				skipped = append(skipped, s.Name)
			}
			if !slices.Equal(got, tt.wantNS) || !slices.Equal(skipped, tt.skipped) {
				t.Errorf("namespaces %v skipped %v, want %v and %v", got, skipped, tt.wantNS, tt.skipped)
			}
		})
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	objs := []runtime.Object{injector("asm-1"), injector("asm-2"), namespace("shop", revLabel("asm-1"))}
	objs = append(objs, withPods(deployment("shop", "web", 2), "asm-1")...)
	c := newFakeCluster(t, objs...)
	res, _ := run(t, c, Options{Namespaces: []string{"shop"}, Revision: "asm-2", DryRun: true})
	for _, a := range c.Actions() {
		if v := a.GetVerb(); v != "get" && v != "list" {
			t.Errorf("dry run did %s %s", v, a.GetResource().Resource)
		}
	}
	ns := nsResult(t, res, "shop")
	if !ns.Labels.Changed() || ns.Labels.Set[mesh.LabelRevision] != "asm-2" || ns.Migration == nil {
		t.Errorf("plan labels %+v migration %+v", ns.Labels, ns.Migration)
	}
	w := ns.Workloads[0]
	if w.Action != ActionRestart || w.Outcome != OutcomePlanned || !strings.Contains(w.Why, "2 of 2 pods: istio-proxy of revision asm-1; want asm-2") {
		t.Errorf("plan %+v", w)
	}
	var decoded map[string]any
	if err := json.Unmarshal([]byte(mustJSON(t, res)), &decoded); err != nil || decoded["dryRun"] != true {
		t.Errorf("json: %v %v", decoded["dryRun"], err)
	}
}

func TestNoRestartOnlyLabels(t *testing.T) {
	objs := []runtime.Object{injector("asm-1"), namespace("shop", nil)}
	objs = append(objs, withPods(deployment("shop", "web", 1), "")...)
	c := newFakeCluster(t, objs...)
	res, _ := run(t, c, Options{Namespaces: []string{"shop"}, NoRestart: true})
	if p := c.patches(); !slices.Equal(p, []string{"namespaces /shop"}) {
		t.Errorf("patches %v, want only the namespace", p)
	}
	w := nsResult(t, res, "shop").Workloads[0]
	if w.Outcome != OutcomePending || w.Problems[0].Reason != ReasonRestartPending {
		t.Errorf("workload %+v, want pending", w)
	}
	if res.Failed() || res.Summary.Pending != 1 {
		t.Errorf("summary %+v: pending is not a failure", res.Summary)
	}
}

func TestWorkloadsThatCannotRestart(t *testing.T) {
	paused := deployment("shop", "paused", 1, func(d *appsv1.Deployment) { d.Spec.Paused = true })
	onDelete := statefulSet("shop", "db", 1)
	onDelete.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType
	objs := []runtime.Object{injector("asm-1"), namespace("shop", nil), onDelete, pod("shop", "db-0", KindStatefulSet, "db", "")}
	objs = append(objs, withPods(paused, "")...)
	c := newFakeCluster(t, objs...)
	res, _ := run(t, c, Options{Namespaces: []string{"shop"}})
	if p := c.patches(); !slices.Equal(p, []string{"namespaces /shop"}) {
		t.Errorf("patches %v", p)
	}
	reasons := map[string]Reason{}
	for _, w := range nsResult(t, res, "shop").Workloads {
		if w.Outcome != OutcomeFailed {
			t.Errorf("%s: outcome %s, want failed", w.Name, w.Outcome)
		}
		reasons[w.Name] = w.Problems[0].Reason
	}
	if reasons["paused"] != ReasonPaused || reasons["db"] != ReasonOnDelete {
		t.Errorf("reasons %v", reasons)
	}
	if !res.Failed() || res.Summary.Restarted != 0 {
		t.Errorf("summary %+v", res.Summary)
	}
}

func TestWebhookFailureIsReported(t *testing.T) {
	objs := []runtime.Object{injector("asm-1"), namespace("shop", nil)}
	objs = append(objs, withPods(deployment("shop", "web", 2), "")...)
	c := newFakeCluster(t, objs...)
	c.failInjectionOnRestart()
	res, rec := run(t, c, Options{Namespaces: []string{"shop"}, WaitTimeout: 300 * time.Millisecond})

	w := nsResult(t, res, "shop").Workloads[0]
	if w.Outcome != OutcomeFailed {
		t.Fatalf("outcome %s, want failed", w.Outcome)
	}
	var reasons []string
	for _, p := range w.Problems {
		reasons = append(reasons, string(p.Reason)+": "+p.Message)
	}
	all := strings.Join(reasons, "\n")
	for _, want := range []string{"RolloutStuck: rollout not finished in time: waiting for the deployment spec update to be observed",
		`WebhookFailed: 2 of 2 pods missing: Error creating: Internal error occurred: failed calling webhook "rev.namespace.sidecar-injector.istio.io"`} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	if !res.Failed() {
		t.Error("result does not fail")
	}
	if !slices.Contains(rec.Lines(), "fail restart 1 workload(s) in 1 namespace(s): 1 of 1 workload(s) did not roll out") {
		t.Errorf("reporter: %v", rec.Lines())
	}
}

func TestStuckRolloutNamesTheControllersReason(t *testing.T) {
	objs := []runtime.Object{injector("asm-1"), namespace("shop", nil)}
	objs = append(objs, withPods(deployment("shop", "web", 2), "")...)
	c := newFakeCluster(t, objs...)
	c.failCreateOnRestart(`pods "web-new-x" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2`)
	res, _ := run(t, c, Options{Namespaces: []string{"shop"}, WaitTimeout: 300 * time.Millisecond})

	w := nsResult(t, res, "shop").Workloads[0]
	var got []string
	for _, p := range w.Problems {
		got = append(got, string(p.Reason))
	}
	// The old pods still run without the proxy; the new ones cannot be made.
	want := []string{"RolloutStuck", "FailedCreate", "NoProxy", "NoProxy"}
	if !slices.Equal(got, want) {
		t.Errorf("reasons %v, want %v (%+v)", got, want, w.Problems)
	}
	if !strings.Contains(w.Problems[1].Message, "exceeded quota") {
		t.Errorf("FailedCreate message %q", w.Problems[1].Message)
	}
}

func TestCancelledRunStops(t *testing.T) {
	objs := []runtime.Object{injector("asm-1"), namespace("shop", nil)}
	objs = append(objs, withPods(deployment("shop", "web", 1), "")...)
	c := newFakeCluster(t, objs...)
	c.failInjectionOnRestart()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(100 * time.Millisecond)
		cancel()
	}()
	_, err := Run(ctx, c, nil, Options{Namespaces: []string{"shop"}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
