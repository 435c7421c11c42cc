package expose

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// The gateway Service's HTTPS port, which the NEGs expose; its pods serve
// it on mesh.GatewayHTTPSPort and report readiness on mesh.StatusPort, which
// the load balancer's health check probes.
const (
	HTTPSPort = 443
	// BackendProtocol is what the gateway speaks on its HTTPS port: HTTP/2
	// over TLS. The load balancer's backend service uses it.
	BackendProtocol = "HTTP2"
	proxyUID        = 1337 // the user the Istio proxy image runs as
)

// Spec is the desired state of one exposed Service: the options checked
// against the cluster and completed from it. Render turns it into objects.
type Spec struct {
	Namespace string
	Service   string
	// Port is the Service port routed to.
	Port int32
	// Selector is the Service's pod selector (for the STRICT policy).
	Selector         map[string]string
	Hosts            []string
	Revision         string
	GatewayNamespace string
	Names            Names
	// Replicas is the gateway Deployment's replica count: MinReplicas
	// for a new gateway, and the autoscaler's current choice (within
	// bounds) for an existing one, so a re-run does not fight it.
	Replicas                 int32
	MinReplicas, MaxReplicas int32
	CPUTarget                int32
	// CertSecret is the Secret the Gateway serves.
	CertSecret string
	// Cert is meshctl's own certificate for CertSecret, or nil when the
	// user brought the Secret.
	Cert       *Cert
	StrictMTLS bool
	// ControllerNEGs: GKE's Gateway controller asks for the NEGs (see
	// Options.ControllerNEGs).
	ControllerNEGs bool
	// OwnNamespace says GatewayNamespace is the gateway's alone: meshctl
	// makes it (and deletes it with the gateway once nothing else is in
	// it).
	OwnNamespace bool
	// NetworkPolicy admits only Google's front ends and health checks, and
	// in-cluster metrics scrapers, to the gateway's pods.
	NetworkPolicy bool
}

// Object is one object expose wants to exist.
type Object struct {
	kind kind
	// Obj is the typed object (client-go or Istio type) with its
	// apiVersion and kind set.
	Obj interface {
		runtime.Object
		metav1.Object
	}
}

// Kind returns the object's kind, e.g. "Deployment".
func (o Object) Kind() string { return o.kind.Kind }

// Ref returns "Kind namespace/name" ("Kind name" for a cluster-scoped
// object), as plan.Change.Ref does.
func (o Object) Ref() string {
	return plan.Change{Kind: o.kind.Kind, Namespace: o.Obj.GetNamespace(), Name: o.Obj.GetName()}.Ref()
}

// selectorLabels select the gateway's pods, and nothing else: they hold
// only the gateway's own name. Deployment, Service, PDB and Istio Gateway
// all use exactly this set, and the pods carry it, so no selector can
// drift from the pod labels (the defect in the ASM sample's PDB). The
// revision label stays out of selectors: a Deployment's selector cannot
// change, and a revision upgrade must not orphan the running pods.
func (s Spec) selectorLabels() map[string]string {
	return map[string]string{mesh.LabelGateway: s.Names.Gateway}
}

// podLabels are the labels of the gateway's pods.
func (s Spec) podLabels() map[string]string {
	l := s.selectorLabels()
	l["app"] = s.Names.Gateway // Istio's telemetry names the workload by it
	l[mesh.LabelRevision] = s.Revision
	l[mesh.LabelServiceName] = s.Service
	l[mesh.LabelServiceNamespace] = s.Namespace
	return l
}

func (s Spec) meta(name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: mesh.OwnerLabels(s.Namespace, s.Service)}
}

func (s Spec) serviceHost() string {
	return fmt.Sprintf("%s.%s.svc.cluster.local", s.Service, s.Namespace)
}

// Render returns the objects for s, in the order they are applied: the
// gateway's own namespace, identity and credentials first, then the mTLS
// and network policies (so the first routed request already uses them),
// the workload and its Service, and the routing last, once there is
// something to route to.
func Render(s Spec) []Object {
	gw, gns := s.Names.Gateway, s.GatewayNamespace
	var objs []Object
	if s.OwnNamespace {
		objs = append(objs, Object{kNamespace, s.namespace()})
	}
	objs = append(objs,
		Object{kServiceAccount, s.serviceAccount()},
		Object{kRole, s.role()},
		Object{kRoleBinding, &rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: s.meta(gw, gns),
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: gw},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: gw, Namespace: gns}},
		}},
	)
	if s.Cert != nil {
		objs = append(objs, Object{kSecret, s.secret()})
	}
	objs = append(objs, Object{kDestinationRule, s.destinationRule()})
	if s.StrictMTLS {
		objs = append(objs, Object{kPeerAuthentication, s.peerAuthentication()})
	}
	if s.NetworkPolicy {
		// Before the Deployment: its pods start behind the policy.
		objs = append(objs, Object{kNetworkPolicy, s.networkPolicy()})
	}
	objs = append(objs,
		Object{kDeployment, s.deployment()},
		Object{kService, s.service()},
		Object{kPDB, s.pdb()},
		Object{kHPA, s.hpa()},
		Object{kGateway, s.gateway()},
		Object{kVirtualService, s.virtualService()},
	)
	return objs
}

func (s Spec) serviceAccount() *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: s.meta(s.Names.Gateway, s.GatewayNamespace),
	}
}

// role grants the gateway's identity what Istio needs to hand the gateway
// its certificate, and no more than that allows.
//
// The gateway's pods never read Secrets themselves: istiod reads the
// credentialName Secret and serves it to the proxy over SDS, after asking
// the API server (a SubjectAccessReview) whether the proxy's service
// account may "list secrets" in its namespace (istio
// pilot/pkg/credentials/kube/secrets.go Authorize). A SubjectAccessReview
// without a name never matches a rule limited by resourceNames, so a Role
// holding only the named rule leaves the gateway without its certificate.
// Hence two rules: get/watch/list limited to the one Secret, and the bare
// "list" istiod checks for. The pods run without a Kubernetes API token
// (automountServiceAccountToken: false), so that second rule is a marker
// for istiod's check that no process in the gateway can use.
func (s Spec) role() *rbacv1.Role {
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: s.meta(s.Names.Gateway, s.GatewayNamespace),
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{s.CertSecret}, Verbs: []string{"get", "watch", "list"}},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"list"}},
		},
	}
}

func (s Spec) secret() *corev1.Secret {
	m := s.meta(s.Names.CertSecret, s.GatewayNamespace)
	m.Annotations = map[string]string{certNotAfterAnnotation: s.Cert.NotAfter.UTC().Format(time.RFC3339)}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: m,
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: s.Cert.CertPEM, corev1.TLSPrivateKeyKey: s.Cert.Key},
	}
}

func (s Spec) deployment() *appsv1.Deployment {
	sel := s.selectorLabels()
	probe := &corev1.Probe{
		ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: mesh.ReadinessPath, Port: intstr.FromInt32(mesh.StatusPort)}},
		InitialDelaySeconds: 1, PeriodSeconds: 2, TimeoutSeconds: 3, SuccessThreshold: 1, FailureThreshold: 30,
	}
	podMeta := metav1.ObjectMeta{
		Labels: s.podLabels(),
		Annotations: map[string]string{
			// Istio's injector fills in the proxy from its "gateway"
			// template, replacing image "auto" with the revision's proxy
			// image: the gateway follows its revision's upgrades.
			"inject.istio.io/templates": "gateway",
		},
	}
	// The Deployment says which revision runs it, as its namespace and its
	// pods do: Istio reads istio.io/rev on an object as the revision it
	// belongs to (config.LabelsInRevision), so `istioctl analyze` checks
	// the gateway against that revision's injection webhook (with
	// --revision REV) rather than against the default revision's, which
	// does not inject it (IST0146, image "auto" matching no webhook).
	meta := s.meta(s.Names.Gateway, s.GatewayNamespace)
	meta.Labels[mesh.LabelRevision] = s.Revision
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(s.Replicas),
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				// Never fewer ready gateways than asked for during a rollout.
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: ptr.To(intstr.FromInt32(0)), MaxSurge: ptr.To(intstr.FromInt32(1))},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: podMeta,
				Spec: corev1.PodSpec{
					ServiceAccountName:           s.Names.Gateway,
					AutomountServiceAccountToken: ptr.To(false),
					// The user is set on the proxy container alone: Istio
					// reserves UID 1337 for its proxy, and `istioctl
					// analyze` warns (IST0144) when a pod sets it for all
					// its containers.
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptr.To(true),
						FSGroup:        ptr.To[int64](proxyUID),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:  mesh.ProxyContainer,
						Image: "auto",
						Ports: []corev1.ContainerPort{
							{Name: "https", ContainerPort: mesh.GatewayHTTPSPort, Protocol: corev1.ProtocolTCP},
							{Name: "status-port", ContainerPort: mesh.StatusPort, Protocol: corev1.ProtocolTCP},
						},
						ReadinessProbe: probe,
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
							Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("1Gi")},
						},
						SecurityContext: &corev1.SecurityContext{
							RunAsNonRoot:             ptr.To(true),
							RunAsUser:                ptr.To[int64](proxyUID),
							RunAsGroup:               ptr.To[int64](proxyUID),
							Privileged:               ptr.To(false),
							AllowPrivilegeEscalation: ptr.To(false),
							ReadOnlyRootFilesystem:   ptr.To(true),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
					}},
					// Spread over zones first (a zone outage keeps the
					// others serving), then over nodes. ScheduleAnyway: a
					// gateway short of a zone still beats no gateway.
					TopologySpreadConstraints: []corev1.TopologySpreadConstraint{
						{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.ScheduleAnyway,
							LabelSelector: &metav1.LabelSelector{MatchLabels: sel}, MatchLabelKeys: []string{appsv1.DefaultDeploymentUniqueLabelKey}},
						{MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.ScheduleAnyway,
							LabelSelector: &metav1.LabelSelector{MatchLabels: sel}, MatchLabelKeys: []string{appsv1.DefaultDeploymentUniqueLabelKey}},
					},
				},
			},
		},
	}
}

// negAnnotation asks for one standalone NEG per zone for the HTTPS port,
// named so that the load balancer part knows the name before GKE reports it.
func (s Spec) negAnnotation() string {
	type port struct {
		Name string `json:"name"`
	}
	b, _ := json.Marshal(map[string]map[string]port{"exposed_ports": {fmt.Sprint(HTTPSPort): {Name: s.Names.NEG}}})
	return string(b)
}

func (s Spec) service() *corev1.Service {
	m := s.meta(s.Names.Gateway, s.GatewayNamespace)
	if !s.ControllerNEGs {
		m.Annotations = map[string]string{NEGAnnotation: s.negAnnotation()}
	}
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: m,
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: s.selectorLabels(),
			Ports: []corev1.ServicePort{
				// The load balancer's health check probes this port on
				// each NEG endpoint.
				{Name: "status-port", Port: mesh.StatusPort, TargetPort: intstr.FromInt32(mesh.StatusPort), Protocol: corev1.ProtocolTCP,
					AppProtocol: ptr.To("http")},
				// appProtocol HTTP2: GKE reads a Service port's
				// appProtocol as the load balancer's backend protocol, and
				// for Google's load balancers HTTP2 means HTTP/2 over TLS,
				// which the gateway serves here (TLS SIMPLE with ALPN h2).
				// "kubernetes.io/h2c" would declare cleartext HTTP/2 (the
				// load balancer would then send unencrypted HTTP/2) and
				// "HTTPS" would pin HTTP/1.1 over TLS.
				{Name: "https", Port: HTTPSPort, TargetPort: intstr.FromInt32(mesh.GatewayHTTPSPort), Protocol: corev1.ProtocolTCP,
					AppProtocol: ptr.To(BackendProtocol)},
			},
		},
	}
}

func (s Spec) pdb() *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: s.meta(s.Names.Gateway, s.GatewayNamespace),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: s.selectorLabels()},
			// A gateway pod that is not ready serves nothing; let a node
			// drain evict it rather than block on it.
			UnhealthyPodEvictionPolicy: ptr.To(policyv1.AlwaysAllow),
		},
	}
}

func (s Spec) hpa() *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: s.meta(s.Names.Gateway, s.GatewayNamespace),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: s.Names.Gateway},
			MinReplicas:    ptr.To(s.MinReplicas),
			MaxReplicas:    s.MaxReplicas,
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{
					Name:   corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To(s.CPUTarget)},
				},
			}},
		},
	}
}

func (s Spec) gateway() *networkingv1.Gateway {
	return &networkingv1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "Gateway"},
		ObjectMeta: s.meta(s.Names.Gateway, s.GatewayNamespace),
		Spec: networkingapi.Gateway{
			Selector: s.selectorLabels(),
			Servers: []*networkingapi.Server{{
				Port: &networkingapi.Port{Number: HTTPSPort, Name: "https", Protocol: "HTTPS"},
				// Google's load balancer sends no SNI to backends, so the
				// server must match any name ("*"); "./" lets only
				// VirtualServices of the gateway's own namespace bind.
				Hosts: []string{"./*"},
				Tls: &networkingapi.ServerTLSSettings{
					Mode:           networkingapi.ServerTLSSettings_SIMPLE,
					CredentialName: s.CertSecret,
				},
			}},
		},
	}
}

func (s Spec) virtualService() *networkingv1.VirtualService {
	return &networkingv1.VirtualService{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "VirtualService"},
		ObjectMeta: s.meta(s.Names.Gateway, s.GatewayNamespace),
		Spec: networkingapi.VirtualService{
			Hosts:    append([]string(nil), s.Hosts...),
			Gateways: []string{s.Names.Gateway},
			Http: []*networkingapi.HTTPRoute{{
				Route: []*networkingapi.HTTPRouteDestination{{
					Destination: &networkingapi.Destination{
						Host: s.serviceHost(),
						Port: &networkingapi.PortSelector{Number: uint32(s.Port)},
					},
				}},
			}},
		},
	}
}

// destinationRule makes the gateway use Istio mutual TLS towards the
// Service. It applies to the gateway's pods only (workloadSelector, which
// requires exportTo "."), so it never changes how other clients reach the
// Service, nor competes with the user's own DestinationRules for them.
func (s Spec) destinationRule() *networkingv1.DestinationRule {
	return &networkingv1.DestinationRule{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "DestinationRule"},
		ObjectMeta: s.meta(s.Names.Gateway, s.GatewayNamespace),
		Spec: networkingapi.DestinationRule{
			Host:             s.serviceHost(),
			ExportTo:         []string{"."},
			WorkloadSelector: &typeapi.WorkloadSelector{MatchLabels: s.selectorLabels()},
			TrafficPolicy: &networkingapi.TrafficPolicy{
				Tls: &networkingapi.ClientTLSSettings{Mode: networkingapi.ClientTLSSettings_ISTIO_MUTUAL},
			},
		},
	}
}

func (s Spec) peerAuthentication() *securityv1.PeerAuthentication {
	return &securityv1.PeerAuthentication{
		TypeMeta:   metav1.TypeMeta{APIVersion: "security.istio.io/v1", Kind: "PeerAuthentication"},
		ObjectMeta: s.meta(s.Names.PeerAuthentication, s.Namespace),
		Spec: securityapi.PeerAuthentication{
			Selector: &typeapi.WorkloadSelector{MatchLabels: maps.Clone(s.Selector)},
			Mtls:     &securityapi.PeerAuthentication_MutualTLS{Mode: securityapi.PeerAuthentication_MutualTLS_STRICT},
		},
	}
}
