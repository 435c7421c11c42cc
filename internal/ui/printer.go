package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"
)

// Format is an output format for results.
type Format string

// The output formats, as given to -o/--output.
const (
	FormatText Format = "text"
	FormatJSON Format = "json"
	FormatYAML Format = "yaml"
)

// Formats lists the valid output formats in the order help shows them.
var Formats = []Format{FormatText, FormatJSON, FormatYAML}

// ParseFormat returns the Format named s.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown output format %q: want one of %s", s, strings.Join(names, ", "))
}

// TextRenderer is implemented by results that know how to show themselves to
// a person. Styles are off when the output is not a colour terminal.
type TextRenderer interface {
	RenderText(w io.Writer, s Styles) error
}

// TextFunc is a function that renders text, as a TextRenderer.
type TextFunc func(w io.Writer, s Styles) error

// RenderText calls f.
func (f TextFunc) RenderText(w io.Writer, s Styles) error { return f(w, s) }

// Printer prints results to stdout in the format the user asked for. A
// command prints its result once, at the end.
type Printer struct {
	Format Format
	Out    io.Writer
	Styles Styles
}

// Print writes v: JSON and YAML from v's json tags (YAML through
// sigs.k8s.io/yaml, so both formats share field names), text through v's
// RenderText, or as YAML when v has no text renderer.
func (p *Printer) Print(v any) error {
	switch p.Format {
	case FormatJSON:
		enc := json.NewEncoder(p.Out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	case FormatYAML:
		return writeYAML(p.Out, v)
	case FormatText, "":
		if r, ok := v.(TextRenderer); ok {
			return r.RenderText(p.Out, p.Styles)
		}
		return writeYAML(p.Out, v)
	default:
		return fmt.Errorf("unknown output format %q", p.Format)
	}
}

func writeYAML(w io.Writer, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Errorf("render yaml: %w", err)
	}
	_, err = w.Write(b)
	return err
}
