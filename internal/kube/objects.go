package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// Objects reads and writes Kubernetes objects of any kind. Capability
// packages that manage several kinds (expose, lb) use it so that one fake
// serves their unit tests; Dynamic is the real implementation.
type Objects interface {
	// Get returns the object, or an error for which IsNotFound is true.
	Get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error)
	// List returns the objects matching a label selector ("" for all), in
	// one namespace or, with namespace "", in all of them.
	List(ctx context.Context, gvr schema.GroupVersionResource, namespace, selector string) ([]unstructured.Unstructured, error)
	// Apply server-side applies obj as FieldManager, taking over fields
	// other managers hold. With dryRun the API server runs admission and
	// returns the result without storing it.
	Apply(ctx context.Context, gvr schema.GroupVersionResource, obj *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, error)
	// Delete deletes the object if its UID is still uid (empty: any), and
	// with foreground propagation when foreground is set (the call returns
	// at once; the object goes once its dependents have gone).
	Delete(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string, uid types.UID, foreground bool) error
}

// Dynamic is Objects over client-go's dynamic client.
type Dynamic struct {
	Client dynamic.Interface
	// Discovery, when set, gives NamespacedResources (resources.go).
	Discovery discovery.DiscoveryInterface
}

// NewDynamic returns Objects for a REST configuration (from RESTConfig,
// which sets the request rates).
func NewDynamic(rc *rest.Config) (*Dynamic, error) {
	c, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("create kubernetes client: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("create kubernetes discovery client: %w", err)
	}
	return &Dynamic{Client: c, Discovery: dc}, nil
}

func (d *Dynamic) resource(gvr schema.GroupVersionResource, namespace string) dynamic.ResourceInterface {
	if namespace == "" {
		return d.Client.Resource(gvr)
	}
	return d.Client.Resource(gvr).Namespace(namespace)
}

// Get implements Objects.
func (d *Dynamic) Get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error) {
	return d.resource(gvr, namespace).Get(ctx, name, metav1.GetOptions{})
}

// List implements Objects.
func (d *Dynamic) List(ctx context.Context, gvr schema.GroupVersionResource, namespace, selector string) ([]unstructured.Unstructured, error) {
	l, err := d.resource(gvr, namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// Apply implements Objects.
func (d *Dynamic) Apply(ctx context.Context, gvr schema.GroupVersionResource, obj *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, error) {
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return d.resource(gvr, obj.GetNamespace()).Apply(ctx, obj.GetName(), obj, opts)
}

// Delete implements Objects.
func (d *Dynamic) Delete(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string, uid types.UID, foreground bool) error {
	policy := metav1.DeletePropagationBackground
	if foreground {
		policy = metav1.DeletePropagationForeground
	}
	opts := metav1.DeleteOptions{PropagationPolicy: &policy}
	if uid != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	return d.resource(gvr, namespace).Delete(ctx, name, opts)
}

// IsNotFound reports whether err says the object does not exist.
func IsNotFound(err error) bool { return apierrors.IsNotFound(err) }

// ToUnstructured converts a typed object to the form Objects takes. It goes
// through JSON rather than reflection so that types with their own JSON
// encoding (Istio's protobuf-backed specs) come out as the API expects, and
// it drops what a manifest to apply should not carry: a null
// creationTimestamp, and the status, which is the API server's to write.
func ToUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", obj, err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode %T: %w", obj, err)
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		if v, has := md["creationTimestamp"]; has && v == nil {
			delete(md, "creationTimestamp")
		}
	}
	delete(m, "status")
	return &unstructured.Unstructured{Object: m}, nil
}

// FromUnstructured converts an object read through Objects into a typed one.
func FromUnstructured(u *unstructured.Unstructured, into any) error {
	b, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

// serverFields are set by the API server and never by an applier: they
// differ between a live object and a dry-run apply of it without meaning a
// change of what the applier asked for.
var serverFields = map[string]bool{
	"metadata.managedFields":     true,
	"metadata.resourceVersion":   true,
	"metadata.generation":        true,
	"metadata.creationTimestamp": true,
	"metadata.uid":               true,
	"status":                     true,
}

// ChangedFields compares a live object with the result of a dry-run apply of
// the desired one and returns the paths that would change (e.g.
// "spec.template.spec.containers"), sorted; none means applying would write
// nothing. Lists are compared whole and reported by their path. Values are
// never part of the result, so it is safe to print for Secrets.
func ChangedFields(live, proposed *unstructured.Unstructured) []string {
	var out []string
	diffValues("", live.Object, proposed.Object, &out)
	sort.Strings(out)
	return out
}

func diffValues(path string, a, b any, out *[]string) {
	if serverFields[path] {
		return
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			diffValues(p, am[k], bm[k], out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		if path == "" {
			path = "(object)"
		}
		*out = append(*out, strings.TrimPrefix(path, "."))
	}
}

// Namespace returns the namespace of the selected kubeconfig context, or
// "default" when it names none, as kubectl does.
func Namespace(c Config) (string, error) {
	ns, _, err := c.clientConfig().Namespace()
	if err != nil {
		return "", kubeconfigError(err)
	}
	if ns == "" {
		ns = "default"
	}
	return ns, nil
}
