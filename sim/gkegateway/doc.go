// Package gkegateway is meshsim's stand-in for GKE's Gateway controller,
// for the class gke-l7-global-external-managed (the global external
// Application Load Balancer). It behaves as GKE's controller was seen to
// behave (shared/reference/gke-gateway.md), not as a client would like:
// meshctl's Gateway API path is built against it.
//
// What it does, in the reference's order:
//
//  1. Install puts the Gateway API v1.5.1 standard CRDs, the
//     networking.gke.io v1.3.0 policy CRDs (why not HEAD's CEL: install.go)
//     and the GatewayClass, Accepted, into the cluster.
//  2. It watches Gateways of the class, HTTPRoutes, ReferenceGrants,
//     Services, EndpointSlices, Secrets, Namespaces and the three policies,
//     and puts gateway.finalizer.networking.gke.io on the Gateways it serves.
//  3. It validates with GKE's codes: GWCER106 for addresses (only a
//     NamedAddress that exists), GWCER105 for certificates (a certificate
//     map excludes listener tls; the map and pre-shared certificates must
//     exist), GWCER102 for missing Secrets and Services, GWCER104 for route
//     features the load balancer lacks (regular expressions, methods);
//     ResolvedRefs=False/BackendNotFound on routes; Attached=False with
//     Conflicted, TargetNotFound or Invalid on policies.
//  4. It writes status: the Gateway's conditions in GKE's order (Scheduled,
//     Accepted, Programmed, Ready, networking.gke.io/GatewayHealthy), its
//     listeners and address, the routes' parents, the policies' Attached;
//     and GKE's events from sc-gateway-controller (ADD, UPDATE, "SYNC on
//     ns/gw was a success", Warning "failed to translate Gateway ...",
//     "Bind of HTTPRoute ...", "Application of <Policy> ... was a success").
//  5. Per backend (Service, port): the cloud.google.com/neg annotation (the
//     NEG controller makes the zonal NEGs), a health check (the
//     HealthCheckPolicy's, else GKE's default GET / on the serving port) and
//     a backend service of the same gkegw1-<t4>-<ns>-<svc>-<port>-<h12>
//     name: EXTERNAL_MANAGED, protocol from appProtocol, NEG backends in
//     RATE mode, the GCPBackendPolicy's Cloud Armor policy, logging, IAP,
//     timeout, draining and affinity.
//  6. Per Gateway namespace the gw-serve404 and gw-serve500 backends; per
//     cluster and network the gkegw1-<t4>-l7-<network>-global firewall rule.
//  7. A URL map per listener protocol with GKE's route expansion (urlmap.go).
//  8. Target HTTP and HTTPS proxies (certificate map or SSL certificates,
//     the GCPGatewayPolicy's SSL policy), an address unless named, a global
//     forwarding rule per port, the k8sResource description on each.
//  9. Once every operation is DONE and Knobs.ProgramDelay has passed since
//     the Gateway's creation: the networking.gke.io/* annotations,
//     status.addresses, Programmed, and the SYNC event.
//  10. A resync every Knobs.Resync repairs drift; changes are patched in
//     place (with fingerprints: a 412 is retried), unreferenced resources
//     are deleted (in-use refusals are retried).
//  11. A deleted Gateway's resources go in reverse order, then the
//     finalizer; what the user made (certificate maps, SSL and security
//     policies, named addresses, pre-shared certificates) is never touched:
//     garbage collection only lists names with the cluster's gkegw1-<t4>-
//     prefix.
//
// Everything goes through the official Compute client
// (google.golang.org/api/compute/v1) at meshsim's endpoint, so Compute's
// rules (references, in-use deletes, fingerprints, operations, health
// needing the firewall) hold for it as for any client.
//
// Guesses, where the reference is silent, are marked where they are made;
// the main ones: the hash in names and path matcher names (the shapes are
// GKE's), the order of rules across routes and hostnames (Gateway API's
// precedence), gw-serve404/500 as backend services without backends, the
// default health check's type following the backend protocol, the firewall
// rule's ports (the backends' pod ports and health-checked ports) and
// description, the descriptions of backend services and health checks, the
// wording after the GWCER code for missing certificate maps, SSL and
// security policies and IAP Secrets, a route problem leaving the rest of
// the Gateway serving (the rule answers 500 through gw-serve500), Accepted
// staying True when translation fails (Programmed says why), one URL map
// per listener protocol (so the HTTP redirect route has its own), and
// Programmed staying Unknown ("Waiting for controller") until programmed.
package gkegateway
