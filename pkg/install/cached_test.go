package install

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/meshctl/meshctl/internal/ui"
)

// releaseServer publishes the pinned asmcli and its checksum, and counts
// the requests it gets.
func releaseServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	script := []byte("#!/bin/sh\necho " + PinnedRelease + ".0-asm.1+config1\n")
	sum := sha256.Sum256(script)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/asm/asmcli_" + PinnedRelease + ".sha256":
			fmt.Fprintf(w, "%s  asmcli_%s\n", hex.EncodeToString(sum[:]), PinnedRelease)
		case "/asm/asmcli_" + PinnedRelease:
			_, _ = w.Write(script)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func offPath(string) (string, error) { return "", errors.New("not on PATH") }

// validate runs asmcli on every CI run: the first downloads the pinned
// release into the cache, the later ones go to no network.
func TestLocateOnceDownloadsOnlyTheFirstTime(t *testing.T) {
	srv, hits := releaseServer(t)
	l := Locator{CacheDir: t.TempDir(), DownloadBase: srv.URL + "/asm", LookPath: offPath}
	if _, err := l.LocateCached(context.Background()); !errors.Is(err, ErrNotCached) || hits.Load() != 0 {
		t.Fatalf("empty cache: %v, %d requests", err, hits.Load())
	}
	a, err := l.LocateOnce(context.Background())
	if err != nil || a.Source != "download" || hits.Load() == 0 {
		t.Fatalf("first run: %+v %v, %d requests", a, err, hits.Load())
	}
	before := hits.Load()
	for i := 0; i < 2; i++ {
		a, err = l.LocateOnce(context.Background())
		if err != nil || a.Source != "cache" || !strings.HasPrefix(a.Version, PinnedRelease) {
			t.Fatalf("later run: %+v %v", a, err)
		}
	}
	if hits.Load() != before {
		t.Errorf("later runs made %d requests", hits.Load()-before)
	}
}

// A dry run shows the command without downloading asmcli.
func TestDryRunFindsNoAsmcliOverTheNetwork(t *testing.T) {
	srv, hits := releaseServer(t)
	rec := &ui.Recorder{}
	in := Installer{Locator: Locator{CacheDir: t.TempDir(), DownloadBase: srv.URL + "/asm", LookPath: offPath}, Reporter: rec}
	res, err := in.Run(context.Background(), Options{Project: "p", Location: "l", Cluster: "c", OutputDir: t.TempDir(), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 0 {
		t.Errorf("the dry run made %d requests", hits.Load())
	}
	if !strings.HasSuffix(res.Command[0], "asmcli_"+PinnedRelease) || res.Asmcli.Source != "download (not yet done)" {
		t.Errorf("command %v, asmcli %+v", res.Command, res.Asmcli)
	}
	if !strings.Contains(strings.Join(rec.Lines(), "\n"), "a run without --dry-run downloads release "+PinnedRelease) {
		t.Errorf("progress: %v", rec.Lines())
	}
}
