// Package config is `meshctl config` and its subcommand `config view`.
package config

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/config"
	"github.com/meshctl/meshctl/internal/gcp"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
)

// ViewOptions are what `meshctl config view` runs with.
type ViewOptions struct {
	Printer  *ui.Printer
	Settings *config.Settings
	// LookupEnv says where the default config file is.
	LookupEnv func(string) (string, bool)
}

// NewCmdConfig returns `meshctl config` with its subcommands.
func NewCmdConfig(f *factory.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Inspect meshctl's settings",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdView(f, nil))
	return cmd
}

// NewCmdView returns `meshctl config view`; runF replaces its run in tests.
func NewCmdView(f *factory.Factory, runF func(*ViewOptions) error) *cobra.Command {
	return &cobra.Command{
		Use:   "view",
		Short: "Print the effective settings and where each came from",
		Long: `Print the effective settings and where each came from: a flag, a MESHCTL_*
environment variable, the config file, the kubeconfig context, a gcloud
default, or meshctl's default.`,
		Example: `  meshctl config view
  MESHCTL_PROJECT=demo meshctl config view -o json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			opts := &ViewOptions{Printer: f.Printer, Settings: f.Settings, LookupEnv: f.Env.LookupEnv}
			if runF != nil {
				return runF(opts)
			}
			return runView(opts)
		},
	}
}

func runView(opts *ViewOptions) error {
	return opts.Printer.Print(newView(opts.Settings, opts.LookupEnv))
}

// view is what `meshctl config view` prints.
type view struct {
	// ConfigFile is the file read, or "" when none was found.
	ConfigFile string `json:"configFile"`
	// ConfigSearched is where meshctl looked when no file was given.
	ConfigSearched string            `json:"configSearched,omitempty"`
	GKEContext     *kube.GKEContext  `json:"gkeContext,omitempty"`
	Settings       []config.Setting  `json:"settings"`
	Credentials    map[string]string `json:"credentials"`
}

func newView(s *config.Settings, lookupEnv func(string) (string, bool)) view {
	v := view{ConfigFile: s.ConfigFile, GKEContext: s.GKE, Settings: s.All(), Credentials: map[string]string{}}
	if v.ConfigFile == "" {
		v.ConfigSearched = config.DefaultConfigFile(lookupEnv)
	}
	for api, endpoint := range map[string]string{"compute": s.ComputeEndpoint, "container": s.ContainerEndpoint, "gkehub": s.GKEHubEndpoint, "serviceusage": s.ServiceUsageEndpoint, "certificatemanager": s.CertificateManagerEndpoint, "cloudresourcemanager": s.ResourceManagerEndpoint} {
		v.Credentials[api] = credentialsFor(endpoint)
	}
	return v
}

func credentialsFor(endpoint string) string {
	if endpoint != "" && gcp.IsLoopback(endpoint) {
		return "none (loopback endpoint)"
	}
	return "application default credentials"
}

func (v view) RenderText(w io.Writer, s ui.Styles) error {
	file := v.ConfigFile
	if file == "" {
		file = s.Faint("none (looked for " + v.ConfigSearched + ")")
	}
	if _, err := fmt.Fprintf(w, "%s %s\n\n", s.Heading("Config file:"), file); err != nil {
		return err
	}
	t := ui.Table{Headers: []string{"SETTING", "VALUE", "SOURCE"}}
	for _, st := range v.Settings {
		value := st.Value
		switch {
		case value != "":
		case st.Key == config.ComputeEndpoint || st.Key == config.ContainerEndpoint || st.Key == config.GKEHubEndpoint || st.Key == config.ServiceUsageEndpoint ||
			st.Key == config.CertificateManagerEndpoint || st.Key == config.ResourceManagerEndpoint:
			value = s.Faint("(Google's)")
		default:
			value = s.Faint("(unset)")
		}
		t.Rows = append(t.Rows, []string{string(st.Key), value, st.Source.String()})
	}
	if err := s.WriteTable(w, t); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "\n%s\n", s.Heading("Credentials:")); err != nil {
		return err
	}
	for _, api := range []string{"compute", "container", "gkehub", "serviceusage", "certificatemanager", "cloudresourcemanager"} {
		if _, err := fmt.Fprintf(w, "  %-20s %s\n", api, v.Credentials[api]); err != nil {
			return err
		}
	}
	return nil
}
