package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/meshctl/meshctl/internal/ui"

	"github.com/spf13/cobra/doc"
)

// GenerateDocs writes the Markdown command reference (one file per command)
// into dir, replacing the *.md files there. `make docs` runs it.
func GenerateDocs(dir string) error {
	root := NewRootCmd(NewApp(Env{Streams: ui.Streams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard}}))
	root.DisableAutoGenTag = true   // no dates: the files only change with the commands
	root.InitDefaultCompletionCmd() // cobra adds it lazily on Execute
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	if err := doc.GenMarkdownTree(root, dir); err != nil {
		return fmt.Errorf("generate command reference: %w", err)
	}
	return nil
}
