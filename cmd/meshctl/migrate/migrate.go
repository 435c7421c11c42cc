// Package migrate is `meshctl migrate --to managed` (the work is
// pkg/migrate's).
package migrate

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/inject"
	"github.com/meshctl/meshctl/pkg/install/managed"
	"github.com/meshctl/meshctl/pkg/migrate"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// MigrateOptions are what `meshctl migrate` runs with.
type MigrateOptions struct {
	// To is --to; only "managed" is known.
	To      string
	Migrate migrate.Options
	// SkipPermissionCheck is --skip-permission-check; Preflight builds the
	// check.
	SkipPermissionCheck bool
	Preflight           func(context.Context) *preflight.Checker
	ManagedInstaller    func(ctx context.Context, dryRun bool) (managed.Installer, error)
	Objects             func() (kube.Objects, error)
	Kube                func() (kubernetes.Interface, error)
	Printer             *ui.Printer
	Reporter            ui.Reporter
}

// NewCmdMigrate returns `meshctl migrate`; runF replaces its run in tests.
func NewCmdMigrate(f *factory.Factory, runF func(*MigrateOptions) error) *cobra.Command {
	opts := &MigrateOptions{}
	cmd := &cobra.Command{
		Use:   "migrate --to managed",
		Short: "Move an in-cluster (asmcli) control plane's namespaces to the managed control plane, then remove it",
		Long: `Migrate --to managed moves a cluster from its in-cluster control plane (installed by asmcli
or istioctl) to Google's managed control plane, in steps:

  1. prechecks: install --managed's (workload identity, node pools, nodes) and the migration's:
     MC0273 the in-cluster revision signs with istiod's own CA (--ca citadel), MC0274 pods on it
     that migrate does not move (system namespaces, pods labelled istio.io/rev themselves),
     MC0275 EnvoyFilters (a warning); an error stops the migration before any change;
  2. provision the managed control plane beside the in-cluster revision (install --managed);
  3. move the namespaces that use the in-cluster revision (by label, tag, or running pods),
     --batch at a time: label istio.io/rev=MANAGED_REVISION, restart the workloads whose pods
     are not on it, and verify every pod's injected proxy from the API server. The first batch
     that does not converge stops the migration, with the commands that move it back;
  4. confirm that no namespace or running pod uses the in-cluster revision any more;
  5. remove the in-cluster revision (uninstall --revision).

Nothing is kept on the side: every run reads the cluster and the fleet and does what is left,
so a migration interrupted anywhere is finished by running the same command again, and a run
after the end changes nothing. --dry-run prints the whole plan and changes nothing.`,
		Example: `  meshctl migrate --to managed --dry-run
  meshctl migrate --to managed --batch 10
  # Two in-cluster revisions: say which one to leave
  meshctl migrate --to managed --from asm-1281-3 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.To != "managed" {
				return failure.Usage(fmt.Errorf("--to %q: migrate knows one destination, managed", opts.To), "meshctl migrate --to managed")
			}
			if opts.Migrate.Batch < 1 {
				return failure.Usagef("--batch must be at least 1")
			}
			s, m := f.Settings, &opts.Migrate.Managed
			m.Project, m.Location, m.Cluster = s.Project, s.Location, s.Cluster
			if err := m.Validate(); err != nil {
				return failure.Usage(err, "")
			}
			opts.Preflight = f.Preflight(&opts.SkipPermissionCheck)
			opts.ManagedInstaller, opts.Objects, opts.Kube = f.ManagedInstaller, f.Objects, f.Kube
			opts.Printer, opts.Reporter = f.Printer, f.Reporter
			if runF != nil {
				return runF(opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	o := &opts.Migrate
	fl.StringVar(&opts.To, "to", "", "where to: managed (Google's managed control plane)")
	fl.StringVar(&o.From, "from", "", "the in-cluster revision to leave (default: the only one installed)")
	fl.IntVar(&o.Batch, "batch", migrate.DefaultBatch, "namespaces moved at once")
	fl.StringVar(&o.Managed.Channel, "channel", "", "managed channel: rapid, regular or stable (default: the cluster's GKE release channel, as Google maps it)")
	fl.StringVar(&o.Managed.Membership, "membership", "", "fleet membership name (default: the cluster's existing membership, else the cluster's name)")
	fl.StringVar(&o.Managed.FleetProject, "fleet-project", "", "fleet host project (default: the cluster's project)")
	fl.BoolVar(&o.SkipChecks, "skip-checks", false, "do not run the prechecks (migrate's and install --managed's)")
	fl.BoolVar(&o.DryRun, "dry-run", false, "print the whole plan; change nothing")
	factory.AddSkipPermissionCheck(cmd, &opts.SkipPermissionCheck)
	_ = cmd.MarkFlagRequired("to")
	_ = cmd.RegisterFlagCompletionFunc("to", cobra.FixedCompletions([]string{"managed"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("channel", cobra.FixedCompletions(managed.Channels, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func run(ctx context.Context, opts *MigrateOptions) error {
	o := opts.Migrate
	o.Managed.DryRun = o.DryRun
	in, err := opts.ManagedInstaller(ctx, o.DryRun)
	if err != nil {
		return err
	}
	o.Preflight = opts.Preflight(ctx)
	in.Preflight = o.Preflight
	objs, err := opts.Objects()
	if err != nil {
		return err
	}
	kc, err := opts.Kube()
	if err != nil {
		return err
	}
	m := migrate.Migrator{Objects: objs, Managed: in, Mover: mover{kc}, Reporter: opts.Reporter}
	res, err := m.Run(ctx, o)
	if err != nil {
		// Tools get the result of a stopped run too: how far it went.
		if opts.Printer.Format != ui.FormatText && opts.Printer.Format != "" {
			_ = opts.Printer.Print(res)
		}
		return err
	}
	return opts.Printer.Print(res)
}

// mover is inject.Run with the cluster's client.
type mover struct{ kc kubernetes.Interface }

func (m mover) Inject(ctx context.Context, rep ui.Reporter, o inject.Options) (*inject.Result, error) {
	return inject.Run(ctx, m.kc, rep, o)
}
