package install

import (
	"context"
	"fmt"
	"strings"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/check"
	"github.com/meshctl/meshctl/pkg/findings"
)

// Prechecker runs `meshctl check` before an install, against the release
// the install puts in, and returns the error-level findings, each with its
// fix.
type Prechecker func(ctx context.Context, target Target) ([]findings.Finding, error)

// CheckPrecheck returns the Prechecker that runs check's checks on the
// cluster opts names. clients builds check's clients when the precheck runs,
// not before: a dry run, or an install with --skip-checks, needs none.
func CheckPrecheck(clients func(context.Context) (check.Clients, error), opts check.Options) Prechecker {
	return func(ctx context.Context, target Target) ([]findings.Finding, error) {
		opts.MeshVersion, opts.MeshVersionSource = target.Version, target.Source
		opts.FailOn = findings.Error
		if err := opts.Validate(); err != nil {
			return nil, err
		}
		c, err := clients(ctx)
		if err != nil {
			return nil, err
		}
		res, err := check.Run(ctx, c, ui.Discard, opts)
		if err != nil {
			return nil, err
		}
		var errs []findings.Finding
		for _, f := range res.Findings {
			if f.Level == findings.Error {
				errs = append(errs, f)
			}
		}
		return errs, nil
	}
}

// NotReadyError is the install's refusal when the prechecks found errors:
// the findings as check reported them.
type NotReadyError struct {
	Findings []findings.Finding
}

func (e *NotReadyError) Error() string {
	lines := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		lines[i] = f.String()
		if f.Hint != "" {
			lines[i] += "\n    fix: " + f.Hint
		}
	}
	return fmt.Sprintf("the cluster is not ready for the mesh:\n  %s", strings.Join(lines, "\n  "))
}
