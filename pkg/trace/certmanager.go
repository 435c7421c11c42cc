package trace

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/api/certificatemanager/v1"
)

// CertificateManager is what trace reads of Certificate Manager: the
// project's global certificates and one certificate map's entries.
type CertificateManager interface {
	Certificates(ctx context.Context) ([]CMCertificate, error)
	MapEntries(ctx context.Context, certificateMap string) ([]CMMapEntry, error)
}

// CMCertificate is a Certificate Manager certificate, as trace needs it.
type CMCertificate struct {
	// Name is the certificate's short name.
	Name string
	// Domains are a managed certificate's domains, or a self-managed one's
	// SAN DNS names.
	Domains []string
	Managed bool
	// State is a managed certificate's PROVISIONING, FAILED or ACTIVE.
	State string
	// Issue is why provisioning failed or stalls, when Google says.
	Issue      string
	CreateTime time.Time
	ExpireTime time.Time
}

// CMMapEntry is one entry of a certificate map: a hostname (or the
// PRIMARY matcher) and the certificates it serves.
type CMMapEntry struct {
	Name         string
	Hostname     string
	Matcher      string
	Certificates []string
	State        string
}

// CertificateManagerAPI reads Certificate Manager v1 over its REST client
// for one project.
type CertificateManagerAPI struct {
	Service *certificatemanager.Service
	Project string
}

var _ CertificateManager = CertificateManagerAPI{}

// Certificates lists the project's global certificates.
func (a CertificateManagerAPI) Certificates(ctx context.Context) ([]CMCertificate, error) {
	var out []CMCertificate
	parent := "projects/" + a.Project + "/locations/global"
	err := a.Service.Projects.Locations.Certificates.List(parent).Pages(ctx, func(p *certificatemanager.ListCertificatesResponse) error {
		for _, c := range p.Certificates {
			out = append(out, cmCertificate(c))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list Certificate Manager certificates: %w", err)
	}
	return out, nil
}

func cmCertificate(c *certificatemanager.Certificate) CMCertificate {
	out := CMCertificate{Name: linkName(c.Name), Domains: c.SanDnsnames}
	out.CreateTime, _ = time.Parse(time.RFC3339, c.CreateTime)
	out.ExpireTime, _ = time.Parse(time.RFC3339, c.ExpireTime)
	if m := c.Managed; m != nil {
		out.Managed, out.State = true, m.State
		if len(m.Domains) > 0 {
			out.Domains = m.Domains
		}
		if m.ProvisioningIssue != nil {
			out.Issue = m.ProvisioningIssue.Reason + ": " + m.ProvisioningIssue.Details
		}
	}
	return out
}

// MapEntries lists a certificate map's entries.
func (a CertificateManagerAPI) MapEntries(ctx context.Context, certificateMap string) ([]CMMapEntry, error) {
	var out []CMMapEntry
	parent := "projects/" + a.Project + "/locations/global/certificateMaps/" + linkName(certificateMap)
	err := a.Service.Projects.Locations.CertificateMaps.CertificateMapEntries.List(parent).Pages(ctx, func(p *certificatemanager.ListCertificateMapEntriesResponse) error {
		for _, e := range p.CertificateMapEntries {
			entry := CMMapEntry{Name: linkName(e.Name), Hostname: e.Hostname, Matcher: e.Matcher, State: e.State}
			for _, c := range e.Certificates {
				entry.Certificates = append(entry.Certificates, linkName(c))
			}
			out = append(out, entry)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the entries of certificate map %s: %w", linkName(certificateMap), err)
	}
	return out, nil
}
