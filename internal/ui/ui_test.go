package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/meshctl/meshctl/internal/failure"
)

type sample struct {
	Name  string   `json:"name"`
	Ready bool     `json:"ready"`
	Tags  []string `json:"tags,omitempty"`
}

func (s sample) RenderText(w io.Writer, st Styles) error {
	mark := st.OK(MarkOK)
	if !s.Ready {
		mark = st.Error(MarkErr)
	}
	_, err := fmt.Fprintf(w, "%s %s\n", mark, s.Name)
	return err
}

type plain struct {
	Name string `json:"name"`
}

func TestPrinterFormats(t *testing.T) {
	v := sample{Name: "gw-<web>", Ready: true, Tags: []string{"a"}}
	tests := []struct {
		format Format
		value  any
		want   string
	}{
		{FormatText, v, "✓ gw-<web>\n"},
		{FormatJSON, v, "{\n  \"name\": \"gw-<web>\",\n  \"ready\": true,\n  \"tags\": [\n    \"a\"\n  ]\n}\n"},
		{FormatYAML, v, "name: gw-<web>\nready: true\ntags:\n- a\n"},
		// Results without a text renderer fall back to YAML.
		{FormatText, plain{Name: "x"}, "name: x\n"},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			var out bytes.Buffer
			p := &Printer{Format: tt.format, Out: &out, Styles: NewStyles(&out, false)}
			if err := p.Print(tt.value); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", out.String(), tt.want)
			}
		})
	}
}

func TestPrinterJSONAndYAMLRoundTrip(t *testing.T) {
	v := sample{Name: "a", Ready: false}
	for _, f := range []Format{FormatJSON, FormatYAML} {
		var out bytes.Buffer
		p := &Printer{Format: f, Out: &out}
		if err := p.Print(v); err != nil {
			t.Fatal(err)
		}
		var got sample
		var err error
		if f == FormatJSON {
			err = json.Unmarshal(out.Bytes(), &got)
		} else {
			err = yaml.Unmarshal(out.Bytes(), &got)
		}
		if err != nil || got.Name != v.Name || got.Ready != v.Ready {
			t.Errorf("%s: round trip got %+v, %v", f, got, err)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"text", "json", "yaml"} {
		if f, err := ParseFormat(s); err != nil || string(f) != s {
			t.Errorf("ParseFormat(%q) = %q, %v", s, f, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), "text, json, yaml") {
		t.Errorf("ParseFormat(xml) error = %v, want the valid formats listed", err)
	}
}

func TestColorEnabled(t *testing.T) {
	tests := []struct {
		tty, noColor bool
		term         string
		want         bool
	}{
		{tty: true, term: "xterm-256color", want: true},
		{tty: false, term: "xterm-256color", want: false},               // pipe or file
		{tty: true, noColor: true, term: "xterm-256color", want: false}, // NO_COLOR or --no-color
		{tty: true, term: "dumb", want: false},
	}
	for _, tt := range tests {
		if got := ColorEnabled(tt.tty, tt.noColor, tt.term); got != tt.want {
			t.Errorf("ColorEnabled(%v, %v, %q) = %v, want %v", tt.tty, tt.noColor, tt.term, got, tt.want)
		}
	}
}

func TestStylesColorOnlyWhenEnabled(t *testing.T) {
	var buf bytes.Buffer
	off := NewStyles(&buf, false)
	if got := off.OK("ok") + off.Warning("w") + off.Error("e") + off.Heading("h") + off.Faint("f"); got != "okwehf" {
		t.Errorf("styles without colour changed the text: %q", got)
	}
	on := NewStyles(&buf, true)
	if got := on.Error("e"); !strings.Contains(got, "\x1b[") || !strings.Contains(got, "e") {
		t.Errorf("styles with colour = %q, want an ANSI sequence", got)
	}
}

func TestWriteTableAligns(t *testing.T) {
	for _, color := range []bool{false, true} {
		var out bytes.Buffer
		s := NewStyles(&out, color)
		err := s.WriteTable(&out, Table{
			Headers: []string{"KEY", "VALUE", "SOURCE"},
			Rows: [][]string{
				{"project", s.OK("my-project"), "flag --project"},
				{"location", "", "default"},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		got := stripANSI(out.String())
		want := "KEY       VALUE       SOURCE\n" +
			"project   my-project  flag --project\n" +
			"location              default\n"
		if got != want {
			t.Errorf("color=%v: got:\n%q\nwant:\n%q", color, got, want)
		}
	}
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

func stripANSI(s string) string { return ansi.ReplaceAllString(s, "") }

func TestPrintError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"plain", errors.New("boom"), "Error: boom\n"},
		{"hint", fmt.Errorf("load kubeconfig: %w", failure.WithHint(errors.New("no file"), "run gcloud")), "Error: load kubeconfig: no file\nHint: run gcloud\n"},
		{"silent", failure.Problems(), ""},
		{"silent, wrapped", fmt.Errorf("check: %w", failure.Problems()), ""},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		PrintError(&out, NewStyles(&out, false), tt.err)
		if out.String() != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, out.String(), tt.want)
		}
	}
}

type manualClock struct{ t time.Time }

func (c *manualClock) now() time.Time          { return c.t }
func (c *manualClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestLineReporter(t *testing.T) {
	var out bytes.Buffer
	clock := &manualClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	r := &lineReporter{w: &out, s: NewStyles(&out, false), now: clock.now}
	st := r.Step("create backend service")
	clock.advance(2 * time.Second)
	st.Progressf("waiting for %s", "operation-1")
	clock.advance(1500 * time.Millisecond)
	st.Done()
	st.Fail(errors.New("ignored: a step finishes once"))
	r.Warnf("node pool %s is small", "default")
	r.Step("create url map").Fail(errors.New("quota"))
	r.Infof("done")
	want := `03:04:05 ▸ create backend service
03:04:07   create backend service: waiting for operation-1
03:04:08 ✓ create backend service (3.5s)
03:04:08 ! node pool default is small
03:04:08 ▸ create url map
03:04:08 ✗ create url map: quota
03:04:08 · done
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestTerminalReporter(t *testing.T) {
	var out lockedBuffer
	r := &terminalReporter{w: &out, s: NewStyles(&out, false), now: time.Now}
	a := r.Step("install")
	b := r.Step("wait for istiod")
	a.Progressf("asmcli: validating\nsecond line")
	r.Infof("revision asm-1")
	b.Done()
	a.Fail(errors.New("exit 1"))
	CloseReporter(r)
	got := out.String()
	for _, want := range []string{
		clearLine + "⠋ install (+1 more)",
		clearLine + "⠋ install: asmcli: validating (+1 more)",
		clearLine + "· revision asm-1\n",
		clearLine + "✓ wait for istiod\n",
		clearLine + "✗ install: exit 1\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%q", want, got)
		}
	}
	if strings.Contains(got, "second line") {
		t.Errorf("spinner showed more than the first progress line: %q", got)
	}
	if r.stop != nil {
		t.Error("spinner still running after every step finished")
	}
}

func TestNewReporterChoosesByTTY(t *testing.T) {
	var out bytes.Buffer
	if _, ok := NewReporter(&out, true, Styles{}).(*terminalReporter); !ok {
		t.Error("tty: want the spinner reporter")
	}
	if _, ok := NewReporter(&out, false, Styles{}).(*lineReporter); !ok {
		t.Error("not a tty: want timestamped lines")
	}
}

func TestRecorder(t *testing.T) {
	var r Recorder
	var rep Reporter = &r
	s := rep.Step("a")
	s.Progressf("p%d", 1)
	s.Done()
	rep.Step("b").Fail(errors.New("boom"))
	rep.Infof("i")
	rep.Warnf("w")
	want := []string{"step a", "progress a: p1", "done a", "step b", "fail b: boom", "info i", "warn w"}
	if got := r.Lines(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Lines() = %q, want %q", got, want)
	}
}

type lockedBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func (b *lockedBuffer) lock() {
	if b.mu == nil {
		b.mu = make(chan struct{}, 1)
	}
	b.mu <- struct{}{}
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.lock()
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.lock()
	defer func() { <-b.mu }()
	return b.buf.String()
}
