// Package failure is how a meshctl command fails: what went wrong, what to
// do about it (a hint), and the process exit code. Errors are built with
// WithHint, Usage and Problems anywhere in meshctl and wrapped freely with
// fmt.Errorf("...: %w", err); the root command prints the result once (ui.
// PrintError) and exits with ExitCode.
//
// The package is named for the whole job, not only the exit codes: the hint
// and the code travel together in one Error.
package failure

import (
	"context"
	"errors"
	"fmt"
)

// Exit codes. They are part of meshctl's interface: scripts and CI rely on
// them, and docs/configuration.md documents them.
const (
	ExitOK          = 0   // success
	ExitFailure     = 1   // the command failed
	ExitUsage       = 2   // bad flags, arguments or settings
	ExitProblems    = 3   // the command ran and found problems (check, validate)
	ExitInterrupted = 130 // interrupted by Ctrl-C or SIGTERM (128 + SIGINT)
)

// Error is an error meant for the person running meshctl: what failed (Err),
// what to do about it (Hint) and the process exit code (Code). Return it, or
// wrap it with fmt.Errorf("...: %w", err); main prints it once to stderr and
// exits with its code.
//
// An Error with a nil Err prints nothing: use it to set the exit code when
// the result already told the story (e.g. check found problems, code 3).
type Error struct {
	Err  error
	Hint string
	Code int
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Silent reports whether err only sets the exit code (Problems) and has
// nothing to print.
func Silent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Err == nil
}

// WithHint returns err with a hint line for the user; the exit code is the
// one err already carries, or ExitFailure.
func WithHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &Error{Err: err, Hint: hint, Code: ExitCode(err)}
}

// Usage marks err as a usage error (exit code 2): bad flags, arguments or
// settings that the user must correct before anything can run.
func Usage(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &Error{Err: err, Hint: hint, Code: ExitUsage}
}

// Usagef is Usage(fmt.Errorf(format, args...), "").
func Usagef(format string, args ...any) error {
	return &Error{Err: fmt.Errorf(format, args...), Code: ExitUsage}
}

// Problems returns the error a command returns after printing a result that
// contains problems: it prints nothing and exits with ExitProblems.
func Problems() error {
	return &Error{Code: ExitProblems}
}

// ExitCode maps an error to the process exit code: nil is 0, an *Error in the
// chain gives its Code, a cancelled context (Ctrl-C) is 130, anything else 1.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *Error
	if errors.As(err, &e) && e.Code != 0 {
		return e.Code
	}
	if errors.Is(err, context.Canceled) {
		return ExitInterrupted
	}
	return ExitFailure
}

// HintOf returns the first hint in err's chain, or "".
func HintOf(err error) string {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return ""
		}
		if e.Hint != "" {
			return e.Hint
		}
		err = e.Err
	}
	return ""
}
