package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDocsUpToDate fails when docs/cli no longer matches the commands: run
// `make docs` and commit the result.
func TestDocsUpToDate(t *testing.T) {
	dir := t.TempDir()
	if err := GenerateDocs(dir); err != nil {
		t.Fatal(err)
	}
	committed := filepath.Join("..", "..", "docs", "cli")
	want := readDir(t, dir)
	got := readDir(t, committed)
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
