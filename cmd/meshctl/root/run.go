package root

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
)

// Run executes meshctl with args and returns the process exit code. It
// prints a failure once, to stderr, with its hint. Ctrl-C (or SIGTERM)
// cancels the command's context and exits 130; a second Ctrl-C kills at once.
func Run(ctx context.Context, args []string, env factory.Env) int {
	return newRoot(factory.New(env)).run(ctx, args)
}

func (r *root) run(ctx context.Context, args []string) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore the default handling so that a second Ctrl-C kills
	}()
	return r.execute(ctx, args)
}

// execute runs the command tree and maps its outcome to an exit code.
func (r *root) execute(ctx context.Context, args []string) int {
	r.cmd.SetArgs(args)
	cmd, err := r.cmd.ExecuteContextC(ctx)
	if r.cancel != nil {
		r.cancel()
	}
	if cerr := r.f.Close(); err == nil && cerr != nil {
		r.f.Logf("close clients: %v", cerr)
	}
	if err != nil && ctx.Err() != nil {
		ui.PrintError(r.f.IO.ErrOut, r.f.ErrStyles, &failure.Error{Err: errInterrupted, Code: failure.ExitInterrupted})
		return failure.ExitInterrupted
	}
	err = r.exitError(cmd, err)
	ui.PrintError(r.f.IO.ErrOut, r.f.ErrStyles, err)
	return failure.ExitCode(err)
}

var errInterrupted = errors.New("interrupted")

// exitError turns the error a command returned into the one to print:
// errors before the command ran (unknown command or flag, bad arguments) are
// usage errors, and a timeout names --timeout.
func (r *root) exitError(cmd *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	var ue *failure.Error
	if !errors.As(err, &ue) && !r.started {
		err = failure.Usage(err, "")
	}
	if failure.ExitCode(err) == failure.ExitUsage && failure.HintOf(err) == "" && cmd != nil {
		err = failure.WithHint(err, fmt.Sprintf("run '%s --help' for usage", cmd.CommandPath()))
	}
	if s := r.f.Settings; errors.Is(err, context.DeadlineExceeded) && failure.HintOf(err) == "" && s != nil && s.Timeout > 0 {
		err = failure.WithHint(err, fmt.Sprintf("the command ran out of time (--timeout %s); raise it with --timeout", s.Timeout))
	}
	return err
}
