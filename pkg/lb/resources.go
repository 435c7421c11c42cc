package lb

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/meshctl/meshctl/pkg/gkecluster"
	"github.com/meshctl/meshctl/pkg/mesh"
	"google.golang.org/protobuf/proto"
)

// object is one Compute object the load balancer needs, with what meshctl
// wants of it and, after reading, what exists.
type object struct {
	kind Kind
	name string
	// project holds the object when it is not the plan's: a Shared VPC's
	// firewall rule is in the network's host project.
	project string
	// external objects were named by the user (--address, --certificate,
	// --armor-policy): they must exist and are never changed.
	external bool
	owner    mesh.ResourceOwner
	deps     []string // ids of the objects it refers to
	// want is the object to insert.
	want proto.Message
	// diff names the fields where an existing object differs from want.
	diff func(actual proto.Message) []string
	// merge returns fresh with the wanted fields written over it: the body
	// of a read-modify-write Update. Nil for kinds changed through set*
	// methods instead.
	merge func(fresh proto.Message) (proto.Message, error)

	actual proto.Message // as read while planning; nil if absent
}

func objectID(kind Kind, name string) string { return string(kind) + "/" + name }

func (o *object) id() string { return objectID(o.kind, o.name) }

func ptr[T any](v T) *T { return &v }

// field compares one field and names it when it differs.
type fieldDiff []string

func (d *fieldDiff) check(name string, equal bool) {
	if !equal {
		*d = append(*d, name)
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}

func sameSet(a, b []string) bool { return slices.Equal(sortedCopy(a), sortedCopy(b)) }

func sameLinks(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameLink(a[i], b[i]) {
			return false
		}
	}
	return true
}

// descriptionDiff: an adopted object gets meshctl's description on its
// next write, so ownership is recorded from then on.
func descriptionDiff(d *fieldDiff, actual interface{ GetDescription() string }, owner mesh.ResourceOwner) {
	if _, ok := mesh.ParseResourceOwner(actual.GetDescription()); !ok {
		d.check("description", false)
	}
}

// --- address ---

func addressObject(name string, owner mesh.ResourceOwner) *object {
	return &object{
		kind: KindAddress, name: name, owner: owner,
		want: &computepb.Address{Name: &name, Description: ptr(owner.String()), IpVersion: ptr("IPV4")},
		diff: func(proto.Message) []string { return nil }, // addresses cannot change
	}
}

// --- health check ---

func healthCheckObject(name string, owner mesh.ResourceOwner, sv Service) *object {
	want := &computepb.HealthCheck{
		Name: &name, Description: ptr(owner.String()), Type: ptr("HTTP"),
		HttpHealthCheck: &computepb.HTTPHealthCheck{
			Port: ptr(int32(sv.HealthCheckPort)), RequestPath: ptr(sv.HealthCheckPath),
		},
		CheckIntervalSec: ptr(int32(5)), TimeoutSec: ptr(int32(5)),
		HealthyThreshold: ptr(int32(2)), UnhealthyThreshold: ptr(int32(2)),
	}
	return &object{
		kind: KindHealthCheck, name: name, owner: owner, want: want,
		diff: func(a proto.Message) []string {
			hc := a.(*computepb.HealthCheck)
			var d fieldDiff
			d.check("type", hc.GetType() == "HTTP")
			d.check("httpHealthCheck.port", hc.GetHttpHealthCheck().GetPort() == want.HttpHealthCheck.GetPort() &&
				hc.GetHttpHealthCheck().GetPortSpecification() != "USE_SERVING_PORT")
			d.check("httpHealthCheck.requestPath", hc.GetHttpHealthCheck().GetRequestPath() == want.HttpHealthCheck.GetRequestPath())
			d.check("checkIntervalSec", hc.GetCheckIntervalSec() == want.GetCheckIntervalSec())
			d.check("timeoutSec", hc.GetTimeoutSec() == want.GetTimeoutSec())
			d.check("healthyThreshold", hc.GetHealthyThreshold() == want.GetHealthyThreshold())
			d.check("unhealthyThreshold", hc.GetUnhealthyThreshold() == want.GetUnhealthyThreshold())
			descriptionDiff(&d, hc, owner)
			return d
		},
		merge: func(f proto.Message) (proto.Message, error) {
			hc := proto.Clone(f).(*computepb.HealthCheck)
			hc.Type = want.Type
			hc.HttpHealthCheck = proto.Clone(want.HttpHealthCheck).(*computepb.HTTPHealthCheck)
			hc.TcpHealthCheck, hc.HttpsHealthCheck, hc.Http2HealthCheck, hc.SslHealthCheck, hc.GrpcHealthCheck = nil, nil, nil, nil, nil
			hc.CheckIntervalSec, hc.TimeoutSec = want.CheckIntervalSec, want.TimeoutSec
			hc.HealthyThreshold, hc.UnhealthyThreshold = want.HealthyThreshold, want.UnhealthyThreshold
			hc.Description = want.Description
			return hc, nil
		},
	}
}

// --- SSL policy ---

func sslPolicyObject(name string, owner mesh.ResourceOwner, spec Spec) *object {
	want := &computepb.SslPolicy{Name: &name, Description: ptr(owner.String()), Profile: &spec.SSLProfile, MinTlsVersion: &spec.MinTLS}
	return &object{
		kind: KindSSLPolicy, name: name, owner: owner, want: want,
		diff: func(a proto.Message) []string {
			p := a.(*computepb.SslPolicy)
			var d fieldDiff
			d.check("profile", p.GetProfile() == spec.SSLProfile)
			d.check("minTlsVersion", p.GetMinTlsVersion() == spec.MinTLS)
			descriptionDiff(&d, p, owner)
			return d
		},
		merge: func(f proto.Message) (proto.Message, error) {
			p := f.(*computepb.SslPolicy)
			// A patch: only the fields to change, and the fingerprint.
			return &computepb.SslPolicy{Profile: want.Profile, MinTlsVersion: want.MinTlsVersion, Fingerprint: p.Fingerprint, Description: want.Description}, nil
		},
	}
}

// --- certificate ---

func certificateObject(name string, owner mesh.ResourceOwner, domains []string) *object {
	return &object{
		kind: KindCertificate, name: name, owner: owner,
		want: &computepb.SslCertificate{
			Name: &name, Description: ptr(owner.String()), Type: ptr("MANAGED"),
			Managed: &computepb.SslCertificateManagedSslCertificate{Domains: sortedCopy(domains)},
		},
		// The name carries a hash of the domains: a different set is a
		// different certificate, swapped in on the proxy.
		diff: func(a proto.Message) []string {
			var d fieldDiff
			d.check("managed.domains", sameSet(a.(*computepb.SslCertificate).GetManaged().GetDomains(), domains))
			return d
		},
	}
}

// --- Cloud Armor ---

const defaultRulePriority = math.MaxInt32

// armorRules are the policy's rules for the flags: denied ranges first,
// then the WAF rule sets, then allowed ranges, then the default rule (deny
// when there is an allow list, allow otherwise).
func armorRules(a Armor) []*computepb.SecurityPolicyRule {
	var rules []*computepb.SecurityPolicyRule
	ipRule := func(prio int32, action, desc string, ranges []string) *computepb.SecurityPolicyRule {
		return &computepb.SecurityPolicyRule{
			Priority: ptr(prio), Action: ptr(action), Description: ptr(desc), Preview: ptr(false),
			Match: &computepb.SecurityPolicyRuleMatcher{
				VersionedExpr: ptr("SRC_IPS_V1"),
				Config:        &computepb.SecurityPolicyRuleMatcherConfig{SrcIpRanges: ranges},
			},
		}
	}
	// A rule matches at most ten ranges.
	chunks := func(s []string) [][]string {
		var out [][]string
		for len(s) > 0 {
			n := min(10, len(s))
			out = append(out, sortedCopy(s[:n]))
			s = s[n:]
		}
		return out
	}
	for i, c := range chunks(a.DenyCIDRs) {
		rules = append(rules, ipRule(int32(1000+i), "deny(403)", "meshctl: --deny-cidr", c))
	}
	waf := slices.Clone(a.WAF)
	for i := range waf {
		waf[i], _ = WAFRuleSet(waf[i])
	}
	slices.Sort(waf)
	waf = slices.Compact(waf)
	for i, set := range waf {
		rules = append(rules, &computepb.SecurityPolicyRule{
			Priority: ptr(int32(2000 + i)), Action: ptr("deny(403)"), Description: ptr("meshctl: --waf " + set), Preview: ptr(false),
			Match: &computepb.SecurityPolicyRuleMatcher{Expr: &computepb.Expr{Expression: ptr("evaluatePreconfiguredExpr('" + set + "')")}},
		})
	}
	for i, c := range chunks(a.AllowCIDRs) {
		rules = append(rules, ipRule(int32(3000+i), "allow", "meshctl: --allow-cidr", c))
	}
	def := "allow"
	if len(a.AllowCIDRs) > 0 {
		def = "deny(403)"
	}
	rules = append(rules, ipRule(defaultRulePriority, def, "default rule", []string{"*"}))
	return rules
}

// sameRule compares what a rule does, not how the server decorated it.
func sameRule(a, b *computepb.SecurityPolicyRule) bool {
	return a.GetPriority() == b.GetPriority() && a.GetAction() == b.GetAction() && a.GetPreview() == b.GetPreview() &&
		a.GetMatch().GetVersionedExpr() == b.GetMatch().GetVersionedExpr() &&
		sameSet(a.GetMatch().GetConfig().GetSrcIpRanges(), b.GetMatch().GetConfig().GetSrcIpRanges()) &&
		a.GetMatch().GetExpr().GetExpression() == b.GetMatch().GetExpr().GetExpression()
}

// ruleChanges lists the rules to add, patch and remove to turn have into want.
func ruleChanges(have, want []*computepb.SecurityPolicyRule) (add, patch []*computepb.SecurityPolicyRule, remove []int32) {
	byPrio := map[int32]*computepb.SecurityPolicyRule{}
	for _, r := range have {
		byPrio[r.GetPriority()] = r
	}
	wanted := map[int32]bool{}
	for _, w := range want {
		wanted[w.GetPriority()] = true
		h, ok := byPrio[w.GetPriority()]
		switch {
		case !ok:
			add = append(add, w)
		case !sameRule(h, w):
			patch = append(patch, w)
		}
	}
	for _, h := range have {
		if !wanted[h.GetPriority()] {
			remove = append(remove, h.GetPriority())
		}
	}
	return add, patch, remove
}

func armorObject(name string, owner mesh.ResourceOwner, a Armor) *object {
	rules := armorRules(a)
	return &object{
		kind: KindSecurityPolicy, name: name, owner: owner,
		want: &computepb.SecurityPolicy{Name: &name, Description: ptr(owner.String()), Type: ptr("CLOUD_ARMOR"), Rules: rules},
		diff: func(act proto.Message) []string {
			p := act.(*computepb.SecurityPolicy)
			var d fieldDiff
			if a.Specified {
				add, patch, remove := ruleChanges(p.GetRules(), rules)
				for _, r := range add {
					d = append(d, fmt.Sprintf("rules[%d] (add)", r.GetPriority()))
				}
				for _, r := range patch {
					d = append(d, fmt.Sprintf("rules[%d]", r.GetPriority()))
				}
				for _, prio := range remove {
					d = append(d, fmt.Sprintf("rules[%d] (remove)", prio))
				}
			}
			descriptionDiff(&d, p, owner)
			return d
		},
	}
}

// --- firewall ---

// firewallObject is the rule admitting Google's front ends and health
// checkers to the gateway's ports, in the project that holds the network
// (a Shared VPC's host project: a rule anywhere else does not apply).
func firewallObject(name string, owner mesh.ResourceOwner, project, network string, tags []string, sv Service) *object {
	ports := []string{strconv.Itoa(sv.ServingPort), strconv.Itoa(sv.HealthCheckPort)}
	slices.Sort(ports)
	ports = slices.Compact(ports)
	want := &computepb.Firewall{
		Name: &name, Description: ptr(owner.String()),
		Network:   ptr("projects/" + project + "/global/networks/" + network),
		Direction: ptr("INGRESS"), Priority: ptr(int32(1000)),
		SourceRanges: slices.Clone(GFERanges),
		Allowed:      []*computepb.Allowed{{IPProtocol: ptr("tcp"), Ports: ports}},
		TargetTags:   sortedCopy(tags),
	}
	return &object{
		kind: KindFirewall, name: name, project: project, owner: owner, want: want,
		diff: func(a proto.Message) []string {
			f := a.(*computepb.Firewall)
			var d fieldDiff
			d.check("network", gkecluster.SameNetwork(f.GetNetwork(), project, network))
			d.check("direction", f.GetDirection() == "INGRESS")
			d.check("priority", f.GetPriority() == want.GetPriority())
			d.check("sourceRanges", sameSet(f.GetSourceRanges(), GFERanges))
			allowed := len(f.GetAllowed()) == 1 && strings.EqualFold(f.GetAllowed()[0].GetIPProtocol(), "tcp") &&
				sameSet(f.GetAllowed()[0].GetPorts(), ports) && len(f.GetDenied()) == 0
			d.check("allowed", allowed)
			d.check("targetTags", sameSet(f.GetTargetTags(), tags))
			d.check("disabled", !f.GetDisabled())
			descriptionDiff(&d, f, owner)
			return d
		},
		merge: func(proto.Message) (proto.Message, error) {
			return &computepb.Firewall{
				Description: want.Description, Direction: want.Direction, Priority: want.Priority,
				SourceRanges: want.SourceRanges, Allowed: want.Allowed, TargetTags: want.TargetTags, Disabled: ptr(false),
			}, nil
		},
	}
}

// --- backend service ---

func backendServiceObject(name string, owner mesh.ResourceOwner, spec Spec, sv Service, hcLink string) *object {
	var backends []*computepb.Backend
	zones := sortedCopy(sv.NEG.Zones)
	for _, z := range zones {
		backends = append(backends, &computepb.Backend{
			Group: ptr(negLink(spec.Project, z, sv.NEG.Name)), BalancingMode: ptr("RATE"),
			MaxRatePerEndpoint: ptr(float32(spec.MaxRatePerEndpoint)), CapacityScaler: ptr(float32(1)),
		})
	}
	want := &computepb.BackendService{
		Name: &name, Description: ptr(owner.String()),
		LoadBalancingScheme: ptr("EXTERNAL_MANAGED"), Protocol: ptr("HTTP2"),
		HealthChecks: []string{hcLink}, Backends: backends, TimeoutSec: ptr(int32(30)),
		LogConfig:            &computepb.BackendServiceLogConfig{Enable: ptr(true), SampleRate: ptr(float32(spec.LogSampleRate))},
		CustomRequestHeaders: slices.Clone(spec.CustomRequestHeaders),
	}
	if spec.IAP.Enabled {
		want.Iap = &computepb.BackendServiceIAP{Enabled: ptr(true)}
		if spec.IAP.ClientID != "" {
			want.Iap.Oauth2ClientId, want.Iap.Oauth2ClientSecret = ptr(spec.IAP.ClientID), ptr(spec.IAP.ClientSecret)
		}
	}
	return &object{
		kind: KindBackendService, name: name, owner: owner, want: want,
		diff: func(a proto.Message) []string {
			bs := a.(*computepb.BackendService)
			var d fieldDiff
			d.check("loadBalancingScheme", bs.GetLoadBalancingScheme() == "EXTERNAL_MANAGED")
			d.check("protocol", bs.GetProtocol() == "HTTP2")
			d.check("healthChecks", sameLinks(bs.GetHealthChecks(), want.HealthChecks))
			d.check("backends", sameBackends(bs.GetBackends(), backends))
			d.check("logConfig", bs.GetLogConfig().GetEnable() && bs.GetLogConfig().GetSampleRate() == float32(spec.LogSampleRate))
			d.check("iap", sameIAP(bs.GetIap(), want.Iap))
			d.check("customRequestHeaders", slices.Equal(bs.GetCustomRequestHeaders(), want.CustomRequestHeaders))
			descriptionDiff(&d, bs, owner)
			if have, ok := mesh.ParseResourceOwner(bs.GetDescription()); ok && !slices.Equal(have.Choices, owner.Choices) {
				d.check("description", false) // the choices recorded there changed (--no-armor)
			}
			return d
		},
		merge: func(f proto.Message) (proto.Message, error) {
			bs := proto.Clone(f).(*computepb.BackendService)
			bs.Description = want.Description
			bs.LoadBalancingScheme, bs.Protocol = want.LoadBalancingScheme, want.Protocol
			bs.HealthChecks, bs.Backends = want.HealthChecks, backends
			bs.LogConfig, bs.Iap, bs.CustomRequestHeaders = want.LogConfig, want.Iap, want.CustomRequestHeaders
			bs.SecurityPolicy = nil // attached with setSecurityPolicy, not by a write of the object
			return bs, nil
		},
	}
}

// sameBackends compares NEG backends by group, balancing mode and rate.
func sameBackends(have, want []*computepb.Backend) bool {
	if len(have) != len(want) {
		return false
	}
	for _, w := range want {
		i := slices.IndexFunc(have, func(h *computepb.Backend) bool { return sameLink(h.GetGroup(), w.GetGroup()) })
		if i < 0 {
			return false
		}
		h := have[i]
		if h.GetBalancingMode() != w.GetBalancingMode() || h.GetMaxRatePerEndpoint() != w.GetMaxRatePerEndpoint() {
			return false
		}
	}
	return true
}

func sameIAP(have, want *computepb.BackendServiceIAP) bool {
	if !want.GetEnabled() {
		return !have.GetEnabled()
	}
	return have.GetEnabled() && have.GetOauth2ClientId() == want.GetOauth2ClientId()
}

// --- URL maps ---

// route is one service's place in the URL map: its hosts go to its backend
// service through a path matcher named after it.
type route struct {
	matcher string // the backend service's name
	hosts   []string
	service string // the backend service's link
}

// mergeURLMap returns have with routes added (or replaced) and the path
// matchers in drop removed; everything else in it is kept. Host rules and
// path matchers are ordered by name, and the default service is the first
// path matcher's, so the result does not depend on the order services came.
func mergeURLMap(have *computepb.UrlMap, routes []route, drop []string) (*computepb.UrlMap, error) {
	um := proto.Clone(have).(*computepb.UrlMap)
	replaced := map[string]bool{}
	for _, r := range routes {
		replaced[r.matcher] = true
	}
	for _, d := range drop {
		replaced[d] = true
	}
	claimed := map[string]string{}
	var hostRules []*computepb.HostRule
	for _, hr := range um.GetHostRules() {
		if replaced[hr.GetPathMatcher()] {
			continue
		}
		for _, h := range hr.GetHosts() {
			claimed[h] = hr.GetPathMatcher()
		}
		hostRules = append(hostRules, hr)
	}
	var matchers []*computepb.PathMatcher
	for _, pm := range um.GetPathMatchers() {
		if !replaced[pm.GetName()] {
			matchers = append(matchers, pm)
		}
	}
	for _, r := range routes {
		for _, h := range r.hosts {
			if other, ok := claimed[h]; ok {
				return nil, fmt.Errorf("host %s is already routed to %s on this load balancer", h, other)
			}
		}
		hostRules = append(hostRules, &computepb.HostRule{Hosts: sortedCopy(r.hosts), PathMatcher: ptr(r.matcher)})
		matchers = append(matchers, &computepb.PathMatcher{Name: ptr(r.matcher), DefaultService: ptr(r.service)})
	}
	sort.SliceStable(hostRules, func(i, j int) bool { return hostRules[i].GetPathMatcher() < hostRules[j].GetPathMatcher() })
	sort.SliceStable(matchers, func(i, j int) bool { return matchers[i].GetName() < matchers[j].GetName() })
	um.HostRules, um.PathMatchers = hostRules, matchers
	if len(matchers) > 0 {
		um.DefaultService = matchers[0].DefaultService
	}
	return um, nil
}

// urlMapHosts lists every host a URL map routes, sorted.
func urlMapHosts(um *computepb.UrlMap) []string {
	var hosts []string
	for _, hr := range um.GetHostRules() {
		hosts = append(hosts, hr.GetHosts()...)
	}
	slices.Sort(hosts)
	return slices.Compact(hosts)
}

// sameRouting compares what two URL maps route where.
func urlMapDiff(have, want *computepb.UrlMap) []string {
	var d fieldDiff
	d.check("defaultService", sameLink(have.GetDefaultService(), want.GetDefaultService()))
	hostsOf := func(um *computepb.UrlMap) map[string]string {
		out := map[string]string{}
		for _, hr := range um.GetHostRules() {
			out[hr.GetPathMatcher()] = strings.Join(sortedCopy(hr.GetHosts()), ",")
		}
		return out
	}
	servicesOf := func(um *computepb.UrlMap) map[string]string {
		out := map[string]string{}
		for _, pm := range um.GetPathMatchers() {
			out[pm.GetName()] = relLink(pm.GetDefaultService()) + fmt.Sprint(len(pm.GetPathRules()), len(pm.GetRouteRules()))
		}
		return out
	}
	d.check("hostRules", mapsEqual(hostsOf(have), hostsOf(want)))
	d.check("pathMatchers", mapsEqual(servicesOf(have), servicesOf(want)))
	d.check("description", have.GetDescription() == want.GetDescription())
	return d
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func urlMapObject(name string, owner mesh.ResourceOwner, routes []route, drop []string) *object {
	want := func(have *computepb.UrlMap) (*computepb.UrlMap, error) {
		if have == nil {
			have = &computepb.UrlMap{Name: &name}
		}
		um, err := mergeURLMap(have, routes, drop)
		if err != nil {
			return nil, err
		}
		um.Description = ptr(owner.String())
		return um, nil
	}
	first, _ := want(nil)
	return &object{
		kind: KindURLMap, name: name, owner: owner, want: first,
		diff: func(a proto.Message) []string {
			have := a.(*computepb.UrlMap)
			um, err := want(have)
			if err != nil {
				return []string{"hostRules (" + err.Error() + ")"}
			}
			return urlMapDiff(have, um)
		},
		merge: func(f proto.Message) (proto.Message, error) {
			return want(f.(*computepb.UrlMap))
		},
	}
}

func redirectMapObject(name string, owner mesh.ResourceOwner) *object {
	redirect := &computepb.HttpRedirectAction{HttpsRedirect: ptr(true), RedirectResponseCode: ptr("MOVED_PERMANENTLY_DEFAULT"), StripQuery: ptr(false)}
	return &object{
		kind: KindURLMap, name: name, owner: owner,
		want: &computepb.UrlMap{Name: &name, Description: ptr(owner.String()), DefaultUrlRedirect: redirect},
		diff: func(a proto.Message) []string {
			um := a.(*computepb.UrlMap)
			r := um.GetDefaultUrlRedirect()
			var d fieldDiff
			d.check("defaultUrlRedirect", r.GetHttpsRedirect() && r.GetRedirectResponseCode() == "MOVED_PERMANENTLY_DEFAULT" &&
				!r.GetStripQuery() && r.GetHostRedirect() == "" && r.GetPathRedirect() == "" && r.GetPrefixRedirect() == "")
			d.check("defaultService", um.GetDefaultService() == "")
			d.check("hostRules", len(um.GetHostRules()) == 0 && len(um.GetPathMatchers()) == 0)
			descriptionDiff(&d, um, owner)
			return d
		},
		merge: func(f proto.Message) (proto.Message, error) {
			um := proto.Clone(f).(*computepb.UrlMap)
			um.DefaultUrlRedirect, um.DefaultService, um.DefaultRouteAction = redirect, nil, nil
			um.HostRules, um.PathMatchers = nil, nil
			um.Description = ptr(owner.String())
			return um, nil
		},
	}
}

// --- proxies and forwarding rules: changed through set* methods ---

func httpsProxyObject(name string, owner mesh.ResourceOwner, urlMap string, certs []string, sslPolicy string) *object {
	want := &computepb.TargetHttpsProxy{Name: &name, Description: ptr(owner.String()), UrlMap: &urlMap, SslCertificates: certs, SslPolicy: &sslPolicy}
	return &object{
		kind: KindHTTPSProxy, name: name, owner: owner, want: want,
		diff: func(a proto.Message) []string {
			p := a.(*computepb.TargetHttpsProxy)
			var d fieldDiff
			d.check("urlMap", sameLink(p.GetUrlMap(), urlMap))
			d.check("sslCertificates", sameLinks(p.GetSslCertificates(), certs))
			d.check("sslPolicy", sameLink(p.GetSslPolicy(), sslPolicy))
			return d
		},
	}
}

func httpProxyObject(name string, owner mesh.ResourceOwner, urlMap string) *object {
	return &object{
		kind: KindHTTPProxy, name: name, owner: owner,
		want: &computepb.TargetHttpProxy{Name: &name, Description: ptr(owner.String()), UrlMap: &urlMap},
		diff: func(a proto.Message) []string {
			var d fieldDiff
			d.check("urlMap", sameLink(a.(*computepb.TargetHttpProxy).GetUrlMap(), urlMap))
			return d
		},
	}
}

// forwardingRuleObject: ip is the address's IP when known (to compare with
// what the rule serves on), addressLink what to create it with.
func forwardingRuleObject(name string, owner mesh.ResourceOwner, addressLink, ip, target string, port int) *object {
	portRange := fmt.Sprintf("%d-%d", port, port)
	return &object{
		kind: KindForwardingRule, name: name, owner: owner,
		want: &computepb.ForwardingRule{
			Name: &name, Description: ptr(owner.String()), IPAddress: &addressLink, IPProtocol: ptr("TCP"),
			PortRange: ptr(strconv.Itoa(port)), LoadBalancingScheme: ptr("EXTERNAL_MANAGED"), Target: &target,
			NetworkTier: ptr("PREMIUM"),
		},
		diff: func(a proto.Message) []string {
			fr := a.(*computepb.ForwardingRule)
			var d fieldDiff
			d.check("IPAddress", ip == "" || fr.GetIPAddress() == ip || sameLink(fr.GetIPAddress(), addressLink))
			d.check("portRange", fr.GetPortRange() == portRange || fr.GetPortRange() == strconv.Itoa(port))
			d.check("loadBalancingScheme", fr.GetLoadBalancingScheme() == "EXTERNAL_MANAGED")
			d.check("target", sameLink(fr.GetTarget(), target))
			return d
		},
	}
}
