package failure

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, ExitOK},
		{"plain", errors.New("boom"), ExitFailure},
		{"usage", Usagef("bad flag"), ExitUsage},
		{"wrapped usage", fmt.Errorf("parse: %w", Usagef("bad")), ExitUsage},
		{"problems", Problems(), ExitProblems},
		{"interrupted", fmt.Errorf("wait: %w", context.Canceled), ExitInterrupted},
		{"hint keeps code", WithHint(Usagef("x"), "do y"), ExitUsage},
		{"hint on plain", WithHint(errors.New("x"), "do y"), ExitFailure},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("%s: ExitCode = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestHintOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"plain", errors.New("boom"), ""},
		{"wrapped", fmt.Errorf("load kubeconfig: %w", WithHint(errors.New("no file"), "run gcloud")), "run gcloud"},
		// The outer hint wins; an empty one lets the inner show.
		{"outer", WithHint(WithHint(errors.New("x"), "inner"), "outer"), "outer"},
		{"usage without its own", Usage(WithHint(errors.New("x"), "inner"), ""), "inner"},
	}
	for _, tt := range tests {
		if got := HintOf(tt.err); got != tt.want {
			t.Errorf("%s: HintOf = %q, want %q", tt.name, got, tt.want)
		}
	}
	if !Silent(fmt.Errorf("check: %w", Problems())) || Silent(Usagef("x")) || Silent(errors.New("x")) {
		t.Error("Silent: only a chain holding an Error without Err prints nothing")
	}
}
