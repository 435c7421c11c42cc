package findings

// The catalog. Codes are stable: never reuse or renumber one; retire a code
// by leaving it defined and unused. Ranges:
//
//	MC01xx  cluster readiness (`meshctl check`)
//	        MC010x API access, MC011x versions, MC012x capacity,
//	        MC013x private cluster, MC014x cluster features, MC015x in the cluster,
//	        MC016x the managed control plane (`install --managed` checks first)
//	MC02xx+ mesh configuration and workloads (`meshctl validate`)
//	MC040x-MC044x the hops of a request (`meshctl trace`)
//
// Every code is listed in docs/findings.md; a test keeps the two in step.
var (
	// APIUnavailable: an API call that checks depend on failed
	// (permission, API disabled, not found, unreachable).
	APIUnavailable = define("MC0100", Error, "An API call failed; the checks that need it did not run")

	// Versions.
	MasterVersionUnsupported = define("MC0110", Error, "Control plane version not supported by the mesh release")
	NodeVersionUnsupported   = define("MC0111", Error, "Node pool version not supported by the mesh release")
	NodeVersionBehind        = define("MC0112", Warning, "Node pool a minor version or more behind the control plane")
	ReleaseChannel           = define("MC0113", Info, "Release channel")

	// Capacity.
	Autopilot    = define("MC0120", Error, "Autopilot cluster: the in-cluster control plane is not supported")
	NodeSize     = define("MC0121", Error, "No node pool has nodes of at least 4 vCPUs")
	PoolCapacity = define("MC0122", Error, "The largest pool of 4+ vCPU nodes has fewer than 8 vCPUs")

	// Private cluster.
	PrivateCluster     = define("MC0130", Info, "Private cluster configuration")
	WebhookPortBlocked = define("MC0131", Error, "The control plane cannot reach istiod's webhooks on tcp:15017 (no firewall rule)")

	// Cluster features.
	WorkloadIdentity   = define("MC0140", Error, "Workload identity not enabled")
	NodeMetadataServer = define("MC0141", Warning, "Node pool without the GKE metadata server (workload identity)")
	CloudOperations    = define("MC0142", Error, "Cloud Operations logging and monitoring for Kubernetes not enabled")
	MeshIDLabel        = define("MC0143", Error, "Cluster label mesh_id missing or malformed")
	Network            = define("MC0144", Info, "Network and subnetwork")

	// In the cluster.
	ServerVersion         = define("MC0150", Info, "Kubernetes server version")
	ClusterAdmin          = define("MC0151", Error, "The caller lacks cluster-admin rights")
	IstioSystemNamespace  = define("MC0152", Warning, "Namespace istio-system missing")
	ControlPlaneRevisions = define("MC0153", Info, "Installed control-plane revisions")
	IstiodOutsideSystem   = define("MC0154", Error, "istiod deployed outside istio-system")
	LegacyIngressGateway  = define("MC0155", Warning, "Legacy istio-ingressgateway in istio-system (asmcli stops at a prompt)")
	PortNaming            = define("MC0156", Warning, "Service port without a protocol in its name or appProtocol (IST0118)")
	DoubleInjectionLabels = define("MC0157", Warning, "Namespace labelled with both istio-injection and istio.io/rev (IST0123)")

	// The managed control plane: what the fleet would refuse with a
	// condition, checked before `install --managed` changes anything
	// (workload identity itself is MC0140).
	ManagedNodeMetadata = define("MC0160", Error, "Node pool without the GKE metadata server: the managed control plane requires it")
	ClusterWithoutNodes = define("MC0161", Error, "Cluster without nodes, and no node pool that autoscales from one or more")
)

// `meshctl validate`: MC020x control plane, MC021x data plane, MC022x the
// exposed Services' gateways and routing, MC023x their load balancers.
var (
	AsmcliError            = define("MC0200", Error, "asmcli validate reported an error")
	AsmcliWarning          = define("MC0201", Warning, "asmcli validate reported a warning")
	IstiodNotReady         = define("MC0202", Error, "An installed revision's istiod is not ready")
	WebhookRevisionMissing = define("MC0203", Error, "An injection webhook points at a revision that is not installed")
	NamespaceRevision      = define("MC0204", Error, "Namespace labelled with a revision that is not installed")

	PodWithoutProxy  = define("MC0210", Error, "Pod without istio-proxy in a namespace labelled for injection")
	ProxyRevision    = define("MC0211", Warning, "Pod's istio-proxy of another revision than its namespace's (a restart is due)")
	WorkloadOptedOut = define("MC0212", Info, "Pod opted out of injection in a namespace labelled for injection")

	GatewayNotReady    = define("MC0220", Error, "Exposed Service's gateway Deployment not ready or without injected proxies")
	GatewayPDB         = define("MC0221", Error, "Gateway's PodDisruptionBudget missing or selecting none of its pods")
	GatewayHPA         = define("MC0222", Error, "Gateway's HorizontalPodAutoscaler missing or its target missing")
	GatewayTLSSecret   = define("MC0223", Error, "Gateway's TLS secret missing or without a certificate valid for its hosts")
	GatewayCertExpiry  = define("MC0224", Warning, "Gateway's certificate expires within --cert-warn-days")
	VirtualServiceBind = define("MC0225", Error, "VirtualService not bound to its Gateway or routing to a missing Service port")

	LBDrift            = define("MC0230", Error, "Load balancer resource missing or not wired as meshctl expose built it")
	BackendUnhealthy   = define("MC0231", Error, "Load balancer backends not HEALTHY in a NEG zone")
	ManagedCertStatus  = define("MC0232", Warning, "Google-managed certificate not ACTIVE for a domain")
	SSLPolicyWeak      = define("MC0233", Warning, "Load balancer without an SSL policy requiring TLS 1.2 or later")
	CloudArmorDetached = define("MC0234", Error, "No Cloud Armor policy attached to the backend service")
	FirewallGFE        = define("MC0235", Error, "No firewall rule admits Google's front ends to the gateway's ports")

	// MC024x: what the load balancer serves, as it changes.
	HostWithoutCert     = define("MC0240", Error, "A routed host that no certificate on its HTTPS proxy covers")
	CertLeftOver        = define("MC0241", Warning, "A certificate meshctl made that no HTTPS proxy uses")
	NEGZoneEmpty        = define("MC0242", Warning, "A NEG zone without endpoints: the gateway has fewer replicas than zones")
	CloudArmorOff       = define("MC0243", Info, "No Cloud Armor policy, by choice (expose --no-armor)")
	NEGZoneNotBackend   = define("MC0244", Error, "A zone of the gateway's NEG is not among its backend service's backends")
	ManagedControlPlane = define("MC0245", Error, "The fleet reports the managed control plane not ready for the cluster")
	ManagedMeshProblem  = define("MC0246", Warning, "The fleet reports a problem with the cluster's managed mesh (e.g. its data plane)")

	// MC0250: the gateway's namespace.
	GatewaySharedSecrets = define("MC0250", Warning, "Gateway's namespace holds other Secrets, which its Role's list secrets lets it read")

	// The Gateway API path (expose --via gateway-api): what GKE's Gateway
	// controller reports on the objects.
	GKEGatewayNotProgrammed = define("MC0260", Error, "GKE Gateway not Accepted or not Programmed by GKE's Gateway controller")
	GKERouteNotAttached     = define("MC0261", Error, "HTTPRoute not Accepted by its Gateway, or its backends not resolved (ResolvedRefs)")
	GKEPolicyNotAttached    = define("MC0262", Error, "HealthCheckPolicy, GCPBackendPolicy or GCPGatewayPolicy missing or not Attached")
)

// The revision lifecycle: MC027x, from `meshctl validate` (revisions and
// tags), `meshctl uninstall --revision` (what still uses a revision) and
// `meshctl migrate --to managed` (its prechecks).
var (
	PodOnRemovedRevision    = define("MC0270", Error, "Pods run istio-proxy of a revision that is no longer installed")
	TagRevisionMissing      = define("MC0271", Error, "Revision tag points at a revision that is not installed")
	DefaultRevisionConflict = define("MC0272", Error, "More than one revision serves the default injection (istio-injection=enabled)")
	MigrateIstiodCA         = define("MC0273", Error, "The in-cluster revision signs with istiod's own CA: its pods and the managed revision's would not trust each other")
	MigratePodsLeftBehind   = define("MC0274", Error, "Pods on the in-cluster revision that migrate does not move")
	ManagedEnvoyFilter      = define("MC0275", Warning, "EnvoyFilter in the mesh: the managed control plane does not support it")
	RevisionInUse           = define("MC0276", Error, "The revision is still in use: a namespace's label or tag, or a running pod's proxy")
)

// `meshctl trace`: one code per way a hop of a request's path fails.
// MC040x the front end (forwarding rule, proxy, certificate, URL map),
// MC041x the backend service, MC042x the NEGs and the Service owning them,
// MC043x the gateway (pods, Istio Gateway, VirtualService), MC044x the
// destination and its DestinationRule. Warnings include "converging"
// (MC0404, MC0421): on its way, not broken.
var (
	TraceNoForwardingRule        = define("MC0400", Error, "No global forwarding rule serves the host (or the address it resolves to)")
	TraceDNS                     = define("MC0401", Warning, "The host does not resolve to the load balancer that routes it")
	TraceMissingLink             = define("MC0402", Error, "A link on the request's path points at an object that does not exist")
	TraceNoCertificate           = define("MC0403", Error, "No certificate on the HTTPS proxy covers the host")
	TraceCertificateProvisioning = define("MC0404", Warning, "The host's Google-managed certificate is still provisioning (converging)")
	TraceCertificateFailed       = define("MC0405", Error, "The host's certificate failed to provision, cannot provision, or expired")
	TraceSSLPolicy               = define("MC0406", Warning, "HTTPS proxy without an SSL policy requiring TLS 1.2 or later")
	TraceRedirect                = define("MC0407", Info, "The URL map redirects the request")
	TraceURLMapNowhere           = define("MC0408", Error, "The URL map sends the request nowhere, or to a default backend that answers 404 or 500")

	TraceProtocol        = define("MC0410", Error, "The backend service's protocol does not match what the gateway serves (TLS or not)")
	TraceArmorDenies     = define("MC0411", Error, "Cloud Armor denies a plain request")
	TraceArmorAllowlist  = define("MC0412", Warning, "Cloud Armor admits only some source ranges")
	TraceArmorNone       = define("MC0413", Warning, "No Cloud Armor policy on the backend service")
	TraceIAP             = define("MC0414", Info, "Identity-Aware Proxy is on: requests need a Google sign-in")
	TraceHealthCheckPort = define("MC0415", Error, "The health check probes a port the pods do not serve")
	TraceNoBackends      = define("MC0416", Error, "The backend service has no backends")

	TraceUnhealthy       = define("MC0420", Error, "No NEG endpoint is healthy")
	TraceNEGConverging   = define("MC0421", Warning, "NEG endpoints not yet healthy within GKE's usual time (converging)")
	TraceFirewall        = define("MC0422", Error, "No firewall rule admits Google's health checkers and front ends to the endpoints")
	TraceNEGEmpty        = define("MC0423", Error, "The backend's NEGs hold no endpoints")
	TracePartlyUnhealthy = define("MC0424", Warning, "A zone's NEG endpoints are not healthy; other zones serve")
	TraceNoService       = define("MC0425", Error, "No Kubernetes Service in the cluster reports the NEG in its neg-status")
	TraceNEGZone         = define("MC0426", Warning, "The backend service uses a NEG in a zone the Service no longer reports")

	TraceGatewayPods        = define("MC0430", Error, "Gateway pods missing, none ready, or without an injected proxy")
	TraceGatewayPodsPartly  = define("MC0431", Warning, "Some gateway pods not ready")
	TraceGatewayRevision    = define("MC0432", Warning, "Gateway proxies of a revision no installed control plane serves")
	TraceIstioGateway       = define("MC0433", Error, "No Istio Gateway server takes the load balancer's connections")
	TraceGatewayTLS         = define("MC0434", Error, "The Gateway server asks for a client certificate the load balancer does not present")
	TraceGatewaySecret      = define("MC0435", Error, "The Gateway server's TLS credential Secret is missing or invalid")
	TraceGatewayCertExpired = define("MC0436", Warning, "The Gateway server's certificate expired")
	TraceNoVirtualService   = define("MC0437", Error, "No VirtualService bound to the Gateway routes the host")
	TraceNoRoute            = define("MC0438", Error, "The VirtualService has no route for the path")
	TraceNotFollowed        = define("MC0439", Warning, "The route goes where trace does not follow (a delegate VirtualService)")

	TraceDestination      = define("MC0440", Error, "The route's destination Service, port or subset does not exist")
	TracePortProtocol     = define("MC0441", Warning, "The destination port names no protocol (Istio sniffs it)")
	TraceNoReadyPods      = define("MC0442", Error, "The destination has no ready pods")
	TraceDestinationProxy = define("MC0443", Warning, "Destination pods without a sidecar, or of a revision no control plane serves")
	TraceDestinationTLS   = define("MC0444", Error, "The DestinationRule's TLS mode does not fit the destination's pods")
	TraceTLSOrigination   = define("MC0445", Warning, "The DestinationRule originates TLS to pods that have sidecars")
)
