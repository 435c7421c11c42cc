// Package root is meshctl's root command: the global flags, the settings
// resolution every command starts with, and one line per verb. Run executes
// it and turns the outcome into the process exit code.
package root

import (
	"context"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	checkcmd "github.com/meshctl/meshctl/cmd/meshctl/check"
	configcmd "github.com/meshctl/meshctl/cmd/meshctl/config"
	exposecmd "github.com/meshctl/meshctl/cmd/meshctl/expose"
	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	injectcmd "github.com/meshctl/meshctl/cmd/meshctl/inject"
	installcmd "github.com/meshctl/meshctl/cmd/meshctl/install"
	meshcmd "github.com/meshctl/meshctl/cmd/meshctl/mesh"
	migratecmd "github.com/meshctl/meshctl/cmd/meshctl/migrate"
	revisioncmd "github.com/meshctl/meshctl/cmd/meshctl/revision"
	tracecmd "github.com/meshctl/meshctl/cmd/meshctl/trace"
	validatecmd "github.com/meshctl/meshctl/cmd/meshctl/validate"
	versioncmd "github.com/meshctl/meshctl/cmd/meshctl/version"
	vmcmd "github.com/meshctl/meshctl/cmd/meshctl/vm"
	"github.com/meshctl/meshctl/internal/buildinfo"
	"github.com/meshctl/meshctl/internal/config"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
)

// NewCmdRoot returns the meshctl command tree wired to f.
func NewCmdRoot(f *factory.Factory) *cobra.Command {
	return newRoot(f).cmd
}

// root is the command tree and what one run of it keeps besides f.
type root struct {
	cmd *cobra.Command
	f   *factory.Factory
	// started is set once the settings resolution began: later errors are
	// not usage errors.
	started bool
	// cancel ends the --timeout context.
	cancel context.CancelFunc
}

func newRoot(f *factory.Factory) *root {
	// Every command's PersistentPreRunE runs, root first, so a command may
	// add its own without losing the settings resolution below.
	cobra.EnableTraverseRunHooks = true

	r := &root{f: f}
	var configFlag string
	r.cmd = &cobra.Command{
		Use:   "meshctl",
		Short: "Safe, idempotent commands for Istio-based service mesh on GKE",
		Long: `meshctl turns the runbooks for Cloud Service Mesh (Istio) on GKE into safe,
idempotent commands: prechecks, install, sidecar injection, exposing services
through Google's global external HTTPS load balancer, and CI validation.

Settings come from flags, MESHCTL_* environment variables, the config file,
the kubeconfig context (gke_PROJECT_LOCATION_CLUSTER) and gcloud's defaults,
in that order; ` + "`meshctl config view`" + ` shows the result and where each value came from.`,
		Version:       buildinfo.Get().Version,
		SilenceErrors: true, // Run prints the error once, with its hint
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return r.setup(cmd, configFlag)
		},
	}
	c := r.cmd
	c.SetVersionTemplate("meshctl {{.Version}}\n")
	c.SetIn(f.IO.In)
	c.SetOut(f.IO.Out)
	c.SetErr(f.IO.ErrOut)
	c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return failure.Usage(err, "")
	})
	addGlobalFlags(c, &configFlag)

	// One line per verb.
	c.AddCommand(
		versioncmd.NewCmdVersion(f, nil),
		configcmd.NewCmdConfig(f),
		checkcmd.NewCmdCheck(f, nil),
		installcmd.NewCmdInstall(f, nil),
		installcmd.NewCmdUninstall(f, nil),
		injectcmd.NewCmdInject(f, nil),
		migratecmd.NewCmdMigrate(f, nil),
		revisioncmd.NewCmdRevision(f),
		exposecmd.NewCmdExpose(f),
		exposecmd.NewCmdUnexpose(f),
		validatecmd.NewCmdValidate(f, nil),
		meshcmd.NewCmdMesh(f),
		tracecmd.NewCmdTrace(f, nil),
		vmcmd.NewCmdVM(f),
	)
	return r
}

func addGlobalFlags(c *cobra.Command, configFlag *string) {
	f := c.PersistentFlags()
	f.String(string(config.Project), "", "Google Cloud project ID")
	f.String(string(config.Location), "", "GKE cluster location (region or zone)")
	f.Var(&clusterList{}, string(config.Cluster), "GKE cluster name (check and validate take several: --cluster A --cluster B, each NAME, PROJECT/LOCATION/NAME or a kube context)")
	f.String(string(config.Kubeconfig), "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	f.String(string(config.Context), "", "kubeconfig context (default: the kubeconfig's current-context)")
	f.StringP(string(config.Output), "o", config.Output.Default(), "output format: text, json or yaml")
	f.Bool(string(config.NoColor), false, "no colour in output (also when NO_COLOR is set)")
	f.BoolP(string(config.Verbose), "v", false, "print debug lines to stderr")
	f.Duration(string(config.Timeout), config.DefaultTimeout, "time limit for the whole command; 0 for none")
	f.StringVar(configFlag, "config", "", "config file (default: $XDG_CONFIG_HOME/meshctl/config.yaml)")
	f.String(string(config.ComputeEndpoint), "", "Compute API base URL, e.g. a Private Service Connect endpoint or http://127.0.0.1:PORT")
	f.String(string(config.ContainerEndpoint), "", "GKE API base URL")
	f.String(string(config.GKEHubEndpoint), "", "GKE Hub (fleet) API base URL")
	f.String(string(config.ServiceUsageEndpoint), "", "Service Usage API base URL (where meshctl enables APIs it needs)")
	f.String(string(config.CertificateManagerEndpoint), "", "Certificate Manager API base URL (certificate maps: made by expose --via gateway-api, read by trace)")
	f.String(string(config.ResourceManagerEndpoint), "", "Cloud Resource Manager API base URL (where meshctl checks permissions before changing anything)")
	_ = c.RegisterFlagCompletionFunc(string(config.Output), cobra.FixedCompletions(
		[]string{"text", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
}

// setup resolves the settings and builds the printer and reporter. It runs
// before every command.
func (r *root) setup(cmd *cobra.Command, configFlag string) error {
	// cobra checks required flags and flag groups after this hook; check
	// them first so their errors count as usage errors.
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return failure.Usage(err, "")
	}
	if err := cmd.ValidateFlagGroups(); err != nil {
		return failure.Usage(err, "")
	}
	r.started = true

	env := r.f.Env
	in := config.Inputs{
		Flags:      changedFlags(cmd.Flags()),
		ConfigFlag: configFlag,
		LookupEnv:  env.LookupEnv,
		ReadFile:   env.ReadFile,
		CurrentContext: func(kubeconfig string) (string, error) {
			return kube.CurrentContext(kube.Config{Kubeconfig: kubeconfig, SearchPaths: factory.KubeSearchPaths(env.LookupEnv)})
		},
	}
	s, err := config.Resolve(in)
	if err != nil && tolerant(cmd) {
		// Completion and help must work even with broken settings.
		s, err = config.Resolve(config.Inputs{})
	}
	if err != nil {
		return err
	}
	if err := severalClusters(cmd, s); err != nil {
		return err
	}
	r.f.Configure(s)

	if s.Timeout > 0 {
		ctx, cancel := context.WithTimeout(cmd.Context(), s.Timeout)
		r.cancel = cancel
		cmd.SetContext(ctx)
	}
	if s.ConfigFile != "" {
		r.f.Logf("config file %s", s.ConfigFile)
	}
	if s.Context != "" {
		r.f.Logf("kubeconfig context %s (%s)", s.Context, s.Get(config.Context).Source)
	}
	return nil
}

// clusterList is --cluster: repeatable for the commands that span
// clusters; the settings take the first.
type clusterList []string

func (c *clusterList) String() string {
	if len(*c) == 0 {
		return ""
	}
	return (*c)[0]
}

func (c *clusterList) Set(v string) error {
	*c = append(*c, v)
	return nil
}

func (c *clusterList) Type() string { return "string" }

// severalClusters passes several --cluster flags to the commands that take
// them (factory.SeveralClusters) and refuses them elsewhere.
func severalClusters(cmd *cobra.Command, s *config.Settings) error {
	f := cmd.Flags().Lookup(string(config.Cluster))
	if f == nil {
		return nil
	}
	list, ok := f.Value.(*clusterList)
	if !ok || len(*list) < 2 {
		return nil
	}
	if cmd.Annotations[factory.SeveralClusters] != "true" {
		return failure.Usagef("--cluster is given %d times: only meshctl check and meshctl validate take several clusters", len(*list))
	}
	s.Clusters = append([]string(nil), *list...)
	return nil
}

// tolerant reports whether cmd must run even when the settings are broken.
func tolerant(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		switch c.Name() {
		case "help", "completion", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
			return true
		}
	}
	return false
}

// changedFlags returns the settings flags the user set.
func changedFlags(fs *pflag.FlagSet) map[config.Key]string {
	out := map[config.Key]string{}
	for _, k := range config.Keys {
		if f := fs.Lookup(string(k)); f != nil && f.Changed {
			out[k] = f.Value.String()
		}
	}
	return out
}
