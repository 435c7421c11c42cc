package cli

import (
	"fmt"
	"io"

	"github.com/meshctl/meshctl/internal/buildinfo"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/spf13/cobra"
)

// versionResult is what `meshctl version` prints.
type versionResult buildinfo.Info

func (v versionResult) RenderText(w io.Writer, s ui.Styles) error {
	_, err := fmt.Fprintf(w, "%s %s\n  commit:   %s\n  built:    %s\n  go:       %s\n  platform: %s\n",
		s.Heading("meshctl"), v.Version, v.Commit, v.Date, v.GoVersion, v.Platform)
	return err
}

func newVersionCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print meshctl's version, commit, build date and Go version",
		Example: `  meshctl version
  meshctl version -o json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return app.Print(versionResult(buildinfo.Get()))
		},
	}
}
