package asmcli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// TimestampEnv set to 1 makes the stand-in log as asmcli does when
// moreutils' ts is installed (a test knob: the stand-in never looks for ts
// itself, so a run does not depend on what the machine has installed).
const TimestampEnv = "MESHSIM_ASMCLI_TS"

// tsLayout is what `TZ=utc ts '%Y-%m-%dT%.T'` prints: the UTC time with
// microseconds (ts truncates, as Go's layout does).
const tsLayout = "2006-01-02T15:04:05.000000"

// logger writes asmcli's log lines: to stderr with the `asmcli: ` prefix,
// and appended to OUTPUT_DIR/logs.txt once the output directory exists.
type logger struct {
	mu     sync.Mutex
	stderr io.Writer
	file   *os.File
	// stamp is lib/log.sh's info() with --verbose and ts installed: each
	// line on stderr goes through `TZ=utc ts '%Y-%m-%dT%.T'`, which puts
	// the time and a space before it. logs.txt gets the line without it
	// (echo_log appends before the pipe to ts).
	stamp bool
	now   func() time.Time
}

func (l *logger) openFile(outputDir string) error {
	f, err := os.OpenFile(filepath.Join(outputDir, "logs.txt"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	l.file = f
	return nil
}

func (l *logger) close() {
	if l.file != nil {
		l.file.Close()
	}
}

func (l *logger) line(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stamp {
		now := time.Now
		if l.now != nil {
			now = l.now
		}
		fmt.Fprint(l.stderr, now().UTC().Format(tsLayout)+" ")
	}
	fmt.Fprintln(l.stderr, "asmcli: "+s)
	if l.file != nil {
		fmt.Fprintln(l.file, "asmcli: "+s)
	}
}

func (l *logger) info(format string, a ...any)  { l.line(fmt.Sprintf(format, a...)) }
func (l *logger) warn(format string, a ...any)  { l.line("[WARNING]: " + fmt.Sprintf(format, a...)) }
func (l *logger) error(format string, a ...any) { l.line("[ERROR]: " + fmt.Sprintf(format, a...)) }

// raw writes lines without the prefix (istioctl's output in the outro).
func (l *logger) raw(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprint(l.stderr, s)
	if l.file != nil {
		fmt.Fprint(l.file, s)
	}
}
