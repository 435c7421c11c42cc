package lb

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	"google.golang.org/protobuf/proto"
)

// Result is what an apply did and what the load balancer looks like now.
type Result struct {
	Operation    string   `json:"operation"`
	Project      string   `json:"project"`
	LoadBalancer string   `json:"loadBalancer"`
	Services     []string `json:"services"`
	DryRun       bool     `json:"dryRun,omitempty"`
	// Plan is what was (or, on a dry run, would be) done.
	Plan     []plan.Change `json:"plan"`
	Warnings []string      `json:"warnings,omitempty"`
	// IPAddress is the load balancer's address; DNS the records to create
	// for it.
	IPAddress string      `json:"ipAddress,omitempty"`
	DNS       []DNSRecord `json:"dns,omitempty"`
	// Certificates are those the HTTPS proxy serves, with their status.
	Certificates []CertificateStatus `json:"certificates,omitempty"`
	Backends     []BackendHealth     `json:"backends,omitempty"`
	// Mutations counts the changes sent (retried requests once each).
	Mutations int64        `json:"mutations"`
	Retries   int64        `json:"retries"`
	Elapsed   Duration     `json:"elapsed"`
	Timings   []NodeTiming `json:"timings,omitempty"`
}

// Duration prints as Go's duration text in JSON ("12.3s").
type Duration time.Duration

// MarshalJSON writes the duration as text.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).Round(time.Millisecond).String())
}

// DNSRecord is a record to create so that a host reaches the load balancer.
type DNSRecord struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// CertificateStatus is a managed certificate's provisioning, per domain.
type CertificateStatus struct {
	Name    string            `json:"name"`
	Managed bool              `json:"managed"`
	Status  string            `json:"status,omitempty"`
	Domains map[string]string `json:"domains,omitempty"`
	// Services are the Services it is made for ("namespace/name").
	Services []string `json:"services,omitempty"`
}

// BackendHealth is one zone's NEG as the load balancer sees it.
type BackendHealth struct {
	Service   string `json:"service"`
	Zone      string `json:"zone"`
	Healthy   int    `json:"healthy"`
	Endpoints int    `json:"endpoints"`
}

// DryRun returns the result of not applying p.
func (cl *Client) DryRun(p *Plan) *Result {
	res := p.result()
	res.DryRun = true
	return res
}

func (p *Plan) result() *Result {
	return &Result{Operation: p.Operation, Project: p.Project, LoadBalancer: p.LoadBalancer, Services: p.Services,
		Plan: p.Changes, Warnings: p.Warnings, IPAddress: p.ip}
}

// Apply carries out a plan as a dependency graph and reports the load
// balancer as it then is. On error the result still tells what ran.
func (cl *Client) Apply(ctx context.Context, p *Plan) (*Result, error) {
	start := time.Now()
	before := cl.Stats()
	if p.Pending() == 0 {
		cl.reporter.Infof("load balancer %s: nothing to change", p.LoadBalancer)
	}
	err := execute(ctx, p.nodes, p.spec.Parallel, cl.reporter)
	res := p.result()
	res.Timings = timings(p.nodes, start)
	if p.whole != nil {
		res.includeWhole(p.whole, start)
	}
	if err == nil && p.Operation == "expose" {
		cl.describeLB(ctx, p, res)
	}
	after := cl.Stats()
	res.Mutations, res.Retries = after.Mutations-before.Mutations, after.Retries-before.Retries
	res.Elapsed = Duration(time.Since(start))
	return res, err
}

// includeWhole adds the plan that removed the whole load balancer, run
// within this apply (removeWhole), to the result: its changes beside the
// first plan's (one entry per object), its timings and its warnings, which
// replace the first plan's note that the load balancer keeps serving others.
func (res *Result) includeWhole(whole *Plan, start time.Time) {
	res.Plan = slices.Clone(res.Plan)
	for _, c := range whole.Changes {
		if i := slices.IndexFunc(res.Plan, func(e plan.Change) bool { return e.Kind == c.Kind && e.Name == c.Name }); i >= 0 {
			res.Plan[i] = c
			continue
		}
		res.Plan = append(res.Plan, c)
	}
	res.Timings = append(res.Timings, timings(whole.nodes, start)...)
	res.Warnings = slices.DeleteFunc(slices.Clone(res.Warnings), func(w string) bool { return strings.Contains(w, keepsServingNote) })
	res.Warnings = append(res.Warnings, whole.Warnings...)
}

// describeLB fills in the address, DNS records, certificate status and
// backend health. These are reports: a failure to read one is a warning.
func (cl *Client) describeLB(ctx context.Context, p *Plan, res *Result) {
	c := cl.caller()
	get := func(kind Kind, name string, planned bool) proto.Message {
		if o := p.objs[objectID(kind, name)]; o != nil && planned {
			if e, _ := p.Change(kind, name); !e.Action.Changes() && o.actual != nil {
				return o.actual
			}
		}
		obj, err := read(ctx, c, func() (proto.Message, error) { return c.c.Get(ctx, kind, name) })
		if err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("read %s %s: %v", kind.Title(), name, err))
			return nil
		}
		return obj
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	addressName := p.names.address()
	if p.spec.Address != "" {
		addressName = p.spec.Address
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		if a, ok := get(KindAddress, addressName, true).(*computepb.Address); ok {
			mu.Lock()
			res.IPAddress = a.GetAddress()
			mu.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		certs, warnings := cl.proxyCertificateStatus(ctx, p)
		mu.Lock()
		res.Certificates = certs
		res.Warnings = append(res.Warnings, warnings...)
		mu.Unlock()
	}()
	for _, sv := range p.spec.Services {
		bs := p.names.backendService(sv)
		for _, zone := range sv.NEG.Zones {
			wg.Add(1)
			go func() {
				defer wg.Done()
				group := negLink(p.Project, zone, sv.NEG.Name)
				h, err := read(ctx, c, func() (*computepb.BackendServiceGroupHealth, error) { return c.c.GetHealth(ctx, bs, group) })
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					res.Warnings = append(res.Warnings, fmt.Sprintf("health of %s in %s: %v", sv.Key(), zone, err))
					return
				}
				bh := BackendHealth{Service: sv.Key(), Zone: zone, Endpoints: len(h.GetHealthStatus())}
				for _, s := range h.GetHealthStatus() {
					if s.GetHealthState() == "HEALTHY" {
						bh.Healthy++
					}
				}
				res.Backends = append(res.Backends, bh)
			}()
		}
	}
	wg.Wait()
	sort.Slice(res.Backends, func(i, j int) bool {
		a, b := res.Backends[i], res.Backends[j]
		return a.Service+a.Zone < b.Service+b.Zone
	})
	if res.IPAddress != "" {
		for _, sv := range p.spec.Services {
			for _, h := range sv.Hosts {
				res.DNS = append(res.DNS, DNSRecord{Name: h + ".", Type: "A", Value: res.IPAddress})
			}
		}
	}
}

// RenderText shows the result to a person.
func (r *Result) RenderText(w io.Writer, s ui.Styles) error {
	verb := map[string]string{"expose": "Load balancer", "unexpose": "Teardown of load balancer"}[r.Operation]
	if r.DryRun {
		fmt.Fprintf(w, "%s %s (dry run: nothing was changed)\n\n", verb, r.LoadBalancer)
	} else {
		fmt.Fprintf(w, "%s %s: %d change(s) in %s\n\n", verb, r.LoadBalancer, r.Mutations, time.Duration(r.Elapsed).Round(100*time.Millisecond))
	}
	if err := s.WriteTable(w, plan.Table(r.Plan, func(kind string) string { return Kind(kind).Title() })); err != nil {
		return err
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "%s %s\n", s.Warning(ui.MarkWarn), warn)
	}
	if r.Operation != "expose" || r.DryRun && r.IPAddress == "" {
		return nil
	}
	fmt.Fprintln(w)
	if r.IPAddress != "" {
		fmt.Fprintf(w, "IP address: %s\n", r.IPAddress)
	}
	if len(r.DNS) > 0 {
		fmt.Fprintln(w, "Create these DNS records:")
		for _, d := range r.DNS {
			fmt.Fprintf(w, "  %s %s %s\n", d.Name, d.Type, d.Value)
		}
	}
	pending := false
	for _, c := range r.Certificates {
		if !c.Managed {
			fmt.Fprintf(w, "Certificate %s (your own)\n", c.Name)
			continue
		}
		fmt.Fprintf(w, "Certificate %s: %s\n", c.Name, c.Status)
		for _, d := range sortedKeys(c.Domains) {
			fmt.Fprintf(w, "  %s: %s\n", d, c.Domains[d])
		}
		pending = pending || c.Status != "ACTIVE"
	}
	if pending {
		fmt.Fprintln(w, "  Google issues a certificate once DNS points at the IP address (up to 60 minutes); a host keeps its ACTIVE certificate until then.")
	}
	for _, b := range r.Backends {
		fmt.Fprintf(w, "Backends of %s in %s: %d/%d healthy\n", b.Service, b.Zone, b.Healthy, b.Endpoints)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// proxyCertificateStatus reads the HTTPS proxy's certificates and their
// status, which changes by itself: they are always read.
func (cl *Client) proxyCertificateStatus(ctx context.Context, p *Plan) (out []CertificateStatus, warnings []string) {
	c := cl.caller()
	obj, err := read(ctx, c, func() (proto.Message, error) { return c.c.Get(ctx, KindHTTPSProxy, p.names.httpsProxy()) })
	if err != nil {
		return nil, []string{fmt.Sprintf("read HTTPS proxy %s: %v", p.names.httpsProxy(), err)}
	}
	for _, link := range obj.(*computepb.TargetHttpsProxy).GetSslCertificates() {
		name := linkName(link)
		m, err := read(ctx, c, func() (proto.Message, error) { return c.c.Get(ctx, KindCertificate, name) })
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("read certificate %s: %v", name, err))
			continue
		}
		out = append(out, certificateStatus(m.(*computepb.SslCertificate)))
	}
	return out, warnings
}

func certificateStatus(cert *computepb.SslCertificate) CertificateStatus {
	st := CertificateStatus{Name: cert.GetName(), Managed: cert.GetType() == "MANAGED"}
	if st.Managed {
		st.Status, st.Domains = cert.GetManaged().GetStatus(), cert.GetManaged().GetDomainStatus()
	}
	if o, ok := mesh.ParseResourceOwner(cert.GetDescription()); ok {
		st.Services = o.Services
	}
	return st
}
