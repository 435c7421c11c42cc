package ui

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Reporter shows the progress of a long operation to a person, on stderr.
// Capability packages receive one and never print directly. Implementations
// are safe for concurrent use: independent steps may run at the same time.
type Reporter interface {
	// Step starts a named step; finish it with Done or Fail.
	Step(name string) Step
	// Infof reports a fact worth a line of its own.
	Infof(format string, args ...any)
	// Warnf reports something the user should look at; it does not fail the
	// command.
	Warnf(format string, args ...any)
}

// Step is one running step of a Reporter.
type Step interface {
	// Progressf reports what the step is doing now (e.g. a line of asmcli's
	// log, or "waiting for operation-123").
	Progressf(format string, args ...any)
	// Done marks the step successful.
	Done()
	// Fail marks the step failed with err.
	Fail(err error)
}

// NewReporter returns a reporter writing to w: a spinner line redrawn in
// place when tty is true, plain timestamped lines otherwise (logs, CI).
func NewReporter(w io.Writer, tty bool, s Styles) Reporter {
	if tty {
		return &terminalReporter{w: w, s: s, now: time.Now}
	}
	return &lineReporter{w: w, s: s, now: time.Now}
}

// CloseReporter stops r's background drawing, if it has any. Commands do not
// call it; the root command does once the command returns.
func CloseReporter(r Reporter) {
	if c, ok := r.(interface{ close() }); ok {
		c.close()
	}
}

// Discard is a Reporter that shows nothing.
var Discard Reporter = discard{}

type discard struct{}

func (discard) Step(string) Step         { return discard{} }
func (discard) Infof(string, ...any)     {}
func (discard) Warnf(string, ...any)     {}
func (discard) Progressf(string, ...any) {}
func (discard) Done()                    {}
func (discard) Fail(error)               {}

// lineReporter writes one timestamped line per event.
type lineReporter struct {
	mu  sync.Mutex
	w   io.Writer
	s   Styles
	now func() time.Time
}

func (r *lineReporter) line(mark, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.w, "%s %s %s\n", r.s.Faint(r.now().Format("15:04:05")), mark, text)
}

func (r *lineReporter) Step(name string) Step {
	r.line("▸", name)
	return &lineStep{r: r, name: name, start: r.now()}
}

func (r *lineReporter) Infof(format string, args ...any) {
	r.line(MarkInfo, fmt.Sprintf(format, args...))
}

func (r *lineReporter) Warnf(format string, args ...any) {
	r.line(r.s.Warning(MarkWarn), r.s.Warning(fmt.Sprintf(format, args...)))
}

type lineStep struct {
	r     *lineReporter
	name  string
	start time.Time
	once  sync.Once
}

func (st *lineStep) Progressf(format string, args ...any) {
	st.r.line(" ", st.name+": "+fmt.Sprintf(format, args...))
}

func (st *lineStep) Done() {
	st.once.Do(func() {
		st.r.line(st.r.s.OK(MarkOK), st.name+st.r.s.Faint(elapsed(st.r.now().Sub(st.start))))
	})
}

func (st *lineStep) Fail(err error) {
	st.once.Do(func() {
		st.r.line(st.r.s.Error(MarkErr), fmt.Sprintf("%s: %v%s", st.name, err, st.r.s.Faint(elapsed(st.r.now().Sub(st.start)))))
	})
}

func elapsed(d time.Duration) string {
	if d < 100*time.Millisecond {
		return ""
	}
	return fmt.Sprintf(" (%s)", d.Round(100*time.Millisecond))
}

// terminalReporter keeps one spinner line at the bottom for the running
// steps and prints finished steps, warnings and notes above it.
type terminalReporter struct {
	mu     sync.Mutex
	w      io.Writer
	s      Styles
	now    func() time.Time
	active []*terminalStep
	frame  int
	stop   chan struct{} // non-nil while the spinner goroutine runs
}

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

const clearLine = "\r\x1b[2K"

type terminalStep struct {
	r        *terminalReporter
	name     string
	progress string
	start    time.Time
	finished bool
}

func (r *terminalReporter) Step(name string) Step {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := &terminalStep{r: r, name: name, start: r.now()}
	r.active = append(r.active, st)
	if r.stop == nil {
		r.stop = make(chan struct{})
		go r.spin(r.stop)
	}
	r.draw()
	return st
}

func (r *terminalReporter) spin(stop chan struct{}) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			r.mu.Lock()
			r.frame++
			r.draw()
			r.mu.Unlock()
		}
	}
}

// draw redraws the spinner line; the caller holds mu.
func (r *terminalReporter) draw() {
	if len(r.active) == 0 {
		fmt.Fprint(r.w, clearLine)
		return
	}
	st := r.active[0]
	text := st.name
	if st.progress != "" {
		text += ": " + st.progress
	}
	if n := len(r.active) - 1; n > 0 {
		text += fmt.Sprintf(" (+%d more)", n)
	}
	text += r.s.Faint(fmt.Sprintf(" %s", r.now().Sub(st.start).Round(time.Second)))
	fmt.Fprintf(r.w, "%s%s %s", clearLine, spinnerFrames[r.frame%len(spinnerFrames)], text)
}

// printLine prints a permanent line above the spinner; the caller holds mu.
func (r *terminalReporter) printLine(mark, text string) {
	fmt.Fprintf(r.w, "%s%s %s\n", clearLine, mark, text)
	if len(r.active) > 0 {
		r.draw()
	}
}

func (r *terminalReporter) Infof(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.printLine(MarkInfo, fmt.Sprintf(format, args...))
}

func (r *terminalReporter) Warnf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.printLine(r.s.Warning(MarkWarn), r.s.Warning(fmt.Sprintf(format, args...)))
}

func (r *terminalReporter) finish(st *terminalStep, mark, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st.finished {
		return
	}
	st.finished = true
	for i, a := range r.active {
		if a == st {
			r.active = append(r.active[:i], r.active[i+1:]...)
			break
		}
	}
	r.printLine(mark, text)
	if len(r.active) == 0 && r.stop != nil {
		close(r.stop)
		r.stop = nil
	}
}

func (r *terminalReporter) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stop != nil {
		close(r.stop)
		r.stop = nil
		fmt.Fprint(r.w, clearLine)
	}
}

func (st *terminalStep) Progressf(format string, args ...any) {
	st.r.mu.Lock()
	defer st.r.mu.Unlock()
	// Only the latest line matters on a terminal, and only its first line.
	st.progress, _, _ = strings.Cut(fmt.Sprintf(format, args...), "\n")
	st.r.draw()
}

func (st *terminalStep) Done() {
	st.r.finish(st, st.r.s.OK(MarkOK), st.name+st.r.s.Faint(elapsed(st.r.now().Sub(st.start))))
}

func (st *terminalStep) Fail(err error) {
	st.r.finish(st, st.r.s.Error(MarkErr), fmt.Sprintf("%s: %v%s", st.name, err, st.r.s.Faint(elapsed(st.r.now().Sub(st.start)))))
}

// Event kinds recorded by Recorder.
const (
	EventStep     = "step"
	EventProgress = "progress"
	EventDone     = "done"
	EventFail     = "fail"
	EventInfo     = "info"
	EventWarn     = "warn"
)

// Event is one thing a Recorder was told.
type Event struct {
	Kind    string
	Step    string // the step's name, for step events
	Message string // the text, or the error for EventFail
}

func (e Event) String() string {
	switch {
	case e.Step != "" && e.Message != "":
		return e.Kind + " " + e.Step + ": " + e.Message
	case e.Step != "":
		return e.Kind + " " + e.Step
	default:
		return e.Kind + " " + e.Message
	}
}

// Recorder is a Reporter for tests: it keeps every event in order.
type Recorder struct {
	mu     sync.Mutex
	events []Event
}

// Events returns a copy of the events so far.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// Lines returns the events as strings such as "step create x",
// "fail create x: boom" or "warn low memory", for compact assertions.
func (r *Recorder) Lines() []string {
	var out []string
	for _, e := range r.Events() {
		out = append(out, e.String())
	}
	return out
}

func (r *Recorder) add(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// Step records the start of a step.
func (r *Recorder) Step(name string) Step {
	r.add(Event{Kind: EventStep, Step: name})
	return &recordedStep{r: r, name: name}
}

// Infof records a note.
func (r *Recorder) Infof(format string, args ...any) {
	r.add(Event{Kind: EventInfo, Message: fmt.Sprintf(format, args...)})
}

// Warnf records a warning.
func (r *Recorder) Warnf(format string, args ...any) {
	r.add(Event{Kind: EventWarn, Message: fmt.Sprintf(format, args...)})
}

type recordedStep struct {
	r    *Recorder
	name string
}

func (s *recordedStep) Progressf(format string, args ...any) {
	s.r.add(Event{Kind: EventProgress, Step: s.name, Message: fmt.Sprintf(format, args...)})
}

func (s *recordedStep) Done() { s.r.add(Event{Kind: EventDone, Step: s.name}) }

func (s *recordedStep) Fail(err error) {
	s.r.add(Event{Kind: EventFail, Step: s.name, Message: fmt.Sprint(err)})
}
