package cli

import (
	"fmt"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/expose"
	"github.com/spf13/cobra"
)

// objectsFunc builds the Kubernetes client expose and unexpose use; tests
// hand in fakes.
type objectsFunc func(app *App) (kube.Objects, error)

func appObjects(app *App) (kube.Objects, error) {
	rc, err := app.KubeRESTConfig()
	if err != nil {
		return nil, err
	}
	return kube.NewDynamic(rc)
}

// namespaceOrContext returns ns, or the kubeconfig context's namespace.
func namespaceOrContext(app *App, ns string) (string, error) {
	if ns != "" {
		return ns, nil
	}
	return kube.Namespace(app.KubeConfig())
}

func newExposeCmd(app *App) *cobra.Command {
	return newExposeCmdWith(app, appObjects)
}

func newExposeCmdWith(app *App, objects objectsFunc) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "expose",
		Short: "Expose a Service of the mesh through its own Istio ingress gateway",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newExposeSvcCmd(app, objects))
	return cmd
}

func newExposeSvcCmd(app *App, objects objectsFunc) *cobra.Command {
	var (
		opts     expose.Options
		lbo      lbOptions
		replicas string
	)
	cmd := &cobra.Command{
		Use:     "svc NAME --host HOST [--host HOST...]",
		Aliases: []string{"service"},
		Short:   "Give a Service its own ingress gateway, ready for Google's HTTPS load balancer",
		Long: `Give a Service of the mesh its own Istio ingress gateway, so that each team
controls its own ingress, ready for Google's global external HTTPS load
balancer in front of it.

meshctl makes, in the gateway namespace (default: the Service's):
  - a Deployment injected from Istio's gateway template (image "auto"),
    non-root, read-only, no capabilities, spread over zones, with a
    PodDisruptionBudget and a CPU autoscaler;
  - its ServiceAccount, and a Role bound to it for the gateway's certificate;
  - a ClusterIP Service whose HTTPS port GKE exposes as standalone NEGs
    (cloud.google.com/neg), one per zone, for the load balancer;
  - a self-signed certificate for the hop from the load balancer (which does
    not verify it), renewed by a later run when it nears expiry, unless you
    bring your own with --gateway-cert-secret;
  - an Istio Gateway (TLS on 443), a VirtualService routing the --host names
    to the Service, and a DestinationRule that makes the gateway speak Istio
    mutual TLS to the Service; --strict-mtls also makes the Service's pods
    refuse plain text (a STRICT PeerAuthentication).

Everything is checked before the first change, applied with server-side
apply (field manager meshctl) and labelled app.kubernetes.io/managed-by=meshctl
with the Service's name and namespace. meshctl then waits for the gateway to
roll out with an injected proxy and for GKE to report the NEGs.

Then meshctl builds Google's global external HTTPS load balancer in front
of the gateway, through the Compute API (--no-lb skips it): a static IP, a
Google-managed certificate for the hosts, an SSL policy (RESTRICTED, TLS 1.2
by default), a Cloud Armor policy (--waf, --allow-cidr, --deny-cidr), a health
check on the gateway's status port, a firewall rule letting only Google's
front ends reach the gateway's ports on the nodes, a backend service with
the gateway's NEG in every zone, a URL map, an HTTPS proxy, a forwarding rule
on 443, and a redirect from http:// on 80. Independent pieces are made at
the same time and each starts as soon as what it needs exists. --lb NAME puts
several Services behind one shared load balancer. meshctl reports the IP,
the DNS records to create and the certificate's status per domain.

Running it again with the same input changes nothing; a changed input
changes only what differs. --dry-run shows the plan; with -o yaml (or json)
it prints the manifests instead, for GitOps.`,
		Example: `  # Route www.example.com to Service web in namespace shop
  meshctl expose svc web -n shop --host www.example.com

  # A Service with several ports, two hosts, the gateway in its own namespace
  meshctl expose svc api -n shop --port http --host api.example.com --host '*.api.example.com' \
    --gateway-namespace shop-ingress --replicas 2:10 --cpu-target 60

  # See what would change, or print the manifests
  meshctl expose svc web -n shop --host www.example.com --dry-run
  meshctl expose svc web -n shop --host www.example.com --dry-run -o yaml`,
		Args: exactlyOneName("meshctl expose svc NAME --host HOST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Service = args[0]
			var err error
			if opts.MinReplicas, opts.MaxReplicas, err = expose.ParseReplicas(replicas); err != nil {
				return ui.Usage(err, "")
			}
			if err := opts.Validate(); err != nil {
				return err
			}
			if opts.Namespace, err = namespaceOrContext(app, opts.Namespace); err != nil {
				return err
			}
			lbo.settle(app, cmd)
			if err := lbo.validateExpose(opts); err != nil {
				return err
			}
			objs, err := objects(app)
			if err != nil {
				return err
			}
			res, err := expose.Run(cmd.Context(), objs, app.Reporter, opts, exposeHooks(app, &lbo))
			if err != nil {
				return err
			}
			if opts.DryRun {
				switch app.Printer.Format {
				case ui.FormatYAML:
					b, err := expose.Manifests(res.Objects)
					if err != nil {
						return err
					}
					_, err = app.IO.Out.Write(b)
					return err
				case ui.FormatJSON:
					l, err := expose.ManifestList(res.Objects)
					if err != nil {
						return err
					}
					return app.Print(l)
				}
			}
			return app.Print(exposeOutput{res, lbo.result})
		},
	}
	addLBFlags(cmd, &lbo, true)
	f := cmd.Flags()
	f.StringVarP(&opts.Namespace, "namespace", "n", "", "the Service's namespace (default: the kubeconfig context's)")
	f.StringSliceVar(&opts.Hosts, "host", nil, "host name to route to the Service (repeatable; wildcards as Istio allows, e.g. *.example.com)")
	f.StringVar(&opts.Port, "port", "", "the Service port to route to, by number or name (required when the Service has several)")
	f.StringVar(&opts.Revision, "revision", "", "mesh revision that injects the gateway (default: the namespace's, else the only one installed)")
	f.StringVar(&opts.GatewayNamespace, "gateway-namespace", "", "namespace for the gateway (default: the Service's)")
	f.StringVar(&replicas, "replicas", fmt.Sprintf("%d:%d", expose.DefaultMinReplicas, expose.DefaultMaxReplicas), "MIN:MAX replicas of the gateway's autoscaler")
	f.Int32Var(&opts.CPUTarget, "cpu-target", expose.DefaultCPUTarget, "the autoscaler's CPU target, in percent of the gateway's CPU request")
	f.StringVar(&opts.CertSecret, "gateway-cert-secret", "", "existing kubernetes.io/tls Secret in the gateway namespace to serve instead of meshctl's self-signed certificate")
	f.BoolVar(&opts.StrictMTLS, "strict-mtls", false, "also make the Service's pods accept only mutual TLS (a STRICT PeerAuthentication)")
	f.BoolVar(&opts.DryRun, "dry-run", false, "show what would change and change nothing (-o yaml prints the manifests)")
	_ = cmd.MarkFlagRequired("host")
	return cmd
}

func newUnexposeCmd(app *App) *cobra.Command {
	return newUnexposeCmdWith(app, appObjects)
}

func newUnexposeCmdWith(app *App, objects objectsFunc) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "unexpose",
		Short: "Remove what meshctl expose made",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newUnexposeSvcCmd(app, objects))
	return cmd
}

func newUnexposeSvcCmd(app *App, objects objectsFunc) *cobra.Command {
	var (
		opts expose.UnexposeOptions
		lbo  lbOptions
	)
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
pods to go), the mutual TLS policies, the Role, its binding, the
ServiceAccount and meshctl's certificate Secret. Other Services' gateways, the
Service itself and a Secret you brought with --gateway-cert-secret stay.

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
			opts.Service = args[0]
			var err error
			if opts.Namespace, err = namespaceOrContext(app, opts.Namespace); err != nil {
				return err
			}
			lbo.settle(app, cmd)
			objs, err := objects(app)
			if err != nil {
				return err
			}
			res, err := expose.Unexpose(cmd.Context(), objs, app.Reporter, opts, exposeHooks(app, &lbo))
			if err != nil {
				return err
			}
			return app.Print(unexposeOutput{res, lbo.result})
		},
	}
	addLBFlags(cmd, &lbo, false)
	f := cmd.Flags()
	f.StringVarP(&opts.Namespace, "namespace", "n", "", "the Service's namespace (default: the kubeconfig context's)")
	f.StringVar(&opts.GatewayNamespace, "gateway-namespace", "", "where the gateway runs, if you may not list objects in all namespaces")
	f.BoolVar(&opts.DryRun, "dry-run", false, "show what would be deleted and delete nothing")
	return cmd
}

// exactlyOneName accepts one positional argument, the Service's name.
func exactlyOneName(usage string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return ui.Usagef("want one Service name, got %d arguments: %s", len(args), usage)
		}
		return nil
	}
}
