package fakeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"time"
)

// WriteJSON answers as Google's JSON APIs do: indented JSON, UTF-8.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// SortedKeys returns a map's keys in order, so answers and state dumps list
// objects the same way every time.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Error is an error as Google's JSON APIs return it. Every API answers
// {"error":{"code":404,"message":"..."}}; the APIs built on gRPC (GKE, the
// fleet, Service Usage, Certificate Manager) add the canonical status
// ("status":"NOT_FOUND"), and Compute (and GKE, and Cloud Storage) add
// "errors":[{"message","domain","reason"}] with a machine-readable reason.
type Error struct {
	Code    int    // HTTP status
	Message string // what went wrong, in Google's words
	// Status is the canonical gRPC status name (NOT_FOUND); empty leaves it out.
	Status string
	// Reason is the errors[].reason (notFound, resourceInUseByAnotherResource);
	// empty leaves errors[] out.
	Reason string
	// Domain is the errors[].domain: "global" unless set ("usageLimits" for
	// quota and rate errors).
	Domain string
}

func (e *Error) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("googleapi: Error %d: %s, %s", e.Code, e.Message, e.Reason)
	}
	return fmt.Sprintf("googleapi: Error %d: %s", e.Code, e.Message)
}

// Body is the error as the API writes it.
func (e *Error) Body() map[string]any {
	inner := map[string]any{"code": e.Code, "message": e.Message}
	if e.Reason != "" {
		domain := e.Domain
		if domain == "" {
			domain = "global"
		}
		inner["errors"] = []any{map[string]any{"message": e.Message, "domain": domain, "reason": e.Reason}}
	}
	if e.Status != "" {
		inner["status"] = e.Status
	}
	return map[string]any{"error": inner}
}

// Write answers with the error.
func (e *Error) Write(w http.ResponseWriter) { WriteJSON(w, e.Code, e.Body()) }

// Serve listens on addr (e.g. "127.0.0.1:0") and serves h until ctx ends.
// It returns the address actually listened on, e.g. "127.0.0.1:41234".
func Serve(ctx context.Context, addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	return ln.Addr().String(), nil
}

// Delay waits d (a fake's latency knob) unless the request ends first.
func Delay(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}
