package inject

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/meshctl/meshctl/internal/ui"
)

// RenderText prints the result for a person: what each namespace's labels
// became, then one line per workload with what was done and where it ended
// up, then a summary.
func (r *Result) RenderText(w io.Writer, s ui.Styles) error {
	var b strings.Builder
	switch {
	case r.Mode == ModeDisable:
		b.WriteString(s.Heading("Taking namespaces out of the mesh") + "\n")
	case r.ProxyRevision != r.Revision:
		fmt.Fprintf(&b, "%s %s (tag for %s, %s)\n", s.Heading("Revision"), r.Revision, r.ProxyRevision, sourceText(r.RevisionSource))
	default:
		fmt.Fprintf(&b, "%s %s (%s)\n", s.Heading("Revision"), r.Revision, sourceText(r.RevisionSource))
	}
	if r.DryRun {
		b.WriteString(s.Warning("Dry run: nothing was changed.") + "\n")
	}
	b.WriteString("\n")

	lt := ui.Table{Headers: []string{"NAMESPACE", "LABELS", "CHANGE"}}
	for _, ns := range r.Namespaces {
		change := "unchanged"
		if ns.Labels.Changed() {
			change = "relabel"
			if !r.DryRun {
				change = "relabelled"
			}
		}
		if m := ns.Migration; m != nil {
			change = fmt.Sprintf("%s %s -> %s", map[bool]string{true: "migrate", false: "migrated"}[r.DryRun], m.From, m.To)
		}
		if ns.Error != "" {
			change = s.Error(ui.MarkErr + " " + ns.Error)
		}
		lt.Rows = append(lt.Rows, []string{ns.Name, describeLabels(ns.Labels), change})
	}
	for _, sk := range r.SkippedNamespaces {
		lt.Rows = append(lt.Rows, []string{sk.Name, "-", s.Faint("skipped: " + sk.Reason)})
	}
	if err := s.WriteTable(&b, lt); err != nil {
		return err
	}

	wt := ui.Table{Headers: []string{"NAMESPACE", "WORKLOAD", "ACTION", "RESULT", "DETAIL"}}
	for _, ns := range r.Namespaces {
		for _, wl := range ns.Workloads {
			wt.Rows = append(wt.Rows, []string{ns.Name, strings.ToLower(wl.Kind) + "/" + wl.Name,
				actionText(wl.Action, r.DryRun), outcomeText(s, wl.Outcome), detail(wl, r)})
		}
	}
	if len(wt.Rows) > 0 {
		b.WriteString("\n")
		if err := s.WriteTable(&b, wt); err != nil {
			return err
		}
	}
	for _, ns := range r.Namespaces {
		for _, n := range ns.Notes {
			fmt.Fprintf(&b, "%s %s: %s\n", s.Warning(ui.MarkWarn), ns.Name, n)
		}
	}
	if r.DryRun && r.Permissions != nil && len(r.Permissions.Permissions) > 0 {
		// A run that changed things passed the check: only a dry run lists it.
		b.WriteString("\n")
		if err := r.Permissions.RenderText(&b, s); err != nil {
			return err
		}
	}
	b.WriteString("\n" + r.summaryLine(s) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func describeLabels(c LabelChange) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c.Set)) {
		if old, ok := c.Before[k]; ok {
			parts = append(parts, fmt.Sprintf("%s: %s -> %s", k, old, c.Set[k]))
		} else {
			parts = append(parts, fmt.Sprintf("+%s=%s", k, c.Set[k]))
		}
	}
	for _, k := range c.Remove {
		parts = append(parts, fmt.Sprintf("-%s (was %s)", k, c.Before[k]))
	}
	if len(parts) == 0 {
		for _, k := range slices.Sorted(maps.Keys(c.Before)) {
			parts = append(parts, k+"="+c.Before[k])
		}
	}
	return strings.Join(parts, ", ")
}

func actionText(a Action, dry bool) string {
	if !dry {
		switch a {
		case ActionRestart:
			return "restarted"
		case ActionKeep:
			return "kept"
		case ActionSkip:
			return "skipped"
		}
	}
	return string(a)
}

func outcomeText(s ui.Styles, o Outcome) string {
	switch o {
	case OutcomeConverged:
		return s.OK(ui.MarkOK + " " + string(o))
	case OutcomeFailed:
		return s.Error(ui.MarkErr + " " + string(o))
	case OutcomePending:
		return s.Warning(ui.MarkWarn + " " + string(o))
	}
	return string(o)
}

func detail(wl WorkloadResult, r *Result) string {
	switch {
	case wl.Outcome == OutcomeFailed || wl.Outcome == OutcomePending:
		return problemsText(wl.Problems)
	case wl.Outcome == OutcomeConverged:
		want := "without istio-proxy"
		if r.Mode == ModeEnable {
			want = "on " + r.ProxyRevision
		}
		return fmt.Sprintf("%d/%s %s", wl.OK, plural(wl.Pods, "pod"), want)
	}
	return wl.Why
}

// problemsText joins problems, with pods that share a reason and message
// on one line: "NoProxy: no istio-proxy (pods a, b)".
func problemsText(ps []Problem) string {
	type key struct {
		r Reason
		m string
	}
	var order []key
	pods := map[key][]string{}
	for _, p := range ps {
		k := key{p.Reason, p.Message}
		if _, seen := pods[k]; !seen {
			order = append(order, k)
			pods[k] = nil
		}
		if p.Pod != "" {
			pods[k] = append(pods[k], p.Pod)
		}
	}
	parts := make([]string, 0, len(order))
	for _, k := range order {
		text := string(k.r) + ": " + k.m
		switch n := len(pods[k]); {
		case n == 1:
			text += " (pod " + pods[k][0] + ")"
		case n > 1:
			text += " (pods " + strings.Join(pods[k], ", ") + ")"
		}
		parts = append(parts, text)
	}
	return strings.Join(parts, "; ")
}

// summaryLine is the last line: counts and whether everything converged.
func (r *Result) summaryLine(s ui.Styles) string {
	sm := r.Summary
	verb := map[bool]string{true: "to restart", false: "restarted"}[r.DryRun]
	relabel := map[bool]string{true: "to relabel", false: "relabelled"}[r.DryRun]
	text := fmt.Sprintf("%d namespace(s), %d %s; %d workload(s): %d %s, %d unchanged, %d skipped",
		sm.Namespaces, sm.Relabelled, relabel, sm.Workloads, sm.Restarted, verb, sm.Unchanged, sm.Skipped)
	switch {
	case r.DryRun:
		return s.Faint(ui.MarkInfo) + " " + text
	case sm.Failed > 0:
		return s.Error(ui.MarkErr) + " " + text + s.Error(fmt.Sprintf("; %d failed to converge", sm.Failed))
	case sm.Pending > 0:
		return s.Warning(ui.MarkWarn) + " " + text + fmt.Sprintf("; %d wait for a restart (--no-restart)", sm.Pending)
	}
	return s.OK(ui.MarkOK) + " " + text + "; every pod checked"
}

func sourceText(src string) string {
	switch src {
	case "flag":
		return "from --revision"
	case "detected":
		return "the only one installed"
	}
	return src
}
