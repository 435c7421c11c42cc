package ui

import (
	"fmt"
	"io"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Marks start lines about an outcome; they are the same with and without
// colour so that logs and terminals read alike.
const (
	MarkOK   = "✓"
	MarkWarn = "!"
	MarkErr  = "✗"
	MarkInfo = "·"
)

// Styles renders text for one stream. With colour off every method returns
// its input unchanged, so the same rendering code serves terminals, pipes,
// files and NO_COLOR.
type Styles struct {
	color   bool
	ok      lipgloss.Style
	warn    lipgloss.Style
	err     lipgloss.Style
	heading lipgloss.Style
	faint   lipgloss.Style
}

// NewStyles returns styles for w. color comes from ColorEnabled.
func NewStyles(w io.Writer, color bool) Styles {
	if !color {
		return Styles{}
	}
	r := lipgloss.NewRenderer(w)
	// Colour was decided by ColorEnabled; the renderer's own detection only
	// chooses how many colours, and never turns colour off again.
	if r.ColorProfile() == termenv.Ascii {
		r.SetColorProfile(termenv.ANSI)
	}
	return Styles{
		color:   true,
		ok:      r.NewStyle().Foreground(lipgloss.Color("2")),
		warn:    r.NewStyle().Foreground(lipgloss.Color("3")),
		err:     r.NewStyle().Foreground(lipgloss.Color("1")).Bold(true),
		heading: r.NewStyle().Bold(true),
		faint:   r.NewStyle().Faint(true),
	}
}

// Color reports whether these styles emit colour.
func (s Styles) Color() bool { return s.color }

func (s Styles) render(st lipgloss.Style, text string) string {
	if !s.color {
		return text
	}
	return st.Render(text)
}

// OK renders text in the success style.
func (s Styles) OK(text string) string { return s.render(s.ok, text) }

// Warning renders text in the warning style.
func (s Styles) Warning(text string) string { return s.render(s.warn, text) }

// Error renders text in the error style.
func (s Styles) Error(text string) string { return s.render(s.err, text) }

// Heading renders text as a heading.
func (s Styles) Heading(text string) string { return s.render(s.heading, text) }

// Faint renders secondary text.
func (s Styles) Faint(text string) string { return s.render(s.faint, text) }

// Table is rows of cells printed as aligned columns under a header.
type Table struct {
	Headers []string
	Rows    [][]string
}

// WriteTable writes t with columns aligned on visible width (styled cells and
// wide characters line up) and two spaces between columns.
func (s Styles) WriteTable(w io.Writer, t Table) error {
	widths := make([]int, len(t.Headers))
	grow := func(cells []string) {
		for i, c := range cells {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], lipgloss.Width(c))
		}
	}
	grow(t.Headers)
	for _, r := range t.Rows {
		grow(r)
	}
	var b strings.Builder
	line := func(cells []string, style func(string) string) {
		for i, c := range cells {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(style(c))
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-lipgloss.Width(c)))
			}
		}
		b.WriteString("\n")
	}
	if len(t.Headers) > 0 {
		line(t.Headers, s.Heading)
	}
	for _, r := range t.Rows {
		line(r, func(c string) string { return c })
	}
	_, err := fmt.Fprint(w, b.String())
	return err
}
