package gatewayapi

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/expose"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/plan"
)

// Result is what `expose --via gateway-api` did: the mesh gateway's result
// (as with --via compute) and the GKE Gateway's beside it.
type Result struct {
	*expose.Result
	GatewayAPI *EdgeResult `json:"gatewayAPI"`
}

// EdgeResult is the GKE Gateway's part: what was applied, what the
// controller reports, and the load balancer it made.
type EdgeResult struct {
	Gateway string `json:"gateway"`
	Class   string `json:"gatewayClass"`
	Route   string `json:"route"`
	DryRun  bool   `json:"dryRun,omitempty"`
	// Changes are the Gateway API objects'; Compute the address's and the
	// policies' meshctl makes itself; Certificates the certificate map's.
	Changes        []plan.Change `json:"changes"`
	Compute        *lb.Result    `json:"compute,omitempty"`
	CertificateMap string        `json:"certificateMap,omitempty"`
	Certificates   []plan.Change `json:"certificates,omitempty"`
	// Conditions are what the controller wrote, Events what it said.
	Conditions []ConditionReport `json:"conditions,omitempty"`
	Events     []string          `json:"events,omitempty"`
	IPAddress  string            `json:"ipAddress,omitempty"`
	DNS        []lb.DNSRecord    `json:"dns,omitempty"`
	// Chain is the load balancer the controller made, rule to NEG.
	Chain             []ChainLink        `json:"chain,omitempty"`
	Backends          []lb.BackendHealth `json:"backends,omitempty"`
	CertificateStatus []HostCertificate  `json:"certificateStatus,omitempty"`
	Warnings          []string           `json:"warnings,omitempty"`
	Elapsed           lb.Duration        `json:"elapsed"`

	// Objects are the desired objects, for printing as manifests.
	Objects []Object `json:"-"`
}

// RenderText prints the mesh gateway's result, then the GKE Gateway's.
func (r *Result) RenderText(w io.Writer, s ui.Styles) error {
	if err := r.Result.RenderText(w, s); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return err
	}
	if err := r.GatewayAPI.RenderText(w, s); err != nil {
		return err
	}
	return r.Permissions.RenderDryRun(w, s, r.GatewayAPI.DryRun)
}

// RenderText prints the GKE Gateway's part for a person.
func (e *EdgeResult) RenderText(w io.Writer, s ui.Styles) error {
	var b strings.Builder
	if e.DryRun {
		fmt.Fprintf(&b, "%s GKE Gateway %s (%s), route %s\n\n", s.Heading("Dry run:"), e.Gateway, e.Class, e.Route)
	} else {
		fmt.Fprintf(&b, "%s GKE Gateway %s (%s) is programmed, route %s attached, in %s\n\n", s.OK(ui.MarkOK), e.Gateway, e.Class, e.Route,
			time.Duration(e.Elapsed).Round(100*time.Millisecond))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	changes := append(append([]plan.Change{}, e.Changes...), e.Certificates...)
	if e.Compute != nil {
		changes = append(changes, e.Compute.Plan...)
	}
	if err := s.WriteTable(w, plan.Table(changes, kindTitle)); err != nil {
		return err
	}
	b.Reset()
	for _, warn := range e.Warnings {
		fmt.Fprintf(&b, "%s %s\n", s.Warning(ui.MarkWarn), warn)
	}
	e.renderStatus(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

// kindTitle names Compute kinds as people read them.
func kindTitle(kind string) string {
	if t := lb.Kind(kind).Title(); t != kind {
		return t
	}
	return kind
}

func (e *EdgeResult) renderStatus(b *strings.Builder) {
	if len(e.Conditions) > 0 {
		b.WriteString("\nStatus, as GKE's Gateway controller reports it:\n")
		for _, c := range e.Conditions {
			fmt.Fprintf(b, "  %s %s=%s", c.Object, c.Type, c.Status)
			if c.Status != "True" && c.Message != "" {
				fmt.Fprintf(b, " (%s)", c.Message)
			}
			b.WriteString("\n")
		}
	}
	if e.IPAddress != "" {
		fmt.Fprintf(b, "\nIP address: %s\n", e.IPAddress)
	}
	if len(e.DNS) > 0 {
		b.WriteString("Create these DNS records:\n")
		for _, d := range e.DNS {
			fmt.Fprintf(b, "  %s %s %s\n", d.Name, d.Type, d.Value)
		}
	}
	if len(e.CertificateStatus) > 0 {
		fmt.Fprintf(b, "Certificates (certificate map %s):\n", e.CertificateMap)
		pending := false
		for _, c := range e.CertificateStatus {
			fmt.Fprintf(b, "  %s: %s (%s)", c.Host, c.State, c.Certificate)
			if c.Detail != "" {
				fmt.Fprintf(b, ": %s", c.Detail)
			}
			b.WriteString("\n")
			pending = pending || c.State != "ACTIVE"
		}
		if pending {
			b.WriteString("  Google issues a certificate once its host's DNS record points at the IP address (up to 60 minutes).\n")
		}
	}
	if len(e.Chain) > 0 {
		b.WriteString("Made by GKE's Gateway controller:\n")
		for i, l := range e.Chain {
			arrow := "  "
			if i > 0 && l.Kind != "firewall rule" {
				arrow = "  → "
			}
			fmt.Fprintf(b, "%s%s %s", arrow, l.Kind, l.Name)
			if l.Detail != "" {
				fmt.Fprintf(b, " (%s)", l.Detail)
			}
			b.WriteString("\n")
		}
	}
	for _, h := range e.Backends {
		fmt.Fprintf(b, "Backends of %s in %s: %d/%d healthy\n", h.Service, h.Zone, h.Healthy, h.Endpoints)
	}
}
