package install

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/install/managed"
)

// UninstallOptions are what `meshctl uninstall` runs with.
type UninstallOptions struct {
	// Managed is --managed, the only kind of install uninstall removes.
	Managed        bool
	ManagedOptions managed.Options
	// ManagedInstaller builds the fleet-managed installer's clients.
	ManagedInstaller func(ctx context.Context, dryRun bool) (managed.Installer, error)
	Printer          *ui.Printer
}

// NewCmdUninstall returns `meshctl uninstall`; runF replaces its run in
// tests.
func NewCmdUninstall(f *factory.Factory, runF func(*UninstallOptions) error) *cobra.Command {
	opts := &UninstallOptions{}
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove the managed control plane from the cluster (uninstall --managed)",
		Long: `Uninstall --managed sets the cluster's fleet membership's mesh management to
MANAGEMENT_NOT_INSTALLED and waits, within --timeout, until the fleet has removed the managed
control plane and its ControlPlaneRevision has left the cluster. Then it unregisters the
cluster's membership and disables the fleet's servicemesh feature, each only when meshctl made
it (labelled managed-by=meshctl by meshctl install --managed), the feature only when no other
membership uses it; --keep-membership keeps both. What stays is named in the result with the
command that removes it. Running it again, or on a cluster without the managed mesh, changes
nothing.

Move workloads off the managed revision first (meshctl inject --disable, or to another
revision): their sidecars keep running but lose their control plane.`,
		Example: `  meshctl uninstall --managed
  meshctl uninstall --managed --dry-run
  meshctl uninstall --managed --keep-membership   # the cluster stays in the fleet`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !opts.Managed {
				return failure.Usage(fmt.Errorf("uninstall removes the managed control plane only: give --managed"),
					"an asmcli (in-cluster) install is removed with `istioctl uninstall --revision REV`")
			}
			s, m := f.Settings, &opts.ManagedOptions
			m.Project, m.Location, m.Cluster = s.Project, s.Location, s.Cluster
			if err := m.Validate(); err != nil {
				return failure.Usage(err, "")
			}
			opts.ManagedInstaller, opts.Printer = managedInstaller(f), f.Printer
			if runF != nil {
				return runF(opts)
			}
			return runManaged(cmd.Context(), opts.ManagedOptions, opts.ManagedInstaller, true, opts.Printer)
		},
	}
	addManagedFlags(cmd, &opts.Managed, &opts.ManagedOptions, true)
	cmd.Flags().BoolVar(&opts.ManagedOptions.DryRun, "dry-run", false, "show what would change; change nothing")
	cmd.Flags().BoolVar(&opts.ManagedOptions.KeepMembership, "keep-membership", false, "keep the fleet membership and the servicemesh feature even when meshctl made them")
	return cmd
}
