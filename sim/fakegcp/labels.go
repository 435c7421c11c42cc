package fakegcp

import (
	"regexp"
)

var (
	labelKeyRE   = regexp.MustCompile(`^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$`)
	labelValueRE = regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$`)
)

// validateLabels applies Google's label rules: lower-case keys starting with
// a letter, at most 64 labels, keys and values at most 63 characters.
func validateLabels(labels map[string]any) *APIError {
	if len(labels) > 64 {
		return errInvalidField("resource.labels", len(labels), "At most 64 labels are allowed.")
	}
	for k, v := range labels {
		s, _ := v.(string)
		if !labelKeyRE.MatchString(k) {
			return errInvalidField("resource.labels", k, "Label keys must start with a lower-case letter and contain only lower-case letters, digits, underscores and dashes.")
		}
		if !labelValueRE.MatchString(s) {
			return errInvalidField("resource.labels."+k, v, "Label values may contain only lower-case letters, digits, underscores and dashes.")
		}
	}
	return nil
}

func setLabelsVerb() verb { return verb{opType: "setLabels", edit: setLabels} }

// setLabels replaces the labels; the request must carry the current
// labelFingerprint, as Google requires.
func setLabels(s *Server, c *change) *APIError {
	if !s.fingerprintAccepted(c.r, "labelFingerprint", str(c.call.body, "labelFingerprint")) {
		return errLabelFingerprint()
	}
	c.next["labels"] = deepCopy(obj(c.call.body, "labels"))
	return nil
}
