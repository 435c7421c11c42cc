package validate

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
)

// maxListed bounds the findings shown per case in text; -o json has all.
const maxListed = 10

// RenderText shows the cases grouped, one line per check and object with
// a mark, then its findings with their hints.
func (r *Result) RenderText(w io.Writer, s ui.Styles) error {
	var b strings.Builder
	group := ""
	for _, c := range r.Cases {
		if c.Group != group {
			group = c.Group
			if b.Len() > 0 {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "%s\n", s.Heading(capitalize(group)))
		}
		worst := worstLevel(c.Findings)
		detail := "ok"
		if len(c.Findings) > 0 {
			detail = findings.Summarize(c.Findings).String()
		}
		fmt.Fprintf(&b, "  %s %s  %s  %s\n", mark(s, worst, len(c.Findings) > 0), c.Check, c.Object, s.Faint(detail))
		for i, f := range c.Findings {
			if i == maxListed {
				fmt.Fprintf(&b, "      … and %d more (-o json lists them all)\n", len(c.Findings)-maxListed)
				break
			}
			obj := ""
			if f.Object != "" && f.Object != c.Object {
				obj = "(" + f.Object + ") "
			}
			fmt.Fprintf(&b, "      %s %s%s\n", s.Faint(f.Code), obj, f.Message)
			if f.Hint != "" {
				fmt.Fprintf(&b, "        %s %s\n", s.Faint("hint:"), f.Hint)
			}
		}
	}
	verdict := fmt.Sprintf("%s mesh valid: %s (--fail-on %s)", s.OK(ui.MarkOK), r.Summary, r.FailOn)
	if r.Failed() {
		verdict = fmt.Sprintf("%s mesh not valid: %s (--fail-on %s)", s.Error(ui.MarkErr), r.Summary, r.FailOn)
	}
	fmt.Fprintf(&b, "\n%s\n", verdict)
	_, err := io.WriteString(w, b.String())
	return err
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func worstLevel(fs []findings.Finding) findings.Level {
	var worst findings.Level
	for _, f := range fs {
		if worst == "" || f.Level.AtLeast(worst) {
			worst = f.Level
		}
	}
	return worst
}

func mark(s ui.Styles, l findings.Level, any bool) string {
	switch {
	case !any:
		return s.OK(ui.MarkOK)
	case l == findings.Error:
		return s.Error(ui.MarkErr)
	case l == findings.Warning:
		return s.Warning(ui.MarkWarn)
	}
	return ui.MarkInfo
}

// JUnit types: the subset of the JUnit XML schema CI systems read.
type (
	// JUnitSuites is the document root.
	JUnitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Time     string       `xml:"time,attr"`
		Suites   []JUnitSuite `xml:"testsuite"`
	}
	// JUnitSuite is one group of checks.
	JUnitSuite struct {
		Name     string      `xml:"name,attr"`
		Tests    int         `xml:"tests,attr"`
		Failures int         `xml:"failures,attr"`
		Cases    []JUnitCase `xml:"testcase"`
	}
	// JUnitCase is one check about one object.
	JUnitCase struct {
		Name      string        `xml:"name,attr"`
		ClassName string        `xml:"classname,attr"`
		Failure   *JUnitFailure `xml:"failure,omitempty"`
		SystemOut string        `xml:"system-out,omitempty"`
	}
	// JUnitFailure holds the failing findings.
	JUnitFailure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
)

// WriteJUnit writes r as JUnit XML: a suite per group, a test case per
// check and object, failed when it has a finding at --fail-on or above;
// findings below it are in system-out.
func (r *Result) WriteJUnit(w io.Writer) error {
	doc := JUnitSuites{Name: "meshctl validate", Time: fmt.Sprintf("%.3f", r.Duration.Seconds())}
	idx := map[string]int{}
	for _, c := range r.Cases {
		i, ok := idx[c.Group]
		if !ok {
			i = len(doc.Suites)
			idx[c.Group] = i
			doc.Suites = append(doc.Suites, JUnitSuite{Name: c.Group})
		}
		tc := JUnitCase{Name: c.Check + ": " + c.Object, ClassName: "meshctl.validate." + strings.ReplaceAll(c.Group, " ", "_")}
		var failing, other []string
		var first findings.Finding
		for _, f := range c.Findings {
			if f.Level.AtLeast(r.FailOn) {
				if len(failing) == 0 {
					first = f
				}
				failing = append(failing, f.String()+hintSuffix(f))
			} else {
				other = append(other, f.String()+hintSuffix(f))
			}
		}
		if len(failing) > 0 {
			tc.Failure = &JUnitFailure{Message: first.String(), Type: first.Code, Text: strings.Join(failing, "\n")}
			doc.Suites[i].Failures++
			doc.Failures++
		}
		tc.SystemOut = strings.Join(other, "\n")
		doc.Suites[i].Cases = append(doc.Suites[i].Cases, tc)
		doc.Suites[i].Tests++
		doc.Tests++
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func hintSuffix(f findings.Finding) string {
	if f.Hint == "" {
		return ""
	}
	return "\n  hint: " + f.Hint
}
