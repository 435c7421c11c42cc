package trace

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// tracer follows one target through the project.
type tracer struct {
	r      *reads
	opts   Options
	target Target
}

// paths finds the forwarding rules that serve the target and follows each.
func (t *tracer) paths(ctx context.Context) []Path {
	rules, fail := t.servingRules(ctx)
	if fail != nil {
		return []Path{{Hops: []Hop{*fail}}}
	}
	var out []Path
	for _, fr := range rules {
		out = append(out, t.fromRule(ctx, fr)...)
	}
	return out
}

// proxyCollection is the target proxy kind that serves the target's scheme.
func (t *tracer) proxyCollection() string {
	if t.target.Scheme == "http" {
		return string(lb.KindHTTPProxy)
	}
	return string(lb.KindHTTPSProxy)
}

// servingRules finds the global forwarding rules serving the target: those
// with the address it resolves to, else those whose URL map has a host rule
// for it. fail is the hop to show when there are none.
func (t *tracer) servingRules(ctx context.Context) (rules []*computepb.ForwardingRule, fail *Hop) {
	all, err := listOf[*computepb.ForwardingRule](ctx, t.r, lb.KindForwardingRule)
	if err != nil {
		h := unknownHop(HopForwardingRule, "?", "find the forwarding rule", err)
		return nil, &h
	}
	var onPort, atAddress []*computepb.ForwardingRule
	for _, fr := range all {
		if linkCollection(fr.GetTarget()) == t.proxyCollection() && portInRange(t.target.Port, fr.GetPortRange()) {
			onPort = append(onPort, fr)
		}
	}
	for _, fr := range onPort {
		if slices.Contains(t.target.Addresses, fr.GetIPAddress()) {
			atAddress = append(atAddress, fr)
		}
	}
	if len(atAddress) > 0 || t.target.IsIP || t.target.ResolvedBy == "--address" {
		if len(atAddress) == 0 {
			return nil, t.noRule(ctx, all, onPort)
		}
		return atAddress, nil
	}
	byHost, err := t.rulesByHostRule(ctx, onPort)
	if err != nil {
		h := unknownHop(HopForwardingRule, "?", "find the forwarding rule by the URL maps' host rules", err)
		return nil, &h
	}
	if len(byHost) == 0 {
		return nil, t.noRule(ctx, all, onPort)
	}
	return byHost, nil
}

// rulesByHostRule keeps the rules whose URL map names the host in a host
// rule (exactly or by a wildcard, not "*": a catch-all serves every host,
// which says nothing about where the host's DNS points).
func (t *tracer) rulesByHostRule(ctx context.Context, rules []*computepb.ForwardingRule) ([]*computepb.ForwardingRule, error) {
	proxies, err := t.proxies(ctx)
	if err != nil {
		return nil, err
	}
	maps, err := listOf[*computepb.UrlMap](ctx, t.r, lb.KindURLMap)
	if err != nil {
		return nil, err
	}
	var out []*computepb.ForwardingRule
	for _, fr := range rules {
		p, ok := proxies[linkName(fr.GetTarget())]
		if !ok {
			continue
		}
		um, ok := named(maps, p.urlMap)
		if !ok {
			continue
		}
		if hr, _ := matchHostRule(um, t.target.Host); hr != nil && !slices.Contains(hr.GetHosts(), "*") {
			out = append(out, fr)
		}
	}
	return out, nil
}

// noRule is the broken first hop of a host (or address) nothing serves.
func (t *tracer) noRule(ctx context.Context, all, onPort []*computepb.ForwardingRule) *Hop {
	h := newHop(HopForwardingRule, "none")
	tg := t.target
	what := tg.Host
	switch {
	case tg.IsIP:
		what = "address " + tg.Host
	case len(tg.Addresses) > 0:
		h.see("%s resolves to %s (%s)", tg.Host, strings.Join(tg.Addresses, ", "), tg.ResolvedBy)
		what = fmt.Sprintf("%s (%s)", tg.Host, strings.Join(tg.Addresses, ", "))
	default:
		h.see("%s does not resolve (%s); no URL map in the project has a host rule for it", tg.Host, orText(tg.DNSError, "no answer"))
	}
	var elsewhere []string
	for _, fr := range all {
		if slices.Contains(tg.Addresses, fr.GetIPAddress()) && !slices.Contains(onPort, fr) {
			elsewhere = append(elsewhere, fmt.Sprintf("%s (port %s, %s)", fr.GetName(), fr.GetPortRange(), linkCollection(fr.GetTarget())))
		}
	}
	if len(elsewhere) > 0 {
		h.see("the address has rules for other ports or protocols only: %s", strings.Join(elsewhere, ", "))
	}
	if catchAll := t.catchAllRules(ctx, onPort); len(catchAll) > 0 {
		h.see("load balancers on port %d answering any host: %s (if %s's DNS points at one of them, trace with --address IP)", tg.Port, strings.Join(catchAll, ", "), tg.Host)
	}
	h.add(Broken, findings.TraceNoForwardingRule.New("host "+tg.Host,
		fmt.Sprintf("no global forwarding rule on port %d in the project serves %s", tg.Port, what),
		"expose it (meshctl expose svc NAME --host "+tg.Host+"), point its DNS at the forwarding rule's address, or pass --address IP (and --project) for the load balancer you expect"))
	return &h
}

// catchAllRules names the rules whose URL map answers a host it has no
// host rule for.
func (t *tracer) catchAllRules(ctx context.Context, rules []*computepb.ForwardingRule) []string {
	proxies, err := t.proxies(ctx)
	if err != nil {
		return nil
	}
	maps, err := listOf[*computepb.UrlMap](ctx, t.r, lb.KindURLMap)
	if err != nil {
		return nil
	}
	var out []string
	for _, fr := range rules {
		if p, ok := proxies[linkName(fr.GetTarget())]; ok {
			if um, ok := named(maps, p.urlMap); ok {
				if hr, _ := matchHostRule(um, t.target.Host); hr == nil || slices.Contains(hr.GetHosts(), "*") {
					out = append(out, fr.GetName()+" ("+fr.GetIPAddress()+")")
				}
			}
		}
	}
	return out
}

// portInRange reports whether port is in a forwarding rule's portRange
// ("443-443", "443", or empty for every port).
func portInRange(port int, r string) bool {
	if r == "" {
		return true
	}
	lo, hi, found := strings.Cut(r, "-")
	l, err := strconv.Atoi(lo)
	if err != nil {
		return false
	}
	h := l
	if found {
		if h, err = strconv.Atoi(hi); err != nil {
			return false
		}
	}
	return port >= l && port <= h
}

// fromRule follows one forwarding rule.
func (t *tracer) fromRule(ctx context.Context, fr *computepb.ForwardingRule) []Path {
	h := newHop(HopForwardingRule, fr.GetName())
	p := Path{ForwardingRule: fr.GetName(), BuiltBy: builtBy(fr.GetName(), fr.GetDescription())}
	h.see("%s:%s, %s", fr.GetIPAddress(), fr.GetPortRange(), orText(fr.GetLoadBalancingScheme(), "EXTERNAL"))
	t.checkResolution(&h, fr)
	proxies, err := t.proxies(ctx)
	if err != nil {
		p.Hops = append(p.Hops, h, unknownHop(HopTargetProxy, linkName(fr.GetTarget()), "read the target proxy", err))
		return []Path{p}
	}
	px, ok := proxies[linkName(fr.GetTarget())]
	if !ok {
		h.add(Broken, missingLink("forwarding rule "+fr.GetName(), "target", fr.GetTarget()))
		p.Hops = append(p.Hops, h)
		return []Path{p}
	}
	p.Hops = append(p.Hops, h)
	ph := t.proxyHop(ctx, fr, px)
	p.Hops = append(p.Hops, ph)
	maps, err := listOf[*computepb.UrlMap](ctx, t.r, lb.KindURLMap)
	if err != nil {
		p.Hops = append(p.Hops, unknownHop(HopURLMap, linkName(px.urlMap), "read the URL map", err))
		return []Path{p}
	}
	um, ok := named(maps, px.urlMap)
	if !ok {
		p.Hops[len(p.Hops)-1].add(Broken, missingLink("target proxy "+px.name, "urlMap", px.urlMap))
		return []Path{p}
	}
	return t.throughURLMap(ctx, p, um)
}

// checkResolution says whether the host's DNS leads to this rule.
func (t *tracer) checkResolution(h *Hop, fr *computepb.ForwardingRule) {
	tg := t.target
	switch {
	case tg.IsIP:
	case tg.ResolvedBy == "dns":
		h.see("%s resolves to %s", tg.Host, strings.Join(tg.Addresses, ", "))
		if !slices.Contains(tg.Addresses, fr.GetIPAddress()) {
			h.add(Warning, findings.TraceDNS.New("host "+tg.Host,
				fmt.Sprintf("%s resolves to %s, not to this load balancer's %s, which has a host rule for it: clients reach something else", tg.Host, strings.Join(tg.Addresses, ", "), fr.GetIPAddress()),
				fmt.Sprintf("point %s at %s (an A record), or trace the address it resolves to", tg.Host, fr.GetIPAddress())))
		}
	case tg.ResolvedBy == "--address":
		h.see("%s taken to resolve to %s (--address)", tg.Host, tg.Addresses[0])
	default:
		h.see("found by the URL map's host rule for %s", tg.Host)
		h.add(Warning, findings.TraceDNS.New("host "+tg.Host,
			fmt.Sprintf("%s does not resolve (%s): clients cannot reach %s, and a Google-managed certificate for it cannot provision", tg.Host, orText(tg.DNSError, "no answer"), fr.GetIPAddress()),
			fmt.Sprintf("create an A record %s → %s", tg.Host, fr.GetIPAddress())))
	}
}

// builtBy reads what made a load balancer from its forwarding rule's
// description and name.
func builtBy(name, description string) string {
	if o, ok := mesh.ParseResourceOwner(description); ok {
		return "built by meshctl expose (" + o.LB + ")"
	}
	var d struct {
		K8sResource string `json:"k8sResource"`
		Ingress     string `json:"kubernetes.io/ingress-name"`
	}
	_ = json.Unmarshal([]byte(description), &d)
	switch {
	case strings.Contains(d.K8sResource, "/gateways/"):
		ns, gw := k8sResourceName(d.K8sResource)
		return "built by GKE Gateway " + ns + "/" + gw
	case d.Ingress != "":
		return "built by GKE Ingress " + d.Ingress
	case strings.HasPrefix(name, "k8s2-") || strings.HasPrefix(name, "k8s-fw-"):
		return "built by GKE Ingress"
	}
	return "built by hand (gcloud, Terraform or the console)"
}

// k8sResourceName reads "/namespaces/NS/gateways/NAME".
func k8sResourceName(ref string) (ns, name string) {
	parts := strings.Split(strings.Trim(ref, "/"), "/")
	if len(parts) == 4 {
		return parts[1], parts[3]
	}
	return "", ref
}

// unknownHop is a hop whose objects could not be read.
func unknownHop(kind HopKind, name, doing string, err error) Hop {
	h := newHop(kind, name)
	h.add(Unknown, findings.APIUnavailable.New(string(kind)+" "+name, doing+": "+err.Error(), apiHint(err)))
	return h
}

// missingLink is a link to an object that does not exist.
func missingLink(object, field, link string) findings.Finding {
	return findings.TraceMissingLink.New(object, fmt.Sprintf("field %s: %s %s does not exist", field, linkCollection(link), linkName(link)),
		"recreate it, or point "+field+" at one that exists (meshctl expose re-creates what it made)")
}

func orText(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
