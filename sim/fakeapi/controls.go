package fakeapi

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Controls serves a fake's own endpoints under Prefix (e.g. "/meshsim/hub/"):
//
//	GET    knobs            the knobs
//	POST   knobs            merge a JSON body into the knobs (PUT too): fields left out keep their value
//	GET    requests         the request log
//	DELETE requests         reset it (also POST requests/reset)
//	GET    <view>           each of Views, e.g. state
type Controls[K any] struct {
	Prefix   string
	Knobs    func() K
	SetKnobs func(K)
	Log      *Log
	Views    map[string]func() any
	// Errors words an error in the fake's own shape (a bad knobs body: 400,
	// an unknown path: 404).
	Errors func(code int, message string) *Error
}

// ServeHTTP answers one control request.
func (c Controls[K]) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, c.Prefix)
	switch {
	case path == "knobs" && r.Method == http.MethodGet:
		WriteJSON(w, http.StatusOK, c.Knobs())
	case path == "knobs" && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		k := c.Knobs()
		if err := json.NewDecoder(r.Body).Decode(&k); err != nil {
			c.Errors(http.StatusBadRequest, "knobs: "+err.Error()).Write(w)
			return
		}
		c.SetKnobs(k)
		WriteJSON(w, http.StatusOK, k)
	case path == "requests" && r.Method == http.MethodGet:
		WriteJSON(w, http.StatusOK, c.Log.Stats())
	case (path == "requests" && r.Method == http.MethodDelete) || (path == "requests/reset" && r.Method == http.MethodPost):
		c.Log.Reset()
		WriteJSON(w, http.StatusOK, map[string]any{})
	case r.Method == http.MethodGet && c.Views[path] != nil:
		WriteJSON(w, http.StatusOK, c.Views[path]())
	default:
		c.Errors(http.StatusNotFound, "The requested URL "+r.URL.Path+" was not found on this server.").Write(w)
	}
}

// MethodFailure is an error a fake is told to answer, instead of serving,
// for the next Count calls of a method (by Google's method id).
type MethodFailure struct {
	Count   int    `json:"count"`
	Code    int    `json:"code"`
	Reason  string `json:"reason,omitempty"`  // defaults to Google's reason for Code
	Message string `json:"message,omitempty"` // defaults to Google's message for Code
	// UserAgent, when set, limits the failure to callers whose User-Agent
	// contains it: the simulator's own controllers call the same APIs (the
	// GKE Gateway controller lists firewalls on its resyncs), and a fault
	// meant for meshctl must not be taken by them.
	UserAgent string `json:"userAgent,omitempty"`
}

// TakeFailure consumes one of the failures set for a method, if any, and if
// it applies to a caller with this User-Agent.
func TakeFailure(failures map[string]MethodFailure, method, userAgent string) (MethodFailure, bool) {
	f, ok := failures[method]
	if !ok || f.Count <= 0 || !strings.Contains(userAgent, f.UserAgent) {
		return MethodFailure{}, false
	}
	f.Count--
	if f.Count == 0 {
		delete(failures, method)
	} else {
		failures[method] = f
	}
	return f, true
}
