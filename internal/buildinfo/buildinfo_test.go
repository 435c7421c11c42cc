package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFillFromBuildInfo(t *testing.T) {
	tests := []struct {
		name string
		in   Info
		bi   debug.BuildInfo
		want Info
	}{
		{
			name: "linker values win",
			in:   Info{Version: "v1.2.3", Commit: "abc", Date: "2026-01-01"},
			bi: debug.BuildInfo{Main: debug.Module{Version: "v9.9.9"}, Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "def"}, {Key: "vcs.time", Value: "2020"},
			}},
			want: Info{Version: "v1.2.3", Commit: "abc", Date: "2026-01-01"},
		},
		{
			name: "go install module@version",
			bi: debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}, Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "def"}, {Key: "vcs.time", Value: "2026-02-02T00:00:00Z"},
			}},
			want: Info{Version: "v0.4.0", Commit: "def", Date: "2026-02-02T00:00:00Z"},
		},
		{
			name: "devel build keeps version empty",
			bi:   debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			want: Info{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in
			fillFromBuildInfo(&got, &tt.bi)
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestGetNeverEmpty(t *testing.T) {
	info := Get()
	if info.Version == "" || info.Commit == "" || info.Date == "" || !strings.HasPrefix(info.GoVersion, "go") {
		t.Errorf("Get() = %+v, want every field set", info)
	}
	if got := UserAgent(); got != "meshctl/"+info.Version {
		t.Errorf("UserAgent() = %q", got)
	}
}
