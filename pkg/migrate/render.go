package migrate

import (
	"fmt"
	"io"
	"strings"

	"github.com/meshctl/meshctl/internal/ui"
)

// RenderText prints the result for a person: each step with what it did
// (or would do), the batches, and what to run next.
func (r *Result) RenderText(w io.Writer, s ui.Styles) error {
	var b strings.Builder
	head := "Migrate"
	if r.DryRun {
		head = "Migration plan (dry run: nothing changed)"
	}
	from := r.From
	if from == "" {
		from = "no in-cluster revision"
	}
	fmt.Fprintf(&b, "%s: %s -> %s\n", head, from, orDash(r.To))
	for _, st := range r.Steps {
		took := ""
		if t, ok := r.Timings[st.Name]; ok {
			took = " (" + t + ")"
		}
		fmt.Fprintf(&b, "  %-20s %-8s %s%s\n", st.Name, st.Action, st.Detail, took)
	}
	for _, f := range r.Precheck {
		fmt.Fprintf(&b, "  %s\n", f)
		if f.Hint != "" {
			fmt.Fprintf(&b, "      fix: %s\n", f.Hint)
		}
	}
	if r.Uninstall != nil && r.DryRun && len(r.Uninstall.Changes) > 0 {
		fmt.Fprintf(&b, "Objects of %s to delete last:\n", r.From)
		for _, c := range r.Uninstall.Changes {
			fmt.Fprintf(&b, "  %s\n", c.Ref())
		}
	}
	if len(r.WayBack) > 0 {
		b.WriteString("The way back:\n")
		for _, c := range r.WayBack {
			fmt.Fprintf(&b, "  %s\n", c)
		}
	}
	if !r.DryRun {
		fmt.Fprintf(&b, "%s in %s\n", s.OK(changedText(r.Changed)), r.Elapsed)
	}
	if r.NextStep != "" {
		fmt.Fprintf(&b, "Next: %s\n", r.NextStep)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func changedText(changed bool) string {
	if changed {
		return "migrated"
	}
	return "nothing to change: already migrated"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
