package trace

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/lb"
)

// proxy is a target HTTP or HTTPS proxy.
type proxy struct {
	name, kind, urlMap string
	certificates       []string
	certificateMap     string
	sslPolicy          string
}

// proxies are the target proxies the target's scheme can reach, by name.
func (t *tracer) proxies(ctx context.Context) (map[string]proxy, error) {
	out := map[string]proxy{}
	if t.target.Scheme == "http" {
		ps, err := listOf[*computepb.TargetHttpProxy](ctx, t.r, lb.KindHTTPProxy)
		for _, p := range ps {
			out[p.GetName()] = proxy{name: p.GetName(), kind: "HTTP", urlMap: p.GetUrlMap()}
		}
		return out, err
	}
	ps, err := listOf[*computepb.TargetHttpsProxy](ctx, t.r, lb.KindHTTPSProxy)
	for _, p := range ps {
		out[p.GetName()] = proxy{name: p.GetName(), kind: "HTTPS", urlMap: p.GetUrlMap(), certificates: p.GetSslCertificates(),
			certificateMap: p.GetCertificateMap(), sslPolicy: p.GetSslPolicy()}
	}
	return out, err
}

// proxyHop checks the proxy: for HTTPS, the certificate the host gets and
// the SSL policy.
func (t *tracer) proxyHop(ctx context.Context, fr *computepb.ForwardingRule, px proxy) Hop {
	h := newHop(HopTargetProxy, px.name)
	h.see("%s proxy, URL map %s", px.kind, linkName(px.urlMap))
	if px.kind != "HTTPS" {
		return h
	}
	if px.certificateMap != "" {
		t.certificateMapCert(ctx, &h, fr, px)
	} else {
		t.computeCert(ctx, &h, fr, px)
	}
	t.sslPolicy(ctx, &h, px)
	return h
}

// computeCert finds the proxy's Compute certificate for the host: the
// first whose names cover it (Google picks by SNI, and falls back to the
// first certificate).
func (t *tracer) computeCert(ctx context.Context, h *Hop, fr *computepb.ForwardingRule, px proxy) {
	certs, err := listOf[*computepb.SslCertificate](ctx, t.r, lb.KindCertificate)
	if err != nil {
		h.add(Unknown, findings.APIUnavailable.New("target proxy "+px.name, "read its certificates: "+err.Error(), apiHint(err)))
		return
	}
	var names []string
	for _, link := range px.certificates {
		c, ok := named(certs, link)
		if !ok {
			h.add(Broken, missingLink("target proxy "+px.name, "sslCertificates", link))
			continue
		}
		domains := certDomains(c)
		names = append(names, c.GetName()+" ("+strings.Join(domains, ", ")+")")
		if !coversAny(domains, t.target.Host) {
			continue
		}
		t.computeCertState(h, fr, c)
		return
	}
	if len(px.certificates) == 0 {
		h.add(Broken, findings.TraceNoCertificate.New("target proxy "+px.name, "the HTTPS proxy has no certificate", "attach one: gcloud compute target-https-proxies update "+px.name+" --ssl-certificates CERT --global"))
		return
	}
	h.add(Broken, findings.TraceNoCertificate.New("target proxy "+px.name,
		fmt.Sprintf("no certificate covers %s (the proxy has %s): clients get a name mismatch", t.target.Host, strings.Join(names, "; ")),
		fmt.Sprintf("add a certificate for %s to the proxy (gcloud compute ssl-certificates create NAME --domains %s --global, then target-https-proxies update %s --ssl-certificates ...)", t.target.Host, t.target.Host, px.name)))
}

// certDomains are the names a Compute certificate is for.
func certDomains(c *computepb.SslCertificate) []string {
	if m := c.GetManaged(); m != nil && len(m.GetDomains()) > 0 {
		return m.GetDomains()
	}
	return c.GetSubjectAlternativeNames()
}

// computeCertState judges the certificate that covers the host.
func (t *tracer) computeCertState(h *Hop, fr *computepb.ForwardingRule, c *computepb.SslCertificate) {
	obj := "certificate " + c.GetName()
	host := t.target.Host
	if m := c.GetManaged(); m != nil {
		status := m.GetDomainStatus()[host]
		if status == "" {
			status = m.GetStatus()
		}
		h.see("certificate %s (Google-managed) for %s: %s", c.GetName(), host, orText(status, "no status yet"))
		switch {
		case status == "ACTIVE":
		case status == "PROVISIONING" || status == "":
			t.provisioning(h, fr, obj, parseTime(c.GetCreationTimestamp()))
		default:
			h.add(Broken, findings.TraceCertificateFailed.New(obj, fmt.Sprintf("domain %s: %s: %s", host, status, managedStatusWhy(status)), managedStatusFix(status, host, fr.GetIPAddress())))
		}
		return
	}
	h.see("certificate %s (self-managed) for %s, expires %s", c.GetName(), host, orText(c.GetExpireTime(), "?"))
	if exp := parseTime(c.GetExpireTime()); !exp.IsZero() && exp.Before(t.opts.Now()) {
		h.add(Broken, findings.TraceCertificateFailed.New(obj, "expired on "+exp.UTC().Format(time.DateOnly), "upload a renewed certificate and attach it to the proxy"))
	}
}

// provisioning judges a managed certificate still PROVISIONING: converging,
// unless DNS sends the host elsewhere, where Google can never see it.
func (t *tracer) provisioning(h *Hop, fr *computepb.ForwardingRule, obj string, created time.Time) {
	tg := t.target
	if tg.ResolvedBy == "dns" && !slices.Contains(tg.Addresses, fr.GetIPAddress()) {
		h.add(Broken, findings.TraceCertificateFailed.New(obj,
			fmt.Sprintf("PROVISIONING will not finish: %s resolves to %s, not %s, so Google cannot see the domain (it ends FAILED_NOT_VISIBLE)", tg.Host, strings.Join(tg.Addresses, ", "), fr.GetIPAddress()),
			fmt.Sprintf("point %s at %s (an A record)", tg.Host, fr.GetIPAddress())))
		return
	}
	age := ""
	if !created.IsZero() {
		age = fmt.Sprintf(" for %s", t.opts.Now().Sub(created).Round(time.Second))
	}
	h.add(Converging, findings.TraceCertificateProvisioning.New(obj,
		fmt.Sprintf("PROVISIONING%s: Google issues it once %s resolves to %s, usually within minutes and up to 60; until then HTTPS handshakes for the host fail", age, tg.Host, fr.GetIPAddress()),
		fmt.Sprintf("make sure %s has an A record to %s, then wait: meshctl trace %s --watch", tg.Host, fr.GetIPAddress(), tg.URL)))
}

func managedStatusWhy(s string) string {
	switch s {
	case "FAILED_NOT_VISIBLE":
		return "Google could not see the domain resolve to the load balancer"
	case "FAILED_CAA_CHECKING", "FAILED_CAA_FORBIDDEN":
		return "a CAA record forbids Google's certificate authorities"
	case "FAILED_RATE_LIMITED":
		return "the certificate authority rate-limited the request"
	}
	return "the certificate is not active"
}

func managedStatusFix(s, host, ip string) string {
	switch s {
	case "FAILED_NOT_VISIBLE":
		return fmt.Sprintf("create or fix the A record %s → %s; Google retries", host, ip)
	case "FAILED_CAA_CHECKING", "FAILED_CAA_FORBIDDEN":
		return "allow pki.goog in the CAA records of " + host
	case "FAILED_RATE_LIMITED":
		return "wait; Google retries"
	}
	return "recreate the certificate (gcloud compute ssl-certificates create ... --domains " + host + ")"
}

// certificateMapCert finds the host's entry in the proxy's certificate map
// (an entry for the hostname, else a wildcard one, else PRIMARY) and judges
// its certificate.
func (t *tracer) certificateMapCert(ctx context.Context, h *Hop, fr *computepb.ForwardingRule, px proxy) {
	mapName := linkName(px.certificateMap)
	obj := "certificate map " + mapName
	entries, err := t.r.certificateMapEntries(mapName).wait(ctx)
	if err != nil {
		h.add(Unknown, findings.APIUnavailable.New(obj, err.Error(), "set --certificate-manager-endpoint if Certificate Manager is elsewhere, and grant certificatemanager.certmapentries.list"))
		return
	}
	e, ok := mapEntryFor(entries, t.target.Host)
	if !ok {
		h.add(Broken, findings.TraceNoCertificate.New(obj, fmt.Sprintf("no entry for %s and no PRIMARY entry: the handshake for it fails", t.target.Host),
			fmt.Sprintf("gcloud certificate-manager maps entries create ENTRY --map %s --hostname %s --certificates CERT", mapName, t.target.Host)))
		return
	}
	certs, err := t.r.certificateManagerCerts().wait(ctx)
	if err != nil {
		h.add(Unknown, findings.APIUnavailable.New(obj, err.Error(), "grant certificatemanager.certs.list"))
		return
	}
	for _, name := range e.Certificates {
		i := slices.IndexFunc(certs, func(c CMCertificate) bool { return c.Name == name })
		if i < 0 {
			h.add(Broken, findings.TraceMissingLink.New(obj+" entry "+e.Name, "certificate "+name+" does not exist", "point the entry at a certificate that exists"))
			continue
		}
		t.cmCertState(h, fr, mapName, e, certs[i])
	}
}

func mapEntryFor(entries []CMMapEntry, host string) (CMMapEntry, bool) {
	best, found := -1, false
	var out CMMapEntry
	for _, e := range entries {
		score := -1
		switch {
		case e.Hostname == host:
			score = 3
		case strings.HasPrefix(e.Hostname, "*.") && strings.HasSuffix(host, e.Hostname[1:]):
			score = 2
		case e.Matcher == "PRIMARY":
			score = 1
		}
		if score > best {
			best, out, found = score, e, true
		}
	}
	return out, found && best > 0
}

func (t *tracer) cmCertState(h *Hop, fr *computepb.ForwardingRule, mapName string, e CMMapEntry, c CMCertificate) {
	kind := "self-managed"
	if c.Managed {
		kind = "Google-managed, " + orText(c.State, "no state yet")
	}
	h.see("certificate map %s entry %s (%s) → certificate %s (%s) for %s", mapName, e.Name, orText(e.Hostname, e.Matcher), c.Name, kind, strings.Join(c.Domains, ", "))
	cobj := "certificate " + c.Name
	if !coversAny(c.Domains, t.target.Host) && len(c.Domains) > 0 {
		h.add(Broken, findings.TraceNoCertificate.New(cobj, fmt.Sprintf("the certificate is for %s, not %s", strings.Join(c.Domains, ", "), t.target.Host), "put a certificate for "+t.target.Host+" in the map entry"))
		return
	}
	switch {
	case c.Managed && c.State == "ACTIVE":
	case c.Managed && (c.State == "PROVISIONING" || c.State == ""):
		t.provisioning(h, fr, cobj, c.CreateTime)
	case c.Managed:
		h.add(Broken, findings.TraceCertificateFailed.New(cobj, fmt.Sprintf("%s: %s", c.State, orText(c.Issue, "provisioning failed")), "fix the DNS authorization or the A record of "+t.target.Host+", then recreate the certificate"))
	case !c.ExpireTime.IsZero() && c.ExpireTime.Before(t.opts.Now()):
		h.add(Broken, findings.TraceCertificateFailed.New(cobj, "expired on "+c.ExpireTime.UTC().Format(time.DateOnly), "upload a renewed certificate: gcloud certificate-manager certificates update "+c.Name+" --certificate-file ... --private-key-file ..."))
	}
}

// sslPolicy checks that the proxy refuses TLS older than 1.2.
func (t *tracer) sslPolicy(ctx context.Context, h *Hop, px proxy) {
	obj := "target proxy " + px.name
	if px.sslPolicy == "" {
		h.see("no SSL policy: Google's default (COMPATIBLE, TLS 1.0 and later)")
		h.add(Warning, findings.TraceSSLPolicy.New(obj, "no SSL policy: clients may use TLS 1.0 and 1.1",
			"gcloud compute ssl-policies create NAME --profile RESTRICTED --min-tls-version 1.2 --global, then target-https-proxies update "+px.name+" --ssl-policy NAME --global"))
		return
	}
	policies, err := listOf[*computepb.SslPolicy](ctx, t.r, lb.KindSSLPolicy)
	if err != nil {
		h.add(Unknown, findings.APIUnavailable.New(obj, "read its SSL policy: "+err.Error(), apiHint(err)))
		return
	}
	p, ok := named(policies, px.sslPolicy)
	if !ok {
		h.add(Broken, missingLink(obj, "sslPolicy", px.sslPolicy))
		return
	}
	min := orText(p.GetMinTlsVersion(), "TLS_1_0")
	h.see("SSL policy %s: %s, minimum %s", p.GetName(), orText(p.GetProfile(), "COMPATIBLE"), min)
	if min < "TLS_1_2" {
		h.add(Warning, findings.TraceSSLPolicy.New("SSL policy "+p.GetName(), "minimum "+min+": clients may use TLS older than 1.2",
			"gcloud compute ssl-policies update "+p.GetName()+" --min-tls-version 1.2"))
	}
}

// coversAny reports whether one of a certificate's names covers host
// (exactly, or by a one-label wildcard).
func coversAny(names []string, host string) bool {
	for _, n := range names {
		n = strings.ToLower(n)
		if n == host {
			return true
		}
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			if _, after, found := strings.Cut(host, "."); found && after == rest {
				return true
			}
		}
	}
	return false
}

// parseTime reads Compute's RFC 3339 timestamps; zero when absent.
func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}
