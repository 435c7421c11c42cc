// Package mesh is the vocabulary every meshctl capability shares about the
// mesh and about what meshctl made: Istio's labels, annotations and ports,
// meshctl's owner marker (on Kubernetes objects and on Google resources), the
// installed control-plane revisions and tags read with one rule set, what a
// pod runs of Istio's proxy, and how Istio picks a Service port's protocol.
//
// It sits below the capabilities (inject, expose, lb, validate, check,
// install): they use it instead of declaring the same names and rules each,
// so that two commands never disagree about the same cluster.
package mesh

// Labels and annotations of Istio's injection contract.
const (
	// LabelRevision on a namespace selects the revision (or revision tag)
	// whose webhook injects its pods; on a pod, without namespace labels,
	// the pod's own injector; on an injection webhook or istiod, the
	// revision it belongs to.
	LabelRevision = "istio.io/rev"
	// LabelTag marks a revision tag's injection webhook (istioctl tag set).
	LabelTag = "istio.io/tag"
	// LabelInjection is the namespace label from before revisions:
	// "enabled" asks the default revision to inject, "disabled" turns
	// injection off; any value turns the namespace's istio.io/rev off.
	LabelInjection = "istio-injection"
	// AnnotationInject (or the label of the same name) on a pod or pod
	// template set to "false" opts it out of injection.
	AnnotationInject = "sidecar.istio.io/inject"
	// AnnotationStatus is the injector's record on an injected pod: a JSON
	// object naming the containers it added and the revision that did it.
	AnnotationStatus = "sidecar.istio.io/status"
	// ProxyContainer is the sidecar's (and a gateway's) container name. On
	// Kubernetes versions with native sidecars it is an init container with
	// restartPolicy Always; otherwise a regular container.
	ProxyContainer = "istio-proxy"
	// LabelIstio marks Istio's own gateways ("istio: ingressgateway").
	LabelIstio = "istio"
)

// The control plane's home and names.
const (
	// IstioSystem is where asmcli and istioctl install istiod, and where
	// Google's managed control plane keeps its ControlPlaneRevisions.
	IstioSystem = "istio-system"
	// IstiodApp is the app label of istiod Deployments.
	IstiodApp = "istiod"
	// DefaultRevision is the revision name of an install without one, and
	// the revision tag that istio-injection=enabled namespaces use.
	DefaultRevision = "default"
	// LegacyInjector is the injection webhook of installs from before
	// revisions, which carries no istio.io/rev label.
	LegacyInjector = "istio-sidecar-injector"
)

// Ports of Istio's proxies and control plane.
const (
	// StatusPort is the proxy's status port; ReadinessPath on it answers
	// once Envoy is ready. Load balancers health-check gateways there.
	StatusPort    = 15021
	ReadinessPath = "/healthz/ready"
	// GatewayHTTPSPort is where meshctl's gateways serve HTTPS: an
	// unprivileged port, so the proxy binds it without a capability.
	GatewayHTTPSPort = 8443
	// IstiodWebhookPort is where the API server calls istiod's webhooks.
	IstiodWebhookPort = 15017
)
