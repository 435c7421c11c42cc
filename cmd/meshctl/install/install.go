// Package install is `meshctl install` and `meshctl uninstall`: the mesh
// control plane in the cluster with asmcli, or managed through the fleet
// API (the work is pkg/install's).
package install

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/config"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/check"
	"github.com/meshctl/meshctl/pkg/install"
	"github.com/meshctl/meshctl/pkg/install/managed"
	"github.com/meshctl/meshctl/pkg/meshca"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// InstallOptions are what `meshctl install` runs with.
type InstallOptions struct {
	// Install are the asmcli install's flags, and the cluster from the
	// settings.
	Install install.Options
	// Asmcli is the --asmcli script, if given.
	Asmcli string
	// Managed is --managed: ManagedOptions apply, not Install.
	Managed        bool
	ManagedOptions managed.Options

	// Kube builds the Kubernetes client that confirms the revision.
	Kube func() (kubernetes.Interface, error)
	// Precheck runs check's checks before asmcli.
	Precheck install.Prechecker
	// ManagedInstaller builds the fleet-managed installer's clients.
	ManagedInstaller func(ctx context.Context, dryRun bool) (managed.Installer, error)
	// KeyType is --ca-key-type, for --ca shared.
	KeyType string
	// SkipPermissionCheck is --skip-permission-check; Preflight builds the
	// check of the asmcli path.
	SkipPermissionCheck bool
	Preflight           func(context.Context) *preflight.Checker
	Printer             *ui.Printer
	Reporter            ui.Reporter
}

// NewCmdInstall returns `meshctl install`; runF replaces its run in tests.
func NewCmdInstall(f *factory.Factory, runF func(*InstallOptions) error) *cobra.Command {
	opts := &InstallOptions{}
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install the mesh control plane: managed through the fleet API, or in-cluster with asmcli",
		Long: `Install runs Google's asmcli install for the cluster named by --project, --location and
--cluster (or the GKE kube context), with its prechecks first, its prompts closed, its log shown
as progress and kept in the output directory, and the installed revision confirmed in the cluster.

asmcli is taken from --asmcli, else PATH, else the pinned release is downloaded (checksum
verified) into meshctl's cache directory. asmcli installs its own release, read from
asmcli --version, and the prechecks check the cluster against that release. --mesh-version
picks the release: the script of that release is downloaded when none is given or on PATH,
and a given one of another release is refused.

--ca shared gives the cluster's istiod an intermediate CA of a root kept outside every cluster
(generated in --ca-dir, or yours with --root-cert and --root-key): meshctl issues the intermediate
(the cluster in its subject, pathlen 0, keys written 0600) and creates istio-system's cacerts
Secret before asmcli runs with --ca citadel, so istiod starts signing with it. The root's key never
enters the cluster; clusters installed so join one root of trust (see mesh connect --ca shared).

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
  meshctl install --revision asm-1311-19 --egress-registry-only --access-logging
  meshctl install --mesh-version 1.30 --enable-all
  meshctl install --dry-run -o yaml

  # istiod signs with an intermediate of one root kept on this machine (see mesh connect --ca shared)
  meshctl install --enable-all --ca shared --ca-dir ~/mesh-ca

  # The managed control plane, through the fleet API
  meshctl install --managed
  meshctl install --managed --channel stable --membership prod-1 --timeout 60m
  meshctl install --managed --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := completeInstall(f, cmd, opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runInstall(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	o := &opts.Install
	fl.StringVar(&opts.Asmcli, "asmcli", "", "path of the asmcli script to run")
	fl.StringVar(&o.OutputDir, "output-dir", "", "asmcli's output directory (default: a per-cluster directory in meshctl's cache)")
	fl.StringVar(&o.Revision, "revision", "", "revision name (default: asmcli's, e.g. asm-1311-19)")
	fl.StringVar(&o.MeshVersion, "mesh-version", "", fmt.Sprintf("mesh release to install, e.g. 1.30 (default: the release of the asmcli found, else %s, which is downloaded)", install.PinnedRelease))
	fl.StringVar(&o.CA, "ca", "mesh_ca", "certificate authority: mesh_ca, citadel, gcp_cas, managed_cas, or shared (istiod signs with an intermediate of a root kept outside the cluster, as mesh connect --ca shared)")
	fl.StringVar(&o.CAPool, "ca-pool", "", "CA Service pool for --ca gcp_cas: projects/P/locations/L/caPools/POOL")
	fl.StringVar(&o.CACert, "ca-cert", "", "custom CA: intermediate certificate (with --ca citadel)")
	fl.StringVar(&o.CAKey, "ca-key", "", "custom CA: intermediate key")
	fl.StringVar(&o.RootCert, "root-cert", "", "custom CA: root certificate (with --ca shared: your root CA, with --root-key, instead of a generated one)")
	fl.StringVar(&o.SharedCA.RootKey, "root-key", "", "your root CA's key (PEM) for --ca shared; it never leaves this machine")
	fl.StringVar(&o.SharedCA.Dir, "ca-dir", "", "where --ca shared keeps the root and the cluster's intermediate (default: $XDG_CONFIG_HOME/meshctl/ca, the one mesh connect --ca shared uses)")
	fl.StringVar(&opts.KeyType, "ca-key-type", string(meshca.RSA), "keys of the CAs --ca shared makes: rsa (4096 bits, as Istio's tools/certs) or ecdsa (P-256)")
	fl.StringVar(&o.CertChain, "cert-chain", "", "custom CA: certificate chain")
	fl.StringVar(&o.FleetID, "fleet-id", "", "fleet host project (default: the cluster's project)")
	fl.BoolVar(&o.EnableAll, "enable-all", false, "let asmcli make every change it needs (APIs, IAM, labels, registration, namespace)")
	fl.StringSliceVar(&o.Enable, "enable", nil, "let asmcli make one kind of change: "+fmt.Sprint(install.EnableNames))
	fl.StringSliceVar(&o.Options, "option", nil, "asmcli --option NAME (repeatable)")
	fl.StringSliceVar(&o.CustomOverlays, "custom-overlay", nil, "IstioOperator overlay file passed to asmcli (repeatable)")
	fl.BoolVar(&o.EgressRegistryOnly, "egress-registry-only", false, "allow outbound traffic only to services registered in the mesh (REGISTRY_ONLY)")
	fl.BoolVar(&o.AccessLogging, "access-logging", false, "turn on Envoy access logs")
	fl.BoolVar(&o.SkipChecks, "skip-checks", false, "do not run meshctl's prechecks first")
	fl.BoolVar(&o.DryRun, "dry-run", false, "print the asmcli command and generated overlays (with --managed: the plan); change nothing")
	addManagedFlags(cmd, &opts.Managed, &opts.ManagedOptions, false)
	factory.AddSkipPermissionCheck(cmd, &opts.SkipPermissionCheck)
	return cmd
}

// completeInstall checks the flags of the two install paths against each
// other and fills in what comes from the settings.
func completeInstall(f *factory.Factory, cmd *cobra.Command, opts *InstallOptions) error {
	if err := validateManagedFlags(cmd, opts.Managed); err != nil {
		return err
	}
	s := f.Settings
	opts.Printer, opts.Reporter = f.Printer, f.Reporter
	if opts.Managed {
		m := &opts.ManagedOptions
		m.SkipChecks, m.DryRun = opts.Install.SkipChecks, opts.Install.DryRun
		m.Project, m.Location, m.Cluster = s.Project, s.Location, s.Cluster
		if err := m.Validate(); err != nil {
			return failure.Usage(err, "")
		}
		check := f.Preflight(&opts.SkipPermissionCheck)
		opts.ManagedInstaller = func(ctx context.Context, dryRun bool) (managed.Installer, error) {
			in, err := f.ManagedInstaller(ctx, dryRun)
			in.Preflight = check(ctx)
			return in, err
		}
		return nil
	}
	o := &opts.Install
	o.Project, o.Location, o.Cluster = s.Project, s.Location, s.Cluster
	if o.MeshVersion != "" {
		if _, err := check.LookupRelease(o.MeshVersion); err != nil {
			return failure.Usage(err, "pass --mesh-version with one of the releases listed")
		}
	}
	if err := completeSharedCA(f, cmd, opts); err != nil {
		return err
	}
	if o.OutputDir == "" {
		o.OutputDir = install.DefaultOutputDir(s.Project, s.Location, s.Cluster)
	}
	if abs, err := filepath.Abs(o.OutputDir); err == nil {
		o.OutputDir = abs
	}
	opts.Kube = f.Kube
	opts.Preflight = f.Preflight(&opts.SkipPermissionCheck)
	opts.Precheck = install.CheckPrecheck(f.CheckClients, check.Options{Project: s.Project, Location: s.Location, Cluster: s.Cluster, KubeContext: s.Context})
	return nil
}

// completeSharedCA gives --ca shared its root: --root-cert names the
// user's root (not a custom CA's, as with citadel) and the CA directory
// defaults to the one mesh connect --ca shared uses, so one root serves
// clusters installed one by one and connected later.
func completeSharedCA(f *factory.Factory, cmd *cobra.Command, opts *InstallOptions) error {
	o := &opts.Install
	if o.CA != "shared" {
		if cmd.Flags().Changed("ca-key-type") {
			return failure.Usagef("--ca-key-type goes with --ca shared")
		}
		return nil
	}
	o.SharedCA.RootCert, o.RootCert = o.RootCert, ""
	if o.SharedCA.Dir == "" {
		o.SharedCA.Dir = config.DefaultCADir(f.Env.LookupEnv)
	}
	switch kt := meshca.KeyType(opts.KeyType); kt {
	case meshca.RSA, meshca.ECDSA:
		o.SharedCA.KeyType = kt
	default:
		return failure.Usagef("--ca-key-type %q: rsa or ecdsa", opts.KeyType)
	}
	return nil
}

func runInstall(ctx context.Context, opts *InstallOptions) error {
	if opts.Managed {
		return runManaged(ctx, opts.ManagedOptions, opts.ManagedInstaller, false, opts.Printer)
	}
	locator := install.NewLocator(opts.Asmcli)
	if opts.Install.MeshVersion != "" {
		// Validated in completeInstall.
		locator.Release, _ = install.ReleaseOf(opts.Install.MeshVersion)
	}
	in := install.Installer{Locator: locator, Reporter: opts.Reporter}
	if opts.Preflight != nil {
		in.Preflight = opts.Preflight(ctx)
	}
	if !opts.Install.DryRun {
		kc, err := opts.Kube()
		if err != nil {
			return err
		}
		in.Kube, in.Precheck = kc, opts.Precheck
	}
	res, err := in.Run(ctx, opts.Install)
	if err != nil {
		return err
	}
	return opts.Printer.Print(res)
}
