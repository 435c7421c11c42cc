package install

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNotCached is LocateCached's answer when no asmcli is at hand without
// the network.
var ErrNotCached = errors.New("asmcli is not on PATH and the pinned release is not in meshctl's cache")

// LocateCached finds asmcli without going to the network: --asmcli, else
// asmcli on PATH, else the pinned release an earlier run downloaded into
// CacheDir (trusted as it was verified when downloaded). A dry run and
// every `meshctl validate` after the first use it, so CI does not download
// asmcli on each run.
func (l Locator) LocateCached(ctx context.Context) (Asmcli, error) {
	if l.Explicit != "" {
		return l.Locate(ctx)
	}
	lookPath := l.LookPath
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	a := Asmcli{Source: "PATH"}
	if p, err := lookPath("asmcli"); err == nil {
		a.Path = p
	} else {
		cached := filepath.Join(l.CacheDir, "asmcli_"+PinnedRelease)
		st, err := os.Stat(cached)
		if err != nil || st.Mode()&0o111 == 0 {
			return Asmcli{}, ErrNotCached
		}
		a = Asmcli{Path: cached, Source: "cache"}
	}
	out, err := exec.CommandContext(ctx, a.Path, "--version").Output()
	if err != nil {
		return a, fmt.Errorf("%s --version: %w", a.Path, err)
	}
	a.Version = strings.TrimSpace(string(out))
	return a, nil
}

// LocateOnce is LocateCached, falling back to Locate (which downloads the
// pinned release into the cache) only when nothing is at hand.
func (l Locator) LocateOnce(ctx context.Context) (Asmcli, error) {
	a, err := l.LocateCached(ctx)
	if errors.Is(err, ErrNotCached) {
		return l.Locate(ctx)
	}
	return a, err
}

// locate finds asmcli for a run; a dry run goes to no network: without
// asmcli at hand it shows the command with the pinned release meshctl
// would download.
func (in Installer) locate(ctx context.Context, dryRun bool) (Asmcli, error) {
	if !dryRun {
		return in.Locator.Locate(ctx)
	}
	a, err := in.Locator.LocateCached(ctx)
	if errors.Is(err, ErrNotCached) {
		in.Reporter.Infof("asmcli is not at hand: a run without --dry-run downloads release %s into %s", PinnedRelease, in.Locator.CacheDir)
		return Asmcli{Path: filepath.Join(in.Locator.CacheDir, "asmcli_"+PinnedRelease), Version: PinnedRelease, Source: "download (not yet done)"}, nil
	}
	return a, err
}
