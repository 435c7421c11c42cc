package revision

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// TagOptions say which tag to point at which revision.
type TagOptions struct {
	Tag      string
	Revision string
	DryRun   bool
	// Preflight checks, before the first write, that the caller may make
	// every change; nil checks nothing.
	Preflight *preflight.Checker
	// Then plans what the command does after the tag to the namespaces
	// with pods to move (--restart's restarts): its changes are checked
	// with the tag's, before the tag's first write, so a caller who may
	// not restart is stopped with the tag unchanged.
	Then func(ctx context.Context, namespaces []string) ([]plan.Change, error)
}

// TagResult is what a tag set or remove did (or, for a dry run, would do).
type TagResult struct {
	Tag string `json:"tag"`
	// Revision is the revision the tag points at now ("" once removed).
	Revision string `json:"revision,omitempty"`
	// Previous is the revision it pointed at before ("" for a new tag).
	Previous string `json:"previous,omitempty"`
	Removed  bool   `json:"removed,omitempty"`
	DryRun   bool   `json:"dryRun,omitempty"`
	// Changes are the tag's objects and what became of them.
	Changes []plan.Change `json:"changes"`
	// Permissions are what the changes need, as the check before the
	// first one found them.
	Permissions *preflight.Report `json:"permissions,omitempty"`
	// Namespaces use the tag; for a set, with the pods still to move.
	Namespaces []TagNamespace `json:"namespaces,omitempty"`
	NextStep   string         `json:"nextStep,omitempty"`
}

// TagNamespace is a namespace whose labels name the tag.
type TagNamespace struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	// Restart counts its running pods with istio-proxy of another
	// revision than the tag's: a restart moves them.
	Restart int `json:"restart"`
}

// Changed reports whether the tag's objects changed (or would).
func (r *TagResult) Changed() bool { return plan.Pending(r.Changes) > 0 }

// NamespacesToRestart are the namespaces with pods to move.
func (r *TagResult) NamespacesToRestart() []string {
	var out []string
	for _, ns := range r.Namespaces {
		if ns.Restart > 0 {
			out = append(out, ns.Name)
		}
	}
	return out
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// validName checks a tag or revision name: an RFC 1123 label, as Istio
// and asmcli require.
func validName(flag, name string) error {
	if name == "" {
		return failure.Usagef("%s is required", flag)
	}
	if len(name) > 63 || !dnsLabel.MatchString(name) {
		return failure.Usagef("%s %q: lower-case letters, digits and dashes, starting and ending with a letter or digit, at most 63 characters (RFC 1123)", flag, name)
	}
	return nil
}

// SetTag points a revision tag at a revision, creating it or moving it,
// as `istioctl tag set TAG --revision REV --overwrite` does: its injection
// webhook, its Service and, for the default tag, the default validating
// webhook (and the deactivation of a "default" revision's own webhook).
// Pods move at their next restart; the result lists the namespaces that
// use the tag and how many pods each has to restart.
func SetTag(ctx context.Context, c kube.Objects, rep ui.Reporter, o TagOptions) (*TagResult, error) {
	rep = orDiscard(rep)
	if err := validName("tag", o.Tag); err != nil {
		return nil, err
	}
	if err := validName("--revision", o.Revision); err != nil {
		return nil, err
	}
	cl, err := readCluster(ctx, c, true)
	if err != nil {
		return nil, err
	}
	if err := checkTagTarget(cl, o); err != nil {
		return nil, err
	}
	objs, err := tagObjects(ctx, c, cl, o)
	if err != nil {
		return nil, err
	}
	res := &TagResult{Tag: o.Tag, Revision: o.Revision, Previous: cl.Revisions.Tags[o.Tag], DryRun: o.DryRun}
	if res.Previous == o.Revision {
		res.Previous = ""
	}
	res.Namespaces = tagNamespaces(cl, o.Tag, o.Revision)
	var then []plan.Change
	if ns := res.NamespacesToRestart(); o.Then != nil && len(ns) > 0 {
		if then, err = o.Then(ctx, ns); err != nil {
			return res, fmt.Errorf("plan the restarts: %w", err)
		}
	}
	if res.Changes, res.Permissions, err = applyAll(ctx, c, rep, objs, o.DryRun, o.Preflight, then, "point tag "+o.Tag+" at "+o.Revision); err != nil {
		return res, err
	}
	if ns := res.NamespacesToRestart(); len(ns) > 0 {
		res.NextStep = "meshctl inject --revision " + o.Tag + " --namespace " + strings.Join(ns, " --namespace ") +
			" (restarts only the workloads not yet on " + o.Revision + ")"
	}
	return res, nil
}

// checkTagTarget refuses a tag that would shadow a revision, and a target
// that is a tag or not installed.
func checkTagTarget(cl *Snapshot, o TagOptions) error {
	if o.Tag != mesh.DefaultRevision && cl.Revisions.Installed(o.Tag) {
		return failure.Usage(fmt.Errorf("a revision named %q is installed: a tag of the same name would hide it", o.Tag), "choose another tag name")
	}
	if rev, isTag := cl.Revisions.Tags[o.Revision]; isTag && !cl.Revisions.Installed(o.Revision) {
		return failure.Usage(fmt.Errorf("%q is a tag (for revision %s), not a revision", o.Revision, rev), "name the revision: --revision "+rev)
	}
	if !cl.Revisions.Installed(o.Revision) {
		return failure.WithHint(fmt.Errorf("revision %q is not installed (installed: %s)", o.Revision, cl.Revisions), "install it first (meshctl install --revision "+o.Revision+"), or name an installed revision")
	}
	return nil
}

// tagObjects builds the objects of tag o.Tag for revision o.Revision from
// the revision's own injection webhook.
func tagObjects(ctx context.Context, c kube.Objects, cl *Snapshot, o TagOptions) ([]objectToApply, error) {
	var canonical []*admissionv1.MutatingWebhookConfiguration
	for i := range cl.hooks {
		h := &cl.hooks[i]
		if h.Labels[mesh.LabelRevision] == o.Revision && h.Labels[mesh.LabelTag] == "" {
			canonical = append(canonical, h)
		}
	}
	switch len(canonical) {
	case 0:
		return nil, failure.WithHint(fmt.Errorf("revision %s has no injection webhook of its own (labelled %s=%s) to copy", o.Revision, mesh.LabelRevision, o.Revision),
			"reinstall the revision, or check with kubectl get mutatingwebhookconfigurations -l "+mesh.LabelRevision+"="+o.Revision)
	case 1:
	default:
		return nil, fmt.Errorf("revision %s has %d injection webhooks of its own; expected one", o.Revision, len(canonical))
	}
	src, err := sourceOf(canonical[0], o.Revision)
	if err != nil {
		return nil, err
	}
	objs := []objectToApply{{kMutatingWebhook, src.tagWebhook(o.Tag)}, {kService, src.tagService(o.Tag)}}
	if o.Tag != mesh.DefaultRevision {
		return objs, nil
	}
	var existing *admissionv1.ValidatingWebhookConfiguration
	if u, err := c.Get(ctx, kValidatingWebhook.Resource, "", DefaultValidator); err == nil {
		existing = &admissionv1.ValidatingWebhookConfiguration{}
		if err := kube.FromUnstructured(u, existing); err != nil {
			return nil, err
		}
	} else if !kube.IsNotFound(err) {
		return nil, fmt.Errorf("read %s: %w", DefaultValidator, err)
	}
	objs = append(objs, objectToApply{kValidatingWebhook, src.defaultValidator(existing)})
	// The "default" revision's own webhook would keep injecting
	// istio-injection=enabled namespaces next to the tag: deactivate it.
	if o.Revision != mesh.DefaultRevision {
		for i := range cl.hooks {
			if h := &cl.hooks[i]; ownWebhookOfDefault(h) {
				objs = append(objs, objectToApply{kMutatingWebhook, deactivate(h)})
			}
		}
	}
	return objs, nil
}

// deactivate is h with every webhook's selectors matching nothing.
func deactivate(h *admissionv1.MutatingWebhookConfiguration) *admissionv1.MutatingWebhookConfiguration {
	out := &admissionv1.MutatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: h.Name, Labels: h.Labels, Annotations: h.Annotations},
		Webhooks:   slices.Clone(h.Webhooks),
	}
	for j := range out.Webhooks {
		out.Webhooks[j].NamespaceSelector, out.Webhooks[j].ObjectSelector = deactivated, deactivated
	}
	return out
}

// ownWebhookOfDefault reports whether h is the "default" revision's own
// injection webhook: labelled istio.io/rev=default without a tag, or the
// legacy istio-sidecar-injector without a revision label.
func ownWebhookOfDefault(h *admissionv1.MutatingWebhookConfiguration) bool {
	if h.Labels[mesh.LabelTag] != "" {
		return false
	}
	rev, ok := h.Labels[mesh.LabelRevision]
	return (ok && rev == mesh.DefaultRevision) || (!ok && h.Name == mesh.LegacyInjector)
}

// tagNamespaces are the namespaces whose labels name tag, with their pods
// that run another revision than the tag's new one.
func tagNamespaces(cl *Snapshot, tag, revision string) []TagNamespace {
	var out []TagNamespace
	for _, ns := range cl.Namespaces {
		in := cl.Revisions.Injection(ns.Labels)
		if !in.Enabled || in.Name != tag || ns.DeletionTimestamp != nil {
			continue
		}
		tn := TagNamespace{Name: ns.Name, Label: in.Label + "=" + ns.Labels[in.Label]}
		for i := range cl.Pods {
			p := &cl.Pods[i]
			if px := mesh.ProxyOf(p); p.Namespace == ns.Name && mesh.Running(p) && px.Injected && px.Revision != revision {
				tn.Restart++
			}
		}
		out = append(out, tn)
	}
	slices.SortFunc(out, func(a, b TagNamespace) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// RemoveTagOptions say which tag to remove.
type RemoveTagOptions struct {
	Tag string
	// Force removes a tag that namespaces still use: their new pods then
	// get no sidecar.
	Force  bool
	DryRun bool
	// Preflight checks, before the first deletion, that the caller may
	// delete every object; nil checks nothing.
	Preflight *preflight.Checker
}

// RemoveTag deletes a tag's webhooks and Service, as `istioctl tag
// remove` does. While namespaces use the tag it refuses (listing them)
// unless Force. A tag that does not exist is nothing to do.
func RemoveTag(ctx context.Context, c kube.Objects, rep ui.Reporter, o RemoveTagOptions) (*TagResult, error) {
	rep = orDiscard(rep)
	if err := validName("tag", o.Tag); err != nil {
		return nil, err
	}
	cl, err := readCluster(ctx, c, true)
	if err != nil {
		return nil, err
	}
	res := &TagResult{Tag: o.Tag, Previous: cl.Revisions.Tags[o.Tag], Removed: true, DryRun: o.DryRun, Changes: []plan.Change{}}
	res.Namespaces = tagNamespaces(cl, o.Tag, "")
	for i := range res.Namespaces {
		res.Namespaces[i].Restart = 0
	}
	if len(res.Namespaces) > 0 && !o.Force {
		names := make([]string, len(res.Namespaces))
		for i, ns := range res.Namespaces {
			names[i] = ns.Name + " (" + ns.Label + ")"
		}
		return res, failure.WithHint(fmt.Errorf("tag %s is still used by %s: %s; their new pods would get no sidecar", o.Tag, plural(len(names), "namespace"), strings.Join(names, ", ")),
			"move them first (meshctl inject --namespace NS --revision REV), or remove it anyway with --force")
	}
	var objs []*unstructured.Unstructured
	var kinds []kind
	for _, k := range []kind{kMutatingWebhook, kValidatingWebhook, kService} {
		ns := ""
		if k.Namespaced {
			ns = mesh.IstioSystem
		}
		items, err := c.List(ctx, k.Resource, ns, mesh.LabelTag+"="+o.Tag)
		if err != nil {
			return res, fmt.Errorf("list the tag's %ss: %w", k.Kind, err)
		}
		for i := range items {
			objs, kinds = append(objs, &items[i]), append(kinds, k)
		}
	}
	for i, u := range objs {
		res.Changes = append(res.Changes, kinds[i].change(u.GetNamespace(), u.GetName(), plan.Delete))
	}
	if len(objs) == 0 {
		return res, nil
	}
	res.Permissions = o.Preflight.Check(ctx, res.Changes)
	if o.DryRun {
		return res, nil
	}
	if err := res.Permissions.Err(); err != nil {
		return res, err
	}
	st := rep.Step("remove tag " + o.Tag)
	var errs []error
	for i, u := range objs {
		if err := c.Delete(ctx, kinds[i].Resource, u.GetNamespace(), u.GetName(), u.GetUID(), false); err != nil && !kube.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", ref(kinds[i], u), err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		st.Fail(err)
		return res, err
	}
	st.Done()
	return res, nil
}

// TagList is every revision tag in the cluster.
type TagList struct {
	Tags []TagEntry `json:"tags"`
}

// TagEntry is one tag, the revision it points at and who uses it.
type TagEntry struct {
	Tag      string `json:"tag"`
	Revision string `json:"revision"`
	// Installed is false when the revision is gone: the tag's namespaces
	// get no sidecar (validate's MC0271).
	Installed  bool     `json:"installed"`
	Namespaces []string `json:"namespaces"`
}

// ListTags lists the tags, as `istioctl tag list` does, with whether each
// tag's revision is installed.
func ListTags(ctx context.Context, c kube.Objects) (*TagList, error) {
	cl, err := readCluster(ctx, c, true)
	if err != nil {
		return nil, err
	}
	out := &TagList{Tags: []TagEntry{}}
	for _, t := range slices.Sorted(maps.Keys(cl.Revisions.Tags)) {
		e := TagEntry{Tag: t, Revision: cl.Revisions.Tags[t], Installed: cl.Revisions.Installed(cl.Revisions.Tags[t]), Namespaces: []string{}}
		for _, ns := range tagNamespaces(cl, t, "") {
			e.Namespaces = append(e.Namespaces, ns.Name)
		}
		out.Tags = append(out.Tags, e)
	}
	return out, nil
}

// objectToApply is an object meshctl wants as it is.
type objectToApply struct {
	k   kind
	obj runtime.Object
}

// applyAll plans each object against the cluster (a server-side dry run
// compared with the live object), checks the permissions the plan needs
// (check may be nil) and, unless dryRun or one is missing, applies those
// that change, as one progress step.
func applyAll(ctx context.Context, c kube.Objects, rep ui.Reporter, objs []objectToApply, dryRun bool, check *preflight.Checker, then []plan.Change, title string) ([]plan.Change, *preflight.Report, error) {
	changes := make([]plan.Change, len(objs))
	want := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		u, err := kube.ToUnstructured(o.obj)
		if err != nil {
			return nil, nil, err
		}
		want[i] = u
		changes[i] = o.k.change(u.GetNamespace(), u.GetName(), plan.Create)
		live, err := c.Get(ctx, o.k.Resource, u.GetNamespace(), u.GetName())
		switch {
		case kube.IsNotFound(err):
			continue
		case err != nil:
			return nil, nil, fmt.Errorf("read %s: %w", ref(o.k, u), err)
		}
		proposed, err := c.Apply(ctx, o.k.Resource, u, true)
		if err != nil {
			return nil, nil, fmt.Errorf("plan %s: %w", ref(o.k, u), err)
		}
		changes[i].Action, changes[i].Fields = plan.Keep, kube.ChangedFields(live, proposed)
		if len(changes[i].Fields) > 0 {
			changes[i].Action = plan.Update
		}
	}
	if plan.Pending(changes) == 0 {
		return changes, nil, nil
	}
	perms := check.Check(ctx, append(slices.Clone(changes), then...))
	if dryRun {
		return changes, perms, nil
	}
	if err := perms.Err(); err != nil {
		return changes, perms, err
	}
	st := rep.Step(title)
	for i, u := range want {
		if !changes[i].Action.Changes() {
			continue
		}
		if _, err := c.Apply(ctx, objs[i].k.Resource, u, false); err != nil {
			err = fmt.Errorf("apply %s: %w", ref(objs[i].k, u), err)
			st.Fail(err)
			return changes, perms, err
		}
	}
	st.Done()
	return changes, perms, nil
}

func orDiscard(rep ui.Reporter) ui.Reporter {
	if rep == nil {
		return ui.Discard
	}
	return rep
}
