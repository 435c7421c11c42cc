package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/inject"
	"github.com/spf13/cobra"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
)

func TestInjectFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"inject"}, "at least one of the flags in the group [namespace selector] is required"},
		{[]string{"inject", "-n", "a", "--disable", "--revision", "asm-1"}, "if any flags in the group [disable revision] are set none of the others can be"},
		{[]string{"inject", "-n", "a", "--concurrency", "0"}, "--concurrency must be at least 1"},
		{[]string{"inject", "extra"}, `unknown command "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			h := newHarness(t)
			r := h.run(t, tt.args...)
			if r.code != ui.ExitUsage || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", r.code, r.stderr, tt.want)
			}
		})
	}
}

// injectHarness runs meshctl inject against a fake cluster and returns the
// rate limits the client was built with.
func injectHarness(t *testing.T, objs ...runtime.Object) (*harness, *rest.Config) {
	kubeconfig, _ := filepath.Abs("../../testdata/kubeconfig/gke.yaml")
	h := newHarness(t)
	h.env["KUBECONFIG"] = kubeconfig
	seen := &rest.Config{}
	h.extra = func(app *App) []*cobra.Command {
		app.NewKubeClient = func(rc *rest.Config) (kubernetes.Interface, error) {
			*seen = *rc
			return fake.NewClientset(objs...), nil
		}
		return nil
	}
	return h, seen
}

func TestInjectCommand(t *testing.T) {
	one, yes := int32(1), true
	deploy := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec:   appsv1.DeploymentSpec{Replicas: &one},
		Status: appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1}}
	objs := []runtime.Object{
		&admissionv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "istio-sidecar-injector-asm-1",
			Labels: map[string]string{"istio.io/rev": "asm-1"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"istio-injection": "enabled"}}},
		deploy,
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1", OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", Controller: &yes}}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1-a", OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-1", Controller: &yes}}}},
	}

	t.Run("dry run as json", func(t *testing.T) {
		h, rc := injectHarness(t, objs...)
		r := h.run(t, "inject", "-n", "shop", "--dry-run", "-o", "json")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var res inject.Result
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("stdout is not the result as JSON: %v\n%s", err, r.stdout)
		}
		if !res.DryRun || res.Revision != "asm-1" || len(res.Namespaces) != 1 || res.Namespaces[0].Labels.Set["istio.io/rev"] != "asm-1" {
			t.Errorf("result %+v", res)
		}
		if rc.QPS != injectQPS || rc.Burst != injectBurst || rc.ContentType != "application/vnd.kubernetes.protobuf" {
			t.Errorf("client QPS %v burst %d content %q, want %d, %d and protobuf", rc.QPS, rc.Burst, rc.ContentType, injectQPS, injectBurst)
		}
	})

	t.Run("a workload that does not converge exits 3", func(t *testing.T) {
		// The fake has no controllers and no webhook: the restarted
		// Deployment keeps its pod without istio-proxy.
		h, _ := injectHarness(t, objs...)
		r := h.run(t, "inject", "-n", "shop", "--timeout", "3s")
		if r.code != ui.ExitProblems {
			t.Fatalf("exit %d, want 3\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "deployment/web  restarted  ✗ failed") || !strings.Contains(r.stdout, "NoProxy: no istio-proxy (pod web-1-a)") {
			t.Errorf("stdout:\n%s", r.stdout)
		}
	})

	t.Run("several revisions: stop and list them", func(t *testing.T) {
		two := append([]runtime.Object{&admissionv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "istio-sidecar-injector-asm-2",
			Labels: map[string]string{"istio.io/rev": "asm-2"}}}}, objs...)
		h, _ := injectHarness(t, two...)
		r := h.run(t, "inject", "-n", "shop")
		if r.code != ui.ExitUsage || !strings.Contains(r.stderr, "2 revisions are installed (asm-1, asm-2)") ||
			!strings.Contains(r.stderr, "Hint: add one of: --revision asm-1, --revision asm-2") {
			t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
		}
	})
}
