package expose

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// step is one change of the plan with what carrying it out needs.
type step struct {
	plan.Change
	kind kind
	obj  *unstructured.Unstructured // what to apply (create, update)
	uid  types.UID                  // what to delete
}

// changesOf are the steps' changes, for results.
func changesOf(steps []step) []plan.Change {
	out := make([]plan.Change, len(steps))
	for i, s := range steps {
		out[i] = s.Change
	}
	return out
}

// Plan is what expose would do: the desired objects and, for each, whether
// it is created, updated or kept, plus the objects meshctl made for the
// Service earlier that are no longer wanted.
type Plan struct {
	Spec    Spec
	Objects []Object
	Changes []plan.Change
	// Warnings are things the user should know that do not stop expose.
	Warnings []string

	opts  Options // validated, with defaults
	steps []step  // Changes, with what applying them needs
}

// NewPlan checks opts (once, with their defaults filled in) and then
// against the cluster, and works out what to change. It only reads (the
// comparison uses server-side dry-run applies, which the API server runs
// through admission, defaulting and validation without storing anything), so
// every check has passed before the first write.
func NewPlan(ctx context.Context, c kube.Objects, r ui.Reporter, opts Options) (*Plan, error) {
	return newPlan(ctx, c, r, opts, nil)
}

// newPlan is NewPlan with what meshctl made already listed for several
// plans at once (nil: the plan lists it itself).
func newPlan(ctx context.Context, c kube.Objects, r ui.Reporter, opts Options, made *ownedIndex) (*Plan, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.defaults()
	st := r.Step(fmt.Sprintf("check Service %s/%s", opts.Namespace, opts.Service))
	spec, in, err := resolve(ctx, c, opts, opts.Now())
	if err != nil {
		st.Fail(err)
		return nil, err
	}
	st.Progressf("port %d, revision %s, %d pods in the mesh", spec.Port, spec.Revision, in.podCount)
	st.Done()
	for _, w := range in.warnings {
		r.Warnf("%s", w)
	}

	st = r.Step("plan the gateway's objects")
	p := &Plan{Spec: spec, Objects: Render(spec), Warnings: in.warnings, opts: opts}
	if err := p.diff(ctx, c, in.certReason, made); err != nil {
		st.Fail(err)
		return nil, err
	}
	p.Changes = changesOf(p.steps)
	n := plan.Counts(p.Changes)
	st.Progressf("%d to create, %d to update, %d to delete, %d unchanged", n[plan.Create], n[plan.Update], n[plan.Delete], n[plan.Keep])
	st.Done()
	return p, nil
}

// diff compares each desired object with the cluster, refusing objects
// meshctl did not make, and adds what meshctl made earlier that is no
// longer wanted.
func (p *Plan) diff(ctx context.Context, c kube.Objects, certReason string, made *ownedIndex) error {
	var conflicts []error
	newNamespace := ""
	for _, o := range p.Objects {
		ch, err := planObject(ctx, c, p.Spec, o, newNamespace)
		if o.kind == kNamespace && ch.Action == plan.Create {
			newNamespace = o.Obj.GetName()
		}
		if errors.Is(err, errNotOurs) {
			conflicts = append(conflicts, err)
			continue
		}
		if err != nil {
			return err
		}
		if o.kind == kSecret && certReason != "" && ch.Action != plan.Keep {
			ch.Note = certReason
		}
		p.steps = append(p.steps, ch)
	}
	if len(conflicts) > 0 {
		return failure.WithHint(errors.Join(conflicts...), "meshctl does not take over objects it did not make: rename or delete them, or use --gateway-namespace")
	}
	stale, err := staleObjects(ctx, c, p.Spec, p.Objects, made)
	if err != nil {
		return err
	}
	p.steps = append(p.steps, stale...)
	return nil
}

var errNotOurs = errors.New("exists and was not made by meshctl for this Service")

// planObject compares one desired object with the cluster. newNamespace is
// the gateway's namespace when the plan creates it: its objects are all new,
// and the API server's dry run, which would refuse them there, checks them
// in the Service's namespace instead (admission and validation do not
// depend on the namespace's name).
func planObject(ctx context.Context, c kube.Objects, s Spec, o Object, newNamespace string) (step, error) {
	u, err := kube.ToUnstructured(o.Obj)
	if err != nil {
		return step{}, err
	}
	ch := step{Change: plan.Change{Kind: o.kind.Kind, Namespace: u.GetNamespace(), Name: u.GetName(), Resource: o.kind.groupResource()}, kind: o.kind, obj: u}
	if newNamespace != "" && u.GetNamespace() == newNamespace {
		ch.Action = plan.Create
		probe := u.DeepCopy()
		probe.SetNamespace(s.Namespace)
		if _, err := c.Apply(ctx, o.kind.Resource, probe, true); err != nil {
			return ch, apiError(fmt.Sprintf("check %s", ch.Ref()), err)
		}
		return ch, nil
	}
	live, err := c.Get(ctx, o.kind.Resource, u.GetNamespace(), u.GetName())
	switch {
	case kube.IsNotFound(err):
		ch.Action = plan.Create
	case err != nil:
		return ch, fmt.Errorf("read %s: %w", ch.Ref(), err)
	case !mesh.OwnedBy(live.GetLabels(), s.Namespace, s.Service):
		return ch, fmt.Errorf("%s %w (labels: %s)", ch.Ref(), errNotOurs, describeOwner(live.GetLabels()))
	}
	// The dry run checks what the API server (and Istio's validation
	// webhook) would say of the object, before anything is written.
	dry, err := c.Apply(ctx, o.kind.Resource, u, true)
	if err != nil {
		return ch, apiError(fmt.Sprintf("check %s", ch.Ref()), err)
	}
	if ch.Action == plan.Create {
		return ch, nil
	}
	ch.Fields = kube.ChangedFields(live, dry)
	ch.Action = plan.Update
	if len(ch.Fields) == 0 {
		ch.Action = plan.Keep
	}
	return ch, nil
}

func describeOwner(l map[string]string) string {
	if l[mesh.LabelManagedBy] == mesh.ManagedBy {
		return fmt.Sprintf("made by meshctl for %s/%s", l[mesh.LabelServiceNamespace], l[mesh.LabelServiceName])
	}
	if m := l[mesh.LabelManagedBy]; m != "" {
		return "managed by " + m
	}
	return "not managed by meshctl"
}

// staleObjects finds what meshctl made for the Service that the plan no
// longer wants (e.g. the PeerAuthentication after --strict-mtls is dropped,
// or the old gateway after --gateway-namespace changed).
func staleObjects(ctx context.Context, c kube.Objects, s Spec, want []Object, made *ownedIndex) ([]step, error) {
	wanted := map[string]bool{}
	for _, o := range want {
		wanted[o.Ref()] = true
	}
	found, ok := made.of(ctx, c, s.Namespace, s.Service)
	if !ok {
		var err error
		if found, err = owned(ctx, c, s.Namespace, s.Service, []string{s.Namespace, s.GatewayNamespace}); err != nil {
			return nil, err
		}
	}
	var out []step
	for _, ch := range found {
		if !wanted[ch.Ref()] {
			out = append(out, ch)
		}
	}
	return out, nil
}

// owned lists what meshctl made for namespace/service, in deletion order.
// It looks in every namespace, since the gateway may have moved; where the
// user may not list cluster-wide, it looks in fallback namespaces.
func owned(ctx context.Context, c kube.Objects, namespace, service string, fallback []string) ([]step, error) {
	sel := mesh.OwnerSelector(namespace, service)
	var out []step
	for _, k := range deleteOrder {
		items, err := c.List(ctx, k.Resource, "", sel)
		if apierrors.IsForbidden(err) {
			items = nil
			seen := map[string]bool{}
			for _, ns := range fallback {
				if seen[ns] {
					continue
				}
				seen[ns] = true
				more, nerr := c.List(ctx, k.Resource, ns, sel)
				if nerr != nil {
					return nil, apiError(fmt.Sprintf("list %ss in %s", k, ns), nerr)
				}
				items = append(items, more...)
			}
			err = nil
		}
		if kube.IsNotFound(err) {
			// The kind is not served (e.g. Istio's CRDs are gone), so
			// there is nothing of it to find.
			items, err = nil, nil
		}
		if err != nil {
			return nil, apiError(fmt.Sprintf("list %ss made by meshctl", k), err)
		}
		out = append(out, deletions(k, items)...)
	}
	return out, nil
}

// deletions are the deletes of items of kind k, by namespace and name.
func deletions(k kind, items []unstructured.Unstructured) []step {
	sort.Slice(items, func(i, j int) bool {
		return items[i].GetNamespace()+"/"+items[i].GetName() < items[j].GetNamespace()+"/"+items[j].GetName()
	})
	var out []step
	for _, it := range items {
		out = append(out, step{Change: plan.Change{Action: plan.Delete, Kind: k.Kind, Namespace: it.GetNamespace(), Name: it.GetName(), Resource: k.groupResource()},
			kind: k, uid: it.GetUID()})
	}
	return out
}

// ownedIndex is what meshctl made for the Services of some namespaces,
// listed once for the plans of many Services (RunMany): one cluster-wide
// list per kind for them all, where each plan would list every kind for
// its own Service. Each plan takes its Service's share (of).
type ownedIndex struct {
	namespaces []string
	once       sync.Once
	byKind     [][]unstructured.Unstructured // in deleteOrder
	err        error
}

// newOwnedIndex indexes what meshctl made for the Services of namespaces.
func newOwnedIndex(namespaces []string) *ownedIndex {
	slices.Sort(namespaces)
	return &ownedIndex{namespaces: slices.Compact(namespaces)}
}

// load lists every kind once (the kinds at the same time); the first
// caller lists, the others wait for it.
func (x *ownedIndex) load(ctx context.Context, c kube.Objects) error {
	x.once.Do(func() {
		sel, err := ownerSelectorIn(x.namespaces)
		if err != nil {
			x.err = err
			return
		}
		x.byKind = make([][]unstructured.Unstructured, len(deleteOrder))
		var g errgroup.Group
		for i, k := range deleteOrder {
			g.Go(func() error {
				items, err := c.List(ctx, k.Resource, "", sel)
				if kube.IsNotFound(err) {
					return nil // the kind is not served: nothing of it to find
				}
				x.byKind[i] = items
				return err
			})
		}
		x.err = g.Wait()
	})
	return x.err
}

// ownerSelectorIn selects what meshctl made for the Services of namespaces.
func ownerSelectorIn(namespaces []string) (string, error) {
	managed, err := labels.NewRequirement(mesh.LabelManagedBy, selection.Equals, []string{mesh.ManagedBy})
	if err != nil {
		return "", err
	}
	inNamespaces, err := labels.NewRequirement(mesh.LabelServiceNamespace, selection.In, namespaces)
	if err != nil {
		return "", err
	}
	return labels.NewSelector().Add(*managed, *inNamespaces).String(), nil
}

// of returns what meshctl made for namespace/service, as owned does; ok is
// false when there is no index or its lists failed (where the caller may
// not list cluster-wide): the caller then lists for itself, as owned does.
func (x *ownedIndex) of(ctx context.Context, c kube.Objects, namespace, service string) (found []step, ok bool) {
	if x == nil || !slices.Contains(x.namespaces, namespace) || x.load(ctx, c) != nil {
		return nil, false
	}
	for i, k := range deleteOrder {
		var mine []unstructured.Unstructured
		for _, it := range x.byKind[i] {
			if mesh.OwnedBy(it.GetLabels(), namespace, service) {
				mine = append(mine, it)
			}
		}
		found = append(found, deletions(k, mine)...)
	}
	return found, true
}

// apiError wraps an API error with what was being done, and adds a hint for
// the errors a user can act on.
func apiError(doing string, err error) error {
	wrapped := fmt.Errorf("%s: %w", doing, err)
	switch {
	case apierrors.IsForbidden(err):
		return failure.WithHint(wrapped, "your Kubernetes identity lacks a permission (named above); ask a cluster admin, or check the context with kubectl auth can-i")
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		return failure.WithHint(wrapped, "the API server rejected the object; this is a bug in meshctl unless a webhook or policy of the cluster refused it")
	case strings.Contains(err.Error(), "admission webhook"):
		return failure.WithHint(wrapped, "an admission webhook refused the object (see above)")
	}
	return wrapped
}
