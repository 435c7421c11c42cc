package trace

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// ingressAllowed evaluates the VPC firewall as Google does for TCP from
// source to port on node: of the enabled ingress rules of the node's
// network that target it and cover the source and port, the one with the
// lowest priority number decides, a deny winning a tie; with none, the
// implied deny applies. A nil node (not found among the instances) is
// judged against every rule, without targets.
func ingressAllowed(rules []*computepb.Firewall, node *computepb.Instance, source string, port int) bool {
	src, err := netip.ParsePrefix(source)
	if err != nil {
		return false
	}
	best, allowed := int64(1<<31), false
	for _, f := range rules {
		if f.GetDisabled() || (f.GetDirection() != "" && f.GetDirection() != "INGRESS") {
			continue
		}
		if node != nil && !appliesTo(f, node) {
			continue
		}
		if !sourceCovers(f, src) {
			continue
		}
		allows, denies := entriesCover(allowedEntries(f), port), entriesCover(deniedEntries(f), port)
		if !allows && !denies {
			continue
		}
		prio := int64(1000)
		if f.Priority != nil {
			prio = int64(f.GetPriority())
		}
		if prio < best || (prio == best && denies) {
			best, allowed = prio, allows
		}
	}
	return allowed
}

// appliesTo: the rule is in the node's network and targets it (by a
// network tag, its service account, or every instance).
func appliesTo(f *computepb.Firewall, node *computepb.Instance) bool {
	nics := node.GetNetworkInterfaces()
	if len(nics) > 0 && linkName(nics[0].GetNetwork()) != linkName(f.GetNetwork()) {
		return false
	}
	tags, accounts := f.GetTargetTags(), f.GetTargetServiceAccounts()
	if len(tags) == 0 && len(accounts) == 0 {
		return true
	}
	for _, t := range node.GetTags().GetItems() {
		if slices.Contains(tags, t) {
			return true
		}
	}
	for _, sa := range node.GetServiceAccounts() {
		if slices.Contains(accounts, sa.GetEmail()) {
			return true
		}
	}
	return false
}

// sourceCovers: a rule with no source at all admits every address; one
// with source tags or accounts only admits instances, never Google's
// front ends.
func sourceCovers(f *computepb.Firewall, src netip.Prefix) bool {
	ranges := f.GetSourceRanges()
	if len(ranges) == 0 {
		if len(f.GetSourceTags()) > 0 || len(f.GetSourceServiceAccounts()) > 0 {
			return false
		}
		ranges = []string{"0.0.0.0/0"}
	}
	for _, r := range ranges {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			a, aerr := netip.ParseAddr(r)
			if aerr != nil {
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4() == src.Addr().Is4() && p.Bits() <= src.Bits() && p.Contains(src.Addr()) {
			return true
		}
	}
	return false
}

type portEntry struct {
	protocol string
	ports    []string
}

func allowedEntries(f *computepb.Firewall) []portEntry {
	var out []portEntry
	for _, a := range f.GetAllowed() {
		out = append(out, portEntry{a.GetIPProtocol(), a.GetPorts()})
	}
	return out
}

func deniedEntries(f *computepb.Firewall) []portEntry {
	var out []portEntry
	for _, d := range f.GetDenied() {
		out = append(out, portEntry{d.GetIPProtocol(), d.GetPorts()})
	}
	return out
}

// entriesCover reports whether entries match TCP to port.
func entriesCover(entries []portEntry, port int) bool {
	for _, e := range entries {
		p := strings.ToLower(e.protocol)
		if p != "tcp" && p != "all" && p != "6" {
			continue
		}
		if len(e.ports) == 0 {
			return true
		}
		for _, r := range e.ports {
			lo, hi, found := strings.Cut(r, "-")
			if !found {
				hi = lo
			}
			l, lerr := strconv.Atoi(lo)
			h, herr := strconv.Atoi(hi)
			if lerr == nil && herr == nil && port >= l && port <= h {
				return true
			}
		}
	}
	return false
}
