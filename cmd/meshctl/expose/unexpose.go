package expose

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/expose"
	"github.com/meshctl/meshctl/pkg/gatewayapi"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// UnexposeOptions are what `meshctl unexpose svc` runs with.
type UnexposeOptions struct {
	Unexpose expose.UnexposeOptions
	// NoLB is --no-lb: the gateway alone.
	NoLB bool
	// LB says where the load balancer is, and builds its client.
	LB      expose.LoadBalancer
	Objects func() (kube.Objects, error)
	// SkipPermissionCheck is --skip-permission-check; Preflight builds the
	// check of the deletions' permissions.
	SkipPermissionCheck bool
	Preflight           func(context.Context) *preflight.Checker
	Printer             *ui.Printer
	Reporter            ui.Reporter
	// GatewayAPIClients builds the clients for a Service exposed through
	// a GKE Gateway (found by its HTTPRoute).
	GatewayAPIClients func(ctx context.Context, o *gatewayapi.Options) (gatewayapi.Clients, func(), error)
}

// NewCmdUnexpose returns `meshctl unexpose` with its subcommands.
func NewCmdUnexpose(f *factory.Factory) *cobra.Command {
	return parent("unexpose", "Remove what meshctl expose made", NewCmdUnexposeSvc(f, nil))
}

// NewCmdUnexposeSvc returns `meshctl unexpose svc`; runF replaces its run
// in tests.
func NewCmdUnexposeSvc(f *factory.Factory, runF func(*UnexposeOptions) error) *cobra.Command {
	opts := &UnexposeOptions{}
	cmd := &cobra.Command{
		Use:     "svc NAME",
		Aliases: []string{"service"},
		Short:   "Remove a Service's gateway: exactly what meshctl expose made for it",
		Long: `Remove what meshctl expose made for a Service, found by its labels
(app.kubernetes.io/managed-by=meshctl, meshctl.io/service-name and
meshctl.io/service-namespace) in every namespace, not by a local state file.

The routing goes first (VirtualService, Gateway), so the gateway stops
serving the Service before anything it needs is gone; then the gateway's
Service, autoscaler, disruption budget and Deployment (meshctl waits for its
pods to go), the mutual TLS and network policies, the Role, its binding, the
ServiceAccount and meshctl's certificate Secret, and last the gateway's own
namespace when meshctl made it and nothing else is in it (it stays, and the
result says what holds it, otherwise). Other Services' gateways, the Service
itself and a Secret you brought with --gateway-cert-secret stay.

Before the gateway goes, the Service's part of Google's load balancer goes,
in reverse dependency order: its backend service, health check and firewall
rule, its hosts from the URL map and the certificate; the whole load
balancer when no other Service uses it. A shared load balancer is found from
the Service's backend service (or named with --lb). Only what meshctl made
is deleted.`,
		Example: `  meshctl unexpose svc web -n shop
  meshctl unexpose svc web -n shop --dry-run`,
		Args: exactlyOneName("meshctl unexpose svc NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := &opts.Unexpose
			o.Service = args[0]
			var err error
			if o.Namespace, err = f.Namespace(o.Namespace); err != nil {
				return err
			}
			completeLB(f, cmd, &opts.LB)
			opts.Objects, opts.Printer, opts.Reporter = f.Objects, f.Printer, f.Reporter
			opts.GatewayAPIClients = gatewayAPIClients(f)
			opts.Preflight = f.Preflight(&opts.SkipPermissionCheck)
			if runF != nil {
				return runF(opts)
			}
			return runUnexpose(cmd.Context(), opts)
		},
	}
	addLBFlags(cmd, &opts.NoLB, &opts.LB.Spec, false)
	fl := cmd.Flags()
	fl.StringVarP(&opts.Unexpose.Namespace, "namespace", "n", "", "the Service's namespace (default: the kubeconfig context's)")
	fl.StringVar(&opts.Unexpose.GatewayNamespace, "gateway-namespace", "", "where the gateway runs, if you may not list objects in all namespaces")
	fl.BoolVar(&opts.Unexpose.DryRun, "dry-run", false, "show what would be deleted and delete nothing")
	factory.AddSkipPermissionCheck(cmd, &opts.SkipPermissionCheck)
	return cmd
}

func runUnexpose(ctx context.Context, opts *UnexposeOptions) error {
	if handled, err := unexposeGatewayAPI(ctx, opts); handled {
		return err
	}
	objs, err := opts.Objects()
	if err != nil {
		return err
	}
	out, err := expose.UnexposeWithLoadBalancer(ctx, objs, opts.Reporter, opts.Unexpose, loadBalancer(opts.NoLB, &opts.LB), preflightOf(ctx, opts.Preflight))
	if err != nil {
		return err
	}
	return opts.Printer.Print(out)
}
