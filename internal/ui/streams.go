package ui

import (
	"io"
	"os"

	"golang.org/x/term"
)

// Streams are the standard streams of one meshctl run. Data (results) goes to
// Out; messages to people (progress, warnings, errors) go to ErrOut.
type Streams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// OutTTY and ErrTTY say whether Out and ErrOut are terminals; they decide
	// colour (Out) and spinners versus timestamped lines (ErrOut).
	OutTTY bool
	ErrTTY bool
}

// SystemStreams returns the process's standard streams.
func SystemStreams() Streams {
	return Streams{
		In:     os.Stdin,
		Out:    os.Stdout,
		ErrOut: os.Stderr,
		OutTTY: IsTerminal(os.Stdout),
		ErrTTY: IsTerminal(os.Stderr),
	}
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// ColorEnabled is the one rule for colour: only on a terminal, only when the
// user has not opted out (NO_COLOR or --no-color, resolved into noColor by
// the settings), and not on a terminal that declares it cannot (TERM=dumb).
func ColorEnabled(tty, noColor bool, term string) bool {
	return tty && !noColor && term != "dumb"
}
