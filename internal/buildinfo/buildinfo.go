// Package buildinfo holds the version of the running meshctl binary. The
// release build sets the variables below with -ldflags -X; a plain `go build`
// or `go install` falls back to what the Go toolchain recorded.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Set at link time, e.g.
//
//	-X github.com/meshctl/meshctl/internal/buildinfo.version=v0.1.0
var (
	version = ""
	commit  = ""
	date    = ""
)

// Info describes one build of meshctl.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build's version information. Fields the linker did not set
// come from the module and VCS data the toolchain embeds, and otherwise read
// "dev" (version) or "unknown" (commit, date).
func Get() Info {
	info := Info{
		Version:   version,
		Commit:    commit,
		Date:      date,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		fillFromBuildInfo(&info, bi)
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	if info.Date == "" {
		info.Date = "unknown"
	}
	return info
}

func fillFromBuildInfo(info *Info, bi *debug.BuildInfo) {
	// `go install module@vX.Y.Z` records the module version; a build inside
	// the checkout records "(devel)", which says nothing useful.
	if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		info.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if info.Commit == "" {
				info.Commit = s.Value
			}
		case "vcs.time":
			if info.Date == "" {
				info.Date = s.Value
			}
		}
	}
}

// UserAgent is the User-Agent meshctl sends to Google Cloud and Kubernetes
// APIs: "meshctl/VERSION".
func UserAgent() string {
	return "meshctl/" + Get().Version
}
