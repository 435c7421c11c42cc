// Package eastwest is an Istio east-west gateway on GKE's internal
// passthrough load balancer with global access: the objects of Istio's
// multi-network guide (samples/multicluster/gen-eastwest-gateway.sh,
// expose-services.yaml and, for VMs, expose-istiod.yaml) for one cluster,
// planned, applied and removed as meshctl's own. `meshctl mesh connect
// --multi-network` builds one per cluster; `meshctl vm` can reuse it for
// the istiod exposure.
package eastwest

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshctl/meshctl/pkg/mesh"
)

// Istio's and GKE's names an east-west gateway is found by.
const (
	// Name is the gateway's Deployment and Service, as the generator names
	// them and `istioctl x workload entry configure --ingressService`
	// expects.
	Name = "istio-eastwestgateway"
	// ServiceAccount is the generator's (the gateway chart's) account.
	ServiceAccount = Name + "-service-account"
	// LabelNetwork on istio-system names the cluster's network; on the
	// gateway's Service it tells istiod the Service is that network's
	// gateway.
	LabelNetwork = "topology.istio.io/network"
	// AnnotationLBType puts a LoadBalancer Service on GKE's internal
	// passthrough load balancer.
	AnnotationLBType = "networking.gke.io/load-balancer-type"
	// AnnotationGlobalAccess lets clients of every region reach it.
	AnnotationGlobalAccess = "networking.gke.io/internal-load-balancer-allow-global-access"
	// CrossNetworkGateway is expose-services.yaml's Gateway.
	CrossNetworkGateway = "cross-network-gateway"
	// IstiodGateway and IstiodVirtualService are expose-istiod.yaml's.
	IstiodGateway        = "istiod-gateway"
	IstiodVirtualService = "istiod-vs"
	// selectorValue is the generator's istio: label value.
	selectorValue = "eastwestgateway"
)

// Ports are the gateway Service's, in the generator's order: status,
// mesh traffic (mTLS, AUTO_PASSTHROUGH), istiod's xDS and webhook.
var Ports = []Port{
	{Name: "status-port", Port: 15021},
	{Name: "tls", Port: 15443},
	{Name: "tls-istiod", Port: 15012},
	{Name: "tls-webhook", Port: 15017},
}

// Port is one port of the gateway Service.
type Port struct {
	Name string
	Port int32
}

// Spec is one cluster's gateway.
type Spec struct {
	// Network is the cluster's network name (istio-system's label).
	Network string
	// Revision is the control plane the gateway is injected by.
	Revision string
	// GlobalAccess lets clients in other regions reach the load balancer.
	GlobalAccess bool
	// ExposeIstiod adds expose-istiod.yaml (VMs reach istiod through the
	// gateway on 15012 and 15017).
	ExposeIstiod bool
}

// Object is one object of the gateway with its resource.
type Object struct {
	GVR schema.GroupVersionResource
	Obj *unstructured.Unstructured
}

// Kind is the object's kind.
func (o Object) Kind() string { return o.Obj.GetKind() }

var (
	gvrServiceAccount = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	gvrService        = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	gvrDeployment     = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	gvrPDB            = schema.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}
	gvrHPA            = schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}
	gvrGateway        = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "gateways"}
	gvrVirtualService = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}
	// GVRNamespace is for istio-system's network label.
	GVRNamespace = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	// GVRGateway reads expose-istiod.yaml's Gateway.
	GVRGateway = gvrGateway
	// GVRService reads the gateway's Service.
	GVRService = gvrService
)

// Selector is the generator's: the app, istio and network labels of the
// pods.
func Selector(network string) map[string]string {
	return map[string]string{"app": Name, "istio": selectorValue, LabelNetwork: network}
}

func labels(s Spec) map[string]any {
	return map[string]any{
		"app": Name, "istio": selectorValue, LabelNetwork: s.Network,
		mesh.LabelRevision: s.Revision, mesh.LabelManagedBy: mesh.ManagedBy,
	}
}

func obj(apiVersion, kind, name string, s Spec, rest map[string]any) *unstructured.Unstructured {
	m := map[string]any{
		"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": mesh.IstioSystem, "labels": labels(s)},
	}
	for k, v := range rest {
		m[k] = v
	}
	return &unstructured.Unstructured{Object: m}
}

func selector(network string) map[string]any {
	out := map[string]any{}
	for k, v := range Selector(network) {
		out[k] = v
	}
	return out
}

// Objects are the gateway's objects in the order they are applied (and
// the reverse of removal): the account, the injected Deployment, its
// Service on the internal load balancer, PDB and HPA, the cross-network
// Gateway and, with ExposeIstiod, istiod's Gateway and VirtualService.
func Objects(s Spec) []Object {
	podLabels := labels(s)
	podLabels["sidecar.istio.io/inject"] = "true"
	var containerPorts, servicePorts []any
	for _, p := range Ports {
		containerPorts = append(containerPorts, map[string]any{"name": p.Name, "containerPort": int64(p.Port), "protocol": "TCP"})
		servicePorts = append(servicePorts, map[string]any{"name": p.Name, "port": int64(p.Port), "targetPort": int64(p.Port), "protocol": "TCP"})
	}
	out := []Object{
		{gvrServiceAccount, obj("v1", "ServiceAccount", ServiceAccount, s, nil)},
		{gvrDeployment, obj("apps/v1", "Deployment", Name, s, map[string]any{"spec": map[string]any{
			"selector": map[string]any{"matchLabels": selector(s.Network)},
			"template": map[string]any{
				"metadata": map[string]any{
					"labels": podLabels,
					// The gateway template makes the pod a gateway Envoy,
					// not a sidecar (the generator's injectionTemplate).
					"annotations": map[string]any{"inject.istio.io/templates": "gateway", "sidecar.istio.io/inject": "true"},
				},
				"spec": map[string]any{
					"serviceAccountName": ServiceAccount,
					// The chart's: the proxy runs as Istio's proxy user,
					// unprivileged (ISTIO_META_UNPRIVILEGED_POD).
					"securityContext": map[string]any{"runAsUser": int64(1337), "runAsGroup": int64(1337), "runAsNonRoot": true},
					"containers": []any{map[string]any{
						"name": "istio-proxy", "image": "auto",
						"ports": containerPorts,
						// Which networks' endpoints this gateway's Envoy
						// is given: its own, as the generator sets.
						"env": []any{
							map[string]any{"name": "ISTIO_META_REQUESTED_NETWORK_VIEW", "value": s.Network},
							map[string]any{"name": "ISTIO_META_UNPRIVILEGED_POD", "value": "true"},
						},
						"securityContext": map[string]any{
							"allowPrivilegeEscalation": false, "privileged": false, "readOnlyRootFilesystem": true,
							"capabilities": map[string]any{"drop": []any{"ALL"}},
						},
						"resources": map[string]any{
							"requests": map[string]any{"cpu": "100m", "memory": "128Mi"},
							"limits":   map[string]any{"cpu": "2000m", "memory": "1024Mi"},
						},
					}},
				},
			},
		}})},
		{gvrService, obj("v1", "Service", Name, s, map[string]any{
			"spec": map[string]any{"type": "LoadBalancer", "selector": selector(s.Network), "ports": servicePorts},
		})},
		{gvrPDB, obj("policy/v1", "PodDisruptionBudget", Name, s, map[string]any{"spec": map[string]any{
			"minAvailable": int64(1), "selector": map[string]any{"matchLabels": selector(s.Network)},
		}})},
		{gvrHPA, obj("autoscaling/v2", "HorizontalPodAutoscaler", Name, s, map[string]any{"spec": map[string]any{
			"scaleTargetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": Name},
			"minReplicas":    int64(1), "maxReplicas": int64(5),
			"metrics": []any{map[string]any{"type": "Resource", "resource": map[string]any{
				"name": "cpu", "target": map[string]any{"type": "Utilization", "averageUtilization": int64(80)}}}},
		}})},
		{gvrGateway, obj("networking.istio.io/v1", "Gateway", CrossNetworkGateway, s, map[string]any{"spec": map[string]any{
			"selector": map[string]any{"istio": selectorValue},
			"servers": []any{map[string]any{
				"port":  map[string]any{"number": int64(15443), "name": "tls", "protocol": "TLS"},
				"tls":   map[string]any{"mode": "AUTO_PASSTHROUGH"},
				"hosts": []any{"*.local"},
			}},
		}})},
	}
	svc := out[2].Obj
	svc.SetAnnotations(map[string]string{AnnotationLBType: "Internal", AnnotationGlobalAccess: fmt.Sprint(s.GlobalAccess)})
	if s.ExposeIstiod {
		out = append(out, istiodObjects(s)...)
	}
	return out
}

// istiodObjects are expose-istiod.yaml for the revision's istiod Service.
func istiodObjects(s Spec) []Object {
	host := "istiod." + mesh.IstioSystem + ".svc.cluster.local"
	if s.Revision != "" && s.Revision != mesh.DefaultRevision {
		host = "istiod-" + s.Revision + "." + mesh.IstioSystem + ".svc.cluster.local"
	}
	route := func(port, dest int64) any {
		return map[string]any{
			"match": []any{map[string]any{"port": port, "sniHosts": []any{"*"}}},
			"route": []any{map[string]any{"destination": map[string]any{"host": host, "port": map[string]any{"number": dest}}}},
		}
	}
	return []Object{
		{gvrGateway, obj("networking.istio.io/v1", "Gateway", IstiodGateway, s, map[string]any{"spec": map[string]any{
			"selector": map[string]any{"istio": selectorValue},
			"servers": []any{
				map[string]any{"port": map[string]any{"name": "tls-istiod", "number": int64(15012), "protocol": "tls"}, "tls": map[string]any{"mode": "PASSTHROUGH"}, "hosts": []any{"*"}},
				map[string]any{"port": map[string]any{"name": "tls-istiodwebhook", "number": int64(15017), "protocol": "tls"}, "tls": map[string]any{"mode": "PASSTHROUGH"}, "hosts": []any{"*"}},
			},
		}})},
		{gvrVirtualService, obj("networking.istio.io/v1", "VirtualService", IstiodVirtualService, s, map[string]any{"spec": map[string]any{
			"hosts":    []any{"*"},
			"gateways": []any{IstiodGateway},
			"tls":      []any{route(15012, 15012), route(15017, 443)},
		}})},
	}
}
