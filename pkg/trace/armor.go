package trace

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/meshctl/meshctl/pkg/findings"
)

// armorVerdict is what a Cloud Armor policy does with a plain request: a
// GET with no attack in it, from an address the policy does not name.
type armorVerdict struct {
	// rule is the rule that decides; action its action.
	rule   *computepb.SecurityPolicyRule
	action string
	// allowedFrom lists the ranges earlier allow rules let through when a
	// deny decides (an allowlist).
	allowedFrom []string
	// unsure lists rules whose expressions trace cannot evaluate and that
	// come before the deciding rule.
	unsure []string
}

// judgeArmor evaluates a policy's rules in priority order for a plain
// request: a rule on every address ("*", 0.0.0.0/0) or the expression
// "true" matches; rules on named ranges match only those clients, WAF
// expressions (evaluatePreconfiguredExpr/Waf) only attacks; rules in
// preview enforce nothing.
func judgeArmor(p *computepb.SecurityPolicy) armorVerdict {
	rules := slices.Clone(p.GetRules())
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].GetPriority() < rules[j].GetPriority() })
	var v armorVerdict
	for _, r := range rules {
		if r.GetPreview() {
			continue
		}
		match, ranges, unsure := plainMatch(r)
		switch {
		case match:
			v.rule, v.action = r, r.GetAction()
			return v
		case unsure:
			v.unsure = append(v.unsure, fmt.Sprintf("%d (%s)", r.GetPriority(), r.GetMatch().GetExpr().GetExpression()))
		case len(ranges) > 0 && isAllow(r.GetAction()):
			v.allowedFrom = append(v.allowedFrom, ranges...)
		}
	}
	// Every policy has a default rule; one without is allowed by Google.
	v.action = "allow"
	return v
}

// plainMatch says whether a rule matches a plain request: match, or only
// for some sources (ranges), or unknown (an expression trace cannot
// evaluate).
func plainMatch(r *computepb.SecurityPolicyRule) (match bool, ranges []string, unsure bool) {
	m := r.GetMatch()
	if e := strings.TrimSpace(m.GetExpr().GetExpression()); e != "" {
		switch {
		case e == "true":
			return true, nil, false
		case e == "false" || strings.Contains(e, "evaluatePreconfigured"):
			return false, nil, false
		}
		return false, nil, true
	}
	for _, s := range m.GetConfig().GetSrcIpRanges() {
		if s == "*" || s == "0.0.0.0/0" || s == "::/0" {
			return true, nil, false
		}
		ranges = append(ranges, s)
	}
	return false, ranges, false
}

func isAllow(action string) bool {
	return action == "allow" || action == "throttle" || action == "rate_based_ban"
}

// armor checks the Cloud Armor policy on a backend service.
func (t *tracer) armor(h *Hop, bs *computepb.BackendService, policies []*computepb.SecurityPolicy) {
	obj := "backend service " + bs.GetName()
	if bs.GetSecurityPolicy() == "" {
		h.see("no Cloud Armor policy")
		h.add(Warning, findings.TraceArmorNone.New(obj, "no Cloud Armor policy: every source reaches the backends, with no WAF rules",
			"gcloud compute backend-services update "+bs.GetName()+" --global --security-policy POLICY"))
		return
	}
	p, ok := named(policies, bs.GetSecurityPolicy())
	if !ok {
		h.add(Broken, missingLink(obj, "securityPolicy", bs.GetSecurityPolicy()))
		return
	}
	v := judgeArmor(p)
	pobj := "Cloud Armor policy " + p.GetName()
	decided := "the default"
	if v.rule != nil {
		decided = fmt.Sprintf("rule %d (%s)", v.rule.GetPriority(), orText(v.rule.GetDescription(), "no description"))
	}
	if len(v.unsure) > 0 {
		h.see("Cloud Armor %s: rules %s use expressions trace does not evaluate", p.GetName(), strings.Join(v.unsure, ", "))
	}
	switch {
	case isAllow(v.action):
		h.see("Cloud Armor %s: a plain request is allowed by %s (%s)", p.GetName(), decided, v.action)
	case strings.HasPrefix(v.action, "deny") && len(v.allowedFrom) > 0:
		h.see("Cloud Armor %s: %s denies (%s) every source but %s", p.GetName(), decided, v.action, strings.Join(v.allowedFrom, ", "))
		h.add(Warning, findings.TraceArmorAllowlist.New(pobj, fmt.Sprintf("only clients from %s get through; every other request gets %s from %s", strings.Join(v.allowedFrom, ", "), denyStatus(v.action), decided),
			"if that is not meant, add an allow rule for your clients: gcloud compute security-policies rules create PRIORITY --security-policy "+p.GetName()+" --src-ip-ranges RANGE --action allow"))
	case strings.HasPrefix(v.action, "deny"):
		h.see("Cloud Armor %s: a plain request is denied by %s (%s)", p.GetName(), decided, v.action)
		fix := fmt.Sprintf("gcloud compute security-policies rules update %d --security-policy %s --action allow", v.rule.GetPriority(), p.GetName())
		h.add(Broken, findings.TraceArmorDenies.New(pobj, fmt.Sprintf("%s denies every request with %s", decided, denyStatus(v.action)), fix))
	default:
		h.see("Cloud Armor %s: a plain request meets %s (%s)", p.GetName(), decided, v.action)
	}
}

func denyStatus(action string) string {
	if s, ok := strings.CutPrefix(action, "deny("); ok {
		return "HTTP " + strings.TrimSuffix(s, ")")
	}
	return action
}
