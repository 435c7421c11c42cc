// Package cmdtest runs one meshctl command in a test: its NewCmdX with a
// runF that captures the options (parsing tests), or its run with a
// Factory whose settings and streams the test gives (behaviour tests). Only
// tests import it.
package cmdtest

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"cloud.google.com/go/auth"
	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/config"
	"github.com/meshctl/meshctl/internal/ui"
)

// Streams are a test's stdout and stderr.
type Streams struct {
	Out, Err bytes.Buffer
}

// Factory returns a Factory configured with s (nil: no settings at all)
// that writes to buffers, looks up env instead of the process environment,
// and never looks for real Google credentials.
func Factory(s *config.Settings, env map[string]string) (*factory.Factory, *Streams) {
	st := &Streams{}
	f := factory.New(factory.Env{
		Streams:   ui.Streams{In: strings.NewReader(""), Out: &st.Out, ErrOut: &st.Err},
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	f.DetectCredentials = func() (*auth.Credentials, error) { return nil, errors.New("tests never look up real credentials") }
	if s == nil {
		s = &config.Settings{}
	}
	f.Configure(s)
	return f, st
}

// Capture returns a runF that keeps the options it is given in *got
// instead of running the command.
func Capture[T any](got **T) func(*T) error {
	return func(o *T) error {
		*got = o
		return nil
	}
}

// Execute parses args with cmd, alone (no root command: no global flags),
// and returns the error its flags, arguments, validation or runF gave.
func Execute(cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	_, err := cmd.ExecuteC()
	return err
}
