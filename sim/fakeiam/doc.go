// Package fakeiam is meshsim's permission model: who may call the fake
// Google APIs, and what they may do there.
//
// One Policy holds it: per principal, the permissions held in every
// project and, further limited, in single projects (a Shared VPC host
// project can deny what the service project allows). By default every
// principal the simulator knows holds every permission a role can grant.
// The principal is the bearer token (see PrincipalOf); a request without
// credentials, which is how meshctl and gcloud reach the loopback endpoint,
// is DefaultPrincipal, and Google's service agents of the known projects
// are known too, so a simulated Google controller can act as one (AsPrincipal).
//
// The same policy is answered and enforced:
//
//   - Server fakes the Cloud Resource Manager API's
//     projects.testIamPermissions (v1 and v3), the up-front check a client
//     makes, with Google's 400 for unknown names and knobs for its 403
//     accessNotConfigured and for failing open;
//   - Policy.Guard wraps a fake API's handler and refuses a request whose
//     caller lacks a permission Google checks for it, with that API's own
//     403, before the request can change anything. Compute, Container,
//     Fleet and CertificateManager map requests to permissions; Compute
//     derives them from the path and the links in the body, so new
//     collections are covered without a line each.
//
// The permissions meshsim knows are in permissions.txt (Validate); its
// config is a Config (meshsim up --deny, --iam-policy; /meshsim/iam/...).
package fakeiam
