package gatewayapi

import (
	"context"
	"fmt"
	"slices"
	"strings"

	gkev1 "github.com/GoogleCloudPlatform/gke-gateway-api/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/expose"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// liveGateway is what exists of the GKE Gateway: the Gateway (nil when
// absent) and the routes on it that are not this Service's nor meshctl's
// redirect: other Services', or the user's.
type liveGateway struct {
	gw     *gwv1.Gateway
	others []*gwv1.HTTPRoute
}

func (l liveGateway) otherNames() []string {
	var out []string
	for _, r := range l.others {
		out = append(out, r.Namespace+"/"+r.Name)
	}
	return out
}

// resolve completes the options from the cluster into a Spec and the
// Compute part's EdgeSpec. A shared Gateway keeps its address and
// certificates; asking for others while other Services use it is refused.
func resolve(ctx context.Context, c kube.Objects, o Options, ms expose.Spec) (Spec, lb.EdgeSpec, error) {
	ns := ms.GatewayNamespace
	gwNS, gwName := SplitGateway(o.Gateway)
	if gwNS != "" && gwNS != ns {
		return Spec{}, lb.EdgeSpec{}, failure.Usage(fmt.Errorf("--gateway %s: the Gateway must be in namespace %s, beside the mesh gateway: GKE attaches a HealthCheckPolicy or GCPBackendPolicy only in the namespace of the Service it targets, and meshctl's Gateways take routes from their own namespace", o.Gateway, ns),
			fmt.Sprintf("pass --gateway-namespace %s to run the mesh gateway there, or --gateway %s", gwNS, gwName))
	}
	edge := lb.EdgeSpec{Project: o.Project, Certificate: o.Certificate, SSLProfile: o.SSLProfile, MinTLS: o.MinTLS, Armor: o.Armor, Adopt: o.Adopt}
	if !isIP(o.Address) {
		edge.Address = o.Address
	}
	svc := expose.ServiceRef{Namespace: ms.Namespace, Name: ms.Service, Port: ms.Port}
	names := NamesFor(o.Project, o.Cluster, ns, ms.Names.Gateway, gwName, edge)
	edge.Key = EdgeKey(o.Cluster, ns, names.Gateway)
	spec := Spec{
		Service: svc, MeshGateway: ms.Names.Gateway, Hosts: slices.Clone(o.Expose.Hosts), Paths: slices.Clone(o.Paths), Names: names,
		Address: o.Address, Certificate: o.Certificate, HTTPRedirect: !o.NoHTTPRedirect, ArmorPolicy: names.Edge.Armor,
		LogSampleRate: o.LogSampleRate, MaxRatePerEndpoint: o.MaxRatePerEndpoint, BackendTimeout: o.BackendTimeout,
		IAP: o.IAP.Enabled, IAPClientID: o.IAP.ClientID, IAPClientSecret: o.IAP.ClientSecret,
	}
	if err := notOnComputePath(ctx, c, ms); err != nil {
		return spec, edge, err
	}
	if err := notOnOtherGateway(ctx, c, spec); err != nil {
		return spec, edge, err
	}
	live, err := readGateway(ctx, c, spec)
	if err != nil {
		return spec, edge, err
	}
	if err := inheritGateway(&spec, &edge, live, o); err != nil {
		return spec, edge, err
	}
	spec.Names.Edge = edge.Names()
	spec.ArmorPolicy = spec.Names.Edge.Armor
	return spec, edge, hostsFree(spec, live)
}

// inheritGateway: a Gateway that exists keeps the address and
// certificates it has unless flags say otherwise; with other Services on
// it, flags that would change them are refused.
func inheritGateway(spec *Spec, edge *lb.EdgeSpec, live liveGateway, o Options) error {
	if live.gw == nil {
		if spec.Address == "" {
			spec.Address = spec.Names.Edge.Address
		}
		return nil
	}
	ref := "Gateway " + live.gw.Namespace + "/" + live.gw.Name
	liveAddr := ""
	for _, a := range live.gw.Spec.Addresses {
		liveAddr = a.Value
	}
	shared := len(live.others) > 0
	others := strings.Join(live.otherNames(), ", ")
	switch {
	case o.Address != "" && shared && liveAddr != "" && o.Address != liveAddr:
		return failure.Usage(fmt.Errorf("--address %s: %s serves other routes (%s) on address %s", o.Address, ref, others, liveAddr),
			"leave out --address: a shared Gateway keeps its address")
	case o.Address == "" && liveAddr != "" && liveAddr != spec.Names.Edge.Address:
		spec.Address, edge.Address = liveAddr, liveAddr // the user's, named when the Gateway was made
	case o.Address == "":
		spec.Address = spec.Names.Edge.Address
	}
	liveCert := ""
	for _, l := range live.gw.Spec.Listeners {
		if l.TLS != nil {
			liveCert = string(l.TLS.Options[PreSharedCertsOption])
		}
	}
	liveMap := live.gw.Annotations[CertMapAnnotation] != ""
	switch {
	case shared && o.Certificate != "" && liveMap:
		return failure.Usage(fmt.Errorf("--certificate %s: %s serves other routes (%s) with certificate map %s", o.Certificate, ref, others, live.gw.Annotations[CertMapAnnotation]),
			"leave out --certificate: the map gets a certificate for this Service's hosts too")
	case shared && o.Certificate != "" && liveCert != "" && o.Certificate != liveCert:
		return failure.Usage(fmt.Errorf("--certificate %s: %s serves other routes (%s) with certificate %s", o.Certificate, ref, others, liveCert),
			"pass --certificate "+liveCert+", or expose the Service on a Gateway of its own")
	case shared && o.Certificate == "" && liveCert != "":
		spec.Certificate, edge.Certificate = liveCert, liveCert
	}
	return nil
}

// hostsFree: a host goes to one route of the Gateway.
func hostsFree(spec Spec, live liveGateway) error {
	for _, r := range live.others {
		for _, h := range r.Spec.Hostnames {
			for _, want := range spec.Hosts {
				if strings.EqualFold(string(h), strings.TrimSuffix(want, ".")) {
					return failure.WithHint(fmt.Errorf("host %s is already routed by HTTPRoute %s/%s on Gateway %s", want, r.Namespace, r.Name, spec.Names.Gateway),
						"each host goes to one Service on a Gateway: pick other --host names, or unexpose the Service that has it")
				}
			}
		}
	}
	return nil
}

// notOnComputePath refuses a Service whose gateway carries meshctl's own
// NEG annotation: the --via compute load balancer uses those NEGs, and
// this path would take the annotation away under it.
func notOnComputePath(ctx context.Context, c kube.Objects, ms expose.Spec) error {
	u, err := c.Get(ctx, kService.Resource, ms.GatewayNamespace, ms.Names.Gateway)
	if kube.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read Service %s/%s: %w", ms.GatewayNamespace, ms.Names.Gateway, err)
	}
	if strings.Contains(u.GetAnnotations()[expose.NEGAnnotation], `"`+ms.Names.NEG+`"`) {
		return failure.WithHint(fmt.Errorf("Service %s/%s is exposed through Google's load balancer made by meshctl (--via compute): its gateway's NEGs are meshctl's", ms.Namespace, ms.Service), //nolint:staticcheck // ST1005: Service is the Kubernetes kind, spelt as kubectl does
			fmt.Sprintf("move it: `meshctl unexpose svc %s -n %s`, then expose it again with --via gateway-api", ms.Service, ms.Namespace))
	}
	return nil
}

// notOnOtherGateway refuses moving a Service between Gateways (or
// namespaces) in one run: the old Gateway would be left to tear down.
func notOnOtherGateway(ctx context.Context, c kube.Objects, spec Spec) error {
	routes, err := ownedRoutes(ctx, c, spec.Service.Namespace, spec.Service.Name, spec.Names.Namespace)
	if err != nil {
		return err
	}
	for _, r := range routes {
		gw := attachedGateway(r)
		if r.Namespace != spec.Names.Namespace || r.Name != spec.Names.Route || gw != spec.Names.Gateway {
			return failure.WithHint(fmt.Errorf("Service %s/%s is already exposed through Gateway %s/%s (HTTPRoute %s/%s)", spec.Service.Namespace, spec.Service.Name, r.Namespace, gw, r.Namespace, r.Name), //nolint:staticcheck // ST1005: Service is the Kubernetes kind, spelt as kubectl does
				fmt.Sprintf("unexpose it first (`meshctl unexpose svc %s -n %s`), or pass --gateway %s", spec.Service.Name, spec.Service.Namespace, gw))
		}
	}
	return nil
}

// attachedGateway is the name of the Gateway a meshctl route names.
func attachedGateway(r *gwv1.HTTPRoute) string {
	for _, ref := range r.Spec.ParentRefs {
		return string(ref.Name)
	}
	return ""
}

// ownedRoutes lists the HTTPRoutes meshctl made for a Service, in every
// namespace, or in fallback where the user may not list cluster-wide.
func ownedRoutes(ctx context.Context, c kube.Objects, namespace, service, fallback string) ([]*gwv1.HTTPRoute, error) {
	items, err := owned(ctx, c, kHTTPRoute, namespace, service, fallback)
	if err != nil {
		return nil, err
	}
	return typed[gwv1.HTTPRoute](items)
}

// owned lists the objects of a kind meshctl made for a Service.
func owned(ctx context.Context, c kube.Objects, k kind, namespace, service, fallback string) ([]unstructured.Unstructured, error) {
	sel := mesh.OwnerSelector(namespace, service)
	items, err := c.List(ctx, k.Resource, "", sel)
	if apierrors.IsForbidden(err) {
		items = nil
		for _, ns := range uniq(namespace, fallback) {
			more, nerr := c.List(ctx, k.Resource, ns, sel)
			if nerr != nil && !kube.IsNotFound(nerr) {
				return nil, fmt.Errorf("list %ss in %s: %w", k.Kind, ns, nerr)
			}
			items = append(items, more...)
		}
		err = nil
	}
	if kube.IsNotFound(err) {
		return nil, nil // the cluster does not serve the kind: nothing made here
	}
	if err != nil {
		return nil, fmt.Errorf("list %ss made by meshctl: %w", k.Kind, err)
	}
	return items, nil
}

func uniq(list ...string) []string {
	var out []string
	for _, s := range list {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// typed converts listed objects into typed ones.
func typed[T any](items []unstructured.Unstructured) ([]*T, error) {
	out := make([]*T, 0, len(items))
	for i := range items {
		v := new(T)
		if err := kube.FromUnstructured(&items[i], v); err != nil {
			return nil, fmt.Errorf("read %s %s: %w", items[i].GetKind(), items[i].GetName(), err)
		}
		out = append(out, v)
	}
	return out, nil
}

// getTyped reads one object into a typed value; nil when it does not exist.
func getTyped[T any](ctx context.Context, c kube.Objects, k kind, namespace, name string) (*T, error) {
	u, err := c.Get(ctx, k.Resource, namespace, name)
	if kube.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s %s/%s: %w", k.Kind, namespace, name, err)
	}
	v := new(T)
	if err := kube.FromUnstructured(u, v); err != nil {
		return nil, fmt.Errorf("read %s %s/%s: %w", k.Kind, namespace, name, err)
	}
	return v, nil
}

// readGateway reads the Gateway and the routes attached to it.
func readGateway(ctx context.Context, c kube.Objects, spec Spec) (liveGateway, error) {
	var live liveGateway
	gw, err := getTyped[gwv1.Gateway](ctx, c, kGateway, spec.Names.Namespace, spec.Names.Gateway)
	if err != nil || gw == nil {
		return live, err
	}
	live.gw = gw
	routes, err := routesOn(ctx, c, spec.Names.Namespace, spec.Names.Gateway)
	if err != nil {
		return live, err
	}
	for _, r := range routes {
		if isOwn(r.Labels, spec) || isShared(r.Labels, spec.Names.Gateway) {
			continue
		}
		live.others = append(live.others, r)
	}
	return live, nil
}

func isOwn(l map[string]string, spec Spec) bool {
	return mesh.OwnedBy(l, spec.Service.Namespace, spec.Service.Name)
}

func isShared(l map[string]string, gateway string) bool {
	return mesh.MadeByMeshctl(l) && l[mesh.LabelServiceName] == "" && l[LabelGateway] == gateway
}

// routesOn lists the HTTPRoutes of a namespace whose parentRefs name the
// Gateway (meshctl's Gateways take routes from their own namespace only).
func routesOn(ctx context.Context, c kube.Objects, namespace, gateway string) ([]*gwv1.HTTPRoute, error) {
	items, err := c.List(ctx, kHTTPRoute.Resource, namespace, "")
	if kube.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list HTTPRoutes in %s: %w", namespace, err)
	}
	all, err := typed[gwv1.HTTPRoute](items)
	if err != nil {
		return nil, err
	}
	var out []*gwv1.HTTPRoute
	for _, r := range all {
		for _, ref := range r.Spec.ParentRefs {
			ns := r.Namespace
			if ref.Namespace != nil {
				ns = string(*ref.Namespace)
			}
			if ns == namespace && string(ref.Name) == gateway && (ref.Kind == nil || *ref.Kind == "Gateway") {
				out = append(out, r)
				break
			}
		}
	}
	return out, nil
}

// refusals runs the controller's rules on an object as the API server
// would store it (merged with what others set on it).
func (p *Plan) refusals(ctx context.Context, c kube.Objects, o Object, dry *unstructured.Unstructured) ([]Refusal, error) {
	switch o.kind {
	case kHTTPRoute:
		var r gwv1.HTTPRoute
		if err := kube.FromUnstructured(dry, &r); err != nil {
			return nil, err
		}
		return RouteRefusals(&r), nil
	case kGateway:
		var g gwv1.Gateway
		if err := kube.FromUnstructured(dry, &g); err != nil {
			return nil, err
		}
		return GatewayRefusals(&g), nil
	case kBackendPolicy, kHealthCheckPolicy:
		return p.policyRefusals(ctx, c, o)
	}
	return nil, nil
}

// policyRefusals: another policy of the kind on the same Service.
func (p *Plan) policyRefusals(ctx context.Context, c kube.Objects, o Object) ([]Refusal, error) {
	items, err := c.List(ctx, o.kind.Resource, o.Obj.GetNamespace(), "")
	if err != nil && !kube.IsNotFound(err) {
		return nil, fmt.Errorf("list %ss in %s: %w", o.kind.Kind, o.Obj.GetNamespace(), err)
	}
	var others []policyTarget
	var ours policyTarget
	switch pol := o.Obj.(type) {
	case *gkev1.GCPBackendPolicy:
		ours = backendPolicyTarget(pol)
		list, err := typed[gkev1.GCPBackendPolicy](items)
		if err != nil {
			return nil, err
		}
		for _, x := range list {
			others = append(others, backendPolicyTarget(x))
		}
	case *gkev1.HealthCheckPolicy:
		ours = healthCheckPolicyTarget(pol)
		list, err := typed[gkev1.HealthCheckPolicy](items)
		if err != nil {
			return nil, err
		}
		for _, x := range list {
			others = append(others, healthCheckPolicyTarget(x))
		}
	}
	return PolicyConflicts(ours, others), nil
}

// meshGatewayNEG reads the NEG GKE made for the mesh gateway's HTTPS port.
func meshGatewayNEG(ctx context.Context, c kube.Objects, namespace, name string) (expose.NEGStatus, bool) {
	svc, err := getTyped[corev1.Service](ctx, c, kService, namespace, name)
	if err != nil || svc == nil {
		return expose.NEGStatus{}, false
	}
	st, err := expose.ParseNEGStatus(svc.Annotations[expose.NEGStatusAnnotation], expose.HTTPSPort)
	return st, err == nil && len(st.Zones) > 0
}
