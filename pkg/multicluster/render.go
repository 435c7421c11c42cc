package multicluster

import (
	"fmt"
	"io"
	"strings"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// RenderText shows the clusters, the findings, the plan, the exact GKE and
// firewall changes, the shared CA and the verification matrix.
func (r *Result) RenderText(w io.Writer, s ui.Styles) error {
	var b strings.Builder
	writeClusters(&b, s, r.Clusters)
	writeFindings(&b, s, "Findings", r.Findings)
	if len(r.Plan) > 0 {
		fmt.Fprintf(&b, "\n%s\n", s.Heading("Plan"))
		if err := s.WriteTable(indent(&b), plan.Table(r.Plan, nil)); err != nil {
			return err
		}
	}
	if len(r.Added) > 0 {
		verb := "Changes made in GKE and the VPC"
		switch {
		case r.DryRun:
			verb = "Changes to make in GKE and the VPC (dry run)"
		case !r.Applied:
			verb = "Changes --fix makes in GKE and the VPC"
		}
		fmt.Fprintf(&b, "\n%s\n", s.Heading(verb))
		for _, a := range r.Added {
			fmt.Fprintf(&b, "  + %s\n", a)
		}
	}
	if r.CA != nil {
		writeCA(&b, s, r.CA)
	}
	if err := writePermissions(&b, s, r.DryRun, r.Permissions); err != nil {
		return err
	}
	if len(r.Gateways) > 0 {
		fmt.Fprintf(&b, "\n%s\n", s.Heading("East-west gateways, and the network gateways each istiod lists (/debug/networkz)"))
		for _, g := range r.Gateways {
			fmt.Fprintf(&b, "  %s  network %s  internal address %s  global access %t\n", g.Cluster, g.Network, g.Address, g.GlobalAccess)
			for rev, gws := range g.Istiods {
				fmt.Fprintf(&b, "    istiod %s: %s\n", rev, strings.Join(gws, ", "))
			}
		}
	}
	if r.Matrix != nil {
		fmt.Fprintf(&b, "\n%s\n", s.Heading("What each istiod holds (its /debug/clusterz and /debug/endpointShardz)"))
		if err := s.WriteTable(indent(&b), r.Matrix.table(s)); err != nil {
			return err
		}
	}
	b.WriteString("\n")
	switch {
	case r.Refused != "":
		fmt.Fprintf(&b, "%s not connected: %s\n", s.Error(ui.MarkErr), r.Refused)
	case r.DryRun:
		fmt.Fprintf(&b, "%s dry run: %d changes planned, none made\n", s.Faint(ui.MarkInfo), plan.Pending(r.Plan))
	case r.HasProblems():
		fmt.Fprintf(&b, "%s %d clusters not connected: %s (--fail-on %s)\n", s.Error(ui.MarkErr), len(r.Clusters), r.Summary, r.FailOn)
	case r.Matrix == nil:
		fmt.Fprintf(&b, "%s %d clusters connected (not verified): %d changes, %s\n", s.OK(ui.MarkOK), len(r.Clusters), plan.Pending(r.Plan), r.Summary)
	default:
		fmt.Fprintf(&b, "%s %d clusters connected: every istiod holds every cluster; %d changes, %s\n", s.OK(ui.MarkOK), len(r.Clusters), plan.Pending(r.Plan), r.Summary)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writePermissions lists a dry run's permissions; a run that changed
// things has passed the check.
func writePermissions(b *strings.Builder, s ui.Styles, dryRun bool, p *preflight.Report) error {
	if !dryRun || p == nil || len(p.Permissions) == 0 {
		return nil
	}
	b.WriteString("\n")
	return p.RenderText(b, s)
}

// indent writes a table two spaces in.
func indent(b *strings.Builder) io.Writer { return indentWriter{b} }

type indentWriter struct{ b *strings.Builder }

func (w indentWriter) Write(p []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line != "" && line != "\n" {
			w.b.WriteString("  ")
		}
		w.b.WriteString(line)
	}
	return len(p), nil
}

func writeClusters(b *strings.Builder, s ui.Styles, cs []ClusterInfo) {
	fmt.Fprintf(b, "%s\n", s.Heading("Clusters"))
	for _, c := range cs {
		var planes []string
		for _, p := range c.Planes {
			switch {
			case p.Managed:
				planes = append(planes, p.Revision+" (managed)")
			default:
				planes = append(planes, p.Revision+" ("+p.Version+")")
			}
		}
		fmt.Fprintf(b, "  %s  %s  %s  endpoint %s  pods %s  %s\n", c.Name, c.Location, s.Faint(c.ClusterID), c.Endpoint, c.PodRange, strings.Join(planes, ", "))
	}
}

func writeFindings(b *strings.Builder, s ui.Styles, title string, fs []findings.Finding) {
	if len(fs) == 0 {
		return
	}
	fmt.Fprintf(b, "\n%s\n", s.Heading(title))
	for _, f := range fs {
		fmt.Fprintf(b, "  %s %s  (%s) %s\n", levelMark(s, f.Level), s.Faint(f.Code), f.Object, f.Message)
		if f.Hint != "" {
			fmt.Fprintf(b, "      %s %s\n", s.Faint("hint:"), f.Hint)
		}
	}
}

func levelMark(s ui.Styles, l findings.Level) string {
	switch l {
	case findings.Error:
		return s.Error(ui.MarkErr)
	case findings.Warning:
		return s.Warning(ui.MarkWarn)
	}
	return s.Faint(ui.MarkInfo)
}

func writeCA(b *strings.Builder, s ui.Styles, ca *CAReport) {
	fmt.Fprintf(b, "\n%s\n", s.Heading("Shared root of trust"))
	made := ""
	if ca.RootCreated {
		made = " (generated now; its key stays on this machine, 0600)"
	}
	fmt.Fprintf(b, "  root %s%s\n", ca.Root, made)
	if ca.SHA256 != "" {
		fmt.Fprintf(b, "  %s, valid until %s, SHA-256 %s\n", ca.Subject, ca.NotAfter, ca.SHA256)
	}
	for _, c := range ca.Clusters {
		mark := s.Faint(ui.MarkInfo)
		if c.Verified {
			mark = s.OK(ui.MarkOK)
		}
		line := fmt.Sprintf("  %s %s: cacerts %s", mark, c.Cluster, c.Action)
		if c.Files != "" {
			line += ", bundle in " + c.Files
		}
		if c.Verified {
			line += "; every namespace's istio-ca-root-cert and istiod's serving chain lead to the shared root"
		}
		b.WriteString(line + "\n")
	}
}

func (m *Matrix) table(s ui.Styles) ui.Table {
	t := ui.Table{Headers: append([]string{"ISTIOD"}, m.Clusters...)}
	for _, r := range m.Rows {
		row := []string{r.Cluster + "/" + r.Revision}
		if r.Error != "" {
			row = append(row, s.Error("unreadable: "+r.Error))
			for range m.Clusters[1:] {
				row = append(row, "")
			}
			t.Rows = append(t.Rows, row)
			continue
		}
		for _, c := range r.Cells {
			mark, eps := s.OK(ui.MarkOK), "endpoints"
			if !c.OK() {
				mark = s.Error(ui.MarkErr)
			}
			if !c.Endpoints {
				eps = "no endpoints"
			}
			row = append(row, fmt.Sprintf("%s %s, %s", mark, c.Sync, eps))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}
