package asmcli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// logger writes asmcli's log lines: to stderr with the `asmcli: ` prefix,
// and appended to OUTPUT_DIR/logs.txt once the output directory exists.
type logger struct {
	mu     sync.Mutex
	stderr io.Writer
	file   *os.File
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
