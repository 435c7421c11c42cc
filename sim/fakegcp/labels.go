package fakegcp

import "github.com/meshctl/meshctl/sim/fakeapi"

// validateLabels applies Google's label rules (fakeapi.LabelProblem).
func validateLabels(labels map[string]any) *APIError {
	if field, value, why := fakeapi.LabelProblem(labels); why != "" {
		return errInvalidField("resource."+field, value, why)
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
