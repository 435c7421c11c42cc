package cli

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/spf13/cobra"
)

// Run executes meshctl with args and returns the process exit code. It
// prints a failure once, to stderr, with its hint. Ctrl-C (or SIGTERM)
// cancels the command's context and exits 130; a second Ctrl-C kills at once.
func Run(ctx context.Context, args []string, env Env) int {
	app := NewApp(env)
	return runRoot(ctx, app, NewRootCmd(app), args)
}

func runRoot(ctx context.Context, app *App, root *cobra.Command, args []string) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore the default handling so that a second Ctrl-C kills
	}()
	return execute(ctx, app, root, args)
}

// execute runs root and maps its outcome to an exit code.
func execute(ctx context.Context, app *App, root *cobra.Command, args []string) int {
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if cerr := app.close(); err == nil && cerr != nil {
		app.Logf("close clients: %v", cerr)
	}
	if err != nil && ctx.Err() != nil {
		ui.PrintError(app.IO.ErrOut, app.ErrStyles, &ui.Error{Err: errInterrupted, Code: ui.ExitInterrupted})
		return ui.ExitInterrupted
	}
	err = app.exitError(cmd, err)
	ui.PrintError(app.IO.ErrOut, app.ErrStyles, err)
	return ui.ExitCode(err)
}

var errInterrupted = errors.New("interrupted")
