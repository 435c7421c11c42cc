package mesh

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/meshctl/meshctl/internal/kube"
)

// Revisions are the control-plane revisions installed in a cluster and the
// revision tags that point at them, read by ReadRevisions (or
// ReadRevisionsFrom) and interpreted by one rule set, the one Istio's
// webhooks follow, so that inject, expose and validate agree:
//
//  1. A revision is installed when something serves it: its istiod
//     Deployment (app=istiod) in istio-system, whose revision is its
//     istio.io/rev label or "default" without one; or its own injection
//     webhook (labelled istio.io/rev=R without istio.io/tag) when that calls
//     a URL (Google's managed control plane, served from outside the
//     cluster) or a Service outside istio-system (where meshctl does not
//     look for istiod). A webhook calling istiod in istio-system where no
//     istiod of its revision runs is a leftover, not an installation: pods
//     it would inject fail to be created (validate reports it, MC0203).
//  2. The webhook istio-sidecar-injector without istio.io/rev is the
//     "default" revision's: installs from before revisions label nothing.
//  3. A webhook labelled istio.io/tag=T and istio.io/rev=R is tag T for
//     revision R. A tag names a revision; it is not one: "several
//     revisions" counts revisions only, and a tag whose revision is not
//     installed resolves to nothing installed.
//  4. A tag wins over a revision of the same name: istioctl refuses such a
//     tag except "default", and `istioctl tag set default` takes the
//     default over from the default revision's webhook.
//  5. The default revision, which injects istio-injection=enabled
//     namespaces, is the "default" tag's revision, else the revision named
//     "default"; without either nothing injects those namespaces.
//  6. A namespace's labels decide for its pods (Injection): any
//     istio-injection value turns istio.io/rev off (IST0123), "enabled"
//     asks for the default revision, "disabled" for no sidecar, and
//     istio.io/rev=R alone for R, a revision or a tag. They win over a
//     pod's own istio.io/rev, which counts only in unlabelled namespaces.
//  7. Reading: a failed webhook list is an error (nothing can be said). The
//     istiod Deployments may be unreadable to a caller limited to its own
//     namespaces: Forbidden is not an error, every revision webhook is then
//     taken at its word, and IstiodErr keeps the reason for the checks that
//     need istiod itself. NotFound means there is none.
type Revisions struct {
	revisions map[string]*Revision
	// Tags maps a revision tag to the revision it points at.
	Tags map[string]string
	// Webhooks are the mesh's injection webhooks (revisions', tags' and the
	// legacy one), sorted by name.
	Webhooks []Webhook
	// IstiodErr says why istio-system's istiod Deployments could not be
	// read (Forbidden); nil when they were.
	IstiodErr error
}

// Revision is one installed revision as the cluster shows it.
type Revision struct {
	Name string
	// Webhook names its own injection webhook; "" when only istiod shows it.
	Webhook string
	// Managed is true when its injection webhook calls a URL rather than an
	// in-cluster Service and no istiod of it runs in istio-system: Google's
	// managed control plane, served from outside the cluster. (An istiod
	// Deployment with a URL webhook is an in-cluster revision whose
	// webhook someone pointed elsewhere, as meshsim does.)
	Managed bool
	// Istiod is its istiod Deployment in istio-system; nil when none runs
	// there (a managed control plane, or IstiodErr).
	Istiod *appsv1.Deployment
}

// Webhook is one of the mesh's injection webhook configurations.
type Webhook struct {
	Name string
	// Revision is the revision it injects for.
	Revision string
	// Tag is the tag it stands for; "" for a revision's own webhook.
	Tag string
	// Service is the in-cluster Service it calls (namespace/name); "" when
	// it calls a URL.
	Service string
}

const istiodSelector = "app=" + IstiodApp

var (
	gvrMutatingWebhooks = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"}
	gvrDeployments      = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

// ReadRevisions reads the injection webhooks and istio-system's istiod
// Deployments through kc and applies the rules.
func ReadRevisions(ctx context.Context, kc kubernetes.Interface) (Revisions, error) {
	hooks, err := kc.AdmissionregistrationV1().MutatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		return Revisions{}, fmt.Errorf("list injection webhooks: %w", err)
	}
	var istiods []appsv1.Deployment
	deps, err := kc.AppsV1().Deployments(IstioSystem).List(ctx, metav1.ListOptions{LabelSelector: istiodSelector})
	if err == nil {
		istiods = deps.Items
	}
	return NewRevisions(hooks.Items, istiods, err)
}

// ReadRevisionsFrom is ReadRevisions through kube.Objects.
func ReadRevisionsFrom(ctx context.Context, c kube.Objects) (Revisions, error) {
	items, err := c.List(ctx, gvrMutatingWebhooks, "", "")
	if err != nil {
		return Revisions{}, fmt.Errorf("list injection webhooks: %w", err)
	}
	hooks := make([]admissionv1.MutatingWebhookConfiguration, len(items))
	for i := range items {
		if err := kube.FromUnstructured(&items[i], &hooks[i]); err != nil {
			return Revisions{}, fmt.Errorf("read injection webhook %s: %w", items[i].GetName(), err)
		}
	}
	items, err = c.List(ctx, gvrDeployments, IstioSystem, istiodSelector)
	istiods := make([]appsv1.Deployment, len(items))
	for i := range items {
		if err := kube.FromUnstructured(&items[i], &istiods[i]); err != nil {
			return Revisions{}, fmt.Errorf("read Deployment %s/%s: %w", IstioSystem, items[i].GetName(), err)
		}
	}
	return NewRevisions(hooks, istiods, err)
}

// NewRevisions applies the rules to what was read: the cluster's mutating
// webhook configurations, the istiod Deployments of istio-system, and the
// error reading those gave.
func NewRevisions(hooks []admissionv1.MutatingWebhookConfiguration, istiods []appsv1.Deployment, istiodErr error) (Revisions, error) {
	r := Revisions{revisions: map[string]*Revision{}, Tags: map[string]string{}}
	switch {
	case istiodErr == nil || apierrors.IsNotFound(istiodErr):
	case apierrors.IsForbidden(istiodErr):
		r.IstiodErr = fmt.Errorf("list istiod deployments in %s: %w", IstioSystem, istiodErr)
	default:
		return Revisions{}, fmt.Errorf("list istiod deployments in %s: %w", IstioSystem, istiodErr)
	}
	for i := range istiods {
		d := &istiods[i]
		if d.Labels["app"] != IstiodApp { // fakes ignore label selectors
			continue
		}
		r.add(IstiodRevision(d.Labels)).Istiod = d
	}
	for _, h := range hooks {
		w, ok := webhookOf(&h)
		if !ok {
			continue
		}
		r.Webhooks = append(r.Webhooks, w)
		switch {
		case w.Tag != "":
			r.Tags[w.Tag] = w.Revision
		case r.serves(w):
			rev := r.add(w.Revision)
			rev.Webhook, rev.Managed = w.Name, w.Service == "" && rev.Istiod == nil
		}
	}
	slices.SortFunc(r.Webhooks, func(a, b Webhook) int { return strings.Compare(a.Name, b.Name) })
	return r, nil
}

// IstiodRevision is the revision of an istiod Deployment with labels: its
// istio.io/rev label, or "default" for an install without revisions.
func IstiodRevision(labels map[string]string) string {
	if r := labels[LabelRevision]; r != "" {
		return r
	}
	return DefaultRevision
}

// webhookOf reads an injection webhook configuration; ok is false for
// webhooks that are not the mesh's.
func webhookOf(h *admissionv1.MutatingWebhookConfiguration) (Webhook, bool) {
	w := Webhook{Name: h.Name, Revision: h.Labels[LabelRevision], Tag: h.Labels[LabelTag]}
	switch {
	case w.Revision != "":
	case h.Name == LegacyInjector && w.Tag == "":
		w.Revision = DefaultRevision
	default:
		return Webhook{}, false
	}
	for _, x := range h.Webhooks {
		if s := x.ClientConfig.Service; s != nil {
			w.Service = s.Namespace + "/" + s.Name
			break
		}
	}
	return w, true
}

// serves reports whether a revision's own webhook shows its revision
// installed (rule 1): it calls a URL or a Service outside istio-system, or
// istiod of its revision runs, or istio-system could not be read.
func (r *Revisions) serves(w Webhook) bool {
	return w.Service == "" || !strings.HasPrefix(w.Service, IstioSystem+"/") || r.IstiodErr != nil || r.revisions[w.Revision] != nil
}

func (r *Revisions) add(name string) *Revision {
	rev := r.revisions[name]
	if rev == nil {
		rev = &Revision{Name: name}
		r.revisions[name] = rev
	}
	return rev
}

// Names are the installed revisions, sorted (tags are not revisions).
func (r Revisions) Names() []string { return slices.Sorted(maps.Keys(r.revisions)) }

// Revision returns the installed revision name, or nil.
func (r Revisions) Revision(name string) *Revision { return r.revisions[name] }

// Installed reports whether name is an installed revision (not a tag).
func (r Revisions) Installed(name string) bool { return r.revisions[name] != nil }

// Resolve returns the revision name stands for (a tag's revision, or name
// itself) and whether that revision is installed.
func (r Revisions) Resolve(name string) (revision string, installed bool) {
	if rev, ok := r.Tags[name]; ok {
		return rev, r.Installed(rev)
	}
	return name, r.Installed(name)
}

// Known reports whether name is an installed revision, or a tag of one.
func (r Revisions) Known(name string) bool {
	_, ok := r.Resolve(name)
	return ok
}

// Default returns the default revision, which injects namespaces labelled
// istio-injection=enabled: the "default" tag's revision, else the revision
// named "default".
func (r Revisions) Default() (string, bool) { return r.Resolve(DefaultRevision) }

// String lists the revisions and tags for messages, e.g.
// "asm-1, asm-2, prod (tag for asm-2)", or "none".
func (r Revisions) String() string {
	parts := r.Names()
	for _, t := range slices.Sorted(maps.Keys(r.Tags)) {
		parts = append(parts, fmt.Sprintf("%s (tag for %s)", t, r.Tags[t]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// Injection is what a namespace's labels ask of its new pods.
type Injection struct {
	// Labelled is true when the namespace has istio-injection or
	// istio.io/rev: injection is managed there.
	Labelled bool
	// Label is the label that decides: istio-injection when the namespace
	// has it, else istio.io/rev; "" for an unlabelled namespace.
	Label string
	// Enabled is true when a webhook is asked to inject: istio-injection=
	// enabled, or istio.io/rev without istio-injection.
	Enabled bool
	// Name is the revision or tag asked for: the istio.io/rev value, or
	// "default" for istio-injection=enabled.
	Name string
	// Revision is the revision Name stands for; Installed says whether it
	// is installed (when not, nothing injects the namespace's new pods).
	Revision  string
	Installed bool
}

// InjectionEnabled reports whether a namespace's labels ask a webhook to
// inject its pods (rule 6), whatever is installed.
func InjectionEnabled(nsLabels map[string]string) bool {
	return Revisions{}.Injection(nsLabels).Enabled
}

// Injection applies the namespace rules to a namespace's labels.
func (r Revisions) Injection(nsLabels map[string]string) Injection {
	inj, hasInj := nsLabels[LabelInjection]
	rev, hasRev := nsLabels[LabelRevision]
	var in Injection
	switch {
	case hasInj && inj == "enabled":
		in.Label, in.Name = LabelInjection, DefaultRevision
	case hasInj:
		// disabled, or a value that turns the revision label off
		return Injection{Labelled: true, Label: LabelInjection}
	case hasRev:
		in.Label, in.Name = LabelRevision, rev
	default:
		return in
	}
	in.Labelled = true
	in.Enabled = true
	in.Revision, in.Installed = r.Resolve(in.Name)
	return in
}
