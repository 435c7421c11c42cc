package cli

import (
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/inject"
	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
)

// injectQPS and injectBurst replace client-go's defaults (5 and 10) for
// inject, which reads and watches a handful of objects per namespace: with
// 50 namespaces the defaults alone would take over a minute. kubectl allows
// bursts of 300 as well.
const (
	injectQPS   = 100
	injectBurst = 300
)

func newInjectCmd(app *App) *cobra.Command {
	var opts inject.Options
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
			if opts.Concurrency < 1 {
				return ui.Usagef("--concurrency must be at least 1")
			}
			kc, err := injectClient(app)
			if err != nil {
				return err
			}
			res, err := inject.Run(cmd.Context(), kc, app.Reporter, opts)
			if err != nil {
				return err
			}
			if err := app.Print(res); err != nil {
				return err
			}
			if res.Failed() {
				return ui.Problems()
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&opts.Namespaces, "namespace", "n", nil, "namespace to inject (repeatable, or comma-separated)")
	f.StringVarP(&opts.Selector, "selector", "l", "", "pick namespaces by label selector, e.g. team=web,env!=dev")
	f.StringVar(&opts.Revision, "revision", "", "control-plane revision or revision tag (default: the only one installed)")
	f.BoolVar(&opts.Disable, "disable", false, "take the namespaces out of the mesh: istio-injection=disabled, no istio.io/rev")
	f.BoolVar(&opts.Force, "force", false, "allow system namespaces, and a revision not found in the cluster")
	f.BoolVar(&opts.NoRestart, "no-restart", false, "only label the namespaces; pods change at their next restart")
	f.BoolVar(&opts.DryRun, "dry-run", false, "show the plan (labels to change, workloads to restart and why) and change nothing")
	f.IntVar(&opts.Concurrency, "concurrency", inject.DefaultConcurrency, "namespaces worked on at once")
	cmd.MarkFlagsOneRequired("namespace", "selector")
	cmd.MarkFlagsMutuallyExclusive("disable", "revision")
	return cmd
}

// injectClient returns a Kubernetes client with rate limits fit for many
// namespaces at once, speaking protobuf as the controllers do: the API
// server then encodes the watch events inject shares with them once, not
// again as JSON.
func injectClient(app *App) (kubernetes.Interface, error) {
	rc, err := app.KubeRESTConfig()
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = injectQPS, injectBurst
	rc.ContentType = "application/vnd.kubernetes.protobuf"
	rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	return app.NewKubeClient(rc)
}
