package expose

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/pkg/gatewayapi"
	"github.com/meshctl/meshctl/pkg/lb"
)

// The values of --via: who builds Google's load balancer.
const (
	// ViaCompute: meshctl, through the Compute API (pkg/lb).
	ViaCompute = "compute"
	// ViaGatewayAPI: GKE's Gateway controller, from the Gateway API
	// objects meshctl applies (pkg/gatewayapi).
	ViaGatewayAPI = "gateway-api"
)

// gatewayAPIFlags are the flags of the Gateway API path alone.
var gatewayAPIFlags = []string{"gateway", "path", "backend-timeout"}

// computeFlags are the load balancer flags the Gateway API path has no
// use for: GKE's controller builds one load balancer per Gateway
// (--gateway shares it), and GCPBackendPolicy has no request headers.
var computeFlags = []string{"lb", "request-header", "no-lb"}

// gatewayAPIOptions are what `expose svc --via gateway-api` adds.
type gatewayAPIOptions struct {
	Via        string
	GatewayAPI gatewayapi.Options
	// GatewayAPIClients builds the path's clients; release frees them.
	GatewayAPIClients func(ctx context.Context, o *gatewayapi.Options) (gatewayapi.Clients, func(), error)
}

func addGatewayAPIFlags(cmd *cobra.Command, o *gatewayAPIOptions) {
	fl := cmd.Flags()
	fl.StringVar(&o.Via, "via", ViaCompute, "who builds Google's load balancer: compute (meshctl, through the Compute API) or gateway-api (GKE's Gateway controller, from Gateway API objects)")
	fl.StringVar(&o.GatewayAPI.Gateway, "gateway", "", "--via gateway-api: the GKE Gateway, NAME or NAMESPACE/NAME; Services naming the same one share it (default: the Service's own)")
	fl.StringSliceVar(&o.GatewayAPI.Paths, "path", nil, "--via gateway-api: route only these path prefixes (repeatable; default: every path)")
	fl.DurationVar(&o.GatewayAPI.BackendTimeout, "backend-timeout", 0, "--via gateway-api: the load balancer's timeout towards the gateway (default: GKE's 30s)")
	_ = cmd.RegisterFlagCompletionFunc("via", cobra.FixedCompletions([]string{ViaCompute, ViaGatewayAPI}, cobra.ShellCompDirectiveNoFileComp))
}

// completeVia checks --via against the other flags. It reports whether
// the Gateway API path was chosen.
func completeVia(cmd *cobra.Command, via string) (bool, error) {
	fl := cmd.Flags()
	switch via {
	case ViaCompute:
		for _, name := range gatewayAPIFlags {
			if fl.Changed(name) {
				return false, failure.Usagef("--%s goes with --via gateway-api", name)
			}
		}
		return false, nil
	case ViaGatewayAPI:
		for _, name := range computeFlags {
			if fl.Changed(name) {
				return false, failure.Usagef("--%s goes with --via compute: GKE's Gateway controller builds the load balancer from the Gateway (--gateway NAME shares one)", name)
			}
		}
		return true, nil
	}
	return false, failure.Usagef("--via %q: want %s or %s", via, ViaCompute, ViaGatewayAPI)
}

// completeGatewayAPI fills the Gateway API path's options from the
// common ones and the settings, and checks them before anything is read.
func completeGatewayAPI(f *factory.Factory, cmd *cobra.Command, opts *ExposeOptions) error {
	o := &opts.GatewayAPI
	s := opts.LB.Spec
	o.Expose = opts.Expose
	o.Address, o.Certificate, o.NoHTTPRedirect, o.Adopt = s.Address, s.Certificate, s.NoHTTPRedirect, s.Adopt
	o.SSLProfile, o.MinTLS, o.Armor, o.LogSampleRate, o.IAP = s.SSLProfile, s.MinTLS, s.Armor, s.LogSampleRate, s.IAP
	if cmd.Flags().Changed("max-rate-per-endpoint") {
		o.MaxRatePerEndpoint = int64(s.MaxRatePerEndpoint) // else GKE's own default
	}
	o.Project, o.Location, o.Cluster = s.Project, s.Location, s.Cluster
	if err := o.Validate(); err != nil {
		return err
	}
	if missing := o.MissingSettings(); len(missing) > 0 && !o.Expose.DryRun {
		return failure.Usage(fmt.Errorf("the GKE Gateway needs %v (or their MESHCTL_* variables, or a GKE kubeconfig context)", missing), "set them")
	}
	opts.GatewayAPIClients = gatewayAPIClients(f)
	return nil
}

// gatewayAPIClients builds the Kubernetes, Compute and Certificate
// Manager clients; without the settings for Google's side (a dry run) only
// the Kubernetes one.
func gatewayAPIClients(f *factory.Factory) func(context.Context, *gatewayapi.Options) (gatewayapi.Clients, func(), error) {
	return func(ctx context.Context, o *gatewayapi.Options) (gatewayapi.Clients, func(), error) {
		var c gatewayapi.Clients
		var err error
		if c.Kube, err = f.Objects(); err != nil {
			return c, nil, err
		}
		if len(o.MissingSettings()) > 0 {
			return c, func() {}, nil
		}
		gce, err := lb.NewGCE(ctx, f.GCP(), o.Project)
		if err != nil {
			return c, nil, err
		}
		svc, err := f.CertificateManager(ctx)
		if err != nil {
			_ = gce.Close()
			return c, nil, err
		}
		c.Compute, c.LB = gce, lb.New(gce, nil, f.Reporter)
		c.CertManager = &gatewayapi.CertManagerREST{Service: svc, Project: o.Project}
		return c, func() { _ = gce.Close() }, nil
	}
}

func runGatewayAPI(ctx context.Context, opts *ExposeOptions) error {
	cl, release, err := opts.GatewayAPIClients(ctx, &opts.GatewayAPI)
	if err != nil {
		return err
	}
	defer release()
	cl.Preflight = preflightOf(ctx, opts.Preflight)
	res, err := gatewayapi.Run(ctx, cl, opts.Reporter, opts.GatewayAPI)
	if err != nil {
		return err
	}
	if opts.Manifests {
		return printManifests(opts.Printer, res, gatewayapi.Manifests, gatewayapi.ManifestList)
	}
	return opts.Printer.Print(res)
}

// unexposeGatewayAPI unexposes a Service exposed through a GKE Gateway;
// handled is false when it was not.
func unexposeGatewayAPI(ctx context.Context, opts *UnexposeOptions) (handled bool, err error) {
	objs, err := opts.Objects()
	if err != nil {
		return true, err
	}
	u := opts.Unexpose
	if ok, err := gatewayapi.Exposed(ctx, objs, u.Namespace, u.Service, u.GatewayNamespace); err != nil || !ok {
		return err != nil, err
	}
	s := opts.LB.Spec
	o := &gatewayapi.Options{Project: s.Project, Location: s.Location, Cluster: s.Cluster}
	cl, release, err := opts.GatewayAPIClients(ctx, o)
	if err != nil {
		return true, err
	}
	defer release()
	cl.Preflight = preflightOf(ctx, opts.Preflight)
	res, err := gatewayapi.Unexpose(ctx, cl, opts.Reporter, gatewayapi.UnexposeOptions{Unexpose: u, Project: s.Project, Cluster: s.Cluster})
	if err != nil {
		return true, err
	}
	return true, opts.Printer.Print(res)
}
