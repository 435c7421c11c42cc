// Package ilbcontroller does in meshsim what GKE does for a Service of type
// LoadBalancer with networking.gke.io/load-balancer-type: "Internal" (or
// the older cloud.google.com/load-balancer-type): it builds Google's
// internal passthrough Network Load Balancer in front of the cluster's
// nodes through the Compute API, as the project's GKE service agent, and
// writes the address into status.loadBalancer.ingress, which is what
// istiod reads to find an east-west gateway.
//
// Which of GKE's two implementations: a cluster without GKE subsetting
// (the default before GKE 1.36; meshsim's clusters report 1.34 and no
// ilbSubsettingConfig) gets the legacy one, the service controller of the
// GCE cloud provider (kubernetes/cloud-provider-gcp,
// providers/gce/gce_loadbalancer_internal.go and _naming.go). So the
// objects and names are that code's:
//
//   - forwarding rule and regional backend service a<UID>: "a" and the
//     Service's UID without dashes, 32 characters at most
//     (cloudprovider.DefaultLoadBalancerName); the rule is INTERNAL, in the
//     cluster's network and subnetwork (or the subnetwork of
//     networking.gke.io/internal-load-balancer-subnet), on the Service's
//     ports (allPorts beyond five), with allowGlobalAccess from
//     networking.gke.io/internal-load-balancer-allow-global-access: "true",
//     the address from spec.loadBalancerIP, the rule it replaces, or the
//     subnetwork; its description and the backend service's are
//     {"kubernetes.io/service-name":"NS/NAME"};
//   - unmanaged instance groups k8s-ig--<cluster id>, one per zone with
//     nodes, holding the nodes, the backend service's backends;
//   - the health check k8s-<cluster id>-node (HTTP /healthz on kube-proxy's
//     10256, shared by every Service with externalTrafficPolicy Cluster) or,
//     for externalTrafficPolicy Local, a<UID> on the Service's
//     healthCheckNodePort: global, 8 s interval, 1 s timeout, thresholds 1
//     and 3;
//   - firewall rules k8s-fw-a<UID> (spec.loadBalancerSourceRanges, default
//     0.0.0.0/0, to the nodes' tag and the rule's address, on the Service's
//     ports) and k8s-<cluster id>-node-hc (or a<UID>-hc) from Google's
//     health-check ranges;
//   - the finalizer gke.networking.io/l4-ilb-v1 while the objects exist,
//     and the service controller's events (EnsuringLoadBalancer,
//     EnsuredLoadBalancer, SyncLoadBalancerFailed, DeletingLoadBalancer,
//     DeletedLoadBalancer).
//
// A change the forwarding rule cannot take in place (global access, ports,
// protocol, subnetwork) deletes the rule and creates it again with the same
// address, as that code does. A Service that stops asking (deleted, another
// type, the annotation removed) loses its objects, shared ones only when no
// other uses them, then the finalizer and its status.
//
// The cluster id is GKE's 16-hex-digit id (kube-system's ingress-uid
// ConfigMap on GKE); meshsim takes the first 16 hex digits of the
// kube-system namespace's UID, whose first 8 are also its NEG controller's.
// Not modelled: GKE subsetting (k8s2- names and GCE_VM_IP NEGs), the
// address reservation the legacy code holds while it replaces a rule, and
// external (non-internal) LoadBalancer Services, which stay pending as they
// would without a cloud provider.
package ilbcontroller
