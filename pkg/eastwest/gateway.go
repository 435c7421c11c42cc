package eastwest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// AnnotationLabelled on istio-system says meshctl set its network label
// (asmcli and istioctl set it too; removal takes only meshctl's).
const AnnotationLabelled = "meshctl.io/network-label"

// Namespaces is what the gateway needs of the namespaces API: a merge
// patch of istio-system's label, which leaves every other field (and
// every other manager's) as it is. client-go's NamespaceInterface has it.
type Namespaces interface {
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (*corev1.Namespace, error)
}

// patchLabel sets (or, with network "", removes) the network label and
// meshctl's note that it set it.
func patchLabel(ctx context.Context, ns Namespaces, network string) error {
	var label, note any
	if network != "" {
		label, note = network, "true"
	}
	body, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"labels": map[string]any{LabelNetwork: label}, "annotations": map[string]any{AnnotationLabelled: note}}})
	_, err := ns.Patch(ctx, mesh.IstioSystem, types.MergePatchType, body, metav1.PatchOptions{FieldManager: kube.FieldManager})
	return err
}

// Plan is what applying the gateway does to one cluster.
type Plan struct {
	Spec    Spec
	Changes []plan.Change
	// objects are Objects(Spec), with the namespace label first.
	objects []Object
	// network is the label istio-system carries now ("" for none).
	network string
}

// Pending reports whether applying changes anything.
func (p *Plan) Pending() bool { return plan.Pending(p.Changes) > 0 }

// NetworkOf reads istio-system's network label ("" when unlabelled).
func NetworkOf(ctx context.Context, o kube.Objects) (string, error) {
	ns, err := o.Get(ctx, GVRNamespace, "", mesh.IstioSystem)
	if err != nil {
		return "", fmt.Errorf("read namespace %s: %w", mesh.IstioSystem, err)
	}
	return ns.GetLabels()[LabelNetwork], nil
}

// PlanGateway reads the cluster and says what applying s changes: the
// network label of istio-system (set only where none is: a label another
// installer set is the network istiod already uses) and each object,
// compared with a server-side dry run so that defaults are no difference.
func PlanGateway(ctx context.Context, o kube.Objects, s Spec) (*Plan, error) {
	have, err := NetworkOf(ctx, o)
	if err != nil {
		return nil, err
	}
	p := &Plan{Spec: s, network: have, objects: Objects(s)}
	label := plan.Change{Kind: "Namespace", Name: mesh.IstioSystem, Action: plan.Keep, Note: LabelNetwork + "=" + have, Resource: preflight.KubeResource(GVRNamespace)}
	switch {
	case have == "":
		label.Action, label.Fields, label.Note = plan.Update, []string{"metadata.labels." + LabelNetwork}, LabelNetwork+"="+s.Network
	case have != s.Network:
		return nil, fmt.Errorf("namespace %s is labelled %s=%s, not %s: istiod already places the cluster in that network; pass the same network or relabel it first",
			mesh.IstioSystem, LabelNetwork, have, s.Network)
	}
	p.Changes = append(p.Changes, label)
	for _, ob := range p.objects {
		ch := plan.Change{Kind: ob.Kind(), Namespace: mesh.IstioSystem, Name: ob.Obj.GetName(), Resource: preflight.KubeResource(ob.GVR)}
		live, err := o.Get(ctx, ob.GVR, mesh.IstioSystem, ob.Obj.GetName())
		switch {
		case kube.IsNotFound(err):
			ch.Action = plan.Create
		case err != nil:
			return nil, fmt.Errorf("read %s %s/%s: %w", ob.Kind(), mesh.IstioSystem, ob.Obj.GetName(), err)
		default:
			if !mesh.MadeByMeshctl(live.GetLabels()) {
				return nil, fmt.Errorf("%s %s/%s exists and is not meshctl's: meshctl does not take over another tool's gateway; delete it or leave the cluster out",
					ob.Kind(), mesh.IstioSystem, ob.Obj.GetName())
			}
			dry, err := o.Apply(ctx, ob.GVR, ob.Obj.DeepCopy(), true)
			if err != nil {
				return nil, fmt.Errorf("dry-run apply %s %s/%s: %w", ob.Kind(), mesh.IstioSystem, ob.Obj.GetName(), err)
			}
			ch.Action = plan.Keep
			if f := kube.ChangedFields(live, dry); len(f) > 0 {
				ch.Action, ch.Fields = plan.Update, f
			}
		}
		p.Changes = append(p.Changes, ch)
	}
	return p, nil
}

// Apply makes the plan's changes, label first so that istiod knows the
// cluster's network before its gateway has an address.
func Apply(ctx context.Context, o kube.Objects, ns Namespaces, p *Plan) error {
	if p.network == "" {
		if err := patchLabel(ctx, ns, p.Spec.Network); err != nil {
			return fmt.Errorf("label namespace %s %s=%s: %w", mesh.IstioSystem, LabelNetwork, p.Spec.Network, err)
		}
	}
	for i, ob := range p.objects {
		if !p.Changes[i+1].Action.Changes() {
			continue
		}
		if _, err := o.Apply(ctx, ob.GVR, ob.Obj.DeepCopy(), false); err != nil {
			return fmt.Errorf("apply %s %s/%s: %w", ob.Kind(), mesh.IstioSystem, ob.Obj.GetName(), err)
		}
	}
	return nil
}

// Removal is what removing meshctl's gateway from a cluster does.
type Removal struct {
	Changes []plan.Change
	do      []func(context.Context) error
}

// PlanRemove finds meshctl's gateway objects (any of Objects, with the
// istiod exposure) and its network label. Another tool's objects of the
// same names stay.
func PlanRemove(ctx context.Context, o kube.Objects, namespaces Namespaces) (*Removal, error) {
	r := &Removal{}
	all := Objects(Spec{ExposeIstiod: true})
	for i := len(all) - 1; i >= 0; i-- {
		ob := all[i]
		live, err := o.Get(ctx, ob.GVR, mesh.IstioSystem, ob.Obj.GetName())
		if kube.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s %s/%s: %w", ob.Kind(), mesh.IstioSystem, ob.Obj.GetName(), err)
		}
		if !mesh.MadeByMeshctl(live.GetLabels()) {
			continue
		}
		uid := live.GetUID()
		r.Changes = append(r.Changes, plan.Change{Kind: ob.Kind(), Namespace: mesh.IstioSystem, Name: ob.Obj.GetName(), Action: plan.Delete, Resource: preflight.KubeResource(ob.GVR)})
		r.do = append(r.do, func(ctx context.Context) error {
			if err := o.Delete(ctx, ob.GVR, mesh.IstioSystem, ob.Obj.GetName(), uid, false); err != nil && !kube.IsNotFound(err) {
				return fmt.Errorf("delete %s %s/%s: %w", ob.Kind(), mesh.IstioSystem, ob.Obj.GetName(), err)
			}
			if ob.GVR == GVRService {
				return waitGone(ctx, o, ob.GVR, ob.Obj.GetName(), uid)
			}
			return nil
		})
	}
	ns, err := o.Get(ctx, GVRNamespace, "", mesh.IstioSystem)
	if err != nil {
		return nil, fmt.Errorf("read namespace %s: %w", mesh.IstioSystem, err)
	}
	if ns.GetAnnotations()[AnnotationLabelled] == "true" {
		r.Changes = append(r.Changes, plan.Change{Kind: "Namespace", Name: mesh.IstioSystem, Action: plan.Update,
			Fields: []string{"metadata.labels." + LabelNetwork}, Note: "remove the network label meshctl set", Resource: preflight.KubeResource(GVRNamespace)})
		r.do = append(r.do, func(ctx context.Context) error {
			if err := patchLabel(ctx, namespaces, ""); err != nil {
				return fmt.Errorf("remove the network label of namespace %s: %w", mesh.IstioSystem, err)
			}
			return nil
		})
	}
	return r, nil
}

// LoadBalancerCleanup bounds the wait for GKE to delete the gateway's
// internal load balancer once its Service is deleted.
const LoadBalancerCleanup = 5 * time.Minute

// waitGone waits until the deleted Service is gone. GKE's load balancer
// controller holds it with a finalizer until it has deleted the forwarding
// rule, backend service and health check: until then the load balancer
// still answers, so removal is not done.
func waitGone(ctx context.Context, o kube.Objects, gvr schema.GroupVersionResource, name string, uid types.UID) error {
	ctx, cancel := context.WithTimeout(ctx, LoadBalancerCleanup)
	defer cancel()
	for {
		live, err := o.Get(ctx, gvr, mesh.IstioSystem, name)
		if kube.IsNotFound(err) || (err == nil && live.GetUID() != uid) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the Service %s/%s is deleted but still there after %s: GKE has not removed its internal load balancer (its finalizer stays until it has; kubectl -n %s describe service %s shows GKE's events)",
				mesh.IstioSystem, name, LoadBalancerCleanup, mesh.IstioSystem, name)
		case <-time.After(time.Second):
		}
	}
}

// Apply removes the objects, in reverse order of creation.
func (r *Removal) Apply(ctx context.Context) error {
	for _, do := range r.do {
		if err := do(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Status is the gateway Service as GKE's load balancer controller left it.
type Status struct {
	// Exists is false when there is no gateway Service.
	Exists bool `json:"exists"`
	// Network is the Service's network label.
	Network string `json:"network,omitempty"`
	// Address is the internal load balancer's, from status.loadBalancer.ingress.
	Address string `json:"address,omitempty"`
	// Internal and GlobalAccess are the GKE annotations as set.
	Internal     bool `json:"internal"`
	GlobalAccess bool `json:"globalAccess"`
	// Mine is true when meshctl made it.
	Mine bool `json:"managedByMeshctl"`
}

// Read reads the gateway Service.
func Read(ctx context.Context, o kube.Objects) (Status, error) {
	svc, err := o.Get(ctx, gvrService, mesh.IstioSystem, Name)
	if kube.IsNotFound(err) {
		return Status{}, nil
	}
	if err != nil {
		return Status{}, fmt.Errorf("read Service %s/%s: %w", mesh.IstioSystem, Name, err)
	}
	st := Status{Exists: true, Network: svc.GetLabels()[LabelNetwork], Mine: mesh.MadeByMeshctl(svc.GetLabels())}
	a := svc.GetAnnotations()
	st.Internal = a[AnnotationLBType] == "Internal"
	st.GlobalAccess, _ = strconv.ParseBool(a[AnnotationGlobalAccess])
	ingress, _, _ := unstructured.NestedSlice(svc.Object, "status", "loadBalancer", "ingress")
	for _, in := range ingress {
		if m, ok := in.(map[string]any); ok {
			if ip, _ := m["ip"].(string); ip != "" {
				st.Address = ip
				break
			}
		}
	}
	return st, nil
}
