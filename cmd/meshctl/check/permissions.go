package check

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/pkg/check"
	"github.com/meshctl/meshctl/pkg/expose"
	"github.com/meshctl/meshctl/pkg/gatewayapi"
	"github.com/meshctl/meshctl/pkg/inject"
	"github.com/meshctl/meshctl/pkg/install/managed"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/multicluster"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
	"github.com/meshctl/meshctl/pkg/vm"
)

// declaredCommands are the commands `check --permissions --for` knows,
// each with the superset of changes it can make in project, its firewall
// rules in netProject (the project of the cluster's network: a Shared
// VPC's host project, else project): what the capabilities declare, so a
// new command adds a line here.
var declaredCommands = []struct {
	name    string
	changes func(project, netProject string) []plan.Change
}{
	{"expose", func(p, net string) []plan.Change {
		return append(expose.DeclaredChanges(), lb.DeclaredChanges(p, net)...)
	}},
	{"unexpose", func(p, net string) []plan.Change {
		return deletions(append(expose.DeclaredChanges(), lb.DeclaredChanges(p, net)...))
	}},
	{"expose-gateway-api", func(p, _ string) []plan.Change { return gatewayapi.DeclaredChanges(p) }},
	{"unexpose-gateway-api", func(p, _ string) []plan.Change { return onlyDeletions(gatewayapi.DeclaredChanges(p)) }},
	{"inject", func(string, string) []plan.Change { return inject.DeclaredChanges() }},
	{"check-fix", func(_, net string) []plan.Change { return check.DeclaredFixChanges(net) }},
	{"install-managed", func(p, _ string) []plan.Change { return managed.DeclaredChanges(p, p) }},
	{"mesh-connect", multicluster.DeclaredChanges},
	{"vm", vm.DeclaredChanges},
}

// deletions are the deletes among changes, and the updates a teardown
// makes (a shared URL map losing a service).
func deletions(changes []plan.Change) []plan.Change {
	var out []plan.Change
	for _, c := range changes {
		if c.Action == plan.Delete || c.Action == plan.Update && strings.HasPrefix(c.Resource, "//") {
			out = append(out, c)
		}
	}
	return out
}

// onlyDeletions are the deletes among changes: a GKE Gateway's teardown
// updates nothing of Google's.
func onlyDeletions(changes []plan.Change) []plan.Change {
	var out []plan.Change
	for _, c := range changes {
		if c.Action == plan.Delete {
			out = append(out, c)
		}
	}
	return out
}

func declaredNames() []string {
	var out []string
	for _, d := range declaredCommands {
		out = append(out, d.name)
	}
	return out
}

// declared are the chosen commands' changes (all when none is chosen).
func declared(project, netProject string, chosen []string) ([]preflight.Declared, error) {
	for _, c := range chosen {
		if !slices.Contains(declaredNames(), c) {
			return nil, failure.Usagef("--for %s: not a command meshctl can check; choose from %s", c, strings.Join(declaredNames(), ", "))
		}
	}
	var out []preflight.Declared
	for _, d := range declaredCommands {
		if len(chosen) == 0 || slices.Contains(chosen, d.name) {
			out = append(out, preflight.Declared{Command: d.name, Changes: d.changes(project, netProject)})
		}
	}
	return out, nil
}

// runPermissions is `check --permissions`: the permissions the chosen
// commands can need, checked for the caller, without a plan. Exit code 3
// when any is missing.
func runPermissions(ctx context.Context, opts *CheckOptions) error {
	if opts.Check.Project == "" {
		return failure.Usagef("--permissions needs the project: set --project (or MESHCTL_PROJECT)")
	}
	netProject := opts.Check.Project
	if opts.NetworkProject != nil {
		// The firewall rules go where the cluster's network is: on a
		// Shared VPC, the host project. Without the cluster they are
		// checked in the project, and the report says where.
		p, err := opts.NetworkProject(ctx)
		switch {
		case err != nil:
			opts.Reporter.Warnf("cannot read cluster %s to find the project of its network (%v): firewall permissions are checked in project %s; on a Shared VPC they are needed in the host project", opts.Check.Cluster, err, netProject)
		case p != "":
			netProject = p
		}
	}
	commands, err := declared(opts.Check.Project, netProject, opts.PermissionsFor)
	if err != nil {
		return err
	}
	opts.SkipPermissionCheck = false
	res := opts.Preflight(ctx).CheckCommands(ctx, commands)
	if err := opts.Printer.Print(res); err != nil {
		return err
	}
	if res.Missing > 0 {
		return failure.Problems()
	}
	return nil
}

// permissionsUsage is the --for flag's help.
func permissionsUsage() string {
	return fmt.Sprintf("with --permissions, the commands to check (default all): %s", strings.Join(declaredNames(), ", "))
}
