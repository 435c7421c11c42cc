package install

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// PinnedRelease is the asmcli release meshctl downloads when none is given
// or on PATH; Google publishes each minor's script and its SHA-256 at
// DefaultDownloadBase/asmcli_<minor> and asmcli_<minor>.sha256, the script
// of a minor following its point releases. PinnedVersion is what that
// script reported when meshctl pinned it: 1.31.1-asm.19 is the newest
// release on Google's versions page (https://cloud.google.com/service-mesh/versions,
// released 2026-10-19); the +config1 suffix is asmcli's CONFIG_VER, as in
// the 1.28 source read for the field notes, not confirmed for 1.31.
const (
	PinnedRelease       = "1.31"
	PinnedVersion       = "1.31.1-asm.19+config1"
	DefaultDownloadBase = "https://storage.googleapis.com/csm-artifacts/asm"
)

// Asmcli is the asmcli meshctl runs.
type Asmcli struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	// Source says how it was found: flag, PATH or download.
	Source string `json:"source"`
}

// Locator finds asmcli: an explicit path, else asmcli on PATH, else the
// release's script downloaded (checksum verified) into CacheDir.
type Locator struct {
	Explicit string // --asmcli
	// Release is the minor to download ("1.29"); empty means
	// PinnedRelease.
	Release      string
	CacheDir     string
	DownloadBase string
	HTTP         *http.Client
	LookPath     func(string) (string, error)
}

func (l Locator) release() string {
	if l.Release != "" {
		return l.Release
	}
	return PinnedRelease
}

// Locate returns the asmcli to use and its version, downloading the
// release's script when there is none.
func (l Locator) Locate(ctx context.Context) (Asmcli, error) {
	// The cache is not taken as found: download compares it with the
	// published checksum, so a newer script of the release replaces it.
	a, found, err := l.find(false)
	if err != nil {
		return a, err
	}
	if !found {
		p, err := l.download(ctx)
		if err != nil {
			return a, err
		}
		a = Asmcli{Path: p, Source: "download"}
	}
	return a, a.readVersion(ctx)
}

// Find returns the asmcli Locate would run without downloading one: the
// explicit one, the one on PATH, or the release's script already in the
// cache. found is false when there is none.
func (l Locator) Find(ctx context.Context) (a Asmcli, found bool, err error) {
	a, found, err = l.find(true)
	if err != nil || !found {
		return a, found, err
	}
	return a, true, a.readVersion(ctx)
}

func (l Locator) find(cache bool) (Asmcli, bool, error) {
	lookPath := l.LookPath
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	if l.Explicit != "" {
		st, err := os.Stat(l.Explicit)
		if err != nil {
			return Asmcli{}, false, fmt.Errorf("--asmcli %s: %w", l.Explicit, err)
		}
		if st.Mode()&0o111 == 0 {
			return Asmcli{}, false, fmt.Errorf("--asmcli %s is not executable (chmod +x %s)", l.Explicit, l.Explicit)
		}
		return Asmcli{Path: l.Explicit, Source: "flag"}, true, nil
	}
	if p, err := lookPath("asmcli"); err == nil {
		return Asmcli{Path: p, Source: "PATH"}, true, nil
	}
	cached := filepath.Join(l.CacheDir, "asmcli_"+l.release())
	if st, err := os.Stat(cached); cache && l.CacheDir != "" && err == nil && st.Mode()&0o111 != 0 {
		return Asmcli{Path: cached, Source: "cache"}, true, nil
	}
	return Asmcli{}, false, nil
}

func (a *Asmcli) readVersion(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, a.Path, "--version").Output()
	if err != nil {
		return fmt.Errorf("%s --version: %w", a.Path, err)
	}
	a.Version = strings.TrimSpace(string(out))
	return nil
}

// download fetches the pinned asmcli and its published checksum, verifies
// one against the other, and installs the script executable in the cache.
// A cached copy that still matches is reused.
func (l Locator) download(ctx context.Context) (string, error) {
	base := l.DownloadBase
	if base == "" {
		base = DefaultDownloadBase
	}
	client := l.HTTP
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Minute}
	}
	name := "asmcli_" + l.release()
	dest := filepath.Join(l.CacheDir, name)

	sumFile, err := fetch(ctx, client, base+"/"+name+".sha256")
	if err != nil {
		return "", fmt.Errorf("asmcli is not on PATH and its checksum could not be downloaded: %w", err)
	}
	want, err := parseSHA256(sumFile, name)
	if err != nil {
		return "", err
	}
	if cached, err := os.ReadFile(dest); err == nil && sha256Hex(cached) == want {
		return dest, nil
	}
	script, err := fetch(ctx, client, base+"/"+name)
	if err != nil {
		return "", fmt.Errorf("asmcli is not on PATH and could not be downloaded: %w", err)
	}
	if got := sha256Hex(script); got != want {
		return "", fmt.Errorf("downloaded %s has SHA-256 %s, but Google publishes %s: not using it", name, got, want)
	}
	if err := os.MkdirAll(l.CacheDir, 0o755); err != nil {
		return "", err
	}
	tmp := dest + ".tmp"
	if err := os.WriteFile(tmp, script, 0o755); err != nil {
		return "", err
	}
	return dest, os.Rename(tmp, dest)
}

func fetch(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 16<<20))
}

// parseSHA256 reads a sha256sum-style file ("HEX  NAME" lines, or a bare hex).
func parseSHA256(b []byte, name string) (string, error) {
	for _, line := range strings.Split(string(bytes.TrimSpace(b)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) == 1 || strings.TrimPrefix(fields[1], "*") == name {
			if _, err := hex.DecodeString(fields[0]); err == nil && len(fields[0]) == 64 {
				return strings.ToLower(fields[0]), nil
			}
		}
	}
	return "", errors.New("the published asmcli checksum file has no SHA-256 for " + name)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
