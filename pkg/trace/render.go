package trace

import (
	"fmt"
	"io"
	"strings"

	"github.com/meshctl/meshctl/internal/ui"
)

// Marks for the states, the same with and without colour.
const (
	markConverging = "~"
	markUnknown    = "?"
)

// mark is a state's mark, styled.
func mark(s ui.Styles, st State) string {
	switch st {
	case OK:
		return s.OK(ui.MarkOK)
	case Warning:
		return s.Warning(ui.MarkWarn)
	case Converging:
		return s.Warning(markConverging)
	case Unknown:
		return s.Error(markUnknown)
	}
	return s.Error(ui.MarkErr)
}

// RenderText draws each path top to bottom, one hop after the other with
// its evidence and findings, then the answer.
func (r *Result) RenderText(w io.Writer, s ui.Styles) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", s.Heading("Trace"), r.Target.URL)
	switch {
	case r.Target.IsIP:
	case len(r.Target.Addresses) > 0:
		fmt.Fprintf(&b, "  %s → %s (%s)\n", r.Target.Host, strings.Join(r.Target.Addresses, ", "), r.Target.ResolvedBy)
	default:
		fmt.Fprintf(&b, "  %s does not resolve (%s): looked up in the URL maps' host rules\n", r.Target.Host, orText(r.Target.DNSError, "no answer"))
	}
	for i, p := range r.Paths {
		b.WriteString("\n")
		renderPath(&b, s, i, len(r.Paths), p)
	}
	b.WriteString("\n")
	renderVerdict(&b, s, r)
	_, err := io.WriteString(w, b.String())
	return err
}

func renderPath(b *strings.Builder, s ui.Styles, i, n int, p Path) {
	var head []string
	if n > 1 {
		head = append(head, fmt.Sprintf("Path %d of %d", i+1, n))
	}
	if p.ForwardingRule != "" {
		head = append(head, "forwarding rule "+p.ForwardingRule)
	}
	if p.Weight > 0 {
		head = append(head, fmt.Sprintf("weight %d", p.Weight))
	}
	if p.BuiltBy != "" {
		head = append(head, p.BuiltBy)
	}
	if len(head) > 0 {
		fmt.Fprintf(b, "%s\n", s.Heading(strings.Join(head, " · ")))
	}
	for j, h := range p.Hops {
		if j > 0 {
			fmt.Fprintf(b, "  %s\n", s.Faint("▼"))
		}
		name := h.Name
		if h.Zone != "" {
			name += "  " + h.Zone
		}
		fmt.Fprintf(b, "  %s %s  %s\n", mark(s, h.State), s.Heading(string(h.Kind)), name)
		for _, e := range h.Evidence {
			fmt.Fprintf(b, "  %s %s\n", s.Faint("│"), s.Faint(e))
		}
		for _, f := range h.Findings {
			fmt.Fprintf(b, "  %s %s %s\n", s.Faint("│"), s.Faint(f.Code), f.Message)
			if f.Hint != "" {
				fmt.Fprintf(b, "  %s   %s %s\n", s.Faint("│"), s.Faint("fix:"), f.Hint)
			}
		}
	}
	if p.End != "" {
		fmt.Fprintf(b, "  %s\n  %s end: %s\n", s.Faint("▼"), s.Faint("■"), p.End)
	}
}

func renderVerdict(b *strings.Builder, s ui.Styles, r *Result) {
	summary := fmt.Sprintf("%s (--fail-on %s)", r.Summary, r.FailOn)
	a := r.Answer
	switch {
	case a == nil && r.State == OK:
		fmt.Fprintf(b, "%s healthy: every hop is ok; %s\n", mark(s, OK), summary)
	case a == nil:
		fmt.Fprintf(b, "%s serving, with warnings: %s\n", mark(s, Warning), summary)
	default:
		word := map[State]string{Broken: "broken at", Unknown: "could not read", Converging: "converging at"}[a.State]
		fmt.Fprintf(b, "%s %s %s %s: %s\n", mark(s, a.State), word, a.Kind, a.Name, a.Message)
		if a.Hint != "" {
			label := "fix:"
			if a.State == Converging {
				label = "next:"
			}
			fmt.Fprintf(b, "  %s %s\n", s.Faint(label), a.Hint)
		}
		fmt.Fprintf(b, "  %s\n", s.Faint(summary))
	}
}
