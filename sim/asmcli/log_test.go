package asmcli

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestTimestampedLogAsTsWritesIt checks the stand-in's timestamped form
// against what `TZ=utc ts '%Y-%m-%dT%.T'` (moreutils 0.67) printed for
// asmcli's lines: the UTC time with microseconds, one space, the line; and
// logs.txt without it, as echo_log writes the file before the pipe to ts.
func TestTimestampedLogAsTsWritesIt(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	// 14:02:07.1234569 in UTC+1: ts prints UTC and truncates to microseconds.
	at := time.Date(2026, 11, 3, 15, 2, 7, 123456900, time.FixedZone("CET", 3600))
	l := &logger{stderr: &stderr, stamp: true, now: func() time.Time { return at }}
	if err := l.openFile(dir); err != nil {
		t.Fatal(err)
	}
	l.info("Setting up necessary files...")
	l.warn("The existing configuration in %s is from a different version.", "/tmp/out")
	l.close()
	want := "2026-11-03T14:02:07.123456 asmcli: Setting up necessary files...\n" +
		"2026-11-03T14:02:07.123456 asmcli: [WARNING]: The existing configuration in /tmp/out is from a different version.\n"
	if stderr.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), want)
	}
	file, err := os.ReadFile(filepath.Join(dir, "logs.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if wantFile := "asmcli: Setting up necessary files...\nasmcli: [WARNING]: The existing configuration in /tmp/out is from a different version.\n"; string(file) != wantFile {
		t.Errorf("logs.txt:\n%s\nwant:\n%s", file, wantFile)
	}
}
