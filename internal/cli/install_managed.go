package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"

	"github.com/meshctl/meshctl/internal/gcp"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/install/managed"
)

// managedFlags are the --managed options of install and uninstall.
type managedFlags struct {
	on   bool
	opts managed.Options
}

// asmcliOnly are install's flags that drive asmcli and mean nothing for the
// managed control plane.
var asmcliOnly = []string{"asmcli", "output-dir", "revision", "ca", "ca-pool", "ca-cert", "ca-key", "root-cert", "cert-chain",
	"fleet-id", "enable-all", "enable", "option", "custom-overlay", "egress-registry-only", "access-logging"}

// managedOnly need --managed.
var managedOnly = []string{"channel", "membership", "fleet-project"}

func (m *managedFlags) add(cmd *cobra.Command, uninstall bool) {
	f := cmd.Flags()
	f.BoolVar(&m.on, "managed", false, "the managed control plane through the fleet API (Google's recommended install)")
	f.StringVar(&m.opts.Membership, "membership", "", "fleet membership name (default: the cluster's existing membership, else the cluster's name)")
	f.StringVar(&m.opts.FleetProject, "fleet-project", "", "fleet host project (default: the cluster's project)")
	if !uninstall {
		f.StringVar(&m.opts.Channel, "channel", "", "managed channel: rapid, regular or stable (default: the cluster's GKE release channel, as Google maps it)")
		_ = cmd.RegisterFlagCompletionFunc("channel", cobra.FixedCompletions(managed.Channels, cobra.ShellCompDirectiveNoFileComp))
	}
}

// validate rejects flags of the other install path before anything runs.
func (m *managedFlags) validate(cmd *cobra.Command) error {
	f := cmd.Flags()
	var wrong []string
	if m.on {
		for _, name := range asmcliOnly {
			if fl := f.Lookup(name); fl != nil && fl.Changed {
				wrong = append(wrong, "--"+name)
			}
		}
		if len(wrong) > 0 {
			return ui.Usage(fmt.Errorf("%s apply to the asmcli install, not --managed", strings.Join(wrong, ", ")),
				"Google configures the managed control plane; use --fleet-project instead of --fleet-id")
		}
		return nil
	}
	for _, name := range managedOnly {
		if fl := f.Lookup(name); fl != nil && fl.Changed {
			wrong = append(wrong, "--"+name)
		}
	}
	if len(wrong) > 0 {
		return ui.Usage(fmt.Errorf("%s need --managed", strings.Join(wrong, ", ")), "")
	}
	return nil
}

// runManaged installs (or uninstalls) the managed control plane and prints
// the result.
func runManaged(cmd *cobra.Command, app *App, o managed.Options, uninstall bool) error {
	ctx := cmd.Context()
	s := app.Settings
	o.Project, o.Location, o.Cluster = s.Project, s.Location, s.Cluster
	if uninstall {
		o.Channel = ""
	}
	if err := o.Validate(); err != nil {
		return ui.Usage(err, "")
	}
	gke, err := app.ClusterManager(ctx)
	if err != nil {
		return err
	}
	v1, err := app.GKEHub(ctx)
	if err != nil {
		return err
	}
	v2, err := app.GKEHubV2(ctx)
	if err != nil {
		return err
	}
	su, err := app.ServiceUsage(ctx)
	if err != nil {
		return err
	}
	in := managed.Installer{
		GKE:      gcp.NewGKE(gke),
		Fleet:    managed.HubClient{V1: v1, V2: v2},
		Services: managed.ServiceUsageClient{S: su},
		Reporter: app.Reporter,
	}
	if !o.DryRun {
		kc, err := app.Kube()
		if err != nil {
			return err
		}
		rc, err := app.KubeRESTConfig()
		if err != nil {
			return err
		}
		dyn, err := dynamic.NewForConfig(rc)
		if err != nil {
			return fmt.Errorf("create kubernetes client: %w", err)
		}
		in.Kube, in.Dynamic = kc, dyn
	}
	var res managed.Result
	if uninstall {
		res, err = in.Uninstall(ctx, o)
	} else {
		res, err = in.Install(ctx, o)
	}
	if err != nil {
		return err
	}
	return app.Print(res)
}

func newUninstallCmd(app *App) *cobra.Command {
	var managed managedFlags
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove the managed control plane from the cluster (uninstall --managed)",
		Long: `Uninstall --managed sets the cluster's fleet membership's mesh management to
MANAGEMENT_NOT_INSTALLED and waits, within --timeout, until the fleet has removed the managed
control plane and its ControlPlaneRevision has left the cluster. The membership and the fleet's
servicemesh feature stay (other clusters may use them); the result says how to remove them.
Running it again, or on a cluster without the managed mesh, changes nothing.

Move workloads off the managed revision first (meshctl inject --disable, or to another
revision): their sidecars keep running but lose their control plane.`,
		Example: `  meshctl uninstall --managed
  meshctl uninstall --managed --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !managed.on {
				return ui.Usage(fmt.Errorf("uninstall removes the managed control plane only: give --managed"),
					"an asmcli (in-cluster) install is removed with `istioctl uninstall --revision REV`")
			}
			managed.opts.DryRun = dryRun
			return runManaged(cmd, app, managed.opts, true)
		},
	}
	managed.add(cmd, true)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would change; change nothing")
	return cmd
}
