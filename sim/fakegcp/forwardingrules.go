package fakegcp

import (
	"net/netip"
	"strconv"
	"strings"
)

func forwardingRuleKind() *kind {
	return &kind{
		collection: "forwardingRules", method: "globalForwardingRules", apiKind: "compute#forwardingRule",
		typeName: "forwarding_rule", quota: "FORWARDING_RULES",
		patch: true, fingerprint: true, labels: true,
		// Recorded: labels sent with the insert of a global forwarding rule
		// are not kept; they are set with setLabels afterwards.
		insertDropsLabels: true,
		refs: []refField{
			{path: "target", collections: []string{"targetHttpsProxies", "targetHttpProxies"}},
		},
		prepare: prepareForwardingRule,
		verbs: map[string]verb{
			"setLabels": setLabelsVerb(),
			"setTarget": {opType: "SetTarget", edit: setTarget},
		},
	}
}

// prepareForwardingRule fills Google's defaults, normalises the port range
// ("443" becomes "443-443") and resolves the IP: an address reference
// becomes the address's IP, and no IP gets an ephemeral one.
func prepareForwardingRule(s *Server, c *change) *APIError {
	fr := c.next
	if str(fr, "target") == "" {
		return errRequired("resource.target")
	}
	setDefault(fr, "IPProtocol", "TCP")
	setDefault(fr, "networkTier", "PREMIUM")
	setDefault(fr, "loadBalancingScheme", "EXTERNAL")
	if pr := str(fr, "portRange"); pr != "" {
		lo, hi, found := strings.Cut(pr, "-")
		if !found {
			hi = lo
		}
		l, lerr := strconv.Atoi(lo)
		h, herr := strconv.Atoi(hi)
		if lerr != nil || herr != nil || l < 1 || h > 65535 || l > h {
			return errInvalidField("resource.portRange", pr, "The port range is invalid.")
		}
		fr["portRange"] = lo + "-" + hi
	}
	ip := str(fr, "IPAddress")
	if _, err := netip.ParseAddr(ip); err == nil {
		return nil
	}
	if ip == "" {
		fr["IPAddress"] = s.allocateAddress()
		return nil
	}
	ref, ok := parseRef(ip, s.project, "global", "addresses")
	if !ok {
		return errInvalidField("resource.IPAddress", ip, "The IP address or address URL is malformed.")
	}
	addr, err := s.visible(s.canonicalRef(ref))
	if err != nil {
		return err
	}
	if addr.pending != nil && addr.pending.opType == "delete" {
		return errNotReady(addr.ref.Path())
	}
	fr["IPAddress"] = str(addr.obj, "address")
	return nil
}

func setTarget(_ *Server, c *change) *APIError {
	target := str(c.call.body, "target")
	if target == "" {
		return errRequired("target")
	}
	c.next["target"] = target
	return nil
}
