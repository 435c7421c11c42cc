package fakeiam

import (
	"net/http"
	"strings"
)

// Who calls is read from the bearer token: in meshsim the token IS the
// principal, e.g. "Authorization: Bearer serviceAccount:ci@p.iam.gserviceaccount.com".
// Every Google client can send a chosen token without simulator-specific
// code (gcloud --access-token-file or auth/access_token_file, Go clients
// with option.WithTokenSource or an http.Client from AsPrincipal), and a
// request without one is DefaultPrincipal, which is how meshctl and gcloud
// with auth/disable_credentials reach the loopback endpoint. A token naming
// no principal the simulator knows is refused with 401, so a misspelt
// principal fails loudly instead of running with every permission.

// PrincipalOf names the caller of r; false when r carries credentials that
// are not a bearer token.
func PrincipalOf(r *http.Request) (string, bool) {
	auth := strings.TrimSpace(r.Header.Get("Authorization"))
	if auth == "" {
		return DefaultPrincipal, true
	}
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// authenticate names the caller of r, or false when the policy does not
// know it (Google's 401).
func (p *Policy) authenticate(r *http.Request) (string, bool) {
	principal, ok := PrincipalOf(r)
	if !ok || !p.Knows(principal) {
		return principal, false
	}
	return principal, true
}

// AsPrincipal returns a transport that sends every request as principal,
// over base (nil: http.DefaultTransport). A simulated Google controller
// (the GKE Gateway controller runs as the GKE service agent) calls the fake
// APIs through it:
//
//	client := &http.Client{Transport: fakeiam.AsPrincipal(fakeiam.GKEServiceAgent(number), nil)}
func AsPrincipal(principal string, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+principal)
		return base.RoundTrip(r)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// GKEServiceAgent is the Kubernetes Engine service agent of a project (by
// number): the identity GKE's own controllers, such as the Gateway
// controller, use towards Compute.
func GKEServiceAgent(projectNumber string) string {
	return "serviceAccount:service-" + projectNumber + "@container-engine-robot.iam.gserviceaccount.com"
}

// FleetServiceAgent is the fleet (GKE Hub) service agent of a project.
func FleetServiceAgent(projectNumber string) string {
	return "serviceAccount:service-" + projectNumber + "@gcp-sa-gkehub.iam.gserviceaccount.com"
}

// MeshServiceAgent is the Cloud Service Mesh service agent of a project.
func MeshServiceAgent(projectNumber string) string {
	return "serviceAccount:service-" + projectNumber + "@gcp-sa-servicemesh.iam.gserviceaccount.com"
}

// ServiceAgents are the Google service agents of a project that meshsim
// knows without configuration; like Google's, they hold every permission
// unless the config says otherwise.
func ServiceAgents(projectNumber string) []string {
	return []string{GKEServiceAgent(projectNumber), FleetServiceAgent(projectNumber), MeshServiceAgent(projectNumber)}
}
