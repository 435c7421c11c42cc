package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/expose"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/spf13/cobra"
)

// lbOptions are the load balancer flags of expose and unexpose, and what
// the load balancer phase produced, for printing with the gateway's result.
type lbOptions struct {
	skip bool
	spec lb.Spec // the flags' part: LB, Address, Armor, ...

	// result is filled by the hook.
	result *lb.Result
}

// addLBFlags adds the load balancer flags; unexpose needs only where the
// load balancer is.
func addLBFlags(cmd *cobra.Command, o *lbOptions, forExpose bool) {
	f := cmd.Flags()
	f.BoolVar(&o.skip, "no-lb", false, "leave Google's load balancer alone: only the gateway")
	f.StringVar(&o.spec.LB, "lb", "", "put the Service on this shared load balancer (one IP, one URL map, one certificate for all its Services) instead of its own")
	if !forExpose {
		return
	}
	s := &o.spec
	f.StringVar(&s.Address, "address", "", "use this existing global static IP address (by name) instead of creating one")
	f.StringVar(&s.Certificate, "certificate", "", "use this existing SSL certificate (by name) instead of a Google-managed one for the hosts")
	f.StringVar(&s.SSLProfile, "ssl-profile", lb.DefaultSSLProfile, "SSL policy profile: COMPATIBLE, MODERN, RESTRICTED or FIPS_202205")
	f.StringVar(&s.MinTLS, "min-tls", "1.2", "lowest TLS version clients may use: 1.0, 1.1, 1.2 or 1.3")
	f.StringSliceVar(&s.Armor.WAF, "waf", nil, "Cloud Armor preconfigured WAF rule sets to deny, e.g. xss,sqli (or full names such as xss-v33-stable)")
	f.StringSliceVar(&s.Armor.AllowCIDRs, "allow-cidr", nil, "only these source ranges get through Cloud Armor (repeatable)")
	f.StringSliceVar(&s.Armor.DenyCIDRs, "deny-cidr", nil, "Cloud Armor refuses these source ranges (repeatable)")
	f.StringVar(&s.Armor.Policy, "armor-policy", "", "attach this existing Cloud Armor policy (by name) instead of meshctl's")
	f.BoolVar(&s.Armor.Disabled, "no-armor", false, "attach no Cloud Armor policy")
	f.Float64Var(&s.LogSampleRate, "log-sample-rate", lb.DefaultLogSampleRate, "share of requests the load balancer logs, 0 to 1")
	f.Float64Var(&s.MaxRatePerEndpoint, "max-rate-per-endpoint", lb.DefaultMaxRatePerEndpoint, "requests per second each gateway pod takes before the load balancer spills over")
	f.BoolVar(&s.IAP.Enabled, "iap", false, "put Identity-Aware Proxy in front of the Service")
	f.StringVar(&s.IAP.ClientID, "iap-client-id", "", "OAuth client ID for IAP (default: Google-managed)")
	f.StringVar(&s.IAP.ClientSecret, "iap-client-secret", "", "OAuth client secret for IAP")
	f.StringArrayVar(&s.CustomRequestHeaders, "request-header", nil, "header the load balancer adds to requests, NAME:VALUE (repeatable)")
	f.BoolVar(&s.NoHTTPRedirect, "no-http-redirect", false, "no redirect from http:// to https:// on port 80")
	f.BoolVar(&s.Adopt, "adopt", false, "take over load balancer objects with meshctl's names that meshctl did not create")
}

// settle completes the flags from the settings and the command line.
func (o *lbOptions) settle(app *App, cmd *cobra.Command) {
	s := app.Settings
	o.spec.Project, o.spec.Location, o.spec.Cluster = s.Project, s.Location, s.Cluster
	f := cmd.Flags()
	o.spec.Armor.Specified = f.Changed("waf") || f.Changed("allow-cidr") || f.Changed("deny-cidr")
}

// missingSettings names the settings the load balancer needs that are unset.
func (o *lbOptions) missingSettings() []string {
	var out []string
	for _, kv := range [][2]string{{"--project", o.spec.Project}, {"--location", o.spec.Location}, {"--cluster", o.spec.Cluster}} {
		if kv[1] == "" {
			out = append(out, kv[0])
		}
	}
	return out
}

func errMissingSettings(missing []string) error {
	return ui.Usage(fmt.Errorf("the load balancer needs %v (or their MESHCTL_* variables, or a GKE kubeconfig context)", missing),
		"set them, or pass --no-lb to expose only the gateway")
}

// validateExpose checks the load balancer flags before anything is
// written: the gateway is not touched when the load balancer could not be
// built after it.
func (o *lbOptions) validateExpose(opts expose.Options) error {
	if o.skip {
		return nil
	}
	if missing := o.missingSettings(); len(missing) > 0 {
		if opts.DryRun {
			return nil // planned without it, with a warning
		}
		return errMissingSettings(missing)
	}
	spec := o.spec
	// Stand-ins for what the gateway provides later.
	spec.Services = []lb.Service{{Namespace: opts.Namespace, Name: opts.Service, Hosts: opts.Hosts, NEG: lb.NEG{Name: "pending", Zones: []string{"pending"}}}}
	return spec.Validate()
}

// client builds pkg/lb's clients for the command; close releases them.
func (o *lbOptions) client(ctx context.Context, app *App) (*lb.Client, func(), error) {
	gce, err := lb.NewGCE(ctx, app.GCP(), o.spec.Project)
	if err != nil {
		return nil, nil, err
	}
	gke, err := app.ClusterManager(ctx)
	if err != nil {
		_ = gce.Close()
		return nil, nil, err
	}
	return lb.New(gce, gke, app.Reporter), func() { _ = gce.Close() }, nil
}

// exposeHooks are what other capabilities add to expose and unexpose: the
// load balancer (pkg/lb) is built once the gateway is ready, from the
// Result's NEG, ports and health check, and removed before the gateway
// goes.
func exposeHooks(app *App, o *lbOptions) expose.Hooks {
	if o.skip {
		return expose.Hooks{}
	}
	return expose.Hooks{
		AfterGateway:   []expose.Hook{{Name: "plan Google's load balancer", Run: func(ctx context.Context, res *expose.Result) error { return o.expose(ctx, app, res) }}},
		BeforeTeardown: []expose.TeardownHook{{Name: "remove Google's load balancer", Run: func(ctx context.Context, t *expose.Teardown) error { return o.unexpose(ctx, app, t) }}},
	}
}

func (o *lbOptions) expose(ctx context.Context, app *App, res *expose.Result) error {
	warn := func(msg string) error {
		res.Warnings = append(res.Warnings, msg)
		app.Reporter.Warnf("%s", msg)
		return nil
	}
	if missing := o.missingSettings(); len(missing) > 0 {
		return warn(fmt.Sprintf("the load balancer is not planned: it needs %v", missing))
	}
	if res.DryRun && len(res.NEG.Zones) == 0 {
		return warn("the load balancer is planned once GKE reports the gateway's NEGs: run without --dry-run, or again once they exist")
	}
	spec := o.spec
	spec.Services = []lb.Service{{
		Namespace: res.Service.Namespace, Name: res.Service.Name, Hosts: res.Hosts,
		NEG:         lb.NEG{Name: res.NEG.Name, Zones: res.NEG.Zones},
		ServingPort: int(res.Gateway.TargetPort), HealthCheckPort: int(res.Gateway.HealthCheck.Port), HealthCheckPath: res.Gateway.HealthCheck.Path,
	}}
	cl, closeFn, err := o.client(ctx, app)
	if err != nil {
		return err
	}
	defer closeFn()
	p, err := cl.Plan(ctx, spec)
	if err != nil {
		return err
	}
	if res.DryRun {
		o.result = cl.DryRun(p)
		return nil
	}
	o.result, err = cl.Apply(ctx, p)
	return err
}

func (o *lbOptions) unexpose(ctx context.Context, app *App, t *expose.Teardown) error {
	if missing := o.missingSettings(); len(missing) > 0 {
		if len(t.Gateways) == 0 {
			return nil // nothing was exposed here; nothing to ask for
		}
		return errMissingSettings(missing)
	}
	spec := o.spec
	spec.Services = []lb.Service{{Namespace: t.Service.Namespace, Name: t.Service.Name}}
	cl, closeFn, err := o.client(ctx, app)
	if err != nil {
		return err
	}
	defer closeFn()
	p, err := cl.PlanTeardown(ctx, spec)
	if err != nil {
		return err
	}
	if t.DryRun {
		o.result = cl.DryRun(p)
		return nil
	}
	o.result, err = cl.Apply(ctx, p)
	return err
}

// exposeOutput is expose's result with the load balancer's beside it.
type exposeOutput struct {
	*expose.Result
	LoadBalancer *lb.Result `json:"loadBalancer,omitempty"`
}

func (o exposeOutput) RenderText(w io.Writer, s ui.Styles) error {
	return renderBoth(w, s, o.Result, o.LoadBalancer)
}

// unexposeOutput is unexpose's result with the load balancer's beside it.
type unexposeOutput struct {
	*expose.UnexposeResult
	LoadBalancer *lb.Result `json:"loadBalancer,omitempty"`
}

func (o unexposeOutput) RenderText(w io.Writer, s ui.Styles) error {
	return renderBoth(w, s, o.UnexposeResult, o.LoadBalancer)
}

func renderBoth(w io.Writer, s ui.Styles, first ui.TextRenderer, lbRes *lb.Result) error {
	if err := first.RenderText(w, s); err != nil {
		return err
	}
	if lbRes == nil || len(lbRes.Plan) == 0 {
		return nil
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return err
	}
	return lbRes.RenderText(w, s)
}
