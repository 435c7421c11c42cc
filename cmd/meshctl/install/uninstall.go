package install

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/install/managed"
	"github.com/meshctl/meshctl/pkg/preflight"
	"github.com/meshctl/meshctl/pkg/revision"
)

// UninstallOptions are what `meshctl uninstall` runs with: --managed, or
// --revision for one in-cluster revision.
type UninstallOptions struct {
	Managed        bool
	ManagedOptions managed.Options
	// ManagedInstaller builds the fleet-managed installer's clients.
	ManagedInstaller func(ctx context.Context, dryRun bool) (managed.Installer, error)
	// Revision are --revision and --dry-run for an in-cluster revision;
	// Objects builds its client.
	Revision revision.UninstallOptions
	Objects  func() (kube.Objects, error)
	// SkipPermissionCheck is --skip-permission-check; Preflight builds the
	// check.
	SkipPermissionCheck bool
	Preflight           func(context.Context) *preflight.Checker
	Printer             *ui.Printer
	Reporter            ui.Reporter
}

// NewCmdUninstall returns `meshctl uninstall`; runF replaces its run in
// tests.
func NewCmdUninstall(f *factory.Factory, runF func(*UninstallOptions) error) *cobra.Command {
	opts := &UninstallOptions{}
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove an in-cluster revision (--revision), or the managed control plane (--managed)",
		Long: `Uninstall --revision REV removes an in-cluster control-plane revision (asmcli's, or
istioctl's): its istiod Deployment, Services, autoscaler, ConfigMaps, service account and RBAC,
its injection and validating webhooks and its tags' webhooks and Services, as
istioctl uninstall --revision does (asmcli has no uninstall). It refuses, deleting nothing, while
anything still uses the revision, and lists what does with the command that moves it: a
namespace labelled with the revision or with one of its tags (or istio-injection=enabled while it
is the default), or a running pod whose istio-proxy it injected. The CRDs, istio-system and the
other revisions stay. It waits until istiod's pods are gone; running it again finishes an
interrupted uninstall, and on a revision that is not installed changes nothing.

Uninstall --managed sets the cluster's fleet membership's mesh management to
MANAGEMENT_NOT_INSTALLED and waits, within --timeout, until the fleet has removed the managed
control plane and its ControlPlaneRevision has left the cluster. Then it unregisters the
cluster's membership and disables the fleet's servicemesh feature, each only when meshctl made
it (labelled managed-by=meshctl by meshctl install --managed), the feature only when no other
membership uses it; --keep-membership keeps both. What stays is named in the result with the
command that removes it. Running it again, or on a cluster without the managed mesh, changes
nothing.

Move workloads off the managed revision first (meshctl inject --disable, or to another
revision): their sidecars keep running but lose their control plane.`,
		Example: `  # The old revision, after a canary upgrade moved everything off it
  meshctl uninstall --revision asm-1282-3 --dry-run
  meshctl uninstall --revision asm-1282-3

  meshctl uninstall --managed
  meshctl uninstall --managed --dry-run
  meshctl uninstall --managed --keep-membership   # the cluster stays in the fleet`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Printer, opts.Reporter = f.Printer, f.Reporter
			opts.Preflight = f.Preflight(&opts.SkipPermissionCheck)
			if opts.Revision.Revision != "" {
				return runRevision(cmd, f, opts, runF)
			}
			if !opts.Managed {
				return failure.Usage(fmt.Errorf("say what to remove: --revision REV (an in-cluster revision) or --managed"),
					"meshctl revision tag list and meshctl validate show the revisions installed")
			}
			s, m := f.Settings, &opts.ManagedOptions
			m.Project, m.Location, m.Cluster = s.Project, s.Location, s.Cluster
			if err := m.Validate(); err != nil {
				return failure.Usage(err, "")
			}
			opts.ManagedInstaller = func(ctx context.Context, dryRun bool) (managed.Installer, error) {
				in, err := f.ManagedInstaller(ctx, dryRun)
				in.Preflight = opts.Preflight(ctx)
				return in, err
			}
			if runF != nil {
				return runF(opts)
			}
			return runManaged(cmd.Context(), opts.ManagedOptions, opts.ManagedInstaller, true, opts.Printer)
		},
	}
	addManagedFlags(cmd, &opts.Managed, &opts.ManagedOptions, true)
	cmd.Flags().StringVar(&opts.Revision.Revision, "revision", "", "the in-cluster revision to remove")
	cmd.Flags().BoolVar(&opts.ManagedOptions.DryRun, "dry-run", false, "show what would change; change nothing")
	cmd.Flags().BoolVar(&opts.ManagedOptions.KeepMembership, "keep-membership", false, "keep the fleet membership and the servicemesh feature even when meshctl made them")
	factory.AddSkipPermissionCheck(cmd, &opts.SkipPermissionCheck)
	cmd.MarkFlagsMutuallyExclusive("revision", "managed")
	cmd.MarkFlagsMutuallyExclusive("revision", "membership")
	cmd.MarkFlagsMutuallyExclusive("revision", "fleet-project")
	cmd.MarkFlagsMutuallyExclusive("revision", "keep-membership")
	return cmd
}

// runRevision is uninstall --revision: pkg/revision's, printed once; a
// refusal exits 3.
func runRevision(cmd *cobra.Command, f *factory.Factory, opts *UninstallOptions, runF func(*UninstallOptions) error) error {
	opts.Revision.DryRun, opts.Objects = opts.ManagedOptions.DryRun, f.Objects
	if runF != nil {
		return runF(opts)
	}
	c, err := opts.Objects()
	if err != nil {
		return err
	}
	opts.Revision.Preflight = opts.Preflight(cmd.Context())
	res, err := revision.Uninstall(cmd.Context(), c, opts.Reporter, opts.Revision)
	if err != nil {
		return err
	}
	if err := opts.Printer.Print(res); err != nil {
		return err
	}
	if res.Refused {
		return failure.Problems()
	}
	return nil
}
