package multicluster

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/check"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/gkecluster"
)

// CheckOptions are `meshctl check` over several clusters.
type CheckOptions struct {
	Clusters []Ref
	// Check applies to each cluster (its Project, Location, Cluster and
	// KubeContext are each cluster's).
	Check check.Options
	// ClientsFor builds one cluster's check clients.
	ClientsFor func(ctx context.Context, r Ref) (check.Clients, error)
}

// CheckReport is one report over the clusters: a section per cluster, then
// what is about them together.
type CheckReport struct {
	Clusters []*check.Result    `json:"clusters"`
	Across   []findings.Finding `json:"across"`
	Summary  findings.Summary   `json:"summary"`
	FailOn   findings.Level     `json:"failOn"`
	Ready    bool               `json:"ready"`
}

// HasProblems reports whether the command must exit with code 3.
func (r *CheckReport) HasProblems() bool { return !r.Ready }

// acrossCodes are the cross-cluster checks that apply before the mesh is
// installed, or whatever is installed.
var notBeforeInstall = []string{findings.NoControlPlane.Code, findings.MCWorkloadIdentity.Code}

// Check runs check in every cluster at once, and the checks of how the
// clusters fit together: fleets, networks, Pod ranges, installed names
// and releases where installed, the firewall between the Pods and each
// private control plane's reach. It is what connect checks first.
func Check(ctx context.Context, c Clients, rep ui.Reporter, o CheckOptions) (*CheckReport, error) {
	if o.Check.FailOn == "" {
		o.Check.FailOn = findings.Error
	}
	r := &CheckReport{FailOn: o.Check.FailOn, Clusters: make([]*check.Result, len(o.Clusters))}
	var ms []*member
	err := runAll([]func() error{
		func() error {
			return forEach(make([]*member, len(o.Clusters)), func(i int, _ *member) error {
				ref := o.Clusters[i]
				cc, err := o.ClientsFor(ctx, ref)
				if err != nil {
					return err
				}
				opts := o.Check
				opts.Project, opts.Location, opts.Cluster, opts.KubeContext = ref.Project, ref.Location, ref.Name, ref.Context
				r.Clusters[i], err = check.Run(ctx, cc, rep, opts)
				return err
			})
		},
		func() error { ms = gather(ctx, c, o.Clusters); return nil },
	})
	if err != nil {
		return nil, err
	}
	r.Across = acrossFindings(ctx, c, ms)
	var all []findings.Finding
	for _, cr := range r.Clusters {
		all = append(all, cr.Findings...)
	}
	all = append(all, r.Across...)
	r.Summary = findings.Summarize(all)
	r.Ready = !findings.Fails(all, r.FailOn)
	return r, nil
}

// acrossFindings are connect's prechecks without what each cluster's own
// check reports, and the network's.
func acrossFindings(ctx context.Context, c Clients, ms []*member) []findings.Finding {
	out := slices.DeleteFunc(prechecks(ms), func(f findings.Finding) bool {
		return slices.Contains(notBeforeInstall, f.Code) || f.Code == findings.APIUnavailable.Code
	})
	usable := slices.DeleteFunc(slices.Clone(ms), func(m *member) bool { return !m.usable() })
	if len(usable) > 1 {
		project, network := gkecluster.Network(usable[0].gke, usable[0].Project)
		if rules, err := c.Firewalls.ListFirewalls(ctx, project); err != nil {
			out = append(out, findings.APIUnavailable.New("network "+project+"/"+network, "Compute firewalls.list "+project+": "+err.Error(), ""))
		} else {
			out = append(out, readFirewall(usable, project, network, rules).finding()...)
		}
		for _, n := range readAccess(usable) {
			out = append(out, n.findings()...)
		}
	}
	findings.Sort(out)
	if out == nil {
		out = []findings.Finding{}
	}
	return out
}

// RenderText shows each cluster's report, then the clusters together.
func (r *CheckReport) RenderText(w io.Writer, s ui.Styles) error {
	for i, cr := range r.Clusters {
		if i > 0 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
		if err := cr.RenderText(w, s); err != nil {
			return err
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s\n", s.Heading("Across the clusters"))
	if len(r.Across) == 0 {
		fmt.Fprintf(&b, "  %s one fleet, one network, distinct names and Pod ranges, Pods and control planes in reach\n", s.OK(ui.MarkOK))
	}
	for _, f := range r.Across {
		fmt.Fprintf(&b, "  %s %s  (%s) %s\n", levelMark(s, f.Level), s.Faint(f.Code), f.Object, f.Message)
		if f.Hint != "" {
			fmt.Fprintf(&b, "      %s %s\n", s.Faint("hint:"), f.Hint)
		}
	}
	b.WriteString("\n")
	if r.Ready {
		fmt.Fprintf(&b, "%s %d clusters ready for one mesh: %s\n", s.OK(ui.MarkOK), len(r.Clusters), r.Summary)
	} else {
		fmt.Fprintf(&b, "%s %d clusters not ready for one mesh: %s (--fail-on %s)\n", s.Error(ui.MarkErr), len(r.Clusters), r.Summary, r.FailOn)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
