// Package lb builds, converges and removes Google's global external HTTPS
// load balancer (EXTERNAL_MANAGED) in front of the dedicated Istio ingress
// gateways `meshctl expose` makes, through the Compute API.
//
// For a Spec (the services, their hosts and the NEGs GKE reported for their
// gateways, plus the flags), Client.Plan reads what exists, all at once,
// checks that what has meshctl's names is meshctl's, builds what should
// exist, and compares: one pkg/plan Change per object, create, update
// (naming the fields that differ), keep, use (an object the user named) or
// delete.
// Nothing is written while planning; a re-run with nothing changed plans
// only keep and use, and Apply then sends no mutating call at all.
//
// Client.Apply runs the plan as a dependency graph. The roots (address,
// health checks, SSL policy, certificate, Cloud Armor policy, firewall
// rules, redirect URL map) start together; every node waits for its own
// long-running operation with globalOperations.wait, which returns as soon
// as the operation ends, and its dependents start at once, not level by
// level. The critical path (health check → backend service → URL map →
// HTTPS proxy → forwarding rule) sets the wall time; the Cloud Armor policy,
// Google's slow insert, is attached to the backend services off that path
// once it is ready. Many services in one Spec share one graph.
//
// What keeps it safe to re-run, to kill, and to run twice at once:
//   - Names are deterministic (mc-CLUSTER-NAMESPACE-SERVICE-..., or
//     mclb-NAME-... for a shared load balancer; RFC 1035, at most 63
//     characters, a hash where shortened), so a re-run finds what an
//     earlier, maybe killed, run made. There is no local state.
//   - Ownership is recorded on each object, in its description:
//     {"managedBy":"meshctl","lb":"...","services":["ns/name"]}
//     (mesh.ResourceOwner). An object
//     with meshctl's name that meshctl did not make is an error (or, with
//     Adopt, taken over); teardown deletes only what is meshctl's.
//   - Objects with a fingerprint (backend services, URL maps, SSL and
//     Cloud Armor policies) are changed read-modify-write with it; a 412
//     reads again and retries, so concurrent runs onto one shared load
//     balancer both land. The HTTPS proxy's certificates are written the
//     same way (a patch with its fingerprint, read before the URL map).
//   - No host loses its certificate: each Service has a Google-managed
//     certificate of its own (immutable at Google, so new hosts are a new
//     certificate), and a host's ACTIVE certificate stays on the proxy
//     until its replacement is ACTIVE (certs.go). A proxy holds at most 15
//     certificates, so at most 15 Services share a load balancer.
//   - Every mutation carries a requestId, kept across the retries of one
//     request, so a retried insert is never applied twice. Rate limits (429,
//     403 rateLimitExceeded), server errors and resourceNotReady are retried
//     with exponential backoff and jitter; the Go client retries none of
//     these. The Cloud Armor rule methods take no requestId in the API: a
//     rule change that already landed is found by reading the policy again.
//
// Client.PlanTeardown removes services: their backend services, health
// checks and firewall rules, their hosts from the URL map and the
// certificate; the whole load balancer, in reverse dependency order, once no
// service is left on it.
//
// Compute is the small interface the package needs of the API; NewGCE
// implements it over cloud.google.com/go/compute/apiv1, and the tests use an
// in-memory fake and the simulator (sim/fakegcp).
package lb
