package revision

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// RenderText prints a tag set or remove for a person.
func (r *TagResult) RenderText(w io.Writer, s ui.Styles) error {
	switch {
	case r.Removed && r.DryRun:
		fmt.Fprintln(w, s.Heading("Would remove tag "+r.Tag+was(r.Previous, "pointing at ")))
	case r.Removed && len(r.Changes) == 0:
		fmt.Fprintf(w, "%s tag %s does not exist: nothing to remove\n", s.OK(ui.MarkOK), r.Tag)
	case r.Removed:
		fmt.Fprintf(w, "%s tag %s removed%s\n", s.OK(ui.MarkOK), r.Tag, was(r.Previous, "; it pointed at "))
	case r.DryRun:
		fmt.Fprintln(w, s.Heading("Would point tag "+r.Tag+" at "+r.Revision+was(r.Previous, ", now at ")))
	case !r.Changed():
		fmt.Fprintf(w, "%s tag %s points at %s already: nothing changed\n", s.OK(ui.MarkOK), r.Tag, r.Revision)
	default:
		fmt.Fprintf(w, "%s tag %s points at %s%s\n", s.OK(ui.MarkOK), r.Tag, r.Revision, was(r.Previous, " (was "))
	}
	if len(r.Changes) > 0 {
		if err := s.WriteTable(w, plan.Table(r.Changes, nil)); err != nil {
			return err
		}
	}
	if len(r.Namespaces) > 0 {
		t := ui.Table{Headers: []string{"NAMESPACE", "LABEL"}}
		if !r.Removed {
			t.Headers = append(t.Headers, "PODS TO RESTART")
		}
		for _, ns := range r.Namespaces {
			row := []string{ns.Name, ns.Label}
			if !r.Removed {
				row = append(row, strconv.Itoa(ns.Restart))
			}
			t.Rows = append(t.Rows, row)
		}
		fmt.Fprintln(w)
		if err := s.WriteTable(w, t); err != nil {
			return err
		}
	}
	if r.NextStep != "" {
		fmt.Fprintf(w, "Next: %s\n", r.NextStep)
	}
	return dryRunPermissions(w, s, r.DryRun, r.Permissions)
}

// dryRunPermissions lists a dry run's permissions; a run that changed
// things has passed the check.
func dryRunPermissions(w io.Writer, s ui.Styles, dryRun bool, p *preflight.Report) error {
	return p.RenderDryRun(w, s, dryRun)
}

// was is ", now at asm-1" style text for a previous revision, "" without.
func was(previous, lead string) string {
	if previous == "" {
		return ""
	}
	if strings.HasSuffix(lead, "(was ") {
		return lead + previous + ")"
	}
	return lead + previous
}

// RenderText prints the tags as `istioctl tag list` does, with whether
// each tag's revision is installed.
func (l *TagList) RenderText(w io.Writer, s ui.Styles) error {
	if len(l.Tags) == 0 {
		fmt.Fprintln(w, "No revision tags.")
		return nil
	}
	t := ui.Table{Headers: []string{"TAG", "REVISION", "NAMESPACES"}}
	for _, e := range l.Tags {
		rev := e.Revision
		if !e.Installed {
			rev += " " + s.Error("(not installed)")
		}
		t.Rows = append(t.Rows, []string{e.Tag, rev, strings.Join(e.Namespaces, ",")})
	}
	return s.WriteTable(w, t)
}

// RenderText prints an uninstall for a person: what uses the revision when
// it refused, else what went (or would go).
func (r *UninstallResult) RenderText(w io.Writer, s ui.Styles) error {
	n := plural(len(r.Changes), "object")
	switch {
	case r.Refused:
		fmt.Fprintf(w, "%s revision %s is still in use (%s); nothing was deleted\n", s.Error(ui.MarkErr), r.Revision, r.Usage)
		writeFindings(w, s, r.Findings)
	case len(r.Changes) == 0:
		fmt.Fprintf(w, "%s revision %s is not installed: nothing to remove\n", s.OK(ui.MarkOK), r.Revision)
		return nil
	case r.DryRun:
		fmt.Fprintln(w, s.Heading(fmt.Sprintf("Would remove revision %s: %s", r.Revision, n)))
	default:
		fmt.Fprintf(w, "%s revision %s removed: %s\n", s.OK(ui.MarkOK), r.Revision, n)
	}
	if !r.Refused {
		if err := s.WriteTable(w, plan.Table(r.Changes, nil)); err != nil {
			return err
		}
		for _, k := range r.Kept {
			fmt.Fprintf(w, "%s %s\n", s.Faint("kept:"), k)
		}
	}
	if r.NextStep != "" {
		fmt.Fprintf(w, "Next: %s\n", r.NextStep)
	}
	return dryRunPermissions(w, s, r.DryRun, r.Permissions)
}

// writeFindings prints findings one a line, each with its hint.
func writeFindings(w io.Writer, s ui.Styles, fs []findings.Finding) {
	for _, f := range fs {
		fmt.Fprintf(w, "  %s\n", f.String())
		if f.Hint != "" {
			fmt.Fprintf(w, "      %s %s\n", s.Faint("fix:"), f.Hint)
		}
	}
}
