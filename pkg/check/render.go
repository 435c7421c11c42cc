package check

import (
	"fmt"
	"io"
	"strings"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
)

// maxListed bounds the per-object lines under one check in text output;
// -o json lists every finding.
const maxListed = 10

func mark(s ui.Styles, st Status) string {
	switch st {
	case StatusOK:
		return s.OK(ui.MarkOK)
	case StatusWarning:
		return s.Warning(ui.MarkWarn)
	case StatusError:
		return s.Error(ui.MarkErr)
	case StatusUnavailable:
		return s.Error("?")
	case StatusSkipped:
		return s.Faint("-")
	}
	return s.Faint(ui.MarkInfo)
}

// RenderText prints the report grouped, one line per check, with the fix
// under each failure.
func (r *Result) RenderText(w io.Writer, s ui.Styles) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s · target CSM %s (%s", s.Heading("Cluster"), r.Cluster, r.MeshRelease, r.SupportedGKE)
	if r.MeshReleaseSource != "" {
		fmt.Fprintf(&b, "; from %s", r.MeshReleaseSource)
	}
	b.WriteString(")")
	if r.KubeContext != "" {
		fmt.Fprintf(&b, " · context %s", r.KubeContext)
	}
	b.WriteString("\n")

	width := 0
	for _, c := range r.Checks {
		width = max(width, len(c.Title))
	}
	indent := strings.Repeat(" ", 4+len("MC0000")+2)
	byCheck := map[string][]findings.Finding{}
	var apiFailures []findings.Finding
	for _, f := range r.Findings {
		if f.Code == findings.APIUnavailable.Code {
			apiFailures = append(apiFailures, f)
			continue
		}
		byCheck[f.Code] = append(byCheck[f.Code], f)
	}
	hintLine := func(prefix, hint string) {
		if hint != "" {
			fmt.Fprintf(&b, "%s%s %s\n", prefix, s.Faint("hint:"), hint)
		}
	}

	group := ""
	for _, c := range r.Checks {
		if c.Group != group {
			group = c.Group
			fmt.Fprintf(&b, "\n%s\n", s.Heading(group))
		}
		fmt.Fprintf(&b, "  %s %s  %-*s  %s\n", mark(s, c.Status), s.Faint(c.ID), width, c.Title, c.Message)
		fs := byCheck[c.ID]
		if len(fs) <= 1 {
			hintLine(indent, c.Hint)
			continue
		}
		for i, f := range fs {
			if i == maxListed {
				fmt.Fprintf(&b, "%s… and %d more (-o json lists them all)\n", indent, len(fs)-maxListed)
				break
			}
			fmt.Fprintf(&b, "%s%s\n", indent, f.Message)
			hintLine(indent+"  ", f.Hint)
		}
	}
	if len(apiFailures) > 0 {
		fmt.Fprintf(&b, "\n%s\n", s.Heading("API errors"))
		for _, f := range apiFailures {
			fmt.Fprintf(&b, "  %s %s  %s: %s\n", mark(s, StatusError), s.Faint(f.Code), f.Object, f.Message)
			hintLine(indent, f.Hint)
		}
	}
	if len(r.Fixes) > 0 {
		heading, done := "Fixes", mark(s, StatusOK)
		if r.DryRun {
			heading, done = "Fixes --fix would make (dry run: nothing was changed)", "→"
		}
		fmt.Fprintf(&b, "\n%s\n", s.Heading(heading))
		for _, fx := range r.Fixes {
			if fx.Error != "" {
				fmt.Fprintf(&b, "  %s %s  %s: %s\n", mark(s, StatusError), s.Faint(fx.ID), fx.Action, fx.Error)
			} else {
				fmt.Fprintf(&b, "  %s %s  %s\n", done, s.Faint(fx.ID), fx.Action)
			}
		}
	}
	if r.DryRun && r.Permissions != nil {
		b.WriteString("\n")
		if err := r.Permissions.RenderText(&b, s); err != nil {
			return err
		}
	}

	b.WriteString("\n")
	if r.Ready {
		fmt.Fprintf(&b, "%s ready for CSM %s: %s\n", s.OK(ui.MarkOK), r.MeshRelease, r.Summary)
	} else {
		fmt.Fprintf(&b, "%s not ready for CSM %s: %s (--fail-on %s)\n", s.Error(ui.MarkErr), r.MeshRelease, r.Summary, r.FailOn)
		switch {
		case r.fixable():
			fmt.Fprintf(&b, "  %s meshctl check --fix creates what is missing\n", s.Faint("hint:"))
		case r.DryRun && len(r.Fixes) > 0:
			fmt.Fprintf(&b, "  %s meshctl check --fix makes the fixes above\n", s.Faint("hint:"))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fixable reports whether --fix would change something.
func (r *Result) fixable() bool {
	if len(r.Fixes) > 0 {
		return false
	}
	for _, c := range r.Checks {
		if c.Fixable && (c.Status == StatusError || c.Status == StatusWarning) {
			return true
		}
	}
	return false
}
