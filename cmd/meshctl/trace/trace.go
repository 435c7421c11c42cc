// Package trace is `meshctl trace HOST[/PATH]`: where a request for a host
// goes, hop by hop, and where it breaks (the work is pkg/trace's).
package trace

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/api/certificatemanager/v1"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/trace"
)

// TraceOptions are what `meshctl trace` runs with.
type TraceOptions struct {
	Trace trace.Options
	// Watch traces again every Interval until the target is serving or
	// WatchTimeout passes.
	Watch        bool
	Interval     time.Duration
	WatchTimeout time.Duration
	// Clients builds what trace reads; release frees it.
	Clients  func(ctx context.Context) (c trace.Clients, release func(), err error)
	Printer  *ui.Printer
	Reporter ui.Reporter
}

// NewCmdTrace returns `meshctl trace`; runF replaces its run in tests.
func NewCmdTrace(f *factory.Factory, runF func(*TraceOptions) error) *cobra.Command {
	opts := &TraceOptions{Trace: trace.Options{FailOn: findings.Error}}
	cmd := &cobra.Command{
		Use:   "trace HOST[/PATH] | IP[/PATH] | URL",
		Short: "Follow a request for a host hop by hop, from the load balancer to the pods, and say where it breaks",
		Long:  traceLong,
		Example: `  meshctl trace shop.example.com
  meshctl trace https://shop.example.com/cart -o json
  meshctl trace shop.example.com/cart --address 34.120.8.9   # before DNS points at the load balancer
  meshctl trace 34.120.8.9/healthz
  meshctl trace shop.example.com --watch                     # until it serves, showing what changes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Trace.Target = args[0]
			if _, err := trace.ParseTarget(args[0]); err != nil {
				return failure.Usage(err, "give a host (shop.example.com), a host and path (shop.example.com/cart), an IP or a URL")
			}
			if err := trace.ValidateAddress(opts.Trace.Address); err != nil {
				return failure.Usage(err, "")
			}
			if opts.Interval <= 0 || opts.WatchTimeout <= 0 || opts.Trace.ConvergeWindow < 0 {
				return failure.Usagef("--watch-interval and --watch-timeout must be positive, --converge-window not negative")
			}
			if f.Settings.Project == "" {
				return failure.Usage(errors.New("no project: trace reads the project's load balancers"), "set --project (or MESHCTL_PROJECT, or a gke_ kube context)")
			}
			opts.Clients, opts.Printer, opts.Reporter = clients(f), f.Printer, f.Reporter
			if runF != nil {
				return runF(opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Trace.Address, "address", "", "the IP the host resolves to, when DNS does not answer (yet); replaces the DNS lookup")
	fl.BoolVar(&opts.Watch, "watch", false, "trace again until the request is served (or --watch-timeout), showing what changed")
	fl.DurationVar(&opts.Interval, "watch-interval", 5*time.Second, "time between traces with --watch")
	fl.DurationVar(&opts.WatchTimeout, "watch-timeout", 15*time.Minute, "give up watching after this long (exit 3)")
	fl.DurationVar(&opts.Trace.ConvergeWindow, "converge-window", trace.DefaultConvergeWindow, "how long after a backend changes unhealthy endpoints count as converging rather than broken")
	fl.Var(&opts.Trace.FailOn, "fail-on", findings.FailOnUsage)
	_ = cmd.RegisterFlagCompletionFunc("fail-on", cobra.FixedCompletions([]string{"error", "warning", "info"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// clients returns what builds trace's clients: Compute (required), and
// Kubernetes and Certificate Manager, whose absence only stops the trace
// at the hops that need them.
func clients(f *factory.Factory) func(context.Context) (trace.Clients, func(), error) {
	return func(ctx context.Context) (trace.Clients, func(), error) {
		var c trace.Clients
		gce, err := lb.NewGCE(ctx, f.GCP(), f.Settings.Project)
		if err != nil {
			return c, nil, err
		}
		c.Compute = gce
		release := func() { _ = gce.Close() }
		if kc, err := f.Kube(); err != nil {
			c.KubeErr = err
		} else if dc, err := f.Dynamic(); err != nil {
			c.KubeErr = err
		} else {
			c.Kube, c.Dynamic = kc, dc
		}
		if opts, err := f.GCP().CertificateManagerOptions(); err != nil {
			c.CertificateManagerErr = err
		} else if svc, err := certificatemanager.NewService(ctx, opts...); err != nil {
			c.CertificateManagerErr = fmt.Errorf("create Certificate Manager client: %w", err)
		} else {
			c.CertificateManager = trace.CertificateManagerAPI{Service: svc, Project: f.Settings.Project}
		}
		return c, release, nil
	}
}

func run(ctx context.Context, opts *TraceOptions) error {
	c, release, err := opts.Clients(ctx)
	if err != nil {
		return err
	}
	defer release()
	var res *trace.Result
	if opts.Watch {
		res, err = trace.Watch(ctx, c, opts.Trace, trace.WatchOptions{Interval: opts.Interval, Timeout: opts.WatchTimeout,
			Changed: func(changes []string) {
				for _, ch := range changes {
					opts.Reporter.Infof("%s", ch)
				}
			}})
	} else {
		res, err = trace.Run(ctx, c, opts.Trace)
	}
	if res == nil {
		return err
	}
	if perr := opts.Printer.Print(res); perr != nil {
		return perr
	}
	switch {
	case errors.Is(err, trace.ErrWatchTimeout):
		opts.Reporter.Warnf("%s is not served after %s of watching (%s)", res.Target.URL, opts.WatchTimeout, res.State)
		return failure.Problems()
	case err != nil:
		return err
	case res.Failed():
		return failure.Problems()
	}
	return nil
}

const traceLong = `Trace follows a request for a host (or an IP, or a URL with a path) the way Google's load
balancer and the mesh handle it, whatever built them (meshctl expose, GKE Gateway, GKE Ingress, or
gcloud by hand), and shows each hop with what it read and its state:

  forwarding rule   the global rule(s) serving the host: by the address DNS (or --address) gives,
                    else by the URL maps' host rules
  target proxy      the certificate the host gets (Compute or a Certificate Manager map) and its
                    status, the SSL policy
  URL map           the host rule, path matcher and rule that match the path; redirects
  backend service   protocol, Cloud Armor (whether its rules deny a plain request), IAP, health check
  NEG (per zone)    endpoints and their health (getHealth); why they are unhealthy: the firewall
                    for Google's ranges, the pods, the probed port
  Service           the Kubernetes Service whose neg-status names the NEG
  gateway pods      ready, injected, proxy revision
  Istio Gateway     the server that takes the load balancer's connections: protocol, hosts (no SNI),
                    TLS mode, the credential Secret
  VirtualService    the route for the host and path
  destination       the Service, its port's protocol, its pods (ready, sidecars, revision)
  DestinationRule   the TLS mode towards the pods, against their sidecars and PeerAuthentication

Each hop is ok, warning (!), converging (~: a certificate still PROVISIONING, endpoints not yet
healthy within GKE's usual time), unknown (?: could not be read) or broken (✗), with findings
from the catalog (MC04xx, see docs/findings.md) and the fix. The first broken hop is the answer.

Every Compute kind on the path is listed once, concurrently with the cluster's Services and Istio's
routing objects; each NEG's health and the pods are read as soon as they are known.

Exit codes: 0 when no finding reaches --fail-on (default error), 3 when one does, or when --watch
times out before the request is served.`
