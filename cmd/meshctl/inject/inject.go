// Package inject is `meshctl inject`: namespaces' workloads into the mesh,
// or out of it (the work is pkg/inject's).
package inject

import (
	"context"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/inject"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// InjectOptions are what `meshctl inject` runs with.
type InjectOptions struct {
	Inject inject.Options
	// Kube builds the Kubernetes client.
	Kube func() (kubernetes.Interface, error)
	// SkipPermissionCheck is --skip-permission-check; Preflight builds the
	// check of the plan's permissions.
	SkipPermissionCheck bool
	Preflight           func(context.Context) *preflight.Checker
	Printer             *ui.Printer
	Reporter            ui.Reporter
}

// NewCmdInject returns `meshctl inject`; runF replaces its run in tests.
func NewCmdInject(f *factory.Factory, runF func(*InjectOptions) error) *cobra.Command {
	opts := &InjectOptions{}
	cmd := &cobra.Command{
		Use:   "inject",
		Short: "Put namespaces' workloads into the mesh (or take them out) and prove it",
		Long: `Label namespaces for a control-plane revision's sidecar injection, restart the
workloads whose pods do not already run that revision's istio-proxy, wait for
the rollouts and check every pod.

The namespaces get istio.io/rev=REVISION and lose istio-injection (with both,
the revision's webhook skips the namespace: istioctl's IST0123). A namespace
labelled for another revision moves to the new one (a canary upgrade).
Deployments, StatefulSets and DaemonSets are restarted the way
'kubectl rollout restart' does it, only when some of their pods lack the
wanted proxy, so running the command again restarts nothing. Workloads opted
out with sidecar.istio.io/inject=false, and host-network ones, are left alone.

The revision is the only one installed, unless --revision names one. System
namespaces (kube-system, istio-system, gke-*...) are refused without --force.
The rollouts must finish within --timeout; pods that end up without the wanted
proxy are listed with the reason, and the exit code is then 3.`,
		Example: `  # Put two namespaces into the mesh of the installed revision
  meshctl inject --namespace shop --namespace payments

  # Move every namespace labelled team=web to revision asm-1282-4, showing the plan first
  meshctl inject --selector team=web --revision asm-1282-4 --dry-run
  meshctl inject --selector team=web --revision asm-1282-4

  # Take a namespace out of the mesh
  meshctl inject --namespace legacy --disable

  # Per namespace and workload results for a script
  meshctl inject -n shop -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Inject.Concurrency < 1 {
				return failure.Usagef("--concurrency must be at least 1")
			}
			opts.Kube, opts.Printer, opts.Reporter = f.Kube, f.Printer, f.Reporter
			opts.Preflight = f.Preflight(&opts.SkipPermissionCheck)
			if runF != nil {
				return runF(opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	o := &opts.Inject
	fl.StringSliceVarP(&o.Namespaces, "namespace", "n", nil, "namespace to inject (repeatable, or comma-separated)")
	fl.StringVarP(&o.Selector, "selector", "l", "", "pick namespaces by label selector, e.g. team=web,env!=dev")
	fl.StringVar(&o.Revision, "revision", "", "control-plane revision or revision tag (default: the only one installed)")
	fl.BoolVar(&o.Disable, "disable", false, "take the namespaces out of the mesh: istio-injection=disabled, no istio.io/rev")
	fl.BoolVar(&o.Force, "force", false, "allow system namespaces, and a revision not found in the cluster")
	fl.BoolVar(&o.NoRestart, "no-restart", false, "only label the namespaces; pods change at their next restart")
	fl.BoolVar(&o.DryRun, "dry-run", false, "show the plan (labels to change, workloads to restart and why) and change nothing")
	fl.IntVar(&o.Concurrency, "concurrency", inject.DefaultConcurrency, "namespaces worked on at once")
	factory.AddSkipPermissionCheck(cmd, &opts.SkipPermissionCheck)
	cmd.MarkFlagsOneRequired("namespace", "selector")
	cmd.MarkFlagsMutuallyExclusive("disable", "revision")
	return cmd
}

func run(ctx context.Context, opts *InjectOptions) error {
	kc, err := opts.Kube()
	if err != nil {
		return err
	}
	if opts.Preflight != nil {
		opts.Inject.Preflight = opts.Preflight(ctx)
	}
	res, err := inject.Run(ctx, kc, opts.Reporter, opts.Inject)
	if err != nil {
		return err
	}
	if err := opts.Printer.Print(res); err != nil {
		return err
	}
	if res.Failed() {
		return failure.Problems()
	}
	return nil
}
