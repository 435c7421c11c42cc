// Package findings is the one catalog of problems meshctl reports: stable
// codes (MC0101...), each with a level and a title, the Finding a check or
// an analyzer emits, and the rule that turns findings into an exit status
// (--fail-on). `meshctl check` and `meshctl validate` both report through it,
// so a code means the same thing wherever it appears and CI can key on it.
package findings

import (
	"fmt"
	"sort"
	"strings"
)

// Level is how serious a finding is.
type Level string

// The levels, least serious first.
const (
	Info    Level = "info"
	Warning Level = "warning"
	Error   Level = "error"
)

// Levels lists the levels, least serious first.
var Levels = []Level{Info, Warning, Error}

// rank orders levels; an unknown level ranks below Info.
func (l Level) rank() int {
	for i, x := range Levels {
		if x == l {
			return i + 1
		}
	}
	return 0
}

// AtLeast reports whether l is as serious as min or more.
func (l Level) AtLeast(min Level) bool { return l.rank() >= min.rank() && l.rank() > 0 }

// ParseLevel returns the level named s ("error", "warning" or "info").
func ParseLevel(s string) (Level, error) {
	for _, l := range Levels {
		if string(l) == strings.ToLower(s) {
			return l, nil
		}
	}
	return "", fmt.Errorf("unknown level %q: want error, warning or info", s)
}

// String makes Level a pflag.Value, so a command binds --fail-on to it:
//
//	failOn := findings.Error
//	cmd.Flags().Var(&failOn, "fail-on", findings.FailOnUsage)
func (l Level) String() string { return string(l) }

// Set parses a flag value.
func (l *Level) Set(s string) error {
	v, err := ParseLevel(s)
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Type names the flag value's type in help.
func (l *Level) Type() string { return "level" }

// FailOnUsage is the help text for a --fail-on flag bound to a Level.
const FailOnUsage = "lowest finding level that fails the command (exit code 3): error, warning or info"

// Type is one entry of the catalog: a stable code, the level its findings
// have and a title that says what it is about.
type Type struct {
	Code  string `json:"code"`
	Level Level  `json:"level"`
	Title string `json:"title"`
}

// New returns a finding of this type about object.
func (t Type) New(object, message, hint string) Finding {
	return Finding{Code: t.Code, Level: t.Level, Object: object, Message: message, Hint: hint}
}

// Newf is New with a formatted message and no hint.
func (t Type) Newf(object, format string, args ...any) Finding {
	return t.New(object, fmt.Sprintf(format, args...), "")
}

// Finding is one problem: which catalog entry (Code, Level), what it is
// about (Object, e.g. "Service shop/cart" or "node pool default-pool"),
// what is wrong (Message) and, when known, the command that fixes it (Hint).
type Finding struct {
	Code    string `json:"code"`
	Level   Level  `json:"level"`
	Object  string `json:"object,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// String renders f as one line, like istioctl analyze:
// "Error [MC0131] (cluster x) message".
func (f Finding) String() string {
	level := strings.ToUpper(string(f.Level[:1])) + string(f.Level[1:])
	if f.Object == "" {
		return fmt.Sprintf("%s [%s] %s", level, f.Code, f.Message)
	}
	return fmt.Sprintf("%s [%s] (%s) %s", level, f.Code, f.Object, f.Message)
}

var catalog = map[string]Type{}

// define adds a type to the catalog; a code defined twice is a programming
// error caught by the package's tests at init.
func define(code string, level Level, title string) Type {
	if _, dup := catalog[code]; dup {
		panic("findings: code defined twice: " + code)
	}
	t := Type{Code: code, Level: level, Title: title}
	catalog[code] = t
	return t
}

// Lookup returns the catalog entry for code.
func Lookup(code string) (Type, bool) {
	t, ok := catalog[code]
	return t, ok
}

// Catalog returns every type, ordered by code.
func Catalog() []Type {
	out := make([]Type, 0, len(catalog))
	for _, t := range catalog {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// Summary counts findings by level.
type Summary struct {
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Infos    int `json:"infos"`
}

// Summarize counts fs by level.
func Summarize(fs []Finding) Summary {
	var s Summary
	for _, f := range fs {
		switch f.Level {
		case Error:
			s.Errors++
		case Warning:
			s.Warnings++
		case Info:
			s.Infos++
		}
	}
	return s
}

// String says "1 error, 2 warnings" (infos only when there are some).
func (s Summary) String() string {
	parts := []string{plural(s.Errors, "error"), plural(s.Warnings, "warning")}
	if s.Infos > 0 {
		parts = append(parts, plural(s.Infos, "note"))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// Fails reports whether any finding is at failOn or above: the command then
// exits with code 3 (failure.ExitProblems). An empty failOn means Error.
func Fails(fs []Finding, failOn Level) bool {
	if failOn == "" {
		failOn = Error
	}
	for _, f := range fs {
		if f.Level.AtLeast(failOn) {
			return true
		}
	}
	return false
}

// Sort orders findings most serious first, then by code and object, so that
// reports are stable from run to run.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Level.rank() != b.Level.rank() {
			return a.Level.rank() > b.Level.rank()
		}
		if a.Code != b.Code {
			return a.Code < b.Code
		}
		return a.Object < b.Object
	})
}
