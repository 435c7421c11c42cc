package preflight

import (
	"context"
	"fmt"
	"io"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/plan"
)

// Declared is a command's superset of changes, for checking a principal
// before any plan exists (`meshctl check --permissions`): what the command
// can change, named with "ANY" where a plan would name an object.
type Declared struct {
	Command string
	Changes []plan.Change
}

// CommandsReport is, per command, what its declared changes need and
// what the check found.
type CommandsReport struct {
	Commands []CommandReport `json:"commands"`
	// Missing counts the distinct permissions missing over all commands.
	Missing  int      `json:"missing"`
	Warnings []string `json:"warnings,omitempty"`
}

// CommandReport is one command's part of a CommandsReport.
type CommandReport struct {
	Command string `json:"command"`
	*Report
}

// CheckCommands checks every command's declared changes with one check of
// their union (one round trip per project), then reports each command's
// share.
func (c *Checker) CheckCommands(ctx context.Context, commands []Declared) *CommandsReport {
	var all []plan.Change
	for _, d := range commands {
		all = append(all, d.Changes...)
	}
	union := c.Check(ctx, all)
	status := map[string]Status{}
	for _, p := range union.Permissions {
		status[permissionKey(p)] = p.Status
	}
	out := &CommandsReport{Missing: union.Missing, Warnings: union.Warnings}
	for _, d := range commands {
		r := &Report{Permissions: Required(d.Changes)}
		for i, p := range r.Permissions {
			r.Permissions[i].Status = status[permissionKey(p)]
		}
		r.finish()
		out.Commands = append(out.Commands, CommandReport{Command: d.Command, Report: r})
	}
	return out
}

func permissionKey(p Permission) string {
	if p.Kubernetes != nil {
		return p.Kubernetes.key()
	}
	return "g/" + p.Project + "/" + p.Permission
}

// RenderText shows each command's permissions, then the warnings once.
func (r *CommandsReport) RenderText(w io.Writer, s ui.Styles) error {
	for _, c := range r.Commands {
		if _, err := fmt.Fprintf(w, "%s\n", s.Heading("meshctl "+c.Command)); err != nil {
			return err
		}
		rep := *c.Report
		rep.Warnings = nil
		if err := rep.RenderText(w, s); err != nil {
			return err
		}
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
	}
	for _, warning := range r.Warnings {
		if _, err := fmt.Fprintf(w, "%s %s\n", s.Warning("!"), warning); err != nil {
			return err
		}
	}
	return nil
}
