package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/pkg/install"
)

func newInstallCmd(app *App) *cobra.Command {
	var (
		opts       install.Options
		asmcliPath string
	)
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install the in-cluster mesh control plane with Google's asmcli",
		Long: `Install runs Google's asmcli install for the cluster named by --project, --location and
--cluster (or the GKE kube context), with its prechecks first, its prompts closed, its log shown
as progress and kept in the output directory, and the installed revision confirmed in the cluster.

asmcli is taken from --asmcli, else PATH, else the pinned release is downloaded (checksum
verified) into meshctl's cache directory.`,
		Example: `  meshctl install --enable-all
  meshctl install --revision asm-1282-4 --egress-registry-only --access-logging
  meshctl install --dry-run -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
	f.BoolVar(&opts.DryRun, "dry-run", false, "print the asmcli command and generated overlays; run nothing")
	return cmd
}
