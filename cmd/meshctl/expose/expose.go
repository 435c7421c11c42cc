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
	// Batch is set when several Services are exposed in one run (several
	// names, or --all); Expose is then the options they share.
	Batch *expose.Batch
	// Manifests is --manifests: a dry run prints the gateway's manifests
	// (-o yaml: documents; -o json: a List) instead of the plan.
	Manifests bool
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
	gatewayAPIOptions
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
	batch := &expose.Batch{}
	opts.Batch = batch
	cmd := &cobra.Command{
		Use:     "svc NAME... --host HOST [--host HOST...] | --all [-l SELECTOR] --host PATTERN",
		Aliases: []string{"service"},
		Short:   "Give a Service its own ingress gateway, ready for Google's HTTPS load balancer",
		Long:    exposeLong,
		Example: `  # Route www.example.com to Service web in namespace shop
  meshctl expose svc web -n shop --host www.example.com

  # A Service with several ports, two hosts, the gateway in a shared namespace
  meshctl expose svc api -n shop --port http --host api.example.com --host '*.api.example.com' \
    --gateway-namespace shop-ingress --replicas 2:10 --cpu-target 60

  # Several Services behind one shared load balancer, in one run
  meshctl expose svc web api -n shop --host web=www.example.com --host api=api.example.com --lb shop
  meshctl expose svc --all -n shop -l tier=front --host '{service}.example.com' --lb shop

  # See what would change (-o json for the whole plan), or print the manifests
  meshctl expose svc web -n shop --host www.example.com --dry-run -o json
  meshctl expose svc web -n shop --host www.example.com --dry-run --manifests -o yaml`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := completeExpose(f, cmd, opts, args); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			if opts.Via == ViaGatewayAPI {
				return runGatewayAPI(cmd.Context(), opts)
			}
			return runExpose(cmd.Context(), opts)
		},
	}
	addLBFlags(cmd, &opts.NoLB, &opts.LB.Spec, true)
	addGatewayAPIFlags(cmd, &opts.gatewayAPIOptions)
	fl := cmd.Flags()
	o := &opts.Expose
	fl.StringVarP(&o.Namespace, "namespace", "n", "", "the Service's namespace (default: the kubeconfig context's)")
	fl.StringSliceVar(&o.Hosts, "host", nil, "host name to route to the Service (repeatable; wildcards as Istio allows, e.g. *.example.com)")
	fl.StringVar(&o.Port, "port", "", "the Service port to route to, by number or name (required when the Service has several)")
	fl.StringVar(&o.Revision, "revision", "", "mesh revision that injects the gateway (default: the namespace's, else the only one installed)")
	fl.StringVar(&o.GatewayNamespace, "gateway-namespace", "", "run the gateway in this existing namespace, which it then shares (default: where it runs already, else a namespace of its own, NAMESPACE-SERVICE-gateway, which meshctl makes)")
	fl.BoolVar(&o.NoNetworkPolicy, "no-network-policy", false, "make no NetworkPolicy for the gateway (by default only Google's front ends and health checks, and in-cluster metrics scrapers, may reach it)")
	fl.StringVar(&opts.Replicas, "replicas", fmt.Sprintf("%d:%d", expose.DefaultMinReplicas, expose.DefaultMaxReplicas), "MIN:MAX replicas of the gateway's autoscaler")
	fl.Int32Var(&o.CPUTarget, "cpu-target", expose.DefaultCPUTarget, "the autoscaler's CPU target, in percent of the gateway's CPU request")
	fl.StringVar(&o.CertSecret, "gateway-cert-secret", "", "existing kubernetes.io/tls Secret in the gateway namespace to serve instead of meshctl's self-signed certificate")
	fl.BoolVar(&o.StrictMTLS, "strict-mtls", false, "also make the Service's pods accept only mutual TLS (a STRICT PeerAuthentication)")
	fl.BoolVar(&o.DryRun, "dry-run", false, "show what would change and change nothing (-o json|yaml: the whole plan, the load balancer's included)")
	fl.BoolVar(&opts.Manifests, "manifests", false, "with --dry-run -o yaml|json: print the gateway's manifests (for kubectl apply or GitOps) instead of the plan")
	fl.BoolVar(&batch.All, "all", false, "expose every Service of the namespace (matching --selector), each with its own gateway")
	fl.StringVarP(&batch.Selector, "selector", "l", "", "with --all: only the Services with these labels, e.g. tier=front")
	factory.AddSkipPermissionCheck(cmd, &opts.SkipPermissionCheck)
	_ = cmd.MarkFlagRequired("host")
	return cmd
}

// completeExpose parses and checks the input, the load balancer's included,
// before anything is written: the gateway is not touched when the load
// balancer could not be built after it. Several Services (or --all) are
// checked as far as they can be without the cluster here, and fully, all
// of them, before the first write.
func completeExpose(f *factory.Factory, cmd *cobra.Command, opts *ExposeOptions, names []string) error {
	o := &opts.Expose
	var err error
	if o.MinReplicas, o.MaxReplicas, err = expose.ParseReplicas(opts.Replicas); err != nil {
		return failure.Usage(err, "")
	}
	b := opts.Batch
	b.Services, b.Hosts = names, o.Hosts
	if err := b.Validate(); err != nil {
		return err
	}
	if opts.Manifests && !o.DryRun {
		return failure.Usagef("--manifests prints a dry run's manifests: add --dry-run")
	}
	if o.Namespace, err = f.Namespace(o.Namespace); err != nil {
		return err
	}
	b.Template = *o
	completeLB(f, cmd, &opts.LB)
	opts.Objects, opts.Printer, opts.Reporter = f.Objects, f.Printer, f.Reporter
	opts.Preflight = f.Preflight(&opts.SkipPermissionCheck)
	gatewayAPI, err := completeVia(cmd, opts.Via)
	if err != nil {
		return err
	}
	if b.Several() {
		if gatewayAPI {
			return failure.Usagef("--via gateway-api exposes one Service per run: run it once for each, with --gateway NAME to share one GKE Gateway")
		}
		return nil
	}
	opts.Batch = nil
	o.Service, o.Hosts = names[0], b.HostsFor(names[0])
	if err := o.Validate(); err != nil {
		return err
	}
	if gatewayAPI {
		return completeGatewayAPI(f, cmd, opts)
	}
	if !opts.NoLB {
		return opts.LB.Validate(*o)
	}
	return nil
}

func runExpose(ctx context.Context, opts *ExposeOptions) error {
	objs, err := opts.Objects()
	if err != nil {
		return err
	}
	l := loadBalancer(opts.NoLB, &opts.LB)
	var out interface{ Manifests() []expose.Object }
	if opts.Batch != nil {
		all, err := opts.Batch.Options(ctx, objs)
		if err != nil {
			return err
		}
		if l != nil {
			if err := l.Validate(all...); err != nil {
				return err
			}
		}
		many, err := expose.RunMany(ctx, objs, opts.Reporter, all, l, preflightOf(ctx, opts.Preflight))
		if err != nil {
			return err
		}
		out = many
	} else {
		one, err := expose.RunWithLoadBalancer(ctx, objs, opts.Reporter, opts.Expose, l, preflightOf(ctx, opts.Preflight))
		if err != nil {
			return err
		}
		out = one
	}
	if opts.Manifests {
		return printManifests(opts.Printer, out.Manifests(), expose.Manifests, expose.ManifestList)
	}
	return opts.Printer.Print(out)
}

// printManifests prints the manifests of what a path made (the mesh
// gateway's, or the Gateway API path's), for kubectl or GitOps: the YAML
// documents docs renders, or with -o json the v1 List list builds.
func printManifests[S any](p *ui.Printer, src S, docs func(S) ([]byte, error), list func(S) (map[string]any, error)) error {
	if p.Format == ui.FormatJSON {
		l, err := list(src)
		if err != nil {
			return err
		}
		return p.Print(l)
	}
	b, err := docs(src)
	if err != nil {
		return err
	}
	_, err = p.Out.Write(b)
	return err
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

The gateway runs in a namespace of its own, NAMESPACE-SERVICE-gateway,
which meshctl makes (a gateway meshctl made earlier stays where it runs):
its Role's "list secrets", which istiod's check before it hands the gateway
its certificate needs, then covers that certificate alone. With
--gateway-namespace it shares an existing namespace, and meshctl says what
that grants: the gateway's ServiceAccount may read every Secret there.

meshctl makes, in the gateway's namespace:
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
    refuse plain text (a STRICT PeerAuthentication);
  - a NetworkPolicy admitting only Google's front ends and health checks
    (130.211.0.0/22, 35.191.0.0/16) to the serving and status ports, and
    pods of the cluster to the metrics ports (15090, 15020), so a cluster
    enforcing network policy (Dataplane V2) refuses the rest; istiod needs
    no rule, the gateway dials it (--no-network-policy leaves it out).

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
changes only what differs. --dry-run shows the plan; with -o json (or yaml)
the whole plan, the load balancer's included (before GKE has made the
gateway's NEGs, with those it will make: one per zone of the cluster's
nodes); with --manifests -o yaml (or json) the gateway's manifests instead,
for kubectl apply or GitOps.

Several Services in one run (meshctl expose svc A B C, or --all with
--selector) each get their own gateway; the gateways are checked together
before the first write, rolled out at the same time, and put behind one
load balancer (--lb) in one graph: twenty Services take about the time of
one. --host then takes SERVICE=HOST, or a pattern with {service} and
{namespace}, e.g. '{service}.example.com'.`
