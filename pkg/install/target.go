package install

import (
	"context"
	"fmt"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/pkg/check"
)

// Target is the mesh release an install puts in, and where that choice
// came from: check's prechecks (and `meshctl check`) check the cluster
// against it, so the version checked is the version installed.
type Target struct {
	// Version is what `asmcli --version` printed, or a release as the
	// user wrote it ("1.31"), or PinnedRelease.
	Version string `json:"version"`
	// Release is the minor release of Version in check's table ("1.31").
	Release string `json:"release"`
	// Source says where Version came from, e.g. "asmcli 1.31.1-asm.19+config1
	// on PATH (/usr/local/bin/asmcli)".
	Source string `json:"source"`
}

// ReleaseOf is the minor release of a version as users write it or
// asmcli prints it ("1.31.1-asm.19+config1" is "1.31").
func ReleaseOf(version string) (string, error) {
	if version == "" {
		return "", fmt.Errorf("no version given")
	}
	r, err := check.LookupRelease(version)
	return r.Mesh, err
}

// describe is "asmcli 1.31.1-asm.19+config1 on PATH (/usr/local/bin/asmcli)".
func (a Asmcli) describe() string {
	where := map[string]string{"flag": "from --asmcli", "PATH": "on PATH", "download": "downloaded", "cache": "in meshctl's cache"}[a.Source]
	if where == "" {
		where = "from " + a.Source
	}
	return fmt.Sprintf("asmcli %s %s (%s)", a.Version, where, a.Path)
}

// targetOf settles what an install with asmcli a puts in: asmcli installs
// its own release, so --mesh-version must name that release (the locator
// downloads the asked release's asmcli when none is given or on PATH).
func targetOf(a Asmcli, meshVersion string) (Target, error) {
	t := Target{Version: a.Version, Source: a.describe()}
	rel, err := ReleaseOf(a.Version)
	if err != nil {
		return t, failure.WithHint(fmt.Errorf("%s installs a release meshctl's support table does not know, so the prechecks cannot check the cluster's GKE versions against it: %w", a.describe(), err),
			"run an asmcli of a release meshctl knows (--asmcli PATH, or --mesh-version RELEASE to download it), or skip the prechecks with --skip-checks")
	}
	t.Release = rel
	if meshVersion == "" {
		return t, nil
	}
	want, err := ReleaseOf(meshVersion)
	if err != nil {
		return t, failure.Usage(err, "pass --mesh-version with one of the releases listed")
	}
	if want != rel {
		return t, failure.WithHint(fmt.Errorf("--mesh-version %s asks for CSM %s, but %s installs CSM %s", meshVersion, want, a.describe(), rel),
			fmt.Sprintf("pass --asmcli with asmcli %s (%s/asmcli_%s), or leave out --mesh-version to install %s", want, DefaultDownloadBase, want, rel))
	}
	t.Source = "--mesh-version " + meshVersion + ", run by " + t.Source
	return t, nil
}

// CheckTarget is the release `meshctl check` checks against when
// --mesh-version is not given: the asmcli `meshctl install` would run
// (explicit, on PATH, or already downloaded; never downloaded for a
// check), else the release install would download.
func CheckTarget(ctx context.Context, l Locator) Target {
	a, found, err := l.Find(ctx)
	if err == nil && found {
		if rel, rerr := ReleaseOf(a.Version); rerr == nil {
			return Target{Version: a.Version, Release: rel, Source: a.describe()}
		}
	}
	why := "no asmcli on PATH or in meshctl's cache"
	switch {
	case err != nil:
		why = err.Error()
	case found:
		why = a.describe() + " is a release meshctl does not know"
	}
	return Target{Version: l.release(), Release: l.release(), Source: "the default, the release meshctl installs (" + why + ")"}
}
