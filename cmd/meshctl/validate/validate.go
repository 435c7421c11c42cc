// Package validate is `meshctl validate`: one report for CI on the mesh and
// everything exposed through it (the work is pkg/validate's).
package validate

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/gatewayapi"
	"github.com/meshctl/meshctl/pkg/gkecluster"
	"github.com/meshctl/meshctl/pkg/install"
	"github.com/meshctl/meshctl/pkg/install/managed"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/validate"
)

// ValidateOptions are what `meshctl validate` runs with.
type ValidateOptions struct {
	Validate validate.Options
	// SkipAsmcli and SkipLB leave asmcli validate and the load balancers
	// out.
	SkipAsmcli, SkipLB bool
	// Asmcli is the --asmcli script, if given.
	Asmcli string
	// JUnit is the file for the JUnit XML report, if any.
	JUnit string
	// FleetProject hosts the fleet of a managed mesh (default: the
	// cluster's project).
	FleetProject string
	// Clients builds what validate reads; release frees it.
	Clients func(ctx context.Context, opts *ValidateOptions) (c validate.Clients, release func(), err error)
	Printer *ui.Printer
}

// NewCmdValidate returns `meshctl validate`; runF replaces its run in tests.
func NewCmdValidate(f *factory.Factory, runF func(*ValidateOptions) error) *cobra.Command {
	opts := &ValidateOptions{Validate: validate.Options{FailOn: findings.Error, CertWarnDays: 30}}
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Validate the mesh and everything exposed through it, in one report for CI",
		Long:  validateLong,
		Example: `  meshctl validate
  meshctl validate --skip-asmcli --namespace shop --junit validate.xml
  meshctl validate --service shop/cart -o json
  meshctl validate --fail-on warning   # CI: warnings fail too
  meshctl validate --cluster my-project/us-central1/east --cluster my-project/europe-west1/west --skip-asmcli`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{factory.SeveralClusters: "true"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Validate.CertWarnDays < 0 {
				return failure.Usage(fmt.Errorf("--cert-warn-days must not be negative"), "")
			}
			opts.Clients, opts.Printer = clients(f), f.Printer
			if runF != nil {
				return runF(opts)
			}
			if len(f.Settings.Clusters) > 1 {
				return runSeveral(cmd.Context(), f, opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	o := &opts.Validate
	fl.StringSliceVarP(&o.Namespaces, "namespace", "n", nil, "validate only these namespaces (repeatable, or comma-separated); the control plane is always checked")
	fl.StringSliceVar(&o.Services, "service", nil, "validate only these exposed Services, NAME or NAMESPACE/NAME (repeatable)")
	fl.IntVar(&o.CertWarnDays, "cert-warn-days", 30, "warn when a gateway certificate expires within this many days")
	fl.BoolVar(&opts.SkipAsmcli, "skip-asmcli", false, "leave out asmcli validate")
	fl.BoolVar(&opts.SkipLB, "skip-lb", false, "leave out the exposed Services' load balancers (no Compute API calls)")
	fl.StringVar(&opts.Asmcli, "asmcli", "", "path of the asmcli script to run (default: PATH, else the pinned release, downloaded)")
	fl.StringVar(&opts.JUnit, "junit", "", "also write the results as JUnit XML to this file")
	fl.StringVar(&opts.FleetProject, "fleet-project", "", "fleet host project of a managed mesh, whose servicemesh feature validate reads instead of running asmcli (default: the cluster's project)")
	fl.Var(&o.FailOn, "fail-on", findings.FailOnUsage)
	_ = cmd.RegisterFlagCompletionFunc("fail-on", cobra.FixedCompletions([]string{"error", "warning", "info"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// clients returns what builds validate's clients: Kubernetes always, the
// Compute API unless --skip-lb (a client that cannot be built is reported
// by the load balancer checks, the others run), asmcli unless --skip-asmcli.
func clients(f *factory.Factory) func(context.Context, *ValidateOptions) (validate.Clients, func(), error) {
	return func(ctx context.Context, opts *ValidateOptions) (validate.Clients, func(), error) {
		var c validate.Clients
		var err error
		if c.Kube, err = f.Kube(); err != nil {
			return c, nil, err
		}
		if c.Dynamic, err = f.Dynamic(); err != nil {
			return c, nil, err
		}
		s := f.Settings
		release, err := cloudClients(ctx, f, opts, &c, validate.AsmcliCluster{Project: s.Project, Location: s.Location, Cluster: s.Cluster})
		c.Fleet = fleetStatus(f, opts.FleetProject)
		return c, release, err
	}
}

// networkProject is the project of the cluster's network (a Shared VPC's
// host project), or the cluster's own when the cluster cannot be read.
func networkProject(ctx context.Context, f *factory.Factory, cl validate.AsmcliCluster) string {
	if cl.Location == "" || cl.Cluster == "" {
		return cl.Project
	}
	gke, err := f.ClusterManager(ctx)
	if err != nil {
		return cl.Project
	}
	gc, err := gke.GetCluster(ctx, &containerpb.GetClusterRequest{Name: fmt.Sprintf("projects/%s/locations/%s/clusters/%s", cl.Project, cl.Location, cl.Cluster)})
	if err != nil {
		return cl.Project
	}
	project, _ := gkecluster.Network(gc, cl.Project)
	return project
}

// cloudClients adds the Compute API unless --skip-lb (a client that cannot
// be built is reported by the load balancer checks, the others run) and
// asmcli unless --skip-asmcli, for one cluster.
func cloudClients(ctx context.Context, f *factory.Factory, opts *ValidateOptions, c *validate.Clients, cl validate.AsmcliCluster) (func(), error) {
	release := func() {}
	if !opts.SkipLB {
		if cl.Project == "" {
			c.ComputeErr = fmt.Errorf("no project: set --project (or a gke_ kube context) to check load balancers, or pass --skip-lb")
		} else if gce, err := lb.NewGCE(ctx, f.GCP(), cl.Project); err != nil {
			if failure.ExitCode(err) == failure.ExitUsage {
				return nil, err
			}
			c.ComputeErr = err
		} else {
			release = func() { _ = gce.Close() }
			c.Compute = gce
			if host := networkProject(ctx, f, cl); host != cl.Project {
				// A Shared VPC's firewall rules are in its host project.
				if hg, err := lb.NewGCE(ctx, f.GCP(), host); err == nil {
					c.NetworkCompute = hg
					release = func() { _ = gce.Close(); _ = hg.Close() }
				}
			}
			// A GKE Gateway's certificates are in Certificate Manager;
			// without the client they are left out.
			if svc, err := f.CertificateManager(ctx); err == nil {
				c.CertificateMaps = &gatewayapi.CertManagerREST{Service: svc, Project: cl.Project}
			}
		}
	}
	if !opts.SkipAsmcli {
		c.Asmcli = validate.RunAsmcli(install.NewLocator(opts.Asmcli), cl)
	}
	return release, nil
}

func run(ctx context.Context, opts *ValidateOptions) error {
	c, release, err := opts.Clients(ctx, opts)
	if err != nil {
		return err
	}
	defer release()
	res, err := validate.Run(ctx, c, opts.Validate)
	if err != nil {
		return err
	}
	return report(opts, res)
}

// report writes the JUnit file if asked, prints the result and sets the
// exit code.
func report(opts *ValidateOptions, res *validate.Result) error {
	if opts.JUnit != "" {
		if err := writeJUnit(opts.JUnit, res); err != nil {
			return failure.WithHint(fmt.Errorf("write --junit %s: %w", opts.JUnit, err), "pass a writable path")
		}
	}
	if err := opts.Printer.Print(res); err != nil {
		return err
	}
	if res.Failed() {
		return failure.Problems()
	}
	return nil
}

func writeJUnit(path string, res *validate.Result) error {
	var buf bytes.Buffer
	if err := res.WriteJUnit(&buf); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

const validateLong = `Validate reads the cluster and reports, with stable codes from the findings catalog (see
docs/findings.md), what is wrong with the mesh:

  control plane     asmcli validate (its [ERROR] and [WARNING] lines; --skip-asmcli leaves it out;
                    the asmcli on PATH or in meshctl's cache, downloaded once), or on a managed mesh
                    the fleet's servicemesh feature state for the cluster instead,
                    each revision's istiod ready, injection webhooks pointing at installed revisions,
                    namespaces labelled with a revision that is not installed or with both labels
  data plane        in every namespace labelled for injection (istio-injection or istio.io/rev, which
                    istioctl analyze's IST0103 skips): pods without istio-proxy (native sidecars
                    count), pods on another revision (a restart is due), opted-out workloads, and
                    Service ports whose name or appProtocol leaves Istio to sniff the protocol
  exposed services  for each Service meshctl expose exposed: the gateway ready with injected
                    proxies, its PodDisruptionBudget selecting its pods, its autoscaler's target, the
                    Gateway's TLS secret with a certificate valid for the hosts and not expiring within
                    --cert-warn-days, the VirtualService bound to the Gateway and routing to a Service
                    port that exists
  load balancers    for each exposed Service, the load balancer expose built (--skip-lb leaves them
                    out): every resource present and wired (the field that differs is named),
                    backends HEALTHY per NEG zone (unhealthy endpoints named), the managed
                    certificate's status per domain with the reason and the fix, the SSL policy's
                    minimum TLS, Cloud Armor attached, a firewall rule admitting Google's front ends
                    (35.191.0.0/16, 130.211.0.0/22) to the gateway's ports

Each list is made once, paginated; independent checks run concurrently, and a check whose API call
fails is reported as such (MC0100) while the others still run. --junit FILE writes JUnit XML, one
test case per check and object, so CI systems show the results natively.

With --cluster given more than once (each NAME, PROJECT/LOCATION/NAME or a kube context), it
validates every cluster at once and adds what is about the clusters together, in one report (the
JSON and JUnit too): each cluster's remote secret for each other one, current (MC0314, MC0315);
each istiod syncing every other cluster (MC0316); each remote control plane in reach (MC0311-MC0313);
one root of trust in istio-ca-root-cert (MC0318).

Exit codes: 0 when nothing reaches --fail-on (default error), 3 when something does.`

// fleetStatus returns what reads the fleet's view of the cluster's managed
// mesh, building the fleet client when called (only on a managed mesh).
func fleetStatus(f *factory.Factory, fleetProject string) func(context.Context) (managed.ClusterStatus, error) {
	return func(ctx context.Context) (managed.ClusterStatus, error) {
		s := f.Settings
		if s.Project == "" || s.Location == "" || s.Cluster == "" {
			return managed.ClusterStatus{}, fmt.Errorf("a managed mesh is validated through its fleet, which needs --project, --location and --cluster (or a gke_ kube context)")
		}
		if fleetProject == "" {
			fleetProject = s.Project
		}
		v1, err := f.GKEHub(ctx)
		if err != nil {
			return managed.ClusterStatus{}, err
		}
		v2, err := f.GKEHubV2(ctx)
		if err != nil {
			return managed.ClusterStatus{}, err
		}
		return managed.ReadClusterStatus(ctx, managed.HubClient{V1: v1, V2: v2}, fleetProject,
			managed.ClusterRef{Project: s.Project, Location: s.Location, Name: s.Cluster})
	}
}
