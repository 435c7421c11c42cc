package root

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra/doc"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/ui"
)

// update rewrites docs/cli from the commands: `make docs` runs
// `go test ./cmd/meshctl/root -run TestDocsUpToDate -update`.
var update = flag.Bool("update", false, "rewrite docs/cli from the commands")

// committedDocs is the command reference in the repository.
var committedDocs = filepath.Join("..", "..", "..", "docs", "cli")

// TestDocsUpToDate fails when docs/cli no longer matches the commands: run
// `make docs` and commit the result.
func TestDocsUpToDate(t *testing.T) {
	dir := t.TempDir()
	if *update {
		dir = committedDocs
	}
	if err := generateDocs(dir); err != nil {
		t.Fatal(err)
	}
	want := readDir(t, dir)
	got := readDir(t, committedDocs)
	for name, body := range want {
		if got[name] != body {
			t.Errorf("docs/cli/%s is stale or missing: run `make docs`", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("docs/cli/%s documents no command: run `make docs`", name)
		}
	}
}

// generateDocs writes the Markdown command reference (one file per
// command) into dir, replacing the *.md files there.
func generateDocs(dir string) error {
	root := NewCmdRoot(factory.New(factory.Env{Streams: ui.Streams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard}}))
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
	return doc.GenMarkdownTree(root, dir)
}

func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = string(b)
	}
	return out
}
