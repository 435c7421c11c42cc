package install

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckTarget: check's default target is the release of the asmcli
// install would run, found without downloading; the pinned release when
// there is none, saying why.
func TestCheckTarget(t *testing.T) {
	notOnPath := func(string) (string, error) { return "", errors.New("not found") }
	dir := t.TempDir()
	onPath := filepath.Join(dir, "asmcli")
	if err := os.WriteFile(onPath, []byte("#!/bin/sh\necho 1.29.8-asm.11+config1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got := CheckTarget(context.Background(), Locator{CacheDir: t.TempDir(), LookPath: func(string) (string, error) { return onPath, nil }})
	if got.Release != "1.29" || got.Version != "1.29.8-asm.11+config1" || !strings.Contains(got.Source, "asmcli 1.29.8-asm.11+config1 on PATH") {
		t.Errorf("asmcli on PATH: %+v", got)
	}
	got = CheckTarget(context.Background(), Locator{CacheDir: t.TempDir(), LookPath: notOnPath})
	if got.Release != PinnedRelease || !strings.Contains(got.Source, "the release meshctl installs (no asmcli on PATH or in meshctl's cache)") {
		t.Errorf("no asmcli: %+v", got)
	}
	unknown := filepath.Join(dir, "asmcli-1.40")
	if err := os.WriteFile(unknown, []byte("#!/bin/sh\necho 1.40.0-asm.1+config1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got = CheckTarget(context.Background(), Locator{Explicit: unknown})
	if got.Release != PinnedRelease || !strings.Contains(got.Source, "1.40.0-asm.1+config1") {
		t.Errorf("asmcli of an unknown release: %+v", got)
	}
}
