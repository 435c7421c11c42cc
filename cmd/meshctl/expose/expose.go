// Package expose is `meshctl expose svc` and `meshctl unexpose svc`: a
// Service's own ingress gateway and Google's load balancer in front of it
// (the work is pkg/expose's and pkg/lb's).
package expose

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/expose"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// ExposeOptions are what `meshctl expose svc` runs with.
type ExposeOptions struct {
	Expose expose.Options
	// Replicas is --replicas, MIN:MAX, parsed into Expose.
	Replicas string
	// NoLB is --no-lb: the gateway alone.
	NoLB bool
	// LB is the load balancer's part of the input, and its client.
	LB expose.LoadBalancer
	// Objects builds the Kubernetes client.
	Objects func() (kube.Objects, error)
	// SkipPermissionCheck is --skip-permission-check; Preflight builds the
	// check of the plan's permissions.
	SkipPermissionCheck bool
	Preflight           func(context.Context) *preflight.Checker
	Printer             *ui.Printer
	Reporter            ui.Reporter
}

// NewCmdExpose returns `meshctl expose` with its subcommands.
func NewCmdExpose(f *factory.Factory) *cobra.Command {
	return parent("expose", "Expose a Service of the mesh through its own Istio ingress gateway", NewCmdExposeSvc(f, nil))
}

// parent returns a command that only holds subcommands (`expose svc`: the
// kind of object comes first, as in kubectl).
func parent(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs}
	cmd.AddCommand(subs...)
	return cmd
}

// NewCmdExposeSvc returns `meshctl expose svc`; runF replaces its run in
// tests.
func NewCmdExposeSvc(f *factory.Factory, runF func(*ExposeOptions) error) *cobra.Command {
	opts := &ExposeOptions{}
	cmd := &cobra.Command{
		Use:     "svc NAME --host HOST [--host HOST...]",
		Aliases: []string{"service"},
		Short:   "Give a Service its own ingress gateway, ready for Google's HTTPS load balancer",
		Long:    exposeLong,
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
			if err := completeExpose(f, cmd, opts, args[0]); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runExpose(cmd.Context(), opts)
		},
	}
	addLBFlags(cmd, &opts.NoLB, &opts.LB.Spec, true)
	fl := cmd.Flags()
	o := &opts.Expose
	fl.StringVarP(&o.Namespace, "namespace", "n", "", "the Service's namespace (default: the kubeconfig context's)")
	fl.StringSliceVar(&o.Hosts, "host", nil, "host name to route to the Service (repeatable; wildcards as Istio allows, e.g. *.example.com)")
	fl.StringVar(&o.Port, "port", "", "the Service port to route to, by number or name (required when the Service has several)")
	fl.StringVar(&o.Revision, "revision", "", "mesh revision that injects the gateway (default: the namespace's, else the only one installed)")
	fl.StringVar(&o.GatewayNamespace, "gateway-namespace", "", "namespace for the gateway (default: the Service's)")
	fl.StringVar(&opts.Replicas, "replicas", fmt.Sprintf("%d:%d", expose.DefaultMinReplicas, expose.DefaultMaxReplicas), "MIN:MAX replicas of the gateway's autoscaler")
	fl.Int32Var(&o.CPUTarget, "cpu-target", expose.DefaultCPUTarget, "the autoscaler's CPU target, in percent of the gateway's CPU request")
	fl.StringVar(&o.CertSecret, "gateway-cert-secret", "", "existing kubernetes.io/tls Secret in the gateway namespace to serve instead of meshctl's self-signed certificate")
	fl.BoolVar(&o.StrictMTLS, "strict-mtls", false, "also make the Service's pods accept only mutual TLS (a STRICT PeerAuthentication)")
	fl.BoolVar(&o.DryRun, "dry-run", false, "show what would change and change nothing (-o yaml prints the manifests)")
	factory.AddSkipPermissionCheck(cmd, &opts.SkipPermissionCheck)
	_ = cmd.MarkFlagRequired("host")
	return cmd
}

// completeExpose parses and checks the input, the load balancer's included,
// before anything is written: the gateway is not touched when the load
// balancer could not be built after it.
func completeExpose(f *factory.Factory, cmd *cobra.Command, opts *ExposeOptions, service string) error {
	o := &opts.Expose
	o.Service = service
	var err error
	if o.MinReplicas, o.MaxReplicas, err = expose.ParseReplicas(opts.Replicas); err != nil {
		return failure.Usage(err, "")
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if o.Namespace, err = f.Namespace(o.Namespace); err != nil {
		return err
	}
	completeLB(f, cmd, &opts.LB)
	if !opts.NoLB {
		if err := opts.LB.Validate(*o); err != nil {
			return err
		}
	}
	opts.Objects, opts.Printer, opts.Reporter = f.Objects, f.Printer, f.Reporter
	opts.Preflight = f.Preflight(&opts.SkipPermissionCheck)
	return nil
}

func runExpose(ctx context.Context, opts *ExposeOptions) error {
	objs, err := opts.Objects()
	if err != nil {
		return err
	}
	out, err := expose.RunWithLoadBalancer(ctx, objs, opts.Reporter, opts.Expose, loadBalancer(opts.NoLB, &opts.LB), preflightOf(ctx, opts.Preflight))
	if err != nil {
		return err
	}
	if opts.Expose.DryRun {
		// For GitOps: the manifests instead of the plan.
		switch opts.Printer.Format {
		case ui.FormatYAML:
			b, err := expose.Manifests(out.Objects)
			if err != nil {
				return err
			}
			_, err = opts.Printer.Out.Write(b)
			return err
		case ui.FormatJSON:
			l, err := expose.ManifestList(out.Objects)
			if err != nil {
				return err
			}
			return opts.Printer.Print(l)
		}
	}
	return opts.Printer.Print(out)
}

// exactlyOneName accepts one positional argument, the Service's name.
func exactlyOneName(usage string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return failure.Usagef("want one Service name, got %d arguments: %s", len(args), usage)
		}
		return nil
	}
}

const exposeLong = `Give a Service of the mesh its own Istio ingress gateway, so that each team
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
it prints the manifests instead, for GitOps.`
