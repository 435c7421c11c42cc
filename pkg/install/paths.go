package install

import (
	"fmt"
	"os"
	"path/filepath"
)

// cacheDir is meshctl's cache directory: the user's cache directory, else
// the temporary one.
func cacheDir() string {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "meshctl")
}

// NewLocator returns the Locator install and validate use: explicit (the
// --asmcli flag), else PATH, else the pinned release downloaded into
// meshctl's cache.
func NewLocator(explicit string) Locator {
	return Locator{Explicit: explicit, CacheDir: filepath.Join(cacheDir(), "asmcli-release")}
}

// DefaultOutputDir is asmcli's output directory for a cluster when none is
// given: one per cluster in meshctl's cache, so that a second run finds the
// first's files.
func DefaultOutputDir(project, location, cluster string) string {
	return filepath.Join(cacheDir(), "asmcli", fmt.Sprintf("%s_%s_%s", project, location, cluster))
}
