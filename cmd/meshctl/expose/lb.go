package expose

import (
	"context"
	"sync"

	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/pkg/expose"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// addLBFlags adds the load balancer flags; unexpose needs only where the
// load balancer is.
func addLBFlags(cmd *cobra.Command, skip *bool, s *lb.Spec, forExpose bool) {
	f := cmd.Flags()
	f.BoolVar(skip, "no-lb", false, "leave Google's load balancer alone: only the gateway")
	if !forExpose {
		f.StringVar(&s.LB, "lb", "", "the shared load balancer the Service is on (default: found from the Service's backend service); only the Service's part of it goes, all of it once no other Service uses it")
		return
	}
	f.StringVar(&s.LB, "lb", "", "put the Service on this shared load balancer (one IP, one URL map, one certificate for all its Services) instead of its own")
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

// completeLB fills in where the load balancer is from the settings, whether
// Cloud Armor rules were given, and its client.
func completeLB(f *factory.Factory, cmd *cobra.Command, l *expose.LoadBalancer) {
	s := f.Settings
	l.Spec.Project, l.Spec.Location, l.Spec.Cluster = s.Project, s.Location, s.Cluster
	fl := cmd.Flags()
	l.Spec.Armor.Specified = fl.Changed("waf") || fl.Changed("allow-cidr") || fl.Changed("deny-cidr")
	project := l.Spec.Project
	l.Client = func(ctx context.Context) (*lb.Client, func(), error) {
		gce, err := lb.NewGCE(ctx, f.GCP(), project)
		if err != nil {
			return nil, nil, err
		}
		gke, err := f.ClusterManager(ctx)
		if err != nil {
			_ = gce.Close()
			return nil, nil, err
		}
		// A Shared VPC's firewall rule is in the host project: its
		// client is made when a plan finds the network there.
		var mu sync.Mutex
		closers := []*lb.GCE{gce}
		c := lb.New(gce, gke, f.Reporter)
		c.Other = func(ctx context.Context, other string) (lb.Compute, error) {
			g, err := lb.NewGCE(ctx, f.GCP(), other)
			if err == nil {
				mu.Lock()
				closers = append(closers, g)
				mu.Unlock()
			}
			return g, err
		}
		return c, func() {
			mu.Lock()
			defer mu.Unlock()
			for _, g := range closers {
				_ = g.Close()
			}
		}, nil
	}
}

// loadBalancer is l, or nil (leave the load balancer alone) with --no-lb.
func loadBalancer(noLB bool, l *expose.LoadBalancer) *expose.LoadBalancer {
	if noLB {
		return nil
	}
	return l
}

// preflightOf builds the permission check, if the command has one (tests
// build options without).
func preflightOf(ctx context.Context, build func(context.Context) *preflight.Checker) *preflight.Checker {
	if build == nil {
		return nil
	}
	return build(ctx)
}
