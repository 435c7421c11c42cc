package install

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/install/managed"
)

// asmcliOnly are install's flags that drive asmcli and mean nothing for the
// managed control plane.
var asmcliOnly = []string{"asmcli", "mesh-version", "output-dir", "revision", "ca", "ca-pool", "ca-cert", "ca-key", "root-cert", "cert-chain",
	"root-key", "ca-dir", "ca-key-type", "fleet-id", "enable-all", "enable", "option", "custom-overlay", "egress-registry-only", "access-logging"}

// managedOnly need --managed.
var managedOnly = []string{"channel", "membership", "fleet-project"}

// addManagedFlags adds the --managed flags of install and uninstall.
func addManagedFlags(cmd *cobra.Command, on *bool, o *managed.Options, uninstall bool) {
	f := cmd.Flags()
	f.BoolVar(on, "managed", false, "the managed control plane through the fleet API (Google's recommended install)")
	f.StringVar(&o.Membership, "membership", "", "fleet membership name (default: the cluster's existing membership, else the cluster's name)")
	f.StringVar(&o.FleetProject, "fleet-project", "", "fleet host project (default: the cluster's project)")
	if !uninstall {
		f.StringVar(&o.Channel, "channel", "", "managed channel: rapid, regular or stable (default: the cluster's GKE release channel, as Google maps it)")
		_ = cmd.RegisterFlagCompletionFunc("channel", cobra.FixedCompletions(managed.Channels, cobra.ShellCompDirectiveNoFileComp))
	}
}

// validateManagedFlags rejects flags of the other install path before
// anything runs.
func validateManagedFlags(cmd *cobra.Command, managed bool) error {
	f := cmd.Flags()
	var wrong []string
	if managed {
		for _, name := range asmcliOnly {
			if fl := f.Lookup(name); fl != nil && fl.Changed {
				wrong = append(wrong, "--"+name)
			}
		}
		if len(wrong) > 0 {
			return failure.Usage(fmt.Errorf("%s apply to the asmcli install, not --managed", strings.Join(wrong, ", ")),
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
		return failure.Usage(fmt.Errorf("%s need --managed", strings.Join(wrong, ", ")), "")
	}
	return nil
}

// runManaged installs (or uninstalls) the managed control plane and prints
// the result.
func runManaged(ctx context.Context, o managed.Options, newInstaller func(context.Context, bool) (managed.Installer, error), uninstall bool, p *ui.Printer) error {
	in, err := newInstaller(ctx, o.DryRun)
	if err != nil {
		return err
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
	return p.Print(res)
}
