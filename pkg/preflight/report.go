package preflight

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
)

// Report is what a plan needs and what the check found: every permission
// with its status, what to grant for the missing ones, and why a check
// could not run.
type Report struct {
	Permissions []Permission `json:"permissions"`
	// Missing counts the permissions found missing.
	Missing int `json:"missing"`
	// Grants say, per project (and for the cluster), what to grant for the
	// missing permissions.
	Grants   []Grant  `json:"grants,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// Grant is what to grant in one project (or, Project empty, in the
// cluster) for the missing permissions: the smallest predefined roles and
// the commands that grant them.
type Grant struct {
	Project string `json:"project,omitempty"`
	Roles   []Role `json:"roles,omitempty"`
	// Ungranted are missing permissions no role meshctl knows grants.
	Ungranted []string `json:"ungranted,omitempty"`
	Commands  []string `json:"commands"`
}

// Principal stands for the account meshctl runs as in the commands a
// report suggests.
const Principal = "PRINCIPAL"

func (r *Report) finish() {
	r.Missing, r.Grants = 0, nil
	byProject := map[string][]string{}
	var projects []string
	var kube []KubeAccess
	for _, p := range r.Permissions {
		if p.Status != Missing {
			continue
		}
		r.Missing++
		if p.Kubernetes != nil {
			kube = append(kube, *p.Kubernetes)
			continue
		}
		if byProject[p.Project] == nil {
			projects = append(projects, p.Project)
		}
		byProject[p.Project] = append(byProject[p.Project], p.Permission)
	}
	slices.Sort(projects)
	for _, project := range projects {
		roles, ungranted := SmallestRoles(byProject[project])
		g := Grant{Project: project, Roles: roles, Ungranted: ungranted}
		for _, role := range roles {
			g.Commands = append(g.Commands, fmt.Sprintf("gcloud projects add-iam-policy-binding %s --member=%s --role=%s", project, Principal, role.Name))
		}
		if len(ungranted) > 0 {
			g.Commands = append(g.Commands, fmt.Sprintf("gcloud iam roles create meshctl --project %s --permissions %s && gcloud projects add-iam-policy-binding %s --member=%s --role=projects/%s/roles/meshctl",
				project, strings.Join(ungranted, ","), project, Principal, project))
		}
		r.Grants = append(r.Grants, g)
	}
	if len(kube) > 0 {
		r.Grants = append(r.Grants, Grant{Commands: kubeGrants(kube)})
	}
}

// kubeGrants are the kubectl commands granting the missing Kubernetes
// permissions: a Role per namespace (a ClusterRole for cluster-scoped
// resources) with exactly those verbs and resources, bound to the caller.
func kubeGrants(missing []KubeAccess) []string {
	type rule struct{ verbs, resources []string }
	type scope struct{ cluster, namespace string }
	rules := map[scope]*rule{}
	var order []scope
	for _, k := range missing {
		at := scope{k.Cluster, k.Namespace}
		if rules[at] == nil {
			rules[at] = &rule{}
			order = append(order, at)
		}
		r := rules[at]
		if !slices.Contains(r.verbs, k.Verb) {
			r.verbs = append(r.verbs, k.Verb)
		}
		if gr := k.GroupResource(); !slices.Contains(r.resources, gr) {
			r.resources = append(r.resources, gr)
		}
	}
	slices.SortFunc(order, func(a, b scope) int {
		return cmp.Or(cmp.Compare(a.cluster, b.cluster), cmp.Compare(a.namespace, b.namespace))
	})
	var out []string
	for _, at := range order {
		r := rules[at]
		slices.Sort(r.verbs)
		slices.Sort(r.resources)
		verbs, resources := strings.Join(r.verbs, ","), strings.Join(r.resources, ",")
		kubectl := "kubectl"
		if at.cluster != "" {
			kubectl += " --context " + at.cluster
		}
		if at.namespace == "" {
			out = append(out, fmt.Sprintf("%[1]s create clusterrole meshctl --verb=%[2]s --resource=%[3]s && %[1]s create clusterrolebinding meshctl --clusterrole=meshctl --user=%[4]s", kubectl, verbs, resources, Principal))
			continue
		}
		out = append(out, fmt.Sprintf("%[1]s create role meshctl -n %[2]s --verb=%[3]s --resource=%[4]s && %[1]s create rolebinding meshctl -n %[2]s --role=meshctl --user=%[5]s", kubectl, at.namespace, verbs, resources, Principal))
	}
	return out
}

// Checked reports whether any permission was checked.
func (r *Report) Checked() bool {
	return r != nil && slices.ContainsFunc(r.Permissions, func(p Permission) bool { return p.Status != Unchecked })
}

// Err is the error that stops a run when permissions are missing: each
// missing permission with where and what needs it, and, as the hint, the
// roles to grant and how. Nil when nothing is missing (or r is nil).
func (r *Report) Err() error {
	if r == nil || r.Missing == 0 {
		return nil
	}
	var lines []string
	for _, p := range r.Permissions {
		if p.Status == Missing {
			lines = append(lines, fmt.Sprintf("%s in %s, to %s", p.Name(), p.Where(), strings.Join(p.Steps, "; ")))
		}
	}
	noun := "permission"
	if r.Missing > 1 {
		noun = "permissions"
	}
	err := &MissingError{Report: r, msg: fmt.Sprintf("the caller lacks %d %s this plan needs; nothing was changed:\n  %s", r.Missing, noun, strings.Join(lines, "\n  "))}
	return failure.WithHint(err, r.hint())
}

// MissingError is the refusal of a run for missing permissions.
type MissingError struct {
	Report *Report
	msg    string
}

func (e *MissingError) Error() string { return e.msg }

func (r *Report) hint() string {
	var parts []string
	for _, g := range r.Grants {
		what := "in the cluster"
		if g.Project != "" {
			what = "in project " + g.Project
			if len(g.Roles) > 0 {
				what = fmt.Sprintf("grant %s %s", RoleTitles(g.Roles), what)
			} else {
				what = "grant a custom role " + what
			}
		} else {
			what = "grant the Kubernetes permissions " + what
		}
		parts = append(parts, what+":\n    "+strings.Join(g.Commands, "\n    "))
	}
	if h := r.handovers(); len(h) > 0 {
		parts = append(parts, "or have someone who holds them (e.g. the Shared VPC's network administrator) make those changes, as meshctl would, and run again:\n    "+strings.Join(h, "\n    "))
	}
	parts = append(parts, "(PRINCIPAL is the account meshctl runs as, e.g. user:you@example.com or serviceAccount:ci@PROJECT.iam.gserviceaccount.com); then run again, or skip this check with --skip-permission-check")
	return strings.Join(parts, "\n")
}

// handovers are the commands that make the steps the missing
// permissions are needed for, in the order of the report.
func (r *Report) handovers() []string {
	var out []string
	for _, p := range r.Permissions {
		if p.Status != Missing {
			continue
		}
		for _, h := range p.Handovers {
			if !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out
}

// RenderDryRun shows a dry run's report after a blank line; a run that
// changed things has passed the check, and shows nothing.
func (r *Report) RenderDryRun(w io.Writer, s ui.Styles, dryRun bool) error {
	if !dryRun || r == nil || len(r.Permissions) == 0 {
		return nil
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return err
	}
	return r.RenderText(w, s)
}

// RenderText shows the report for a person: a table of the permissions
// with their status, then what to grant.
func (r *Report) RenderText(w io.Writer, s ui.Styles) error {
	if r == nil || len(r.Permissions) == 0 {
		return nil
	}
	title := fmt.Sprintf("Permissions this plan needs (%d", len(r.Permissions))
	switch {
	case r.Missing > 0:
		title += fmt.Sprintf(", %d missing)", r.Missing)
	case r.Checked():
		title += ", all held)"
	default:
		title += ", not checked)"
	}
	if _, err := fmt.Fprintln(w, s.Heading(title)); err != nil {
		return err
	}
	t := ui.Table{Headers: []string{"STATUS", "PERMISSION", "WHERE", "NEEDED TO"}}
	for _, p := range r.Permissions {
		t.Rows = append(t.Rows, []string{string(p.Status), p.Name(), p.Where(), describeSteps(p.Steps)})
	}
	if err := s.WriteTable(w, t); err != nil {
		return err
	}
	for _, g := range r.Grants {
		for _, c := range g.Commands {
			if _, err := fmt.Fprintf(w, "%s %s\n", s.Faint("grant:"), c); err != nil {
				return err
			}
		}
	}
	for _, warning := range r.Warnings {
		if _, err := fmt.Fprintf(w, "%s %s\n", s.Warning("!"), warning); err != nil {
			return err
		}
	}
	return nil
}

// describeSteps shows the first two steps, then how many more.
func describeSteps(steps []string) string {
	if len(steps) > 2 {
		return fmt.Sprintf("%s and %d more", strings.Join(steps[:2], "; "), len(steps)-2)
	}
	return strings.Join(steps, "; ")
}
