package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/meshctl/meshctl/internal/buildinfo"
	"github.com/meshctl/meshctl/internal/config"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// NewRootCmd returns the meshctl command tree wired to app.
func NewRootCmd(app *App) *cobra.Command {
	// Every command's PersistentPreRunE runs, root first, so a command may
	// add its own without losing the settings resolution below.
	cobra.EnableTraverseRunHooks = true

	var configFlag string
	root := &cobra.Command{
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
			return app.setup(cmd, configFlag)
		},
	}
	root.SetVersionTemplate("meshctl {{.Version}}\n")
	root.SetIn(app.IO.In)
	root.SetOut(app.IO.Out)
	root.SetErr(app.IO.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return ui.Usage(err, "")
	})

	f := root.PersistentFlags()
	f.String(string(config.Project), "", "Google Cloud project ID")
	f.String(string(config.Location), "", "GKE cluster location (region or zone)")
	f.String(string(config.Cluster), "", "GKE cluster name")
	f.String(string(config.Kubeconfig), "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	f.String(string(config.Context), "", "kubeconfig context (default: the kubeconfig's current-context)")
	f.StringP(string(config.Output), "o", config.Output.Default(), "output format: text, json or yaml")
	f.Bool(string(config.NoColor), false, "no colour in output (also when NO_COLOR is set)")
	f.BoolP(string(config.Verbose), "v", false, "print debug lines to stderr")
	f.Duration(string(config.Timeout), config.DefaultTimeout, "time limit for the whole command; 0 for none")
	f.StringVar(&configFlag, "config", "", "config file (default: $XDG_CONFIG_HOME/meshctl/config.yaml)")
	f.String(string(config.ComputeEndpoint), "", "Compute API base URL, e.g. a Private Service Connect endpoint or http://127.0.0.1:PORT")
	f.String(string(config.ContainerEndpoint), "", "GKE API base URL")
	f.String(string(config.GKEHubEndpoint), "", "GKE Hub (fleet) API base URL")
	f.String(string(config.ServiceUsageEndpoint), "", "Service Usage API base URL (where meshctl enables APIs it needs)")
	_ = root.RegisterFlagCompletionFunc(string(config.Output), cobra.FixedCompletions(
		[]string{"text", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))

	root.AddCommand(
		newVersionCmd(app),
		newConfigCmd(app),
		newCheckCmd(app),
		newInstallCmd(app),
		newUninstallCmd(app),
		newInjectCmd(app),
		newExposeCmd(app),
		newUnexposeCmd(app),
		newValidateCmd(app),
		// Capability commands, one line each as their issues land:
		// newCheckCmd(app), newInjectCmd(app),
		// newExposeCmd(app), newUnexposeCmd(app), newValidateCmd(app).
	)
	return root
}

// setup resolves the settings and builds the printer and reporter. It runs
// before every command.
func (a *App) setup(cmd *cobra.Command, configFlag string) error {
	// cobra checks required flags and flag groups after this hook; check
	// them first so their errors count as usage errors.
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return ui.Usage(err, "")
	}
	if err := cmd.ValidateFlagGroups(); err != nil {
		return ui.Usage(err, "")
	}
	a.started = true

	in := config.Inputs{
		Flags:      changedFlags(cmd.Flags()),
		ConfigFlag: configFlag,
		LookupEnv:  a.env.LookupEnv,
		ReadFile:   a.env.ReadFile,
		CurrentContext: func(kubeconfig string) (string, error) {
			return kube.CurrentContext(kube.Config{Kubeconfig: kubeconfig, SearchPaths: kubeSearchPaths(a.env.LookupEnv)})
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
	a.Settings = s

	term, _ := a.env.LookupEnv("TERM")
	a.Printer = &ui.Printer{
		Format: s.Output,
		Out:    a.IO.Out,
		Styles: ui.NewStyles(a.IO.Out, ui.ColorEnabled(a.IO.OutTTY, s.NoColor, term)),
	}
	a.ErrStyles = ui.NewStyles(a.IO.ErrOut, ui.ColorEnabled(a.IO.ErrTTY, s.NoColor, term))
	a.Reporter = ui.NewReporter(a.IO.ErrOut, a.IO.ErrTTY, a.ErrStyles)

	if s.Timeout > 0 {
		ctx, cancel := context.WithTimeout(cmd.Context(), s.Timeout)
		a.cancel = cancel
		cmd.SetContext(ctx)
	}
	if s.ConfigFile != "" {
		a.Logf("config file %s", s.ConfigFile)
	}
	if s.Context != "" {
		a.Logf("kubeconfig context %s (%s)", s.Context, s.Get(config.Context).Source)
	}
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

// exitError turns the error a command returned into the one to print:
// errors before the command ran (unknown command or flag, bad arguments) are
// usage errors, and a timeout names --timeout.
func (a *App) exitError(cmd *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	var ue *ui.Error
	if !errors.As(err, &ue) && !a.started {
		err = ui.Usage(err, "")
	}
	if ui.ExitCode(err) == ui.ExitUsage && ui.HintOf(err) == "" && cmd != nil {
		err = ui.WithHint(err, fmt.Sprintf("run '%s --help' for usage", cmd.CommandPath()))
	}
	if errors.Is(err, context.DeadlineExceeded) && ui.HintOf(err) == "" && a.Settings != nil && a.Settings.Timeout > 0 {
		err = ui.WithHint(err, fmt.Sprintf("the command ran out of time (--timeout %s); raise it with --timeout", a.Settings.Timeout))
	}
	return err
}
