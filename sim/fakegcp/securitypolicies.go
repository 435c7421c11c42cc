package fakegcp

import (
	"fmt"
	"sort"
	"strconv"
)

// defaultRulePriority is the lowest priority; every policy has a rule there.
const defaultRulePriority = 2147483647

func securityPolicyKind() *kind {
	return &kind{
		collection: "securityPolicies", method: "securityPolicies", apiKind: "compute#securityPolicy",
		typeName: "security_policy", quota: "SECURITY_POLICIES",
		patch: true, fingerprint: true, labels: true,
		prepare: prepareSecurityPolicy,
		verbs: map[string]verb{
			"addRule":    {opType: "addRule", edit: addRule},
			"patchRule":  {opType: "patchRule", edit: patchRule},
			"removeRule": {opType: "removeRule", edit: removeRule},
			"getRule":    {get: true, read: getRule},
			"setLabels":  setLabelsVerb(),
		},
	}
}

// prepareSecurityPolicy completes the rules as Google does: each gets a
// description and preview flag, a default allow rule is added when none sits
// at the lowest priority, priorities must be unique, and rules come back
// ordered by their priority's decimal text, which is the order the
// recordings show (0, 111111111, 2147483647, 555).
func prepareSecurityPolicy(_ *Server, c *change) *APIError {
	p := c.next
	setDefault(p, "type", "CLOUD_ARMOR")
	rules := list(p, "rules")
	seen := map[int64]bool{}
	for i, r := range rules {
		rule, ok := r.(map[string]any)
		if !ok {
			return errInvalidField(fmt.Sprintf("resource.rules[%d]", i), r, "A rule must be an object.")
		}
		if err := completeRule(rule, fmt.Sprintf("resource.rules[%d]", i)); err != nil {
			return err
		}
		prio, _ := num(rule, "priority")
		if seen[prio] {
			return errInvalid("Cannot have rules with the same priorities.")
		}
		seen[prio] = true
	}
	if !seen[defaultRulePriority] {
		rules = append(rules, defaultRule())
	}
	sort.SliceStable(rules, func(i, j int) bool { return priorityText(rules[i]) < priorityText(rules[j]) })
	p["rules"] = rules
	return nil
}

func defaultRule() map[string]any {
	return map[string]any{
		"kind":        "compute#securityPolicyRule",
		"action":      "allow",
		"description": "default rule",
		"match": map[string]any{
			"config":        map[string]any{"srcIpRanges": []any{"*"}},
			"versionedExpr": "SRC_IPS_V1",
		},
		"preview":  false,
		"priority": defaultRulePriority,
	}
}

func completeRule(rule map[string]any, field string) *APIError {
	prio, ok := num(rule, "priority")
	if !ok {
		rule["priority"] = 0
	} else if prio < 0 || prio > defaultRulePriority {
		return errInvalidField(field+".priority", prio, "The priority must be between 0 and 2147483647.")
	}
	if str(rule, "action") == "" {
		return errRequired(field + ".action")
	}
	if _, ok := rule["match"]; !ok {
		return errRequired(field + ".match")
	}
	rule["kind"] = "compute#securityPolicyRule"
	setDefault(rule, "description", "")
	setDefault(rule, "preview", false)
	return nil
}

func priorityText(r any) string {
	m, _ := r.(map[string]any)
	p, _ := num(m, "priority")
	return strconv.FormatInt(p, 10)
}

// rulePriority reads the ?priority= parameter of the rule methods (default 0).
func rulePriority(c *apiCall) (int64, *APIError) {
	v := c.query.Get("priority")
	if v == "" {
		return 0, nil
	}
	p, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, errInvalidField("priority", v, "The priority must be an integer.")
	}
	return p, nil
}

func ruleIndex(policy map[string]any, priority int64) int {
	for i, r := range list(policy, "rules") {
		m, _ := r.(map[string]any)
		if p, _ := num(m, "priority"); p == priority {
			return i
		}
	}
	return -1
}

func errNoRule(priority int64) *APIError {
	return errInvalidField("priority", priority, "The security policy does not contain a rule with the given priority.")
}

func addRule(_ *Server, c *change) *APIError {
	rule := copyObject(c.call.body)
	if err := completeRule(rule, "resource"); err != nil {
		return err
	}
	prio, _ := num(rule, "priority")
	if ruleIndex(c.next, prio) >= 0 {
		return errInvalid("Cannot have rules with the same priorities.")
	}
	c.next["rules"] = append(list(c.next, "rules"), rule)
	return nil
}

func patchRule(_ *Server, c *change) *APIError {
	prio, err := rulePriority(c.call)
	if err != nil {
		return err
	}
	i := ruleIndex(c.next, prio)
	if i < 0 {
		return errNoRule(prio)
	}
	rules := list(c.next, "rules")
	patched := mergePatch(rules[i].(map[string]any), c.call.body)
	if err := completeRule(patched, "resource"); err != nil {
		return err
	}
	if p, _ := num(patched, "priority"); p != prio && ruleIndex(c.next, p) >= 0 {
		return errInvalid("Cannot have rules with the same priorities.")
	}
	rules[i] = patched
	return nil
}

func removeRule(_ *Server, c *change) *APIError {
	prio, err := rulePriority(c.call)
	if err != nil {
		return err
	}
	if prio == defaultRulePriority {
		return errInvalid("The default rule of a security policy cannot be removed.")
	}
	i := ruleIndex(c.next, prio)
	if i < 0 {
		return errNoRule(prio)
	}
	rules := list(c.next, "rules")
	c.next["rules"] = append(rules[:i:i], rules[i+1:]...)
	return nil
}

func getRule(_ *Server, c *apiCall, r *resource) (any, *APIError) {
	prio, err := rulePriority(c)
	if err != nil {
		return nil, err
	}
	i := ruleIndex(r.obj, prio)
	if i < 0 {
		return nil, errNoRule(prio)
	}
	return deepCopy(list(r.obj, "rules")[i]), nil
}
