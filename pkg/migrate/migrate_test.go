package migrate

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube/kubefake"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/inject"
	"github.com/meshctl/meshctl/pkg/install/managed"
	"github.com/meshctl/meshctl/pkg/mesh"
)

var (
	gvrHooks      = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"}
	gvrDeploy     = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	gvrNamespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	gvrPods       = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
)

const (
	oldRev     = "asm-1"
	managedRev = "asm-managed"
)

// cluster is an asmcli install of oldRev (istiod, its webhook and mesh
// config) with namespaces labelled for it, each with two pods on it.
func cluster(namespaces ...string) *kubefake.Objects {
	f := kubefake.New()
	f.Add(gvrDeploy, &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "istiod-" + oldRev, Namespace: mesh.IstioSystem,
			Labels: map[string]string{"app": "istiod", mesh.LabelRevision: oldRev, "app.kubernetes.io/name": "istiod"}}})
	f.Add(gvrHooks, &admissionv1.MutatingWebhookConfiguration{TypeMeta: metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: "istio-sidecar-injector-" + oldRev, Labels: map[string]string{mesh.LabelRevision: oldRev, "app": "sidecar-injector"}},
		Webhooks: []admissionv1.MutatingWebhook{{Name: "rev.namespace.sidecar-injector.istio.io",
			ClientConfig: admissionv1.WebhookClientConfig{Service: &admissionv1.ServiceReference{Namespace: mesh.IstioSystem, Name: "istiod-" + oldRev}}}}})
	f.Add(configMaps, &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "istio-" + oldRev, Namespace: mesh.IstioSystem, Labels: map[string]string{mesh.LabelRevision: oldRev, "app.kubernetes.io/name": "istiod"}},
		Data:       map[string]string{"mesh": "defaultConfig:\n  proxyMetadata:\n    CA_PROVIDER: GoogleCA\n"}})
	for _, ns := range namespaces {
		f.Add(gvrNamespaces, &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{mesh.LabelRevision: oldRev}}})
		addPod(f, ns, "web-1", oldRev)
		addPod(f, ns, "web-2", oldRev)
	}
	return f
}

// addPod adds a running pod of Deployment web with istio-proxy of rev.
func addPod(f *kubefake.Objects, ns, name, rev string) {
	ctrl, always := true, corev1.ContainerRestartPolicyAlways
	f.Add(gvrPods, &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "web"},
			Annotations:     map[string]string{mesh.AnnotationStatus: `{"revision":"` + rev + `"}`},
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-5d6f", Controller: &ctrl}}},
		Spec:   corev1.PodSpec{InitContainers: []corev1.Container{{Name: mesh.ProxyContainer, RestartPolicy: &always}}, Containers: []corev1.Container{{Name: "app"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}})
}

// provisioner plays install --managed: the managed revision's webhook (a
// URL) appears in the cluster.
type provisioner struct {
	f     *kubefake.Objects
	calls []managed.Options
}

func (p *provisioner) Install(_ context.Context, o managed.Options) (managed.Result, error) {
	p.calls = append(p.calls, o)
	if o.DryRun {
		return managed.Result{Channel: "regular"}, nil
	}
	changed := p.f.Stored(gvrHooks, "", "istiod-"+managedRev) == nil
	url := "https://meshconfig.example/inject"
	p.f.Add(gvrHooks, &admissionv1.MutatingWebhookConfiguration{TypeMeta: metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: "istiod-" + managedRev, Labels: map[string]string{mesh.LabelRevision: managedRev}},
		Webhooks:   []admissionv1.MutatingWebhook{{Name: "rev.namespace.sidecar-injector.istio.io", ClientConfig: admissionv1.WebhookClientConfig{URL: &url}}}})
	return managed.Result{Revision: managedRev, Channel: "regular", Changed: changed}, nil
}

// mover plays inject: it relabels each namespace and puts its pods on the
// revision, unless the namespace is in fail.
type mover struct {
	f     *kubefake.Objects
	fail  map[string]bool
	calls [][]string
}

func (m *mover) Inject(_ context.Context, _ ui.Reporter, o inject.Options) (*inject.Result, error) {
	if o.DryRun {
		res := &inject.Result{DryRun: true}
		for _, ns := range o.Namespaces {
			res.Namespaces = append(res.Namespaces, inject.NamespaceResult{Name: ns, Workloads: []inject.WorkloadResult{{Kind: "Deployment", Name: "web", Action: inject.ActionRestart}}})
		}
		return res, nil
	}
	m.calls = append(m.calls, o.Namespaces)
	res := &inject.Result{}
	for _, ns := range o.Namespaces {
		w := inject.WorkloadResult{Kind: "Deployment", Name: "web", Action: inject.ActionRestart, Outcome: inject.OutcomeConverged, Pods: 2, OK: 2}
		if m.fail[ns] {
			w.Outcome, w.OK, w.Problems = inject.OutcomeFailed, 0, []inject.Problem{{Reason: "RolloutStuck", Message: "rollout stuck"}}
			res.Summary.Failed++
		} else {
			m.f.Update(gvrNamespaces, &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
				ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{mesh.LabelRevision: o.Revision}}})
			addPod(m.f, ns, "web-1", o.Revision)
			addPod(m.f, ns, "web-2", o.Revision)
			res.Summary.Restarted++
		}
		res.Namespaces = append(res.Namespaces, inject.NamespaceResult{Name: ns, Workloads: []inject.WorkloadResult{w}})
	}
	return res, nil
}

func migrator(f *kubefake.Objects, fail ...string) (Migrator, *provisioner, *mover) {
	p := &provisioner{f: f}
	m := &mover{f: f, fail: map[string]bool{}}
	for _, ns := range fail {
		m.fail[ns] = true
	}
	return Migrator{Objects: f, Managed: p, Mover: m}, p, m
}

func actions(res *Result) map[string]string {
	out := map[string]string{}
	for _, s := range res.Steps {
		out[s.Name] = s.Action
	}
	return out
}

func TestRunMovesInBatchesThenRemovesTheRevision(t *testing.T) {
	f := cluster("a", "b", "c")
	m, p, mv := migrator(f)
	res, err := m.Run(context.Background(), Options{Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := mv.calls; len(got) != 2 || !slices.Equal(got[0], []string{"a", "b"}) || !slices.Equal(got[1], []string{"c"}) {
		t.Errorf("batches moved: %v", got)
	}
	if len(p.calls) != 1 || p.calls[0].DryRun {
		t.Errorf("managed installs: %+v", p.calls)
	}
	want := map[string]string{StepPrechecks: ActionChecked, StepProvision: ActionDone, "move-batch-1": ActionDone,
		"move-batch-2": ActionDone, StepConfirm: ActionChecked, StepRemove: ActionDone}
	if got := actions(res); !maps.Equal(got, want) {
		t.Errorf("steps %v, want %v", got, want)
	}
	if !res.Changed || res.From != oldRev || res.To != managedRev || len(res.Batches) != 2 || res.Batches[0].Pods != 4 {
		t.Errorf("result %+v", res)
	}
	if f.Stored(gvrDeploy, mesh.IstioSystem, "istiod-"+oldRev) != nil || f.Stored(gvrHooks, "", "istio-sidecar-injector-"+oldRev) != nil {
		t.Errorf("the old revision is still there: %v", f.Keys())
	}
	if f.Stored(gvrHooks, "", "istiod-"+managedRev) == nil {
		t.Error("the managed revision went too")
	}

	// Again: the in-cluster revision is gone, nothing moves.
	res, err = m.Run(context.Background(), Options{Batch: 2})
	if err != nil || res.Changed || res.From != "" || len(mv.calls) != 2 {
		t.Errorf("second run: %v %+v, moves %v", err, res, mv.calls)
	}
}

func TestRunStopsAtTheFirstFailedBatchWithTheWayBack(t *testing.T) {
	f := cluster("a", "b", "c", "d")
	m, _, mv := migrator(f, "c")
	res, err := m.Run(context.Background(), Options{Batch: 2})
	if err == nil {
		t.Fatal("want an error")
	}
	if len(mv.calls) != 2 {
		t.Errorf("batches after the failed one ran: %v", mv.calls)
	}
	wantBack := "meshctl inject --revision asm-1 --namespace c --namespace d"
	if len(res.WayBack) != 2 || res.WayBack[0] != wantBack || !strings.Contains(res.WayBack[1], "--namespace a --namespace b --namespace c --namespace d") {
		t.Errorf("way back %q", res.WayBack)
	}
	if hint := failure.HintOf(err); !strings.Contains(hint, wantBack) || !strings.Contains(err.Error(), "c/Deployment/web (rollout stuck)") {
		t.Errorf("error %v, hint %q", err, hint)
	}
	if f.Stored(gvrDeploy, mesh.IstioSystem, "istiod-"+oldRev) == nil {
		t.Error("the old revision was removed after a failed batch")
	}

	// Fixed and run again: only what is left moves (d converged in the
	// failed batch).
	mv.fail = nil
	if _, err := m.Run(context.Background(), Options{Batch: 2}); err != nil {
		t.Fatal(err)
	}
	if got := mv.calls[2:]; len(got) != 1 || !slices.Equal(got[0], []string{"c"}) {
		t.Errorf("re-run moved %v", got)
	}
}

func TestPrechecksRefuseBeforeAnyChange(t *testing.T) {
	f := cluster("a")
	f.Update(configMaps, &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "istio-" + oldRev, Namespace: mesh.IstioSystem},
		Data:       map[string]string{"mesh": "defaultConfig:\n  proxyMetadata:\n    CA_PROVIDER: Citadel\n"}})
	addPod(f, "kube-system", "agent", oldRev)
	m, p, mv := migrator(f)
	res, err := m.Run(context.Background(), Options{})
	if failure.ExitCode(err) != failure.ExitProblems {
		t.Fatalf("err %v (exit %d), want the problems exit code", err, failure.ExitCode(err))
	}
	var codes []string
	for _, x := range res.Precheck {
		codes = append(codes, x.Code+" "+x.Object)
	}
	if want := []string{"MC0273 ConfigMap istio-system/istio-asm-1", "MC0274 Pod kube-system/agent"}; !slices.Equal(codes, want) {
		t.Errorf("findings %v, want %v", codes, want)
	}
	if len(p.calls) != 0 || len(mv.calls) != 0 || len(f.Writes()) != 0 {
		t.Errorf("changes after a refusal: installs %d, moves %v, writes %v", len(p.calls), mv.calls, f.Writes())
	}

	// --skip-checks goes on; kube-system is not moved.
	if _, err := m.Run(context.Background(), Options{SkipChecks: true, ConfirmTimeout: 1}); err == nil {
		t.Fatal("want the confirmation to fail: a pod in kube-system still runs the old revision")
	}
	if len(mv.calls) != 1 || !slices.Equal(mv.calls[0], []string{"a"}) {
		t.Errorf("moves %v", mv.calls)
	}
}

func TestDryRunPlansEveryStepAndChangesNothing(t *testing.T) {
	f := cluster("a", "b", "c")
	m, p, mv := migrator(f)
	res, err := m.Run(context.Background(), Options{Batch: 2, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{StepPrechecks: ActionChecked, StepProvision: ActionPlanned, "move-batch-1": ActionPlanned,
		"move-batch-2": ActionPlanned, StepConfirm: ActionPlanned, StepRemove: ActionPlanned}
	if got := actions(res); !maps.Equal(got, want) {
		t.Errorf("steps %v, want %v", got, want)
	}
	if res.To != managedRev || len(res.Batches) != 2 || res.Batches[0].Restart != 2 || res.Uninstall == nil || len(res.Uninstall.Changes) == 0 {
		t.Errorf("plan %+v", res)
	}
	if len(p.calls) != 1 || !p.calls[0].DryRun || len(mv.calls) != 0 || len(f.Writes()) != 0 {
		t.Errorf("a dry run changed something: installs %+v, moves %v, writes %v", p.calls, mv.calls, f.Writes())
	}
}

func TestSourceNeedsFromWithTwoInClusterRevisions(t *testing.T) {
	f := cluster("a")
	f.Add(gvrDeploy, &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "istiod-asm-2", Namespace: mesh.IstioSystem, Labels: map[string]string{"app": "istiod", mesh.LabelRevision: "asm-2"}}})
	m, p, _ := migrator(f)
	_, err := m.Run(context.Background(), Options{})
	if failure.ExitCode(err) != failure.ExitUsage || !strings.Contains(failure.HintOf(err), "--from") {
		t.Fatalf("err %v hint %q", err, failure.HintOf(err))
	}
	if len(p.calls) != 0 {
		t.Error("installed after a usage error")
	}
	res, err := m.Run(context.Background(), Options{From: oldRev, DryRun: true})
	if err != nil || res.From != oldRev {
		t.Errorf("--from: %v %+v", err, res)
	}
}

func TestSplit(t *testing.T) {
	got := split([]string{"a", "b", "c", "d", "e"}, 2)
	if len(got) != 3 || !slices.Equal(got[2], []string{"e"}) {
		t.Errorf("split = %v", got)
	}
	// A batch's slice must not share room with the next: appending to one
	// would overwrite the other.
	got[0] = append(got[0], "x")
	if got[1][0] != "c" {
		t.Errorf("batches share their backing array: %v", got)
	}
}
