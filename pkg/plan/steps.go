package plan

import (
	"context"
	"time"

	"github.com/meshctl/meshctl/internal/ui"
)

// Step is one named stage of a run that goes step by step, as goreleaser's
// pipes do: the steps of a run are a list read top to bottom, and one
// runner (RunSteps) shows each as progress, times it and hands it to the
// caller's record, so no step does that itself. The managed install and
// `meshctl migrate` are runs of steps.
type Step struct {
	// Name is the step's key in the caller's result ("register",
	// "move-batch-2", ...).
	Name string
	// Title is the progress line; a func, since a later step's title may
	// name what an earlier one found.
	Title func() string
	// Run does the work and returns the detail line the result records. It
	// may fail its progress step itself with a shorter text than the
	// error; the runner's Fail then changes nothing.
	Run func(ctx context.Context, progress ui.Step) (detail string, err error)
}

// Title is a step title that does not change.
func Title(s string) func() string { return func() string { return s } }

// RunSteps runs steps in order and stops at the first failure. Each step is
// a progress step of rep; done is called for each step that succeeds, with
// its detail and how long it took.
func RunSteps(ctx context.Context, rep ui.Reporter, now func() time.Time, steps []Step, done func(s Step, detail string, took time.Duration)) error {
	if rep == nil {
		rep = ui.Discard
	}
	if now == nil {
		now = time.Now
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		progress := rep.Step(s.Title())
		start := now()
		detail, err := s.Run(ctx, progress)
		if err != nil {
			progress.Fail(err)
			return err
		}
		progress.Done()
		if done != nil {
			done(s, detail, now().Sub(start))
		}
	}
	return nil
}
