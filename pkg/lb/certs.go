package lb

import (
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// Certificates on a shared load balancer.
//
// Each exposed Service has a Google-managed certificate of its own, for its
// own hosts, on the load balancer's HTTPS proxy. A Service joining or
// leaving touches only its own certificate, so the other hosts keep the
// certificates they are served with. A managed certificate cannot change:
// a Service whose hosts change gets a new one, and its old one stays on the
// proxy beside the new one for as long as the new one is not ACTIVE for
// every domain (make before break); a later run, once the new one is ACTIVE,
// detaches and deletes the old one. The same keeps a load balancer built
// with one certificate for all its hosts (meshctl before 0.9) serving while
// its Services' own certificates provision.
//
// A target HTTPS proxy holds at most MaxProxyCertificates certificates, so
// a shared load balancer serves at most that many Services with managed
// certificates, fewer while replacements provision. Beyond that, meshctl
// refuses the plan and says so: put further Services on another --lb (or
// bring one certificate for them all with --certificate). A Certificate
// Manager map would lift the limit; meshctl does not make one yet.

// MaxProxyCertificates is Compute's limit of SSL certificates on one target
// HTTPS proxy.
const MaxProxyCertificates = 15

// serviceCertificate is the name of a Service's own managed certificate for
// domains. The name carries the domains' hash, since a managed certificate
// cannot change: other domains are another certificate. For a Service's
// own load balancer it is the name that load balancer's one certificate
// always had.
func (n names) serviceCertificate(sv Service, domains []string) string {
	base, key := serviceBase(n.project, n.cluster, sv)
	return resourceName(base, "cert-"+shortHash(sortedCopy(domains)...), key...)
}

// serviceDomains are the hosts of sv a Google-managed certificate covers.
func serviceDomains(sv Service) []string {
	return slices.DeleteFunc(normalizeHosts(sv.Hosts), func(h string) bool { return strings.HasPrefix(h, "*.") })
}

// certState is what certificate planning knows of the load balancer: its
// URL map's routes, the proxy's certificates, and meshctl's certificates
// for it, each by name.
type certState struct {
	n names
	// routes are the URL map's hosts (those a managed certificate can
	// cover) by path matcher, i.e. by backend service name.
	routes map[string][]string
	// attached are the proxy's certificates, in order; certs are the
	// certificates known by name (the project's, listed, and those a plan
	// creates).
	attached []string
	certs    map[string]*computepb.SslCertificate
}

func newCertState(n names, um *computepb.UrlMap, proxy *computepb.TargetHttpsProxy, all []*computepb.SslCertificate) *certState {
	st := &certState{n: n, routes: map[string][]string{}, certs: map[string]*computepb.SslCertificate{}}
	for _, hr := range um.GetHostRules() {
		m := hr.GetPathMatcher()
		for _, h := range hr.GetHosts() {
			if !strings.HasPrefix(h, "*.") {
				st.routes[m] = append(st.routes[m], h)
			}
		}
	}
	for m := range st.routes {
		st.routes[m] = sortedCopy(st.routes[m])
	}
	for _, l := range proxy.GetSslCertificates() {
		st.attached = append(st.attached, linkName(l))
	}
	for _, c := range all {
		st.certs[c.GetName()] = c
	}
	return st
}

// ownerOf returns the marker of a certificate meshctl made for this load
// balancer.
func (st *certState) ownerOf(name string) (mesh.ResourceOwner, bool) {
	c := st.certs[name]
	if c == nil {
		return mesh.ResourceOwner{}, false
	}
	o, ok := mesh.ParseResourceOwner(c.GetDescription())
	return o, ok && o.LB == st.n.lb
}

// matcherOf is the path matcher (the backend service) a Service's own
// certificate belongs to; "" for a certificate of the whole load balancer.
func (st *certState) matcherOf(name string) string {
	o, ok := st.ownerOf(name)
	if !ok || len(o.Services) != 1 {
		return ""
	}
	ns, svc, _ := strings.Cut(o.Services[0], "/")
	return st.n.backendService(Service{Namespace: ns, Name: svc})
}

// target is the Service's own certificate for the domains it is routed
// for now, if it exists (or a plan makes it).
func (st *certState) target(matcher string) string {
	domains := st.routes[matcher]
	for _, name := range sortedKeys(st.certs) {
		if st.matcherOf(name) == matcher && sameSet(st.certs[name].GetManaged().GetDomains(), domains) {
			return name
		}
	}
	return ""
}

// covers reports whether certificate name covers host, and whether it is
// ACTIVE for it.
func (st *certState) covers(name, host string) (covered, active bool) {
	return CertificateCovers(st.certs[name], host)
}

// CertificateCovers reports whether cert covers host, and whether it is
// ACTIVE for it: a Google-managed certificate by its domains and their
// status, one of the user's own by its names (it serves them at once).
func CertificateCovers(cert *computepb.SslCertificate, host string) (covered, active bool) {
	if cert == nil {
		return false, false
	}
	if cert.GetType() != "MANAGED" && cert.GetManaged() == nil {
		for _, san := range cert.GetSubjectAlternativeNames() {
			if san == host || strings.HasPrefix(san, "*.") && strings.HasSuffix(host, san[1:]) && !strings.Contains(strings.TrimSuffix(host, san[1:]), ".") {
				return true, true
			}
		}
		return false, false
	}
	m := cert.GetManaged()
	if s, ok := m.GetDomainStatus()[host]; ok {
		return true, s == "ACTIVE"
	}
	if !slices.Contains(m.GetDomains(), host) {
		return false, false
	}
	return true, m.GetStatus() == "ACTIVE"
}

func (st *certState) activeForAll(name string, hosts []string) bool {
	for _, h := range hosts {
		if _, active := st.covers(name, h); !active {
			return false
		}
	}
	return true
}

// certPlan is what the proxy should serve and what may go.
type certPlan struct {
	// attach are the certificates the proxy should hold: each routed
	// Service's own, then those kept beside a Service's own until it is
	// ACTIVE.
	attach []string
	// kept says, for each certificate kept beside another, why.
	kept map[string]string
	// deletable are meshctl's certificates for this load balancer that
	// nothing needs: replaced ones no longer kept, and one for the whole
	// load balancer. A Service's certificate whose Service is not routed
	// (yet) is not among them: a concurrent run may be about to route it,
	// and unexpose deletes a leaving Service's own.
	deletable []string
}

// plan works out the proxy's certificates: make before break for every
// routed host.
func (st *certState) plan() (certPlan, error) {
	cp := certPlan{kept: map[string]string{}}
	add := func(name string) {
		if !slices.Contains(cp.attach, name) {
			cp.attach = append(cp.attach, name)
		}
	}
	var bridges []string
	for _, m := range sortedKeys(st.routes) {
		domains := st.routes[m]
		t := st.target(m)
		if t != "" {
			add(t)
			if st.activeForAll(t, domains) {
				continue
			}
		}
		for _, a := range st.attached {
			if a == t {
				continue
			}
			for _, h := range domains {
				if covered, active := st.covers(a, h); covered && (active || t == "") {
					if !slices.Contains(bridges, a) {
						bridges = append(bridges, a)
					}
					cp.kept[a] = fmt.Sprintf("kept for %s until %s is ACTIVE", h, orNone(t))
					break
				}
			}
		}
	}
	slices.Sort(bridges)
	for _, b := range bridges {
		add(b)
	}
	if len(cp.attach) == 0 {
		// A proxy needs a certificate: keep what it has until a Service
		// is routed again.
		cp.attach = slices.Clone(st.attached)
	}
	if len(cp.attach) > MaxProxyCertificates {
		return cp, failure.WithHint(fmt.Errorf("load balancer %s would need %d certificates on its HTTPS proxy (one per Service, plus %d kept while replacements provision); a target HTTPS proxy holds at most %d",
			st.n.lb, len(cp.attach), len(bridges), MaxProxyCertificates),
			"put further Services on another load balancer (--lb), wait until the new certificates are ACTIVE and run again, or bring one certificate for all hosts with --certificate")
	}
	for _, name := range sortedKeys(st.certs) {
		if _, ours := st.ownerOf(name); !ours || slices.Contains(cp.attach, name) {
			continue
		}
		m := st.matcherOf(name)
		if _, routed := st.routes[m]; m == "" || routed {
			cp.deletable = append(cp.deletable, name)
		}
	}
	return cp, nil
}

func orNone(s string) string {
	if s == "" {
		return "the Service's own certificate"
	}
	return s
}

// links turns certificate names into the links a proxy holds.
func (cp certPlan) links(project string) []string {
	out := make([]string, len(cp.attach))
	for i, name := range cp.attach {
		out[i] = globalLink(project, KindCertificate, name)
	}
	return out
}

// ownedBy keeps the certificates meshctl made for load balancer lb.
func ownedBy(lb string, certs []*computepb.SslCertificate) []*computepb.SslCertificate {
	var out []*computepb.SslCertificate
	for _, c := range certs {
		if o, ok := mesh.ParseResourceOwner(c.GetDescription()); ok && o.LB == lb {
			out = append(out, c)
		}
	}
	return out
}

// pendingCertificate is a certificate a plan creates, as Google shows a new
// one: PROVISIONING for every domain.
func pendingCertificate(o *object) *computepb.SslCertificate {
	c := proto.Clone(o.want).(*computepb.SslCertificate)
	c.Managed.Status = ptr("PROVISIONING")
	c.Managed.DomainStatus = map[string]string{}
	for _, d := range c.Managed.Domains {
		c.Managed.DomainStatus[d] = "PROVISIONING"
	}
	return c
}

// keptNote says which certificates a proxy keeps beside new ones, and why.
func keptNote(kept map[string]string) string {
	var parts []string
	for _, name := range sortedKeys(kept) {
		parts = append(parts, name+" "+kept[name])
	}
	return strings.Join(parts, "; ")
}
