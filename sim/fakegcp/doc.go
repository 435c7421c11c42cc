// Package fakegcp is meshsim's stand-in for Google Cloud: a fake of the
// Compute v1 and GKE v1 REST APIs (and of Cloud Storage buckets, which
// backend buckets name) for one simulated project, faithful enough that the
// official Go clients (cloud.google.com/go/compute/apiv1 REST clients,
// cloud.google.com/go/container/apiv1) and gcloud work against it
// unchanged. Certificate Manager is its neighbour, sim/fakecertmanager. It answers as Google does, not as meshctl expects; where Google's
// behaviour was not observable the choice made is written next to the code.
//
// Sources of truth are the recorded exchanges in
// shared/reference/gcp-recorded (the replay test holds the fake to them) and
// the Compute and GKE API references.
//
// What it serves: global load balancing (health checks, backend services,
// backend buckets, URL maps, target HTTP(S) proxies, forwarding rules,
// addresses, SSL certificates and policies, Cloud Armor policies), the
// regional surface (addresses, health checks, backend services with the
// INTERNAL, INTERNAL_MANAGED and EXTERNAL_MANAGED schemes, forwarding rules
// with allowGlobalAccess, URL maps, target proxies, SSL certificates,
// subnetworks, regional operations), networks and routes, firewalls, zonal
// NEGs, instances (the cluster's nodes, and VMs made through the API),
// unmanaged instance groups, public images, projects, zones, regions and
// machine types. A kind is one collection in one scope type (scope.go): a
// request's method id (compute.<method>.<verb>, e.g.
// compute.regionBackendServices.insert) follows from its path, and MethodOf
// names it without serving the request.
//
// How it behaves:
//
//   - Every insert, delete, update, patch and set* answers with an Operation
//     that stays RUNNING for Knobs.OperationDuration (per method:
//     Knobs.OperationDurations; the recordings show URL map writes and
//     setLabels DONE at once) and the change becomes visible when it is
//     DONE. The request itself is validated at once: names (RFC 1035),
//     required fields, malformed references (400 invalid), references to
//     objects that do not exist (404 notFound, as Compute answers), stale
//     fingerprints (412 conditionNotMet), deletes of objects still
//     referenced (400 resourceInUseByAnotherResource), duplicates (409) and
//     quotas (403 quotaExceeded). A write to an object another operation is
//     still changing fails with 400 resourceNotReady.
//   - References arrive as full links with any host (gcloud builds them from
//     its endpoint override), relative "projects/..." links or names, and are
//     stored as https://www.googleapis.com/compute/v1/... links, except
//     where the recordings show a relative link kept as sent (networks of
//     global addresses and firewalls, a regional address's subnetwork, an
//     instance's fields). A numeric id stands for the object's name, in
//     paths and links. A regional reference stays in its region.
//   - Google's own objects come and go with their owners: a network's
//     default route, an auto-mode network's subnetwork, a subnetwork's
//     local route. They do not keep their owner's dependencies from being
//     deleted.
//   - Operations: get, list and wait (blocks until DONE or
//     Knobs.OperationWaitCap). A repeated mutation with the same requestId
//     answers the first operation and changes nothing.
//   - backendServices.getHealth reports NEG endpoints HEALTHY when the pod is
//     ready, serves the health-checked port and the VPC firewall admits
//     Google's health-check ranges to the nodes' tag; only once a forwarding
//     rule leads to the backend service.
//   - Managed certificates are PROVISIONING until they have served behind a
//     forwarding rule for Knobs.CertProvisioningDelay, then ACTIVE.
//   - The cluster's nodes are Compute instances carrying the node tag in
//     tags.items; GKE's own firewall rules for the cluster exist from the start.
//   - GKE: the scenario's cluster (GET, list, node pools, update) plus any
//     cluster created through the API; others are 404 as GKE words it.
//
// With Options.IAM every request is first checked against meshsim's
// permission model (sim/fakeiam): a caller lacking a permission gets
// Compute's or GKE's 403 and the request goes no further.
//
// For tests and benchmarks: Knobs (latency, durations, fault injection), the
// request log (Requests), the state dump (State), the NEG controller's hooks
// (EnsureNEG, SetNEGEndpoints, DeleteNEG, NEGs), the same over HTTP under
// /meshsim/, and Serve to listen on a local address.
package fakegcp
