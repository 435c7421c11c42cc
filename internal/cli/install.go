package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/check"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/install"
)

func newInstallCmd(app *App) *cobra.Command {
	var (
		opts       install.Options
		asmcliPath string
		managed    managedFlags
	)
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install the mesh control plane: managed through the fleet API, or in-cluster with asmcli",
		Long: `Install runs Google's asmcli install for the cluster named by --project, --location and
--cluster (or the GKE kube context), with its prechecks first, its prompts closed, its log shown
as progress and kept in the output directory, and the installed revision confirmed in the cluster.

asmcli is taken from --asmcli, else PATH, else the pinned release is downloaded (checksum
verified) into meshctl's cache directory.

With --managed it provisions Google's managed control plane through the fleet API instead, as
Google now recommends (the in-cluster ISTIOD control plane on GKE and asmcli --managed are
deprecated). Each step is skipped when already done, so running it again is safe:

  1. look the cluster's fleet membership up (in whatever location it was registered), or
     register the cluster in its own location with workload identity;
  2. enable the fleet's servicemesh feature (and mesh.googleapis.com, if it is off);
  3. set the membership's management to MANAGEMENT_AUTOMATIC (gkehub v2);
  4. wait, within --timeout, until the control plane and data plane are ACTIVE with the
     revision ready, showing the state and condition codes; a FAILED_PRECONDITION, STALLED or
     blocking condition (WORKLOAD_IDENTITY_REQUIRED, ...) stops with the cause and its fix;
  5. confirm the ControlPlaneRevision and the injection webhook in the cluster.

Before any change it checks what the fleet would refuse (workload identity, node pools on the
GKE metadata server, nodes); --skip-checks leaves that to the fleet. The channel is the one
Google maps from the cluster's GKE release channel unless --channel says otherwise.`,
		Example: `  meshctl install --enable-all
  meshctl install --revision asm-1282-4 --egress-registry-only --access-logging
  meshctl install --dry-run -o yaml

  # The managed control plane, through the fleet API
  meshctl install --managed
  meshctl install --managed --channel stable --membership prod-1 --timeout 60m
  meshctl install --managed --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := managed.validate(cmd); err != nil {
				return err
			}
			if managed.on {
				managed.opts.SkipChecks, managed.opts.DryRun = opts.SkipChecks, opts.DryRun
				return runManaged(cmd, app, managed.opts, false)
			}
			s := app.Settings
			opts.Project, opts.Location, opts.Cluster = s.Project, s.Location, s.Cluster
			cache, err := os.UserCacheDir()
			if err != nil {
				cache = os.TempDir()
			}
			if opts.OutputDir == "" {
				opts.OutputDir = filepath.Join(cache, "meshctl", "asmcli", fmt.Sprintf("%s_%s_%s", s.Project, s.Location, s.Cluster))
			}
			if abs, err := filepath.Abs(opts.OutputDir); err == nil {
				opts.OutputDir = abs
			}
			in := install.Installer{
				Locator:  install.Locator{Explicit: asmcliPath, CacheDir: filepath.Join(cache, "meshctl", "asmcli-release")},
				Reporter: app.Reporter,
			}
			if !opts.DryRun {
				kc, err := app.Kube()
				if err != nil {
					return err
				}
				in.Kube = kc
				in.Precheck = func(ctx context.Context) ([]string, error) { return precheck(ctx, app) }
			}
			res, err := in.Run(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return app.Print(res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&asmcliPath, "asmcli", "", "path of the asmcli script to run")
	f.StringVar(&opts.OutputDir, "output-dir", "", "asmcli's output directory (default: a per-cluster directory in meshctl's cache)")
	f.StringVar(&opts.Revision, "revision", "", "revision name (default: asmcli's, e.g. asm-1282-4)")
	f.StringVar(&opts.CA, "ca", "mesh_ca", "certificate authority: mesh_ca, citadel, gcp_cas or managed_cas")
	f.StringVar(&opts.CAPool, "ca-pool", "", "CA Service pool for --ca gcp_cas: projects/P/locations/L/caPools/POOL")
	f.StringVar(&opts.CACert, "ca-cert", "", "custom CA: intermediate certificate (with --ca citadel)")
	f.StringVar(&opts.CAKey, "ca-key", "", "custom CA: intermediate key")
	f.StringVar(&opts.RootCert, "root-cert", "", "custom CA: root certificate")
	f.StringVar(&opts.CertChain, "cert-chain", "", "custom CA: certificate chain")
	f.StringVar(&opts.FleetID, "fleet-id", "", "fleet host project (default: the cluster's project)")
	f.BoolVar(&opts.EnableAll, "enable-all", false, "let asmcli make every change it needs (APIs, IAM, labels, registration, namespace)")
	f.StringSliceVar(&opts.Enable, "enable", nil, "let asmcli make one kind of change: "+fmt.Sprint(install.EnableNames))
	f.StringSliceVar(&opts.Options, "option", nil, "asmcli --option NAME (repeatable)")
	f.StringSliceVar(&opts.CustomOverlays, "custom-overlay", nil, "IstioOperator overlay file passed to asmcli (repeatable)")
	f.BoolVar(&opts.EgressRegistryOnly, "egress-registry-only", false, "allow outbound traffic only to services registered in the mesh (REGISTRY_ONLY)")
	f.BoolVar(&opts.AccessLogging, "access-logging", false, "turn on Envoy access logs")
	f.BoolVar(&opts.SkipChecks, "skip-checks", false, "do not run meshctl's prechecks first")
	f.BoolVar(&opts.DryRun, "dry-run", false, "print the asmcli command and generated overlays (with --managed: the plan); change nothing")
	managed.add(cmd, false)
	return cmd
}

// precheck runs `meshctl check` for an install and returns its error-level
// findings, each with its fix.
func precheck(ctx context.Context, app *App) ([]string, error) {
	s := app.Settings
	opts := check.Options{FailOn: findings.Error, Project: s.Project, Location: s.Location, Cluster: s.Cluster, KubeContext: s.Context}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	clients, err := checkClients(ctx, app)
	if err != nil {
		return nil, err
	}
	res, err := check.Run(ctx, clients, ui.Discard, opts)
	if err != nil {
		return nil, err
	}
	var problems []string
	for _, f := range res.Findings {
		if f.Level == findings.Error {
			line := f.String()
			if f.Hint != "" {
				line += "\n    fix: " + f.Hint
			}
			problems = append(problems, line)
		}
	}
	return problems, nil
}
