package fakegcp

import (
	"fmt"
	"net/http"

	"github.com/meshctl/meshctl/sim/fakeapi"
)

// APIError is an error as Google's JSON APIs return it: an HTTP status, a
// machine-readable reason (notFound, alreadyExists, conditionNotMet, ...) and
// a message. The Go hooks return it too, so callers can tell an in-use NEG
// from a missing one with errors.As.
type APIError struct {
	Code    int    // HTTP status
	Reason  string // e.g. "resourceInUseByAnotherResource"
	Domain  string // "global" for most Compute errors, "usageLimits" for quota and rate errors
	Message string
	// Status is the canonical gRPC status name GKE adds ("NOT_FOUND"); Compute leaves it out.
	Status string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("googleapi: Error %d: %s, %s", e.Code, e.Message, e.Reason)
}

// body renders the error as Google does:
// {"error":{"code":404,"message":"...","errors":[{"message":"...","domain":"global","reason":"notFound"}]}}.
func (e *APIError) body() map[string]any {
	domain := e.Domain
	if domain == "" {
		domain = "global"
	}
	inner := map[string]any{
		"code":    e.Code,
		"message": e.Message,
		"errors":  []any{map[string]any{"message": e.Message, "domain": domain, "reason": e.Reason}},
	}
	if e.Status != "" {
		inner["status"] = e.Status
	}
	return map[string]any{"error": inner}
}

func writeAPIError(w http.ResponseWriter, e *APIError) {
	writeJSON(w, e.Code, e.body())
}

func writeJSON(w http.ResponseWriter, code int, v any) { fakeapi.WriteJSON(w, code, v) }

func errNotFound(path string) *APIError {
	return &APIError{Code: http.StatusNotFound, Reason: "notFound",
		Message: fmt.Sprintf("The resource '%s' was not found", path)}
}

func errAlreadyExists(path string) *APIError {
	return &APIError{Code: http.StatusConflict, Reason: "alreadyExists",
		Message: fmt.Sprintf("The resource '%s' already exists", path)}
}

func errInvalid(format string, args ...any) *APIError {
	return &APIError{Code: http.StatusBadRequest, Reason: "invalid", Message: fmt.Sprintf(format, args...)}
}

func errInvalidField(field string, value any, why string) *APIError {
	return errInvalid("Invalid value for field '%s': '%v'. %s", field, value, why)
}

func errRequired(field string) *APIError {
	return &APIError{Code: http.StatusBadRequest, Reason: "required",
		Message: fmt.Sprintf("Required field '%s' not specified", field)}
}

// errInUse is what Compute answers when a delete would leave a dangling
// reference; typeName is Google's snake_case resource type, e.g. "health_check".
func errInUse(typeName, path, user string) *APIError {
	return &APIError{Code: http.StatusBadRequest, Reason: "resourceInUseByAnotherResource",
		Message: fmt.Sprintf("The %s resource '%s' is already being used by '%s'", typeName, path, user)}
}

func errNotReady(path string) *APIError {
	return &APIError{Code: http.StatusBadRequest, Reason: "resourceNotReady",
		Message: fmt.Sprintf("The resource '%s' is not ready", path)}
}

func errFingerprint() *APIError {
	return &APIError{Code: http.StatusPreconditionFailed, Reason: "conditionNotMet", Message: "Invalid fingerprint."}
}

func errLabelFingerprint() *APIError {
	return &APIError{Code: http.StatusPreconditionFailed, Reason: "conditionNotMet",
		Message: "Labels fingerprint either invalid or resource labels have changed"}
}

func errQuota(metric string, limit float64) *APIError {
	return &APIError{Code: http.StatusForbidden, Reason: "quotaExceeded", Domain: "usageLimits",
		Message: fmt.Sprintf("Quota '%s' exceeded.  Limit: %.1f globally.", metric, limit)}
}

// errForStatus builds the error an injected fault answers with, worded as
// Google words that status.
func errForStatus(code int, reason, message string) *APIError {
	e := &APIError{Code: code, Reason: reason, Message: message}
	defaults := map[int]APIError{
		http.StatusTooManyRequests: {Reason: "rateLimitExceeded", Domain: "usageLimits",
			Message: "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'compute.googleapis.com'."},
		http.StatusServiceUnavailable:  {Reason: "backendError", Message: "The service is currently unavailable."},
		http.StatusInternalServerError: {Reason: "backendError", Message: "Internal error. Please try again or contact Google Support."},
		http.StatusForbidden:           {Reason: "rateLimitExceeded", Domain: "usageLimits", Message: "Rate Limit Exceeded"},
		http.StatusBadRequest:          {Reason: "invalid", Message: "Invalid request."},
		http.StatusNotFound:            {Reason: "notFound", Message: "The resource was not found"},
		http.StatusConflict:            {Reason: "alreadyExists", Message: "The resource already exists"},
		http.StatusPreconditionFailed:  {Reason: "conditionNotMet", Message: "Invalid fingerprint."},
	}
	d, ok := defaults[code]
	if !ok {
		d = APIError{Reason: "backendError", Message: http.StatusText(code)}
	}
	if e.Reason == "" {
		e.Reason = d.Reason
	}
	if e.Message == "" {
		e.Message = d.Message
	}
	if e.Domain == "" {
		e.Domain = d.Domain
	}
	return e
}
