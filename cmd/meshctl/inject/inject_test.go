package inject

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/meshctl/meshctl/cmd/meshctl/cmdtest"
	"github.com/meshctl/meshctl/internal/config"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/inject"
)

func TestNewCmdInject(t *testing.T) {
	tests := []struct {
		args []string
		want inject.Options
		err  string
	}{
		{args: []string{"-n", "shop", "--namespace", "a,b"}, want: inject.Options{Namespaces: []string{"shop", "a", "b"}, Concurrency: inject.DefaultConcurrency}},
		{args: []string{"-l", "team=web", "--revision", "asm-2", "--force", "--no-restart", "--dry-run", "--concurrency", "3"},
			want: inject.Options{Selector: "team=web", Revision: "asm-2", Force: true, NoRestart: true, DryRun: true, Concurrency: 3}},
		{args: []string{"-n", "legacy", "--disable"}, want: inject.Options{Namespaces: []string{"legacy"}, Disable: true, Concurrency: inject.DefaultConcurrency}},
		{args: nil, err: "at least one of the flags in the group [namespace selector] is required"},
		{args: []string{"-n", "a", "--disable", "--revision", "asm-1"}, err: "if any flags in the group [disable revision] are set none of the others can be"},
		{args: []string{"-n", "a", "--concurrency", "0"}, err: "--concurrency must be at least 1"},
		{args: []string{"extra"}, err: `unknown command "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f, _ := cmdtest.Factory(nil, nil)
			var got *InjectOptions
			err := cmdtest.Execute(NewCmdInject(f, cmdtest.Capture(&got)), tt.args...)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || got != nil {
					t.Errorf("err %v, ran %v; want %q", err, got != nil, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			o := got.Inject
			if !slices.Equal(o.Namespaces, tt.want.Namespaces) || o.Selector != tt.want.Selector || o.Revision != tt.want.Revision ||
				o.Disable != tt.want.Disable || o.Force != tt.want.Force || o.NoRestart != tt.want.NoRestart || o.DryRun != tt.want.DryRun ||
				o.Concurrency != tt.want.Concurrency {
				t.Errorf("options %+v, want %+v", o, tt.want)
			}
			if got.Kube == nil || got.Printer != f.Printer || got.Reporter != f.Reporter {
				t.Error("client, printer or reporter not handed over")
			}
		})
	}
	// A usage error, so that the exit code is 2.
	f, _ := cmdtest.Factory(nil, nil)
	if err := cmdtest.Execute(NewCmdInject(f, nil), "-n", "a", "--concurrency", "0"); failure.ExitCode(err) != failure.ExitUsage {
		t.Errorf("--concurrency 0: exit code %d", failure.ExitCode(err))
	}
}

// runOn runs inject with opts against a fake cluster holding objs and
// returns what was printed and the error.
func runOn(t *testing.T, format ui.Format, o inject.Options, objs ...runtime.Object) (string, error) {
	t.Helper()
	f, out := cmdtest.Factory(&config.Settings{Output: format}, nil)
	opts := &InjectOptions{
		Inject:   o,
		Kube:     func() (kubernetes.Interface, error) { return fake.NewClientset(objs...), nil },
		Printer:  f.Printer,
		Reporter: ui.Discard,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := run(ctx, opts)
	return out.Out.String(), err
}

func TestRun(t *testing.T) {
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
	shop := inject.Options{Namespaces: []string{"shop"}, Concurrency: inject.DefaultConcurrency}

	t.Run("dry run as json", func(t *testing.T) {
		o := shop
		o.DryRun = true
		stdout, err := runOn(t, ui.FormatJSON, o, objs...)
		if err != nil {
			t.Fatal(err)
		}
		var res inject.Result
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("stdout is not the result as JSON: %v\n%s", err, stdout)
		}
		if !res.DryRun || res.Revision != "asm-1" || len(res.Namespaces) != 1 || res.Namespaces[0].Labels.Set["istio.io/rev"] != "asm-1" {
			t.Errorf("result %+v", res)
		}
	})

	t.Run("a workload that does not converge exits 3", func(t *testing.T) {
		// The fake has no controllers and no webhook: the restarted
		// Deployment keeps its pod without istio-proxy.
		stdout, err := runOn(t, ui.FormatText, shop, objs...)
		if failure.ExitCode(err) != failure.ExitProblems {
			t.Fatalf("exit %d (%v), want 3\n%s", failure.ExitCode(err), err, stdout)
		}
		if !strings.Contains(stdout, "deployment/web  restarted  ✗ failed") || !strings.Contains(stdout, "NoProxy: no istio-proxy (pod web-1-a)") {
			t.Errorf("stdout:\n%s", stdout)
		}
	})

	t.Run("several revisions: stop and list them", func(t *testing.T) {
		two := append([]runtime.Object{&admissionv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "istio-sidecar-injector-asm-2",
			Labels: map[string]string{"istio.io/rev": "asm-2"}}}}, objs...)
		stdout, err := runOn(t, ui.FormatText, shop, two...)
		if failure.ExitCode(err) != failure.ExitUsage || !strings.Contains(err.Error(), "2 revisions are installed (asm-1, asm-2)") ||
			failure.HintOf(err) != "add one of: --revision asm-1, --revision asm-2" || stdout != "" {
			t.Errorf("exit %d, err %v, hint %q, stdout %q", failure.ExitCode(err), err, failure.HintOf(err), stdout)
		}
	})
}
