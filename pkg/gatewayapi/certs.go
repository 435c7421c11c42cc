package gatewayapi

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	cm "google.golang.org/api/certificatemanager/v1"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
)

// Kinds of Certificate Manager objects, as plans name them.
const (
	KindCertificateMap   = "CertificateMap"
	KindCertificate      = "Certificate"
	KindCertificateEntry = "CertificateMapEntry"
)

// certs is the Certificate Manager part of a plan: the Gateway's map, and
// for each host of the Service a Google-managed certificate (load balancer
// authorization: Google issues it once the map serves behind the
// Gateway's forwarding rule) and a map entry.
type certs struct {
	mapName   string
	project   string
	owner     mesh.ResourceOwner // the Gateway's; a host's adds the Service
	service   string
	createMap bool
	deleteMap bool
	hosts     []hostCert
	// stale are this Service's entries (and their certificates) for hosts
	// it no longer has.
	stale   []hostCert
	Changes []plan.Change
}

// hostCert is one host's certificate and map entry (both named Name).
type hostCert struct {
	Host                    string
	Name                    string
	createCert, createEntry bool
	deleteCert, deleteEntry bool
	// certificate is the stale entry's certificate.
	certificate string
}

func lastSegment(name string) string { return name[strings.LastIndex(name, "/")+1:] }

// managedHostsOf are the hosts a Google-managed certificate can cover,
// lower case, without wildcards.
func managedHostsOf(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if !strings.HasPrefix(h, "*") && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return out
}

// planCerts reads the map, its entries and the hosts' certificates and
// works out what to make: it only reads.
func planCerts(ctx context.Context, c CertificateManager, n Names, service string, hosts []string) (*certs, error) {
	gwOwner := mesh.NewResourceOwner(n.Edge.Owner)
	p := &certs{mapName: n.CertificateMap, project: n.project, owner: gwOwner, service: service}
	byHost := map[string]*cm.CertificateMapEntry{}
	var entries []*cm.CertificateMapEntry
	m, err := c.GetMap(ctx, n.CertificateMap)
	switch {
	case IsNotFound(err):
		p.createMap = true
	case err != nil:
		return nil, certError("read certificate map "+n.CertificateMap, err)
	default:
		if o, ok := mesh.ParseResourceOwner(m.Description); !ok || o.LB != gwOwner.LB {
			return nil, failure.WithHint(fmt.Errorf("certificate map %s exists and was not made by meshctl for Gateway %s/%s", n.CertificateMap, n.Namespace, n.Gateway),
				"meshctl changes only what it made: name another --gateway, or delete the map (`gcloud certificate-manager maps delete "+n.CertificateMap+"`)")
		}
		if entries, err = c.ListEntries(ctx, n.CertificateMap); err != nil {
			return nil, certError("list the entries of certificate map "+n.CertificateMap, err)
		}
		for _, e := range entries {
			byHost[e.Hostname] = e
		}
	}
	want := managedHostsOf(hosts)
	for _, h := range want {
		hc, err := planHost(ctx, c, n, p, h, byHost[h])
		if err != nil {
			return nil, err
		}
		p.hosts = append(p.hosts, hc)
	}
	for _, e := range entries {
		if o, ok := mesh.ParseResourceOwner(e.Description); ok && o.LB == gwOwner.LB && o.Serves(service) && !slices.Contains(want, e.Hostname) {
			hc := hostCert{Host: e.Hostname, Name: lastSegment(e.Name), deleteEntry: true}
			if len(e.Certificates) == 1 {
				hc.certificate, hc.deleteCert = lastSegment(e.Certificates[0]), true
			}
			p.stale = append(p.stale, hc)
		}
	}
	p.changes()
	return p, nil
}

// planHost works out one host's certificate and entry.
func planHost(ctx context.Context, c CertificateManager, n Names, p *certs, host string, entry *cm.CertificateMapEntry) (hostCert, error) {
	hc := hostCert{Host: host, Name: n.HostCertificate(host)}
	if entry != nil {
		o, ok := mesh.ParseResourceOwner(entry.Description)
		if !ok || o.LB != p.owner.LB || !o.Serves(p.service) {
			who := "someone else"
			if ok && len(o.Services) > 0 {
				who = "Service " + strings.Join(o.Services, ", ")
			}
			return hc, failure.WithHint(fmt.Errorf("host %s already has entry %s in certificate map %s, for %s", host, lastSegment(entry.Name), p.mapName, who),
				"each host goes to one Service on a Gateway: pick other --host names, or unexpose the Service that has it")
		}
	} else {
		hc.createEntry = true
	}
	cert, err := c.GetCertificate(ctx, hc.Name)
	switch {
	case IsNotFound(err):
		hc.createCert = true
	case err != nil:
		return hc, certError("read certificate "+hc.Name, err)
	default:
		if o, ok := mesh.ParseResourceOwner(cert.Description); !ok || o.LB != p.owner.LB {
			return hc, failure.WithHint(fmt.Errorf("certificate %s exists and was not made by meshctl for this Gateway", hc.Name),
				"delete it (`gcloud certificate-manager certificates delete "+hc.Name+"`) or bring your own with --certificate")
		}
	}
	return hc, nil
}

// changes lists the plan's entries in the order apply makes them.
func (p *certs) changes() {
	add := func(kind, name string, a plan.Action, note, certificate string) {
		p.Changes = append(p.Changes, p.change(kind, name, a, note, certificate))
	}
	createIf := map[bool]plan.Action{true: plan.Create, false: plan.Keep}
	add(KindCertificateMap, p.mapName, createIf[p.createMap], "", "")
	for _, h := range p.hosts {
		add(KindCertificate, h.Name, createIf[h.createCert], "Google-managed, for "+h.Host, "")
		add(KindCertificateEntry, h.Name, createIf[h.createEntry], h.Host, h.Name)
	}
	p.staleChanges(" is no longer the Service's")
}

// staleChanges adds the deletion of the stale entries and their
// certificates, the entries first (an entry holds its certificate in
// use); each entry's note is its host and why.
func (p *certs) staleChanges(why string) {
	for _, h := range p.stale {
		p.Changes = append(p.Changes, p.change(KindCertificateEntry, h.Name, plan.Delete, h.Host+why, ""))
		if h.deleteCert {
			p.Changes = append(p.Changes, p.change(KindCertificate, h.certificate, plan.Delete, "", ""))
		}
	}
}

// apply makes the map, then each host's certificate and entry (hosts at
// once), then drops the stale entries and their certificates.
func (p *certs) apply(ctx context.Context, c CertificateManager, r ui.Reporter) error {
	if p.createMap {
		st := r.Step("create certificate map " + p.mapName)
		err := c.CreateMap(ctx, p.mapName, &cm.CertificateMap{Description: p.owner.String(), Labels: map[string]string{"managed-by": mesh.ManagedBy}})
		if err != nil && !isConflict(err) {
			err = certError("create certificate map "+p.mapName, err)
			st.Fail(err)
			return err
		}
		st.Done()
	}
	hostOwner := mesh.NewResourceOwner(p.owner.LB, p.service)
	g, gctx := errgroup.WithContext(ctx)
	for _, h := range p.hosts {
		if !h.createCert && !h.createEntry {
			continue
		}
		g.Go(func() error {
			st := r.Step("certificate and map entry for " + h.Host)
			err := h.make(gctx, c, p.project, p.mapName, hostOwner)
			if err != nil {
				st.Fail(err)
				return err
			}
			st.Done()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return deleteHosts(ctx, c, r, p.mapName, p.stale)
}

// make creates a host's certificate, then its entry, which names it.
func (h hostCert) make(ctx context.Context, c CertificateManager, project, mapName string, owner mesh.ResourceOwner) error {
	if h.createCert {
		err := c.CreateCertificate(ctx, h.Name, &cm.Certificate{Description: owner.String(), Labels: map[string]string{"managed-by": mesh.ManagedBy},
			Managed: &cm.ManagedCertificate{Domains: []string{h.Host}}})
		if err != nil && !isConflict(err) {
			return certError("create certificate "+h.Name, err)
		}
	}
	if h.createEntry {
		err := c.CreateEntry(ctx, mapName, h.Name, &cm.CertificateMapEntry{Description: owner.String(), Hostname: h.Host,
			Labels:       map[string]string{"managed-by": mesh.ManagedBy},
			Certificates: []string{"projects/" + project + "/locations/global/certificates/" + h.Name}})
		if err != nil && !isConflict(err) {
			return certError("create certificate map entry "+h.Name, err)
		}
	}
	return nil
}

// deleteHosts deletes entries, then their certificates (an entry holds
// its certificate in use); one already gone is fine.
func deleteHosts(ctx context.Context, c CertificateManager, r ui.Reporter, mapName string, hosts []hostCert) error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := r.Step("delete certificate map entry and certificate for " + h.Host)
			err := c.DeleteEntry(ctx, mapName, h.Name)
			if err == nil || IsNotFound(err) {
				err = nil
				if h.deleteCert {
					if err = c.DeleteCertificate(ctx, h.certificate); IsNotFound(err) {
						err = nil
					}
				}
			}
			if err != nil {
				err = certError("delete the certificate of "+h.Host, err)
				st.Fail(err)
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			st.Done()
		}()
	}
	wg.Wait()
	return joinErrs(errs)
}
