package gkegateway

import (
	"sort"

	gkev1 "github.com/GoogleCloudPlatform/gke-gateway-api/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
)

// world is what one pass reads from Kubernetes: a consistent snapshot the
// translation works on without further calls.
type world struct {
	gateways        []*gwv1.Gateway // of this controller's class, sorted by namespace/name
	routes          []*gwv1.HTTPRoute
	namespaces      map[string]*corev1.Namespace
	services        map[types.NamespacedName]*corev1.Service
	secrets         map[types.NamespacedName]*corev1.Secret
	slices          map[types.NamespacedName][]*discoveryv1.EndpointSlice // by Service
	referenceGrants []*gwv1beta1.ReferenceGrant
	healthChecks    []*gkev1.HealthCheckPolicy
	backendPolicies []*gkev1.GCPBackendPolicy
	gatewayPolicies []*gkev1.GCPGatewayPolicy
}

func nn(namespace, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: namespace, Name: name}
}

// snapshot reads the informers' caches.
func (c *Controller) snapshot() (*world, error) {
	w := &world{
		namespaces: map[string]*corev1.Namespace{},
		services:   map[types.NamespacedName]*corev1.Service{},
		secrets:    map[types.NamespacedName]*corev1.Secret{},
		slices:     map[types.NamespacedName][]*discoveryv1.EndpointSlice{},
	}
	all := labels.Everything()
	gws, err := c.gwInformers.Gateway().V1().Gateways().Lister().List(all)
	if err != nil {
		return nil, err
	}
	for _, g := range gws {
		if string(g.Spec.GatewayClassName) == ClassName {
			w.gateways = append(w.gateways, g)
		}
	}
	sort.Slice(w.gateways, func(i, j int) bool {
		return w.gateways[i].Namespace+"/"+w.gateways[i].Name < w.gateways[j].Namespace+"/"+w.gateways[j].Name
	})
	if w.routes, err = c.gwInformers.Gateway().V1().HTTPRoutes().Lister().List(all); err != nil {
		return nil, err
	}
	if w.referenceGrants, err = c.gwInformers.Gateway().V1beta1().ReferenceGrants().Lister().List(all); err != nil {
		return nil, err
	}
	nss, err := c.kubeInformers.Core().V1().Namespaces().Lister().List(all)
	if err != nil {
		return nil, err
	}
	for _, n := range nss {
		w.namespaces[n.Name] = n
	}
	svcs, err := c.kubeInformers.Core().V1().Services().Lister().List(all)
	if err != nil {
		return nil, err
	}
	for _, s := range svcs {
		w.services[nn(s.Namespace, s.Name)] = s
	}
	secrets, err := c.kubeInformers.Core().V1().Secrets().Lister().List(all)
	if err != nil {
		return nil, err
	}
	for _, s := range secrets {
		w.secrets[nn(s.Namespace, s.Name)] = s
	}
	slices, err := c.kubeInformers.Discovery().V1().EndpointSlices().Lister().List(all)
	if err != nil {
		return nil, err
	}
	for _, s := range slices {
		if svc := s.Labels[discoveryv1.LabelServiceName]; svc != "" {
			k := nn(s.Namespace, svc)
			w.slices[k] = append(w.slices[k], s)
		}
	}
	pols := c.gkeInformers.Networking().V1()
	if w.healthChecks, err = pols.HealthCheckPolicies().Lister().List(all); err != nil {
		return nil, err
	}
	if w.backendPolicies, err = pols.GCPBackendPolicies().Lister().List(all); err != nil {
		return nil, err
	}
	if w.gatewayPolicies, err = pols.GCPGatewayPolicies().Lister().List(all); err != nil {
		return nil, err
	}
	return w, nil
}

// servicePort finds a Service's port by number.
func servicePort(svc *corev1.Service, port int32) *corev1.ServicePort {
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == port {
			return &svc.Spec.Ports[i]
		}
	}
	return nil
}

// targetPorts are the pod ports behind a Service port, from its
// EndpointSlices (a named targetPort resolves there), else the numeric
// targetPort.
func (w *world) targetPorts(k backendKey) []int32 {
	svc := w.services[nn(k.Namespace, k.Service)]
	if svc == nil {
		return nil
	}
	sp := servicePort(svc, k.Port)
	if sp == nil {
		return nil
	}
	seen := map[int32]bool{}
	var out []int32
	for _, s := range w.slices[nn(k.Namespace, k.Service)] {
		for _, p := range s.Ports {
			if p.Port != nil && (p.Name == nil && sp.Name == "" || p.Name != nil && *p.Name == sp.Name) && !seen[*p.Port] {
				seen[*p.Port] = true
				out = append(out, *p.Port)
			}
		}
	}
	if len(out) == 0 && sp.TargetPort.IntVal != 0 {
		out = append(out, sp.TargetPort.IntVal)
	}
	if len(out) == 0 && sp.TargetPort.StrVal == "" {
		out = append(out, sp.Port)
	}
	return out
}

// referenceAllowed reports whether a ReferenceGrant in the target's
// namespace lets objects of fromKind in fromNS refer to toKind/name.
func (w *world) referenceAllowed(fromGroup, fromKind, fromNS, toGroup, toKind, toNS, toName string) bool {
	if fromNS == toNS {
		return true
	}
	for _, g := range w.referenceGrants {
		if g.Namespace != toNS {
			continue
		}
		from, to := false, false
		for _, f := range g.Spec.From {
			from = from || (string(f.Group) == fromGroup && string(f.Kind) == fromKind && string(f.Namespace) == fromNS)
		}
		for _, t := range g.Spec.To {
			to = to || (string(t.Group) == toGroup && string(t.Kind) == toKind && (t.Name == nil || string(*t.Name) == toName))
		}
		if from && to {
			return true
		}
	}
	return false
}
