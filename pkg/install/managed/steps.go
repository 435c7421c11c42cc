package managed

import (
	"context"
	"time"

	"github.com/meshctl/meshctl/internal/ui"
)

// A step is one named stage of an install or uninstall, as goreleaser's
// pipes are: the steps of a run are a list read top to bottom, and one
// runner (runSteps) shows each as progress, times it and records it in the
// result, so no step does that itself.
type step struct {
	// name is the step's key in Result.Steps and Result.Timings
	// (StepRegister, ...).
	name string
	// title is the progress line; a func, since a later step's title may
	// name what an earlier one found.
	title func() string
	// action is what the result records on success: ActionDone for a
	// change, ActionChecked for a wait or a confirmation.
	action string
	// run does the work and returns the result's detail line. It may fail
	// its progress step itself with a shorter text than the error; the
	// runner's Fail then changes nothing.
	run func(ctx context.Context, progress ui.Step) (detail string, err error)
}

// runSteps runs steps in order and stops at the first failure.
func (in Installer) runSteps(ctx context.Context, res *Result, steps []step) error {
	for _, s := range steps {
		progress := in.reporter().Step(s.title())
		start := in.now()
		detail, err := s.run(ctx, progress)
		if err != nil {
			progress.Fail(err)
			return err
		}
		progress.Done()
		res.Timings[s.name] = in.now().Sub(start).Round(time.Millisecond).String()
		res.step(s.name, s.action, "%s", detail)
	}
	return nil
}

// title is a step title that does not change.
func title(s string) func() string { return func() string { return s } }
