package validate

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"cloud.google.com/go/compute/apiv1/computepb"
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

// computeLists are the project's load balancer objects, each kind listed once.
type computeLists struct {
	once     sync.Once
	backends []*computepb.BackendService
	firewall []*computepb.Firewall
	urlMaps  []*computepb.UrlMap
	rules    []*computepb.ForwardingRule
	err      error
}

func (l *computeLists) load(ctx context.Context, c Compute) error {
	l.once.Do(func() {
		list := func(kind lb.Kind) []proto.Message {
			if l.err != nil {
				return nil
			}
			ms, err := c.List(ctx, kind, "")
			if err != nil {
				l.err = fmt.Errorf("list %s: %w", kind, err)
			}
			return ms
		}
		for _, m := range list(lb.KindBackendService) {
			l.backends = append(l.backends, m.(*computepb.BackendService))
		}
		for _, m := range list(lb.KindFirewall) {
			l.firewall = append(l.firewall, m.(*computepb.Firewall))
		}
		for _, m := range list(lb.KindURLMap) {
			l.urlMaps = append(l.urlMaps, m.(*computepb.UrlMap))
		}
		for _, m := range list(lb.KindForwardingRule) {
			l.rules = append(l.rules, m.(*computepb.ForwardingRule))
		}
	})
	return l.err
}

func linkName(link string) string { return link[strings.LastIndex(link, "/")+1:] }

func ownsService(description, key string) bool {
	o, ok := mesh.ParseResourceOwner(description)
	return ok && o.Serves(key)
}

// checkLB checks the load balancer expose built for the Service key
// ("namespace/name"): wiring, backend health per NEG zone, certificate,
// SSL policy, Cloud Armor and the firewall from Google's front ends.
func checkLB(ctx context.Context, st *state, key, svcObj string) []Case {
	c := st.c.Compute
	if err := st.lbLists.load(ctx, c); err != nil {
		return []Case{apiFailed(GroupLB, "load balancer", svcObj, "read the load balancer", err)}
	}
	l := &st.lbLists
	newCase := func(check string) Case { return Case{Group: GroupLB, Check: check, Object: svcObj} }
	reexpose := "meshctl expose svc " + key[strings.Index(key, "/")+1:] + " -n " + key[:strings.Index(key, "/")]

	wiring, health, armor, fw, tls := newCase("wiring"), newCase("backend health"), newCase("cloud armor"), newCase("firewall"), newCase("tls")
	var bs *computepb.BackendService
	for _, b := range l.backends {
		if ownsService(b.GetDescription(), key) {
			bs = b
		}
	}
	if bs == nil {
		wiring.Findings = append(wiring.Findings, findings.LBDrift.New(svcObj, "no backend service made by meshctl for "+key+": the load balancer does not reach it", reexpose))
		return []Case{wiring}
	}
	bsObj := "backend service " + bs.GetName()

	// Health checks exist.
	for _, hc := range bs.GetHealthChecks() {
		if _, err := c.Get(ctx, lb.KindHealthCheck, linkName(hc)); err != nil {
			wiring.Findings = append(wiring.Findings, driftOrAPI(bsObj, "healthChecks", "health check "+linkName(hc), err, reexpose))
		}
	}
	if len(bs.GetHealthChecks()) == 0 {
		wiring.Findings = append(wiring.Findings, findings.LBDrift.New(bsObj, "field healthChecks: none; meshctl set one", reexpose))
	}
	if len(bs.GetBackends()) == 0 {
		wiring.Findings = append(wiring.Findings, findings.LBDrift.New(bsObj, "field backends: none; meshctl adds the gateway's NEG in every zone", reexpose))
	}

	// Backend health per NEG zone.
	for _, b := range bs.GetBackends() {
		group := b.GetGroup()
		zone := zoneOf(group)
		h, err := c.GetHealth(ctx, bs.GetName(), group)
		if err != nil {
			health.Findings = append(health.Findings, findings.APIUnavailable.New(bsObj, fmt.Sprintf("getHealth %s in %s: %v", linkName(group), zone, err), ""))
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
			health.Findings = append(health.Findings, findings.BackendUnhealthy.New(bsObj, fmt.Sprintf("NEG %s in %s has no endpoints", linkName(group), zone),
				"check the gateway's pods: kubectl get pods -A -l meshctl.io/gateway"))
		case len(bad) > 0:
			health.Findings = append(health.Findings, findings.BackendUnhealthy.New(bsObj, fmt.Sprintf("NEG %s in %s: %d of %d endpoints not healthy: %s", linkName(group), zone, len(bad), len(h.GetHealthStatus()), strings.Join(bad, ", ")),
				fmt.Sprintf("check the gateway's readiness (port %d %s) and that firewall rules admit %s to ports %d and %d", healthCheckPort, mesh.ReadinessPath, strings.Join(lb.GFERanges, ", "), servingPort, healthCheckPort)))
		}
	}

	// Cloud Armor.
	if bs.GetSecurityPolicy() == "" {
		armor.Findings = append(armor.Findings, findings.CloudArmorDetached.New(bsObj, "no Cloud Armor policy attached: the Service is open to every source and unprotected by WAF rules",
			"gcloud compute backend-services update "+bs.GetName()+" --global --security-policy POLICY (or "+reexpose+")"))
	} else if _, err := c.Get(ctx, lb.KindSecurityPolicy, linkName(bs.GetSecurityPolicy())); err != nil {
		armor.Findings = append(armor.Findings, driftOrAPI(bsObj, "securityPolicy", "Cloud Armor policy "+linkName(bs.GetSecurityPolicy()), err, reexpose))
	}

	// Firewall from Google's front ends to the gateway's ports.
	// Only this Service's own rule and the user's count: another
	// exposed Service's rule goes when that Service is unexposed.
	var rules []*computepb.Firewall
	for _, f := range l.firewall {
		if _, meshctls := mesh.ParseResourceOwner(f.GetDescription()); !meshctls || ownsService(f.GetDescription(), key) {
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
		fw.Findings = append(fw.Findings, findings.FirewallGFE.New(svcObj, "no firewall rule admits "+strings.Join(missing, ", ")+": health checks fail and the load balancer sends nothing",
			reexpose+" (recreates meshctl's rule)"))
	}

	// URL map → HTTPS proxy → forwarding rule, and the proxy's TLS.
	var um *computepb.UrlMap
	for _, u := range l.urlMaps {
		if urlMapUses(u, bs.GetName()) {
			um = u
		}
	}
	if um == nil {
		wiring.Findings = append(wiring.Findings, findings.LBDrift.New(bsObj, "no URL map routes to it", reexpose))
		return []Case{wiring, health, armor, fw, tls}
	}
	var proxy *computepb.TargetHttpsProxy
	var rule *computepb.ForwardingRule
	for _, r := range l.rules {
		if !strings.Contains(r.GetTarget(), "/targetHttpsProxies/") {
			continue
		}
		m, err := c.Get(ctx, lb.KindHTTPSProxy, linkName(r.GetTarget()))
		if err != nil {
			continue
		}
		if p := m.(*computepb.TargetHttpsProxy); linkName(p.GetUrlMap()) == um.GetName() {
			proxy, rule = p, r
		}
	}
	if proxy == nil {
		wiring.Findings = append(wiring.Findings, findings.LBDrift.New("URL map "+um.GetName(), "no forwarding rule on 443 reaches it through an HTTPS proxy", reexpose))
		return []Case{wiring, health, armor, fw, tls}
	}
	if rule.GetPortRange() != "" && !strings.HasPrefix(rule.GetPortRange(), "443") {
		wiring.Findings = append(wiring.Findings, findings.LBDrift.New("forwarding rule "+rule.GetName(), "field portRange: "+rule.GetPortRange()+"; meshctl set 443", reexpose))
	}
	pObj := "target HTTPS proxy " + proxy.GetName()
	if proxy.GetSslPolicy() == "" {
		tls.Findings = append(tls.Findings, findings.SSLPolicyWeak.New(pObj, "no SSL policy: clients may use TLS 1.0", reexpose))
	} else if m, err := c.Get(ctx, lb.KindSSLPolicy, linkName(proxy.GetSslPolicy())); err != nil {
		tls.Findings = append(tls.Findings, driftOrAPI(pObj, "sslPolicy", "SSL policy "+linkName(proxy.GetSslPolicy()), err, reexpose))
	} else if p := m.(*computepb.SslPolicy); p.GetMinTlsVersion() < "TLS_1_2" {
		tls.Findings = append(tls.Findings, findings.SSLPolicyWeak.New("SSL policy "+p.GetName(), "minimum TLS "+orDefault(p.GetMinTlsVersion(), "TLS_1_0")+"; want TLS_1_2 or later",
			"gcloud compute ssl-policies update "+p.GetName()+" --min-tls-version 1.2"))
	}
	for _, cl := range proxy.GetSslCertificates() {
		m, err := c.Get(ctx, lb.KindCertificate, linkName(cl))
		if err != nil {
			tls.Findings = append(tls.Findings, driftOrAPI(pObj, "sslCertificates", "certificate "+linkName(cl), err, reexpose))
			continue
		}
		tls.Findings = append(tls.Findings, certStatus(m.(*computepb.SslCertificate))...)
	}
	return []Case{wiring, health, armor, fw, tls}
}

// certStatus reports a Google-managed certificate's domains that are not
// ACTIVE, with what the status means and what to do.
func certStatus(cert *computepb.SslCertificate) []findings.Finding {
	mc := cert.GetManaged()
	if mc == nil {
		return nil
	}
	obj := "certificate " + cert.GetName()
	var out []findings.Finding
	for _, d := range sortedKeys(mc.GetDomainStatus()) {
		s := mc.GetDomainStatus()[d]
		if s == "ACTIVE" {
			continue
		}
		why, fix := "", ""
		switch s {
		case "PROVISIONING":
			why, fix = "Google is provisioning it (up to 60 minutes once DNS points at the load balancer)", "point "+d+" at the load balancer's IP (an A record) and wait"
		case "FAILED_NOT_VISIBLE":
			why, fix = "Google could not see the domain resolve to the load balancer", "create or fix the A record of "+d+" to the load balancer's IP"
		case "FAILED_CAA_CHECKING", "FAILED_CAA_FORBIDDEN":
			why, fix = "a CAA record forbids Google's CAs", "allow pki.goog in the CAA records of "+d
		case "FAILED_RATE_LIMITED":
			why, fix = "the CA rate-limited the request", "wait; Google retries"
		default:
			why, fix = "not active", "gcloud compute ssl-certificates describe "+cert.GetName()+" --global"
		}
		out = append(out, findings.ManagedCertStatus.New(obj, fmt.Sprintf("domain %s: %s: %s", d, s, why), fix))
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
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
