//go:build unix

package root

import (
	"syscall"
	"testing"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/spf13/cobra"
)

// TestInterruptedBySignal sends the test process a real SIGINT while a
// command runs: the command's context is cancelled and meshctl exits 130.
func TestInterruptedBySignal(t *testing.T) {
	h := newHarness(t)
	h.extra = func(*factory.Factory) []*cobra.Command {
		return []*cobra.Command{{Use: "wait", RunE: func(cmd *cobra.Command, _ []string) error {
			// Run has installed its handler by now, so the signal cannot
			// kill the test binary.
			if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
				return err
			}
			<-cmd.Context().Done()
			return cmd.Context().Err()
		}}}
	}
	r := h.run(t, "wait")
	if r.code != failure.ExitInterrupted || r.stderr != "Error: interrupted\n" {
		t.Errorf("exit %d, stderr %q; want 130", r.code, r.stderr)
	}
}
