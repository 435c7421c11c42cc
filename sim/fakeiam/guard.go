package fakeiam

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/meshctl/meshctl/sim/fakeapi"
)

// A Check is one permission a request needs on one resource.
type Check struct {
	Permission string
	// Project is the project the resource lives in, by id or number as the
	// request named it; a Shared VPC subnetwork is checked in the host.
	Project string
	// Resource is the resource as the API's denial names it,
	// e.g. projects/p/global/healthChecks/hc.
	Resource string
}

// A Call is what one API request asks of IAM.
type Call struct {
	// Method is Google's method id, e.g. compute.healthChecks.insert, for
	// the request log.
	Method string
	// Checks are made in order; the first one the caller fails is the one
	// the denial names. The method's own permission comes first.
	Checks []Check
}

// An API knows which permissions Google checks for each of its methods and
// how the API words a denial. Compute, Container, Fleet and
// CertificateManager are meshsim's.
type API struct {
	Name string
	// Resolve maps a request to its Call; false for a request that is not
	// one of the API's methods, which the wrapped handler answers itself.
	Resolve func(r *http.Request, body []byte) (Call, bool)
	// Denied is the API's answer when the caller lacks c.Permission.
	Denied func(c Check) (status int, body any)
}

// Guard wraps an API's handler: a request whose caller lacks a permission
// it needs is answered with the API's 403 and never reaches next, so it
// changes nothing; it is recorded in log (status 403, Denied set). A nil
// policy enforces nothing, so a fake built without one keeps its old
// behaviour. Wiring a fake is one line, e.g.
//
//	mux.Handle("/compute/v1/", policy.Guard(fakeiam.Compute, &s.log, computeHandler))
func (p *Policy) Guard(api API, log *fakeapi.Log, next http.Handler) http.Handler {
	if p == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(r)
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		call, ok := api.Resolve(r, body)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		refuse := func(status int, out any, denied string) {
			if log != nil {
				log.Add(fakeapi.Record{Time: start, Method: call.Method, HTTPMethod: r.Method, Path: r.URL.Path,
					Query: r.URL.RawQuery, Status: status, Latency: fakeapi.Duration(time.Since(start)), Denied: denied})
			}
			fakeapi.WriteJSON(w, status, out)
		}
		principal, ok := p.authenticate(r)
		if !ok {
			refuse(http.StatusUnauthorized, unauthenticated(), "")
			return
		}
		for _, c := range call.Checks {
			if !p.Holds(principal, c.Project, c.Permission) {
				status, out := api.Denied(c)
				refuse(status, out, c.Permission)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// readBody reads r's body and puts it back for the handler.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, err
}

// decodeObject reads a JSON object body; nil for no body or not an object
// (the API itself answers the malformed body with its own 400).
func decodeObject(body []byte) map[string]any {
	var m map[string]any
	if len(body) == 0 || json.Unmarshal(body, &m) != nil {
		return nil
	}
	return m
}

// unauthenticated is Google's 401 for a token it does not accept, as every
// JSON API words it.
func unauthenticated() map[string]any {
	msg := "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	return map[string]any{"error": map[string]any{
		"code": http.StatusUnauthorized, "message": msg, "status": "UNAUTHENTICATED",
		"errors": []any{map[string]any{"message": "Invalid Credentials", "domain": "global", "reason": "authError",
			"location": "Authorization", "locationType": "header"}},
	}}
}

// permissionDenied is the body of a One Platform API's 403 (gkehub,
// Service Usage, Certificate Manager): status PERMISSION_DENIED with an
// ErrorInfo naming the permission and resource, the shape Artifact
// Registry's denial shows in 2i2c-org/infrastructure#488. The reason
// IAM_PERMISSION_DENIED is from memory of Google's AIP-193 errors, not a
// recording.
func permissionDenied(message, domain string, c Check) map[string]any {
	return map[string]any{"error": map[string]any{
		"code": http.StatusForbidden, "message": message, "status": "PERMISSION_DENIED",
		"details": []any{map[string]any{
			"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "IAM_PERMISSION_DENIED", "domain": domain,
			"metadata": map[string]any{"permission": c.Permission, "resource": c.Resource},
		}},
	}}
}
