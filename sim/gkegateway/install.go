package gkegateway

import (
	"context"
	"embed"
	"fmt"
	"path"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	"sigs.k8s.io/yaml"
)

// The CRDs a GKE cluster serves for the Gateway API, copied byte for byte
// from the Go modules this package builds against (go generate refreshes
// them; TestEmbeddedCRDsMatchTheModules keeps them honest):
//
//   - sigs.k8s.io/gateway-api v1.5.1, standard channel: GatewayClass,
//     Gateway, HTTPRoute, GRPCRoute and ReferenceGrant, the kinds GKE 1.35
//     installs (its Gateway API is 1.5.0).
//   - github.com/GoogleCloudPlatform/gke-gateway-api v1.3.0: HealthCheckPolicy,
//     GCPBackendPolicy and GCPGatewayPolicy.
//
// Why v1.3.0's policy CRDs and not the CEL rules at the module's HEAD
// (reference §4): v1.3.0 is the only version the Go module proxy serves,
// the typed objects this controller (and meshctl) use come from it, and
// the schema and the types then agree byte for byte; HEAD's CEL text is
// not obtainable here, and a hand-written imitation of it would be a guess
// presented as GKE's. What GKE itself serves is unknown. The consequence
// to know: this API server accepts the guide's HealthCheckPolicy
// (httpHealthCheck with port and portName but no portSpecification),
// which HEAD's CEL rejects; the form {portSpecification: USE_FIXED_PORT,
// port: 15021, requestPath: /healthz/ready} passes both, so clients should
// render that one (meshctl does).
//
//go:generate bash -c "cp $(go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)/config/crd/standard/gateway.networking.k8s.io_{gatewayclasses,gateways,httproutes,grpcroutes,referencegrants}.yaml crds/ && chmod 644 crds/*"
//go:generate bash -c "cp $(go list -m -f '{{.Dir}}' github.com/GoogleCloudPlatform/gke-gateway-api)/config/crd/networking.gke.io_{healthcheckpolicies,gcpbackendpolicies,gcpgatewaypolicies}.yaml crds/ && chmod 644 crds/*"
//go:embed crds/*.yaml
var crdFiles embed.FS

// The GatewayClass this controller serves, as GKE defines it.
const (
	ClassName      = "gke-l7-global-external-managed"
	ControllerName = gwv1.GatewayController("networking.gke.io/gateway")
	classDesc      = "New Global L7 External Load Balancer type."
	installManager = "meshsim"
)

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// CRDNames lists the embedded CRDs by file name.
func CRDNames() []string {
	entries, _ := crdFiles.ReadDir("crds")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// Install puts GKE's Gateway API objects into a cluster, as GKE does for
// a cluster with the Gateway API enabled: the CRDs (server-side applied,
// so a re-run changes nothing) and the GatewayClass, Accepted. It returns
// once the CRDs are Established, so a client may create Gateways at once.
func Install(ctx context.Context, dyn dynamic.Interface, gw gwclient.Interface) error {
	// Concurrently: the API server takes a while over the largest
	// (HTTPRoute's schema is 430 kB), and meshsim up waits for all.
	var eg errgroup.Group
	for _, file := range CRDNames() {
		eg.Go(func() error {
			raw, err := crdFiles.ReadFile(path.Join("crds", file))
			if err != nil {
				return err
			}
			var obj map[string]any
			if err := yaml.Unmarshal(raw, &obj); err != nil {
				return fmt.Errorf("read %s: %w", file, err)
			}
			crd := &unstructured.Unstructured{Object: obj}
			if _, err := dyn.Resource(crdResource).Apply(ctx, crd.GetName(), crd, metav1.ApplyOptions{FieldManager: installManager, Force: true}); err != nil {
				return fmt.Errorf("install CRD %s: %w", crd.GetName(), err)
			}
			return waitEstablished(ctx, dyn, crd.GetName())
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	return ensureGatewayClass(ctx, gw)
}

func waitEstablished(ctx context.Context, dyn dynamic.Interface, name string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		crd, err := dyn.Resource(crdResource).Get(ctx, name, metav1.GetOptions{})
		if err == nil && crdEstablished(crd) {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				return fmt.Errorf("CRD %s is not Established after 60s", name)
			}
			return fmt.Errorf("CRD %s is not Established after 60s (last error: %w)", name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func crdEstablished(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// ensureGatewayClass creates the class if missing and marks it Accepted.
func ensureGatewayClass(ctx context.Context, gw gwclient.Interface) error {
	classes := gw.GatewayV1().GatewayClasses()
	class, err := classes.Get(ctx, ClassName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		desc := classDesc
		class, err = classes.Create(ctx, &gwv1.GatewayClass{
			ObjectMeta: metav1.ObjectMeta{Name: ClassName},
			Spec:       gwv1.GatewayClassSpec{ControllerName: ControllerName, Description: &desc},
		}, metav1.CreateOptions{FieldManager: installManager})
	}
	if err != nil {
		return fmt.Errorf("GatewayClass %s: %w", ClassName, err)
	}
	accepted := metav1.Condition{
		Type: string(gwv1.GatewayClassConditionStatusAccepted), Status: metav1.ConditionTrue,
		Reason: string(gwv1.GatewayClassReasonAccepted), ObservedGeneration: class.Generation,
	}
	if c := meta.FindStatusCondition(class.Status.Conditions, accepted.Type); c != nil && c.Status == accepted.Status && c.ObservedGeneration == class.Generation {
		return nil
	}
	// The CRD's default conditions (Unknown, "Waiting for controller") give
	// way to the controller's.
	class.Status.Conditions = nil
	meta.SetStatusCondition(&class.Status.Conditions, accepted)
	if _, err := classes.UpdateStatus(ctx, class, metav1.UpdateOptions{FieldManager: installManager}); err != nil {
		return fmt.Errorf("GatewayClass %s status: %w", ClassName, err)
	}
	return nil
}
