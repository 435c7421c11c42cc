package gatewayapi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/expose"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// Clients are what the path works through. Compute reads what GKE's
// controller made, LB plans and applies the Compute resources meshctl makes
// itself, and CertManager the certificate map. The three are nil when the
// settings for Google's side are missing, which only a dry run accepts.
type Clients struct {
	Kube        kube.Objects
	Compute     ComputeReader
	LB          *lb.Client
	CertManager CertificateManager
	// Preflight checks, before the first change, that the caller may make
	// every change of the plan (Kubernetes and Google); nil checks nothing.
	Preflight *preflight.Checker
}

// step is one change of the plan with what carrying it out needs.
type step struct {
	plan.Change
	kind kind
	obj  *unstructured.Unstructured // what to apply
	uid  types.UID                  // what to delete
}

// Plan is what exposing a Service through a GKE Gateway would do: the mesh
// ingress gateway's plan (pkg/expose), the Gateway API objects', meshctl's
// Compute resources' (pkg/lb) and the certificate map's.
type Plan struct {
	Spec Spec
	// Mesh is the mesh ingress gateway's plan.
	Mesh    *expose.Plan
	Objects []Object
	// Changes are the Gateway API objects' (and the IAP Secret's).
	Changes []plan.Change
	// Edge is meshctl's Compute resources' plan, Certs the certificate
	// map's; nil when not planned.
	Edge     *lb.Plan
	Certs    *certs
	Warnings []string

	opts  Options
	steps []step
}

// NewPlan checks the options, then against the cluster and Google's APIs,
// and works out what to change. It only reads: every object is compared
// through a server-side dry run of it, and what GKE's Gateway controller
// would refuse of the result is refused here, before anything is written.
func NewPlan(ctx context.Context, cl Clients, r ui.Reporter, opts Options) (*Plan, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.defaults()
	if cl.LB == nil && !opts.Expose.DryRun {
		return nil, failure.Usage(fmt.Errorf("the GKE Gateway needs %v (or their MESHCTL_* variables, or a GKE kubeconfig context)", opts.MissingSettings()), "set them")
	}
	mp, err := expose.NewPlan(ctx, cl.Kube, r, opts.Expose)
	if err != nil {
		return nil, err
	}
	st := r.Step("plan the GKE Gateway's objects")
	p := &Plan{Mesh: mp, opts: opts}
	if err := p.plan(ctx, cl, r); err != nil {
		st.Fail(err)
		return nil, err
	}
	n := plan.Counts(p.Changes)
	st.Progressf("%d to create, %d to update, %d to delete, %d unchanged", n[plan.Create], n[plan.Update], n[plan.Delete], n[plan.Keep])
	st.Done()
	return p, nil
}

func (p *Plan) plan(ctx context.Context, cl Clients, r ui.Reporter) error {
	spec, edge, err := resolve(ctx, cl.Kube, p.opts, p.Mesh.Spec)
	if err != nil {
		return err
	}
	p.Spec = spec
	p.Objects = Render(spec)
	if err := p.diff(ctx, cl.Kube); err != nil {
		return err
	}
	p.Changes = changesOf(p.steps)
	if cl.LB == nil {
		p.warn(r, fmt.Sprintf("Google's side (address, SSL and Cloud Armor policies, certificate map) is not planned: it needs %v", p.opts.MissingSettings()))
		return nil
	}
	if p.Edge, err = cl.LB.PlanEdge(ctx, edge); err != nil {
		return err
	}
	p.Warnings = append(p.Warnings, p.Edge.Warnings...)
	if spec.Certificate == "" && cl.CertManager != nil {
		if p.Certs, err = planCerts(ctx, cl.CertManager, spec.Names, spec.Service.Namespace+"/"+spec.Service.Name, spec.Hosts); err != nil {
			return err
		}
	}
	for _, h := range spec.Hosts {
		if strings.HasPrefix(h, "*") && spec.Certificate == "" {
			p.warn(r, fmt.Sprintf("%s is routed, but a Google-managed certificate cannot cover a wildcard: its clients get a certificate error unless you bring a certificate with --certificate", h))
		}
	}
	return nil
}

func (p *Plan) warn(r ui.Reporter, msg string) {
	p.Warnings = append(p.Warnings, msg)
	r.Warnf("%s", msg)
}

func changesOf(steps []step) []plan.Change {
	out := make([]plan.Change, len(steps))
	for i, s := range steps {
		out[i] = s.Change
	}
	return out
}

// diff compares each desired object with the cluster through a dry run,
// refuses objects meshctl did not make and what the controller would
// refuse, and adds meshctl's objects for the Service no longer wanted.
func (p *Plan) diff(ctx context.Context, c kube.Objects) error {
	var conflicts []error
	var refusals []Refusal
	newNamespace := p.newGatewayNamespace()
	for _, o := range p.Objects {
		ch, dry, err := p.planObject(ctx, c, o, newNamespace)
		if errors.Is(err, errNotOurs) {
			conflicts = append(conflicts, err)
			continue
		}
		if err != nil {
			return err
		}
		rs, err := p.refusals(ctx, c, o, dry)
		if err != nil {
			return err
		}
		refusals = append(refusals, rs...)
		p.steps = append(p.steps, ch)
	}
	if len(conflicts) > 0 {
		return failure.WithHint(errors.Join(conflicts...), "meshctl does not take over objects it did not make: rename or delete them, or name another --gateway")
	}
	usage := true
	for _, r := range refusals {
		usage = usage && (r.Code == "GWCER104" || r.Code == "GWCER106")
	}
	if err := refusalsError(refusals, usage); err != nil {
		return err
	}
	stale, err := p.staleObjects(ctx, c)
	p.steps = append(p.steps, stale...)
	return err
}

// newGatewayNamespace is the gateway's namespace when the mesh's plan
// creates it, else "".
func (p *Plan) newGatewayNamespace() string {
	for _, ch := range p.Mesh.Changes {
		if ch.Kind == "Namespace" && ch.Action == plan.Create {
			return ch.Name
		}
	}
	return ""
}

// planObject compares one desired object with the cluster and returns its
// change and the object as the API server would store it. In newNamespace,
// which the plan creates, every object is new, and the API server's dry
// run, which would refuse it there, checks it in the Service's namespace
// instead (as pkg/expose does: admission and validation do not depend on
// the namespace's name).
func (p *Plan) planObject(ctx context.Context, c kube.Objects, o Object, newNamespace string) (step, *unstructured.Unstructured, error) {
	u, err := kube.ToUnstructured(o.Obj)
	if err != nil {
		return step{}, nil, err
	}
	ch := step{Change: o.kind.change("", u.GetNamespace(), u.GetName()), kind: o.kind, obj: u}
	if newNamespace != "" && u.GetNamespace() == newNamespace {
		ch.Action = plan.Create
		probe := u.DeepCopy()
		probe.SetNamespace(p.Spec.Service.Namespace)
		dry, err := c.Apply(ctx, o.kind.Resource, probe, true)
		if err != nil {
			return ch, nil, applyError("check "+ch.Ref(), o.kind, err)
		}
		dry.SetNamespace(newNamespace)
		return ch, dry, nil
	}
	live, err := c.Get(ctx, o.kind.Resource, u.GetNamespace(), u.GetName())
	switch {
	case kube.IsNotFound(err):
		ch.Action, live = plan.Create, nil
	case err != nil:
		return ch, nil, fmt.Errorf("read %s: %w", ch.Ref(), err)
	case !p.ours(o, live.GetLabels()):
		return ch, nil, fmt.Errorf("%s %w (labels: %v)", ch.Ref(), errNotOurs, live.GetLabels())
	}
	dry, err := c.Apply(ctx, o.kind.Resource, u, true)
	if err != nil {
		return ch, nil, applyError("check "+ch.Ref(), o.kind, err)
	}
	if live != nil {
		ch.Fields = kube.ChangedFields(withoutController(live), withoutController(dry))
		ch.Action = plan.Update
		if len(ch.Fields) == 0 {
			ch.Action = plan.Keep
		}
	}
	return ch, dry, nil
}

// ours reports whether an existing object is meshctl's to change: the
// Service's own, or the Gateway's for a shared one.
func (p *Plan) ours(o Object, l map[string]string) bool {
	if o.shared {
		return mesh.MadeByMeshctl(l) && l[mesh.LabelServiceName] == "" && l[LabelGateway] == p.Spec.Names.Gateway
	}
	return mesh.OwnedBy(l, p.Spec.Service.Namespace, p.Spec.Service.Name)
}

// withoutController drops what GKE's controller writes on the objects
// (its networking.gke.io annotations but the user's certmap, its
// finalizer), which changes by itself between a read and a dry run.
func withoutController(u *unstructured.Unstructured) *unstructured.Unstructured {
	out := u.DeepCopy()
	if a := out.GetAnnotations(); a != nil {
		for k := range a {
			if strings.HasPrefix(k, "networking.gke.io/") && k != CertMapAnnotation {
				delete(a, k)
			}
		}
		out.SetAnnotations(a)
	}
	out.SetFinalizers(nil)
	return out
}

// applyError wraps an API error, with a hint for the errors a user can
// act on; a kind the API server does not serve means the cluster lacks
// the Gateway API.
func applyError(doing string, k kind, err error) error {
	wrapped := fmt.Errorf("%s: %w", doing, err)
	switch {
	case apierrors.IsNotFound(err) && k != kSecret:
		return failure.WithHint(fmt.Errorf("%s: the cluster does not serve %s (%s): %w", doing, k.Resource.Resource, k.Resource.GroupVersion(), err),
			"enable the Gateway API on the cluster: `gcloud container clusters update CLUSTER --location LOCATION --gateway-api=standard`")
	case apierrors.IsForbidden(err):
		return failure.WithHint(wrapped, "your Kubernetes identity lacks a permission (named above); ask a cluster admin, or check with kubectl auth can-i")
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		return failure.WithHint(wrapped, "the API server refused the object: a bug in meshctl unless a webhook or policy of the cluster refused it")
	}
	return wrapped
}

// staleObjects are meshctl's objects for the Service that the plan no
// longer wants: the IAP Secret after IAP is turned off.
func (p *Plan) staleObjects(ctx context.Context, c kube.Objects) ([]step, error) {
	if p.Spec.IAPClientSecret != "" {
		return nil, nil
	}
	s := p.Spec
	u, err := c.Get(ctx, kSecret.Resource, s.Names.Namespace, s.Names.IAPSecret)
	switch {
	case kube.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read Secret %s/%s: %w", s.Names.Namespace, s.Names.IAPSecret, err)
	case !mesh.OwnedBy(u.GetLabels(), s.Service.Namespace, s.Service.Name):
		return nil, nil
	}
	return []step{{Change: kSecret.change(plan.Delete, u.GetNamespace(), u.GetName()), kind: kSecret, uid: u.GetUID()}}, nil
}

// ComputeReader is what the path reads of Compute: the resources GKE's
// controller made, and their health. *lb.GCE has it.
type ComputeReader interface {
	Get(ctx context.Context, kind lb.Kind, name string) (proto.Message, error)
	GetHealth(ctx context.Context, backendService, group string) (*computepb.BackendServiceGroupHealth, error)
}
