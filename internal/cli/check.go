package cli

import (
	"context"
	"fmt"
	"strings"

	compute "cloud.google.com/go/compute/apiv1"
	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/internal/gcp"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/check"
	"github.com/meshctl/meshctl/pkg/findings"
)

func newCheckCmd(app *App) *cobra.Command {
	opts := check.Options{FailOn: findings.Error}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check that a GKE cluster is ready for the mesh, and say how to fix what is not",
		Long: `Check reads the cluster from the GKE, Compute and Kubernetes APIs and reports, for each check
(a stable code from the findings catalog, see the README), ok, info, warning or error, with the
exact gcloud or kubectl command that fixes a failure:

  versions   the control plane and node pools against the mesh release's supported GKE
             versions (--mesh-version), node pools behind the control plane, release channel
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
made by meshctl), then checks again.

Exit codes: 0 when nothing reaches --fail-on (default error), 3 when something does.`,
		Example: `  meshctl check
  meshctl check --mesh-version 1.29 -o json
  meshctl check --fix
  meshctl check --fail-on warning   # CI: warnings fail too`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s := app.Settings
			opts.Project, opts.Location, opts.Cluster, opts.KubeContext = s.Project, s.Location, s.Cluster, s.Context
			if err := opts.Validate(); err != nil {
				hint := "set --project, --location and --cluster (or MESHCTL_PROJECT, ...), or use the kube context `gcloud container clusters get-credentials` writes"
				if strings.Contains(err.Error(), "mesh release") {
					hint = "pass --mesh-version with one of the releases listed"
				}
				return ui.Usage(err, hint)
			}
			clients, err := checkClients(cmd.Context(), app)
			if err != nil {
				return err
			}
			res, err := check.Run(cmd.Context(), clients, app.Reporter, opts)
			if err != nil {
				return err
			}
			if err := app.Print(res); err != nil {
				return err
			}
			if res.HasProblems() {
				return ui.Problems()
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.MeshVersion, "mesh-version", "", fmt.Sprintf("target mesh release, e.g. 1.29 or 1.29.3-asm.1 (default: the newest meshctl knows, %s)", check.Releases[len(check.Releases)-1].Mesh))
	f.BoolVar(&opts.Fix, "fix", false, "create the missing webhook firewall rule (tcp:15017 from the control plane), then check again")
	f.Var(&opts.FailOn, "fail-on", findings.FailOnUsage)
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

// checkClients builds the clients check uses. A client that cannot be built
// (no credentials, no kubeconfig) is handed over as an error: the checks
// that need it say so and the others run. Bad settings stop the command.
func checkClients(ctx context.Context, app *App) (check.Clients, error) {
	var c check.Clients
	usage := func(err error) bool { return err != nil && ui.ExitCode(err) == ui.ExitUsage }

	if gke, err := app.ClusterManager(ctx); err == nil {
		c.GKE = gcp.NewGKE(gke)
	} else if usage(err) {
		return c, err
	} else {
		c.GKEErr = err
	}

	var cc check.ComputeClients
	var err error
	if cc.Projects, err = NewCompute(ctx, app, compute.NewProjectsRESTClient); err == nil {
		if cc.MachineTypes, err = NewCompute(ctx, app, compute.NewMachineTypesRESTClient); err == nil {
			cc.Firewalls, err = NewCompute(ctx, app, compute.NewFirewallsRESTClient)
		}
	}
	switch {
	case err == nil:
		c.Compute = cc
	case usage(err):
		return c, err
	default:
		c.ComputeErr = err
	}

	if kc, err := app.Kube(); err == nil {
		c.Kube = kc
	} else {
		c.KubeErr = err
	}
	return c, nil
}
