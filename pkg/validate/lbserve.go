package validate

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshctl/meshctl/pkg/expose"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// What the load balancer serves as it changes: every routed host with an
// ACTIVE certificate, every zone of the gateway's NEG among the backends,
// and no certificate of meshctl's left over.

// routedHosts are the hosts a URL map sends to backend service bs.
func routedHosts(um *computepb.UrlMap, bs string) []string {
	matchers := map[string]bool{}
	for _, pm := range um.GetPathMatchers() {
		if linkName(pm.GetDefaultService()) == bs {
			matchers[pm.GetName()] = true
		}
	}
	var hosts []string
	for _, hr := range um.GetHostRules() {
		if matchers[hr.GetPathMatcher()] {
			hosts = append(hosts, hr.GetHosts()...)
		}
	}
	slices.Sort(hosts)
	return slices.Compact(hosts)
}

// reexposeCommand is the expose command that puts the Service's load
// balancer back as meshctl built it: its hosts, its shared load balancer
// and its choices.
func (k *lbCheck) reexposeCommand() string {
	ns, name, _ := strings.Cut(k.key, "/")
	cmd := "meshctl expose svc " + name + " -n " + ns
	if k.bs == nil {
		return cmd
	}
	for _, um := range k.l.urlMaps {
		for _, h := range routedHosts(um, k.bs.GetName()) {
			cmd += " --host " + h
		}
	}
	o, _ := mesh.ParseResourceOwner(k.bs.GetDescription())
	if o.LB != "" && !strings.Contains(o.LB, "/") {
		cmd += " --lb " + o.LB
	}
	if o.Chose(mesh.ChoiceNoArmor) {
		cmd += " --no-armor"
	}
	return cmd
}

// hostCertificates: every non-wildcard host the URL map routes to this
// Service is covered by a certificate on the proxy that is ACTIVE for it.
// A host whose only certificates are still provisioning (or failed) is a
// warning with each one's status; a host no certificate covers is an error.
// A proxy's certificate that does not exist is drift.
func (k *lbCheck) hostCertificates(pObj string, proxy *computepb.TargetHttpsProxy, um *computepb.UrlMap) {
	byName := map[string]*computepb.SslCertificate{}
	for _, c := range k.l.certs {
		byName[c.GetName()] = c
	}
	var attached []*computepb.SslCertificate
	for _, link := range proxy.GetSslCertificates() {
		c := byName[linkName(link)]
		if c == nil {
			m, err := k.c.Get(k.ctx, lb.KindCertificate, linkName(link))
			if err != nil {
				k.tls.Findings = append(k.tls.Findings, driftOrAPI(pObj, "sslCertificates", "certificate "+linkName(link), err, k.reexpose))
				continue
			}
			c = m.(*computepb.SslCertificate)
		}
		attached = append(attached, c)
	}
	for _, h := range routedHosts(um, k.bs.GetName()) {
		if strings.HasPrefix(h, "*.") {
			continue // a managed certificate cannot cover it; expose warned
		}
		var statuses []string
		fix := ""
		for _, c := range attached {
			covered, active := lb.CertificateCovers(c, h)
			if active {
				statuses = nil
				break
			}
			if covered {
				s := orDefault(c.GetManaged().GetDomainStatus()[h], orDefault(c.GetManaged().GetStatus(), "UNKNOWN"))
				why, f := certStatusWhy(c.GetName(), h, s)
				statuses = append(statuses, fmt.Sprintf("certificate %s: %s (%s)", c.GetName(), s, why))
				if fix == "" {
					fix = f
				}
			}
		}
		switch {
		case len(statuses) > 0:
			k.tls.Findings = append(k.tls.Findings, findings.ManagedCertStatus.New(pObj,
				fmt.Sprintf("host %s has no ACTIVE certificate: %s", h, strings.Join(statuses, "; ")), fix))
		case !slices.ContainsFunc(attached, func(c *computepb.SslCertificate) bool { covered, _ := lb.CertificateCovers(c, h); return covered }):
			k.tls.Findings = append(k.tls.Findings, findings.HostWithoutCert.New(pObj,
				fmt.Sprintf("host %s is routed, but no certificate on the proxy covers it: its clients get a certificate error", h), k.reexpose))
		}
	}
}

// negZones: every zone GKE reports for the gateway's NEG (neg-status) is
// among the backend service's backends; a zone that is not gets no traffic.
func (k *lbCheck) negZones() {
	gw := k.e.gateway
	svc, err := k.st.c.Kube.CoreV1().Services(gw.Namespace).Get(k.ctx, gw.Name, metav1.GetOptions{})
	if err != nil {
		return // the gateway's own checks report a missing Service
	}
	neg, err := expose.ParseNEGStatus(svc.Annotations[expose.NEGStatusAnnotation], expose.HTTPSPort)
	if err != nil {
		return
	}
	have := map[string]bool{}
	for _, b := range k.bs.GetBackends() {
		if linkName(b.GetGroup()) == neg.Name {
			have[zoneOf(b.GetGroup())] = true
		}
	}
	for _, z := range neg.Zones {
		if !have[z] {
			k.wiring.Findings = append(k.wiring.Findings, findings.NEGZoneNotBackend.New(k.bsObj,
				fmt.Sprintf("NEG %s in zone %s (Service %s/%s neg-status) is not among the backends: its endpoints get no traffic", neg.Name, z, gw.Namespace, gw.Name),
				k.reexpose+" (adds every zone's NEG)"))
		}
	}
}

// emptyZone is the finding for a zone's NEG without endpoints: expected
// when the gateway has fewer replicas than the backend service has zones,
// a fault otherwise.
func (k *lbCheck) emptyZone(group, zone string) findings.Finding {
	gw := k.e.gateway
	replicas := gw.Status.Replicas
	if gw.Spec.Replicas != nil && *gw.Spec.Replicas > replicas {
		replicas = *gw.Spec.Replicas
	}
	zones := int32(len(k.bs.GetBackends()))
	if replicas < zones {
		return findings.NEGZoneEmpty.New(k.bsObj,
			fmt.Sprintf("NEG %s in %s has no endpoints: gateway %s/%s runs %d replica(s) for %d zones, so some zones have none (the load balancer sends their traffic to the others)",
				linkName(group), zone, gw.Namespace, gw.Name, replicas, zones),
			fmt.Sprintf("for a gateway pod in every zone: %s --replicas %d:%d", k.reexpose, zones, max(zones, replicas)))
	}
	return findings.BackendUnhealthy.New(k.bsObj, fmt.Sprintf("NEG %s in %s has no endpoints", linkName(group), zone),
		"check the gateway's pods: kubectl get pods -n "+gw.Namespace+" -l "+mesh.LabelGateway+"="+gw.Name+" -o wide")
}

// checkCertificates reports certificates meshctl made for the load
// balancers of the Services in scope that no HTTPS proxy uses.
func checkCertificates(ctx context.Context, st *state, found []exposed) []Case {
	if st.c.Compute == nil || len(found) == 0 {
		return nil
	}
	if err := st.lbLists.load(ctx, st.c.Compute, st.c.NetworkCompute); err != nil {
		return nil // each Service's load balancer check reports it
	}
	l := &st.lbLists
	keys, lbs := map[string]bool{}, map[string]bool{}
	for _, e := range found {
		keys[e.ref()] = true
		for _, b := range l.backends {
			if o, ok := mesh.ParseResourceOwner(b.GetDescription()); ok && o.Serves(e.ref()) {
				lbs[o.LB] = true
			}
		}
	}
	used := map[string]bool{}
	for _, p := range l.proxies {
		for _, c := range p.GetSslCertificates() {
			used[linkName(c)] = true
		}
	}
	cases := map[string]*Case{}
	for _, c := range l.certs {
		o, ok := mesh.ParseResourceOwner(c.GetDescription())
		inScope := ok && (lbs[o.LB] || slices.ContainsFunc(o.Services, func(s string) bool { return keys[s] }))
		if !inScope || used[c.GetName()] {
			continue
		}
		cs := cases[o.LB]
		if cs == nil {
			cs = &Case{Group: GroupLB, Check: "certificates", Object: "load balancer " + o.LB}
			cases[o.LB] = cs
		}
		what := "load balancer " + o.LB
		if len(o.Services) > 0 {
			what = "Service " + strings.Join(o.Services, ", ") + " on " + what
		}
		cs.Findings = append(cs.Findings, findings.CertLeftOver.New("certificate "+c.GetName(),
			fmt.Sprintf("made by meshctl for %s (domains %s), but no HTTPS proxy uses it", what, strings.Join(c.GetManaged().GetDomains(), ", ")),
			"gcloud compute ssl-certificates delete "+c.GetName()+" --global"))
	}
	var out []Case
	for _, key := range slices.Sorted(maps.Keys(cases)) {
		out = append(out, *cases[key])
	}
	return out
}
