// Package check is `meshctl check`: is the cluster ready for the mesh (the
// work is pkg/check's).
package check

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/gcp"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/check"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/gkecluster"
	"github.com/meshctl/meshctl/pkg/install"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// CheckOptions are what `meshctl check` runs with.
type CheckOptions struct {
	// Check are the flags, and the cluster from the settings.
	Check check.Options
	// Clients builds the clients the checks read through.
	Clients func(context.Context) (check.Clients, error)
	// Target finds the release to check against when --mesh-version is
	// not given: the asmcli `meshctl install` would run.
	Target func(context.Context) install.Target
	// Several is set when --cluster is given more than once.
	Several *SeveralOptions
	// SkipPermissionCheck is --skip-permission-check; Preflight builds the
	// check of --fix's permissions.
	SkipPermissionCheck bool
	Preflight           func(context.Context) *preflight.Checker
	// Permissions is --permissions: check the caller's permissions for
	// the commands PermissionsFor names (--for) instead of the cluster.
	Permissions    bool
	PermissionsFor []string
	// NetworkProject finds the project of the cluster's VPC network (a
	// Shared VPC's host project), where --permissions checks the firewall
	// permissions; nil when no cluster is set.
	NetworkProject func(context.Context) (string, error)
	Printer        *ui.Printer
	Reporter       ui.Reporter
}

// NewCmdCheck returns `meshctl check`; runF replaces its run in tests.
func NewCmdCheck(f *factory.Factory, runF func(*CheckOptions) error) *cobra.Command {
	opts := &CheckOptions{Check: check.Options{FailOn: findings.Error}}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check that a GKE cluster is ready for the mesh, and say how to fix what is not",
		Long: `Check reads the cluster from the GKE, Compute and Kubernetes APIs and reports, for each check
(a stable code from the findings catalog, see docs/findings.md), ok, info, warning or error, with the
exact gcloud or kubectl command that fixes a failure:

  versions   the control plane and node pools against the supported GKE versions of the mesh
             release, node pools behind the control plane, release channel. The release is
             --mesh-version, else what the asmcli meshctl install would run reports (asmcli
             --version; on PATH or already in meshctl's cache), else the release meshctl
             installs; the report's header says which
  capacity   Autopilot, real vCPUs and memory per node pool from Compute's machine types
             (custom types included), nodes of 4+ vCPUs in a pool of 8+ vCPUs (autoscaling counted)
  private    private nodes and endpoint, control plane range, authorized networks, and a
             firewall rule that lets the control plane reach istiod's webhooks on tcp:15017
  features   workload identity, Cloud Operations, the mesh_id label, network
  cluster    server version, cluster-admin rights, istio-system, installed revisions, a legacy
             istio-ingressgateway, Service port protocols (IST0118), double injection labels

Checks that use different APIs run concurrently; a check whose API call fails is reported as such
(MC0100, with the cause: permission, API disabled, unreachable) and the others still run.

--fix creates the missing 15017 firewall rule (named meshctl-webhook-CLUSTER-HASH, described as
made by meshctl; on a Shared VPC in the host project, on its network), then checks again. With
--dry-run it prints the fixes it would make and the permissions they need (-o json: the fixes,
the changes and the permission report) and changes nothing.

With --cluster given more than once (each NAME, PROJECT/LOCATION/NAME or a kube context), it checks
every cluster at once and then the clusters together, as meshctl mesh connect needs them: one fleet,
one VPC network, Pod ranges that do not overlap, distinct installed names and one mesh release
where installed, a firewall rule between the clusters' Pods and nodes, and each private control
plane in reach of the others' istiods (findings MC03xx).

--permissions checks instead whether the caller may run meshctl's mutating commands (--for
chooses them): each command's Google permissions with testIamPermissions in the project (the
firewall rules' in the project of the cluster's network, when a cluster is set: a Shared VPC's
host project), its
Kubernetes ones with SelfSubjectAccessReviews in every namespace, and for what is missing the
smallest predefined roles and the commands that grant them.

Exit codes: 0 when nothing reaches --fail-on (default error), 3 when something does (with
--permissions: when a permission is missing).`,
		Example: `  meshctl check
  meshctl check --mesh-version 1.29 -o json
  meshctl check --fix
  meshctl check --fix --dry-run -o json
  meshctl check --fail-on warning   # CI: warnings fail too
  meshctl check --cluster my-project/us-central1/east --cluster my-project/europe-west1/west
  meshctl check --permissions --for expose,inject -o json`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{factory.SeveralClusters: "true"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			s := f.Settings
			if opts.Permissions {
				opts.Check.Project, opts.Printer, opts.Preflight = s.Project, f.Printer, f.Preflight(&opts.SkipPermissionCheck)
				opts.Check.Location, opts.Check.Cluster, opts.Reporter = s.Location, s.Cluster, f.Reporter
				if s.Project != "" && s.Location != "" && s.Cluster != "" {
					opts.NetworkProject = func(ctx context.Context) (string, error) { return clusterNetworkProject(ctx, f, opts.Check) }
				}
				if runF != nil {
					return runF(opts)
				}
				return runPermissions(cmd.Context(), opts)
			}
			if len(s.Clusters) > 1 {
				if err := completeSeveral(f, opts); err != nil {
					return err
				}
				if runF != nil {
					return runF(opts)
				}
				return runSeveral(cmd.Context(), opts)
			}
			opts.Check.Project, opts.Check.Location, opts.Check.Cluster, opts.Check.KubeContext = s.Project, s.Location, s.Cluster, s.Context
			if err := opts.Check.Validate(); err != nil {
				return failure.Usage(err, "") // the hint says what to set
			}
			if opts.Check.DryRun && !opts.Check.Fix {
				return failure.Usage(fmt.Errorf("--dry-run shows what --fix would change; without --fix check changes nothing"), "add --fix: meshctl check --fix --dry-run")
			}
			if opts.Check.MeshVersion != "" {
				opts.Check.MeshVersionSource = "--mesh-version"
			}
			opts.Clients, opts.Printer, opts.Reporter = f.CheckClients, f.Printer, f.Reporter
			opts.Target = func(ctx context.Context) install.Target { return install.CheckTarget(ctx, install.NewLocator("")) }
			opts.Preflight = f.Preflight(&opts.SkipPermissionCheck)
			if runF != nil {
				return runF(opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Check.MeshVersion, "mesh-version", "", fmt.Sprintf("target mesh release, e.g. 1.29 or 1.29.8-asm.11 (default: the release of the asmcli meshctl install would run, else %s)", install.PinnedRelease))
	fl.BoolVar(&opts.Check.Fix, "fix", false, "create the missing webhook firewall rule (tcp:15017 from the control plane), then check again")
	fl.BoolVar(&opts.Check.DryRun, "dry-run", false, "with --fix: show the fixes and the permissions they need; change nothing")
	fl.Var(&opts.Check.FailOn, "fail-on", findings.FailOnUsage)
	factory.AddSkipPermissionCheck(cmd, &opts.SkipPermissionCheck)
	fl.BoolVar(&opts.Permissions, "permissions", false, "check the caller's Google and Kubernetes permissions for meshctl's mutating commands instead of the cluster (for preparing a CI service account)")
	fl.StringSliceVar(&opts.PermissionsFor, "for", nil, permissionsUsage())
	cmd.MarkFlagsMutuallyExclusive("permissions", "fix")
	cmd.MarkFlagsMutuallyExclusive("permissions", "dry-run")
	_ = cmd.RegisterFlagCompletionFunc("fail-on", cobra.FixedCompletions([]string{"error", "warning", "info"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("mesh-version", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var names []string
		for _, r := range check.Releases {
			names = append(names, r.Mesh)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func run(ctx context.Context, opts *CheckOptions) error {
	if opts.Check.MeshVersion == "" && opts.Target != nil {
		t := opts.Target(ctx)
		opts.Check.MeshVersion, opts.Check.MeshVersionSource = t.Version, t.Source
	}
	clients, err := opts.Clients(ctx)
	if err != nil {
		return err
	}
	if opts.Check.Fix && opts.Preflight != nil {
		opts.Check.Preflight = opts.Preflight(ctx)
	}
	res, err := check.Run(ctx, clients, opts.Reporter, opts.Check)
	if err != nil {
		if res != nil {
			// --fix stopped for missing permissions: the checks still
			// ran, and their report is printed before the error.
			if perr := opts.Printer.Print(res); perr != nil {
				return perr
			}
		}
		return err
	}
	if err := opts.Printer.Print(res); err != nil {
		return err
	}
	if res.HasProblems() {
		return failure.Problems()
	}
	return nil
}

// clusterNetworkProject is the project of the cluster's VPC network, as
// GKE reports it (networkConfig.network names a Shared VPC's host
// project).
func clusterNetworkProject(ctx context.Context, f *factory.Factory, o check.Options) (string, error) {
	cm, err := f.ClusterManager(ctx)
	if err != nil {
		return "", err
	}
	cl, err := gcp.NewGKE(cm).GetCluster(ctx, o.ClusterName())
	if err != nil {
		return "", err
	}
	project, _ := gkecluster.Network(cl, o.Project)
	return project, nil
}
