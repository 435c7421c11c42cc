package validate

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/meshctl/meshctl/cmd/meshctl/cmdtest"
	"github.com/meshctl/meshctl/internal/config"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/validate"
	"github.com/meshctl/meshctl/pkg/vm"
)

func TestNewCmdValidate(t *testing.T) {
	f, _ := cmdtest.Factory(nil, nil)
	var got *ValidateOptions
	err := cmdtest.Execute(NewCmdValidate(f, cmdtest.Capture(&got)), "-n", "shop,pay", "--service", "shop/cart", "--cert-warn-days", "7",
		"--skip-asmcli", "--skip-lb", "--asmcli", "/bin/asmcli", "--junit", "out.xml", "--fail-on", "warning")
	if err != nil {
		t.Fatal(err)
	}
	want := validate.Options{Namespaces: []string{"shop", "pay"}, Services: []string{"shop/cart"}, CertWarnDays: 7, FailOn: findings.Warning}
	if !reflect.DeepEqual(got.Validate, want) || !got.SkipAsmcli || !got.SkipLB || got.Asmcli != "/bin/asmcli" || got.JUnit != "out.xml" {
		t.Errorf("options %+v", got)
	}
	if got.Clients == nil || got.Printer != f.Printer {
		t.Error("clients or printer not handed over")
	}

	got = nil
	if err := cmdtest.Execute(NewCmdValidate(f, cmdtest.Capture(&got)), nil...); err != nil || got.Validate.CertWarnDays != 30 || got.Validate.FailOn != findings.Error {
		t.Errorf("defaults: %v, %+v", err, got)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--fail-on", "fatal"}, "error, warning or info"},
		{[]string{"--cert-warn-days", "-1"}, "--cert-warn-days must not be negative"},
		{[]string{"shop"}, "unknown command"},
	} {
		got = nil
		err := cmdtest.Execute(NewCmdValidate(f, cmdtest.Capture(&got)), tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || got != nil {
			t.Errorf("%v: err %v, want %q", tc.args, err, tc.want)
		}
	}
}

// run prints the report once, writes JUnit beside it, and exits 3 when a
// finding reaches --fail-on.
func TestRun(t *testing.T) {
	f, out := cmdtest.Factory(&config.Settings{Output: ui.FormatJSON}, nil)
	junit := filepath.Join(t.TempDir(), "validate.xml")
	released := false
	opts := &ValidateOptions{
		Validate: validate.Options{FailOn: findings.Error, CertWarnDays: 30},
		JUnit:    junit,
		Printer:  f.Printer,
		Clients: func(context.Context, *ValidateOptions) (validate.Clients, func(), error) {
			// A namespace labelled for a revision that is not installed: MC0204.
			kc := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"istio.io/rev": "asm-9"}}})
			dc := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
				{Group: "networking.istio.io", Version: "v1", Resource: "gateways"}:        "GatewayList",
				{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}: "VirtualServiceList",
				vm.GVRWorkloadGroup: "WorkloadGroupList", vm.GVRWorkloadEntry: "WorkloadEntryList"})
			return validate.Clients{Kube: kc, Dynamic: dc}, func() { released = true }, nil
		},
	}
	err := run(context.Background(), opts)
	if failure.ExitCode(err) != failure.ExitProblems {
		t.Fatalf("exit %d (%v), want 3\n%s", failure.ExitCode(err), err, out.Out.String())
	}
	var res validate.Result
	if err := json.Unmarshal(out.Out.Bytes(), &res); err != nil {
		t.Fatalf("%v\n%s", err, out.Out.String())
	}
	if !strings.Contains(out.Out.String(), `"MC0204"`) {
		t.Errorf("report lacks MC0204:\n%s", out.Out.String())
	}
	if b, err := os.ReadFile(junit); err != nil || !strings.Contains(string(b), "<testsuites") || !strings.Contains(string(b), "MC0204") {
		t.Errorf("junit: %v\n%s", err, b)
	}
	if !released {
		t.Error("clients not released")
	}

	// An unwritable --junit path says so.
	opts.JUnit = filepath.Join(t.TempDir(), "missing", "validate.xml")
	err = run(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "write --junit") || failure.HintOf(err) != "pass a writable path" {
		t.Errorf("unwritable junit: %v", err)
	}

	// Clients that cannot be built stop the run.
	opts.Clients = func(context.Context, *ValidateOptions) (validate.Clients, func(), error) {
		return validate.Clients{}, nil, errors.New("no kubeconfig")
	}
	if err := run(context.Background(), opts); err == nil || err.Error() != "no kubeconfig" {
		t.Errorf("no clients: %v", err)
	}
}

// The clients follow --skip-lb and --skip-asmcli; a Compute client that
// cannot be built is the load balancer checks' finding, bad settings stop
// the run.
func TestClients(t *testing.T) {
	kubeconfig, err := filepath.Abs("../../../testdata/kubeconfig/gke.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f, _ := cmdtest.Factory(&config.Settings{Kubeconfig: kubeconfig}, nil)
	c, release, err := clients(f)(ctx, &ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	release()
	if c.Kube == nil || c.Dynamic == nil || c.Asmcli == nil || c.Compute != nil || c.ComputeErr == nil || !strings.Contains(c.ComputeErr.Error(), "no project") {
		t.Errorf("no project: %+v", c)
	}
	c, _, err = clients(f)(ctx, &ValidateOptions{SkipLB: true, SkipAsmcli: true})
	if err != nil || c.Asmcli != nil || c.Compute != nil || c.ComputeErr != nil {
		t.Errorf("skipped: %v, %+v", err, c)
	}

	f, _ = cmdtest.Factory(&config.Settings{Kubeconfig: kubeconfig, Project: "p", ComputeEndpoint: "http://compute.example.com"}, nil)
	if _, _, err := clients(f)(ctx, &ValidateOptions{}); failure.ExitCode(err) != failure.ExitUsage {
		t.Errorf("plain http to a remote endpoint: %v (exit %d), want a usage error", err, failure.ExitCode(err))
	}
	f, _ = cmdtest.Factory(&config.Settings{Kubeconfig: kubeconfig, Project: "p"}, nil)
	c, _, err = clients(f)(ctx, &ValidateOptions{})
	if err != nil || c.Compute != nil || c.ComputeErr == nil {
		t.Errorf("no credentials: %v, %+v; want the failure handed to the checks", err, c)
	}
}
