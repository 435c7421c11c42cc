package fakeapi

import (
	"fmt"
	"regexp"
)

var (
	labelKeyRE   = regexp.MustCompile(`^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$`)
	labelValueRE = regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$`)
)

// LabelProblem applies Google's label rules, the same in every API: at most
// 64 labels, keys starting with a lower-case letter, keys and values of at
// most 63 lower-case letters, digits, underscores and dashes. It returns
// the offending field ("labels" or "labels.<key>"), its value and why, or
// an empty why when the labels are valid.
func LabelProblem(labels map[string]any) (field string, value any, why string) {
	if len(labels) > 64 {
		return "labels", len(labels), "At most 64 labels are allowed."
	}
	for _, k := range SortedKeys(labels) {
		v := labels[k]
		s, isString := v.(string)
		if !labelKeyRE.MatchString(k) {
			return "labels", k, "Label keys must start with a lower-case letter and contain only lower-case letters, digits, underscores and dashes."
		}
		if !isString || !labelValueRE.MatchString(s) {
			return "labels." + k, fmt.Sprint(v), "Label values may contain only lower-case letters, digits, underscores and dashes."
		}
	}
	return "", nil, ""
}
