// Package version is `meshctl version`.
package version

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/buildinfo"
	"github.com/meshctl/meshctl/internal/ui"
)

// VersionOptions are what `meshctl version` runs with.
type VersionOptions struct {
	Printer *ui.Printer
	// Build is the binary's version information.
	Build buildinfo.Info
}

// NewCmdVersion returns `meshctl version`; runF replaces its run in tests.
func NewCmdVersion(f *factory.Factory, runF func(*VersionOptions) error) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print meshctl's version, commit, build date and Go version",
		Example: `  meshctl version
  meshctl version -o json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			opts := &VersionOptions{Printer: f.Printer, Build: buildinfo.Get()}
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
}

func run(opts *VersionOptions) error {
	return opts.Printer.Print(versionResult(opts.Build))
}

// versionResult is what `meshctl version` prints.
type versionResult buildinfo.Info

func (v versionResult) RenderText(w io.Writer, s ui.Styles) error {
	_, err := fmt.Fprintf(w, "%s %s\n  commit:   %s\n  built:    %s\n  go:       %s\n  platform: %s\n",
		s.Heading("meshctl"), v.Version, v.Commit, v.Date, v.GoVersion, v.Platform)
	return err
}
