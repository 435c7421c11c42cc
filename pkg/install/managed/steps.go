package managed

import (
	"context"
	"time"

	"github.com/meshctl/meshctl/internal/ui"
	steps "github.com/meshctl/meshctl/pkg/plan"
)

// A step is one named stage of an install or uninstall: a plan.Step with
// the action the result records when it succeeds. One runner
// (steps.RunSteps) shows each as progress, times it and records it.
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
	// run does the work and returns the result's detail line.
	run func(ctx context.Context, progress ui.Step) (detail string, err error)
}

// runSteps runs steps in order and stops at the first failure.
func (in Installer) runSteps(ctx context.Context, res *Result, list []step) error {
	actions := make(map[string]string, len(list))
	run := make([]steps.Step, len(list))
	for i, s := range list {
		actions[s.name] = s.action
		run[i] = steps.Step{Name: s.name, Title: s.title, Run: s.run}
	}
	return steps.RunSteps(ctx, in.reporter(), in.now, run, func(s steps.Step, detail string, took time.Duration) {
		res.Timings[s.Name] = took.Round(time.Millisecond).String()
		res.step(s.Name, actions[s.Name], "%s", detail)
	})
}

// title is a step title that does not change.
func title(s string) func() string { return steps.Title(s) }
