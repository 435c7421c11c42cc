package validate

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"cloud.google.com/go/compute/apiv1/computepb"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// Compute is what validate reads of the Compute API; *lb.GCE has it.
type Compute interface {
	Get(ctx context.Context, kind lb.Kind, name string) (proto.Message, error)
	List(ctx context.Context, kind lb.Kind, filter string) ([]proto.Message, error)
	GetHealth(ctx context.Context, backendService, group string) (*computepb.BackendServiceGroupHealth, error)
}

// Gateway ports the load balancer reaches (expose's container ports).
const (
	servingPort     = mesh.GatewayHTTPSPort
	healthCheckPort = mesh.StatusPort
)

// computeLists are the project's load balancer objects, each kind listed
// once, all at once.
type computeLists struct {
	once     sync.Once
	backends []*computepb.BackendService
	firewall []*computepb.Firewall
	urlMaps  []*computepb.UrlMap
	rules    []*computepb.ForwardingRule
	proxies  []*computepb.TargetHttpsProxy
	certs    []*computepb.SslCertificate
	err      error
}

func (l *computeLists) load(ctx context.Context, c, network Compute) error {
	if network == nil {
		network = c
	}
	l.once.Do(func() {
		var g errgroup.Group
		list := func(kind lb.Kind, keep func(proto.Message)) {
			g.Go(func() error {
				from := c
				if kind == lb.KindFirewall {
					from = network
				}
				ms, err := from.List(ctx, kind, "")
				if err != nil {
					return fmt.Errorf("list %s: %w", kind, err)
				}
				for _, m := range ms {
					keep(m)
				}
				return nil
			})
		}
		list(lb.KindBackendService, func(m proto.Message) { l.backends = append(l.backends, m.(*computepb.BackendService)) })
		list(lb.KindFirewall, func(m proto.Message) { l.firewall = append(l.firewall, m.(*computepb.Firewall)) })
		list(lb.KindURLMap, func(m proto.Message) { l.urlMaps = append(l.urlMaps, m.(*computepb.UrlMap)) })
		list(lb.KindForwardingRule, func(m proto.Message) { l.rules = append(l.rules, m.(*computepb.ForwardingRule)) })
		list(lb.KindHTTPSProxy, func(m proto.Message) { l.proxies = append(l.proxies, m.(*computepb.TargetHttpsProxy)) })
		list(lb.KindCertificate, func(m proto.Message) { l.certs = append(l.certs, m.(*computepb.SslCertificate)) })
		l.err = g.Wait()
	})
	return l.err
}

func linkName(link string) string { return link[strings.LastIndex(link, "/")+1:] }

func ownsService(description, key string) bool {
	o, ok := mesh.ParseResourceOwner(description)
	return ok && o.Serves(key)
}

// lbCheck is the load balancer check of one exposed Service: its cases,
// filled in by one function each.
type lbCheck struct {
	ctx                            context.Context
	st                             *state
	c                              Compute
	l                              *computeLists
	e                              exposed
	key, svcObj, reexpose          string
	bs                             *computepb.BackendService
	owner                          mesh.ResourceOwner
	bsObj                          string
	wiring, health, armor, fw, tls Case
}

// checkLB checks the load balancer expose built for the exposed Service:
// wiring, backend health per NEG zone, certificates, SSL policy, Cloud
// Armor and the firewall from Google's front ends.
func checkLB(ctx context.Context, st *state, e exposed) []Case {
	svcObj := e.object()
	if err := st.lbLists.load(ctx, st.c.Compute, st.c.NetworkCompute); err != nil {
		return []Case{apiFailed(GroupLB, "load balancer", svcObj, "read the load balancer", err)}
	}
	newCase := func(check string) Case { return Case{Group: GroupLB, Check: check, Object: svcObj} }
	k := &lbCheck{ctx: ctx, st: st, c: st.c.Compute, l: &st.lbLists, e: e, key: e.ref(), svcObj: svcObj,
		wiring: newCase("wiring"), health: newCase("backend health"), armor: newCase("cloud armor"), fw: newCase("firewall"), tls: newCase("tls")}
	for _, b := range k.l.backends {
		if ownsService(b.GetDescription(), k.key) {
			k.bs = b
		}
	}
	k.reexpose = k.reexposeCommand()
	if k.bs == nil {
		k.wiring.Findings = append(k.wiring.Findings, findings.LBDrift.New(svcObj, "no backend service made by meshctl for "+k.key+": the load balancer does not reach it", k.reexpose))
		return []Case{k.wiring}
	}
	k.owner, _ = mesh.ParseResourceOwner(k.bs.GetDescription())
	k.bsObj = "backend service " + k.bs.GetName()
	k.backendWiring()
	k.negZones()
	k.backendHealth()
	k.cloudArmor()
	k.firewall()
	k.frontend()
	return []Case{k.wiring, k.health, k.armor, k.fw, k.tls}
}

// backendWiring: the backend service has its health checks, which exist,
// and backends.
func (k *lbCheck) backendWiring() {
	for _, hc := range k.bs.GetHealthChecks() {
		if _, err := k.c.Get(k.ctx, lb.KindHealthCheck, linkName(hc)); err != nil {
			k.wiring.Findings = append(k.wiring.Findings, driftOrAPI(k.bsObj, "healthChecks", "health check "+linkName(hc), err, k.reexpose))
		}
	}
	if len(k.bs.GetHealthChecks()) == 0 {
		k.wiring.Findings = append(k.wiring.Findings, findings.LBDrift.New(k.bsObj, "field healthChecks: none; meshctl set one", k.reexpose))
	}
	if len(k.bs.GetBackends()) == 0 {
		k.wiring.Findings = append(k.wiring.Findings, findings.LBDrift.New(k.bsObj, "field backends: none; meshctl adds the gateway's NEG in every zone", k.reexpose))
	}
}

// backendHealth: every NEG zone has endpoints, all HEALTHY.
func (k *lbCheck) backendHealth() {
	for _, b := range k.bs.GetBackends() {
		group := b.GetGroup()
		zone := zoneOf(group)
		h, err := k.c.GetHealth(k.ctx, k.bs.GetName(), group)
		if err != nil {
			k.health.Findings = append(k.health.Findings, findings.APIUnavailable.New(k.bsObj, fmt.Sprintf("getHealth %s in %s: %v", linkName(group), zone, err), ""))
			continue
		}
		var bad []string
		for _, s := range h.GetHealthStatus() {
			if s.GetHealthState() != "HEALTHY" {
				bad = append(bad, fmt.Sprintf("%s:%d %s", s.GetIpAddress(), s.GetPort(), orDefault(s.GetHealthState(), "UNKNOWN")))
			}
		}
		switch {
		case len(h.GetHealthStatus()) == 0:
			k.health.Findings = append(k.health.Findings, k.emptyZone(group, zone))
		case len(bad) > 0:
			k.health.Findings = append(k.health.Findings, findings.BackendUnhealthy.New(k.bsObj, fmt.Sprintf("NEG %s in %s: %d of %d endpoints not healthy: %s", linkName(group), zone, len(bad), len(h.GetHealthStatus()), strings.Join(bad, ", ")),
				fmt.Sprintf("check the gateway's readiness (port %d %s) and that firewall rules admit %s to ports %d and %d", healthCheckPort, mesh.ReadinessPath, strings.Join(lb.GFERanges, ", "), servingPort, healthCheckPort)))
		}
	}
}

// cloudArmor: a Cloud Armor policy is attached, and exists.
func (k *lbCheck) cloudArmor() {
	policy := k.bs.GetSecurityPolicy()
	if policy == "" && k.owner.Chose(mesh.ChoiceNoArmor) {
		k.armor.Findings = append(k.armor.Findings, findings.CloudArmorOff.New(k.bsObj, "no Cloud Armor policy, as chosen with --no-armor: the Service is open to every source",
			"to protect it: "+strings.Replace(k.reexpose, " --no-armor", "", 1)+" --waf xss,sqli (without --no-armor)"))
		return
	}
	if policy == "" {
		k.armor.Findings = append(k.armor.Findings, findings.CloudArmorDetached.New(k.bsObj, "no Cloud Armor policy attached: the Service is open to every source and unprotected by WAF rules",
			"gcloud compute backend-services update "+k.bs.GetName()+" --global --security-policy POLICY (or "+k.reexpose+")"))
	} else if _, err := k.c.Get(k.ctx, lb.KindSecurityPolicy, linkName(policy)); err != nil {
		k.armor.Findings = append(k.armor.Findings, driftOrAPI(k.bsObj, "securityPolicy", "Cloud Armor policy "+linkName(policy), err, k.reexpose))
	}
}

// firewall: rules admit Google's front ends to the gateway's ports. Only
// this Service's own rule and the user's count: another exposed Service's
// rule goes when that Service is unexposed.
func (k *lbCheck) firewall() {
	var rules []*computepb.Firewall
	for _, f := range k.l.firewall {
		if _, meshctls := mesh.ParseResourceOwner(f.GetDescription()); !meshctls || ownsService(f.GetDescription(), k.key) {
			rules = append(rules, f)
		}
	}
	var missing []string
	for _, port := range []int{servingPort, healthCheckPort} {
		for _, r := range lb.GFERanges {
			if !firewallCovers(rules, r, port) {
				missing = append(missing, fmt.Sprintf("%s to tcp:%d", r, port))
			}
		}
	}
	if len(missing) > 0 {
		k.fw.Findings = append(k.fw.Findings, findings.FirewallGFE.New(k.svcObj, "no firewall rule admits "+strings.Join(missing, ", ")+": health checks fail and the load balancer sends nothing",
			k.reexpose+" (recreates meshctl's rule)"))
	}
}

// frontend: URL map → HTTPS proxy → forwarding rule on 443, and the
// proxy's TLS.
func (k *lbCheck) frontend() {
	var um *computepb.UrlMap
	for _, u := range k.l.urlMaps {
		if urlMapUses(u, k.bs.GetName()) {
			um = u
		}
	}
	if um == nil {
		k.wiring.Findings = append(k.wiring.Findings, findings.LBDrift.New(k.bsObj, "no URL map routes to it", k.reexpose))
		return
	}
	var proxy *computepb.TargetHttpsProxy
	var rule *computepb.ForwardingRule
	for _, r := range k.l.rules {
		if !strings.Contains(r.GetTarget(), "/targetHttpsProxies/") {
			continue
		}
		for _, p := range k.l.proxies {
			if p.GetName() == linkName(r.GetTarget()) && linkName(p.GetUrlMap()) == um.GetName() {
				proxy, rule = p, r
			}
		}
	}
	if proxy == nil {
		k.wiring.Findings = append(k.wiring.Findings, findings.LBDrift.New("URL map "+um.GetName(), "no forwarding rule on 443 reaches it through an HTTPS proxy", k.reexpose))
		return
	}
	if rule.GetPortRange() != "" && !strings.HasPrefix(rule.GetPortRange(), "443") {
		k.wiring.Findings = append(k.wiring.Findings, findings.LBDrift.New("forwarding rule "+rule.GetName(), "field portRange: "+rule.GetPortRange()+"; meshctl set 443", k.reexpose))
	}
	k.proxyTLS(proxy, um)
}

// proxyTLS: the HTTPS proxy has an SSL policy of TLS 1.2 or later, its
// certificates exist, and every host the URL map routes to this Service has
// an ACTIVE one (lbserve.go).
func (k *lbCheck) proxyTLS(proxy *computepb.TargetHttpsProxy, um *computepb.UrlMap) {
	pObj := "target HTTPS proxy " + proxy.GetName()
	if proxy.GetSslPolicy() == "" {
		k.tls.Findings = append(k.tls.Findings, findings.SSLPolicyWeak.New(pObj, "no SSL policy: clients may use TLS 1.0", k.reexpose))
	} else if m, err := k.c.Get(k.ctx, lb.KindSSLPolicy, linkName(proxy.GetSslPolicy())); err != nil {
		k.tls.Findings = append(k.tls.Findings, driftOrAPI(pObj, "sslPolicy", "SSL policy "+linkName(proxy.GetSslPolicy()), err, k.reexpose))
	} else if p := m.(*computepb.SslPolicy); p.GetMinTlsVersion() < "TLS_1_2" {
		k.tls.Findings = append(k.tls.Findings, findings.SSLPolicyWeak.New("SSL policy "+p.GetName(), "minimum TLS "+orDefault(p.GetMinTlsVersion(), "TLS_1_0")+"; want TLS_1_2 or later",
			"gcloud compute ssl-policies update "+p.GetName()+" --min-tls-version 1.2"))
	}
	k.hostCertificates(pObj, proxy, um)
}

// certStatusWhy says what a managed certificate's domain status means and
// what to do about it.
func certStatusWhy(cert, domain, status string) (why, fix string) {
	switch status {
	case "ACTIVE":
		return "issued", ""
	case "PROVISIONING":
		return "Google is provisioning it (up to 60 minutes once DNS points at the load balancer)", "point " + domain + " at the load balancer's IP (an A record) and wait"
	case "FAILED_NOT_VISIBLE":
		return "Google could not see the domain resolve to the load balancer", "create or fix the A record of " + domain + " to the load balancer's IP"
	case "FAILED_CAA_CHECKING", "FAILED_CAA_FORBIDDEN":
		return "a CAA record forbids Google's CAs", "allow pki.goog in the CAA records of " + domain
	case "FAILED_RATE_LIMITED":
		return "the CA rate-limited the request", "wait; Google retries"
	}
	return "not active", "gcloud compute ssl-certificates describe " + cert + " --global"
}

func driftOrAPI(obj, field, what string, err error, fix string) findings.Finding {
	if strings.Contains(err.Error(), "404") || strings.Contains(strings.ToLower(err.Error()), "not found") {
		return findings.LBDrift.New(obj, fmt.Sprintf("field %s: %s does not exist", field, what), fix)
	}
	return findings.APIUnavailable.New(obj, fmt.Sprintf("get %s: %v", what, err), "")
}

func zoneOf(link string) string {
	parts := strings.Split(link, "/")
	for i, p := range parts {
		if p == "zones" && i+1 < len(parts) {
			return parts[i+1]
		}
	}
	return "?"
}

func urlMapUses(u *computepb.UrlMap, bs string) bool {
	if linkName(u.GetDefaultService()) == bs {
		return true
	}
	for _, pm := range u.GetPathMatchers() {
		if linkName(pm.GetDefaultService()) == bs {
			return true
		}
		for _, pr := range pm.GetPathRules() {
			if linkName(pr.GetService()) == bs {
				return true
			}
		}
	}
	return false
}

// firewallCovers reports whether an enabled ingress allow rule admits
// source range r to tcp:port.
func firewallCovers(rules []*computepb.Firewall, r string, port int) bool {
	want, err := netip.ParsePrefix(r)
	if err != nil {
		return false
	}
	for _, f := range rules {
		if f.GetDisabled() || (f.GetDirection() != "" && f.GetDirection() != "INGRESS") {
			continue
		}
		covered := false
		for _, s := range f.GetSourceRanges() {
			if p, err := netip.ParsePrefix(s); err == nil && p.Bits() <= want.Bits() && p.Contains(want.Addr()) {
				covered = true
			}
		}
		if !covered {
			continue
		}
		for _, a := range f.GetAllowed() {
			if a.GetIPProtocol() != "tcp" && a.GetIPProtocol() != "all" {
				continue
			}
			if a.GetIPProtocol() == "all" || len(a.GetPorts()) == 0 {
				return true
			}
			for _, p := range a.GetPorts() {
				lo, hi, _ := strings.Cut(p, "-")
				l, _ := strconv.Atoi(lo)
				h := l
				if hi != "" {
					h, _ = strconv.Atoi(hi)
				}
				if port >= l && port <= h {
					return true
				}
			}
		}
	}
	return false
}
