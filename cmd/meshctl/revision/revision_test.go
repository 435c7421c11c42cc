package revision

import (
	"strings"
	"testing"

	"github.com/meshctl/meshctl/cmd/meshctl/cmdtest"
	"github.com/meshctl/meshctl/internal/config"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/pkg/revision"
)

func TestNewCmdTagSet(t *testing.T) {
	f, _ := cmdtest.Factory(&config.Settings{}, nil)
	var got *TagSetOptions
	if err := cmdtest.Execute(NewCmdTagSet(f, cmdtest.Capture(&got)), "prod", "--revision", "asm-2", "--restart"); err != nil {
		t.Fatal(err)
	}
	if got.Tag.Tag != "prod" || got.Tag.Revision != "asm-2" || got.Tag.DryRun || got.Tag.Then != nil || !got.Restart || got.Objects == nil || got.Kube == nil || got.Printer != f.Printer || got.Reporter != f.Reporter {
		t.Errorf("options %+v", got)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"prod"}, `required flag(s) "revision" not set`},
		{[]string{"--revision", "asm-2"}, "accepts 1 arg(s), received 0"},
		{[]string{"prod", "--revision", "asm-2", "--restart", "--dry-run"}, "--restart and --dry-run do not go together"},
	} {
		got = nil
		err := cmdtest.Execute(NewCmdTagSet(f, cmdtest.Capture(&got)), tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || got != nil {
			t.Errorf("%v: err %v, want %q", tc.args, err, tc.want)
		}
	}
	err := cmdtest.Execute(NewCmdTagSet(f, cmdtest.Capture(&got)), "prod", "--revision", "asm-2", "--restart", "--dry-run")
	if failure.ExitCode(err) != failure.ExitUsage {
		t.Errorf("exit %d, want usage", failure.ExitCode(err))
	}
}

func TestNewCmdTagRemoveAndList(t *testing.T) {
	f, _ := cmdtest.Factory(&config.Settings{}, nil)
	var rm *TagRemoveOptions
	if err := cmdtest.Execute(NewCmdTagRemove(f, cmdtest.Capture(&rm)), "prod", "--force", "--dry-run"); err != nil {
		t.Fatal(err)
	}
	if rm.Remove != (revision.RemoveTagOptions{Tag: "prod", Force: true, DryRun: true}) || rm.Objects == nil {
		t.Errorf("remove options %+v", rm)
	}
	var ls *TagListOptions
	if err := cmdtest.Execute(NewCmdTagList(f, cmdtest.Capture(&ls))); err != nil || ls.Objects == nil || ls.Printer != f.Printer {
		t.Errorf("list: %v %+v", err, ls)
	}
}
