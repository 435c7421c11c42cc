// Package trace is `meshctl trace HOST[/PATH]`: where a request for a host
// goes, hop by hop, and where it breaks. It starts from what a user has (a
// host name, an IP or a URL) and follows the request through Google's
// global external Application Load Balancer into the mesh, whatever built
// it (meshctl expose, GKE Gateway, GKE Ingress, or gcloud by hand):
//
//	forwarding rule → target proxy (certificate for the host, SSL policy)
//	→ URL map (host rule, path matcher, redirect) → backend service
//	(protocol, Cloud Armor, IAP, health check) → each NEG by zone
//	(endpoints and their health) → the Kubernetes Service owning the NEG
//	(neg-status) → the gateway pods → the Istio Gateway server (host, TLS
//	credential) → the VirtualService route for the host and path → the
//	destination Service, its port and pods → the DestinationRule's TLS mode
//
// Each hop is ok, warning, converging (a certificate still provisioning,
// endpoints not yet healthy within GKE's usual time) or broken, with the
// evidence read and, for a problem, a finding from the catalog (MC04xx)
// with the fix. The first broken hop is the answer.
//
// Reads are few and concurrent: every Compute kind the path may touch is
// listed once, at the start, together with the Kubernetes Services and
// Istio's routing objects, so the load balancer is followed in memory. What
// depends on those lists (each NEG's health, the certificate map's entries,
// the gateway's pods, its TLS Secret, the destination's pods) is started as
// soon as its input is known, so the longest chain of dependent Google calls
// is two (a list, then backendServices.getHealth).
package trace
