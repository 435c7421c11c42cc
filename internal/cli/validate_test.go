package cli

import (
	"strings"
	"testing"
)

func TestValidateFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad --fail-on", []string{"validate", "--fail-on", "fatal"}, "error, warning or info"},
		{"negative --cert-warn-days", []string{"validate", "--cert-warn-days", "-1"}, "--cert-warn-days must not be negative"},
		{"arguments", []string{"validate", "shop"}, "unknown command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newHarness(t).run(t, tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
			}
		})
	}
}
