package fakehub

import (
	"fmt"
	"net/http"

	"github.com/meshctl/meshctl/sim/fakeapi"
)

// apiError is an error as the fleet and Service Usage APIs return it:
// {"error":{"code":404,"message":"...","status":"NOT_FOUND"}}.
type apiError struct {
	Code    int
	Status  string // canonical status, e.g. NOT_FOUND
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, e.Status, e.Message) }

func (e *apiError) body() map[string]any {
	return map[string]any{"error": map[string]any{"code": e.Code, "message": e.Message, "status": e.Status}}
}

func writeJSON(w http.ResponseWriter, code int, v any) { fakeapi.WriteJSON(w, code, v) }

func errNotFound(name string) *apiError {
	return &apiError{Code: http.StatusNotFound, Status: "NOT_FOUND", Message: fmt.Sprintf("Resource '%s' was not found", name)}
}

func errAlreadyExists(name string) *apiError {
	return &apiError{Code: http.StatusConflict, Status: "ALREADY_EXISTS", Message: fmt.Sprintf("Resource '%s' already exists", name)}
}

func errInvalid(format string, args ...any) *apiError {
	return &apiError{Code: http.StatusBadRequest, Status: "INVALID_ARGUMENT", Message: fmt.Sprintf(format, args...)}
}

func errFailedPrecondition(format string, args ...any) *apiError {
	return &apiError{Code: http.StatusBadRequest, Status: "FAILED_PRECONDITION", Message: fmt.Sprintf(format, args...)}
}

func errNotFoundURL(r *http.Request) *apiError {
	return &apiError{Code: http.StatusNotFound, Status: "NOT_FOUND", Message: "The requested URL " + r.URL.Path + " was not found on this server."}
}

// errUnknownKey is the fleet's answer to a membership key that names no
// membership (hashicorp/terraform-provider-google#16795).
func errUnknownKey(key string) *apiError {
	return errInvalid("Membership '%s' does not match a current membership in this project. Keys should be in the form: projects/<project_number>/locations/{l}/memberships/{m}", key)
}
