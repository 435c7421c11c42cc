package revision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// UninstallOptions say which in-cluster revision to remove.
type UninstallOptions struct {
	Revision string
	DryRun   bool
	// PodsGone bounds the wait for istiod's pods to go once its Deployment
	// is deleted (default two minutes).
	PodsGone time.Duration
	// Poll paces that wait (default half a second).
	Poll time.Duration
	// Preflight checks, before the first deletion, that the caller may
	// delete every object; nil checks nothing.
	Preflight *preflight.Checker
}

// UninstallResult is what an uninstall did, or why it refused.
type UninstallResult struct {
	Revision string `json:"revision"`
	DryRun   bool   `json:"dryRun,omitempty"`
	// Refused is set when something still uses the revision; Findings
	// (MC0276) say what, and nothing was deleted.
	Refused  bool               `json:"refused,omitempty"`
	Usage    Usage              `json:"usage"`
	Findings []findings.Finding `json:"findings,omitempty"`
	// Changes are the revision's objects, deleted (or, for a dry run or a
	// refusal, to delete) in this order.
	Changes []plan.Change `json:"changes"`
	// Permissions are what the deletions need, as the check before the
	// first one found them.
	Permissions *preflight.Report `json:"permissions,omitempty"`
	// Kept names what an uninstall leaves on purpose.
	Kept     []string `json:"kept,omitempty"`
	NextStep string   `json:"nextStep,omitempty"`
}

// deleteOrder is the order a revision's objects go in: first what sends
// work to istiod (injection, then validation), then what serves and
// configures it, and istiod's Deployment last, so that an interrupted
// uninstall still shows the revision as installed (by its istiod) and a
// second run finds and finishes it.
var deleteOrder = []kind{kMutatingWebhook, kValidatingWebhook, kService, kHPA, kPDB, kConfigMap,
	kRoleBinding, kRole, kClusterRoleBind, kClusterRole, kServiceAccount, kDeployment}

// Uninstall removes an in-cluster revision's control plane: its istiod
// Deployment, Services, autoscaler and disruption budget, ConfigMaps,
// service account and RBAC, its injection and validating webhooks and its
// tags' webhooks and Services (Istio's labels and names find them), as
// `istioctl uninstall --revision` does, and waits until istiod's pods are
// gone. The CRDs, istio-system and every other revision stay. It refuses,
// deleting nothing, while a namespace's label (or a tag it names) selects
// the revision or a running pod has its proxy.
func Uninstall(ctx context.Context, c kube.Objects, rep ui.Reporter, o UninstallOptions) (*UninstallResult, error) {
	rep = orDiscard(rep)
	if err := validName("--revision", o.Revision); err != nil {
		return nil, err
	}
	cl, err := readCluster(ctx, c, true)
	if err != nil {
		return nil, err
	}
	res := &UninstallResult{Revision: o.Revision, DryRun: o.DryRun, Changes: []plan.Change{},
		Kept: []string{"the Istio CRDs and istio-system", "the other revisions: " + others(cl.Revisions, o.Revision)}}
	if rev := cl.Revisions.Revision(o.Revision); rev != nil && rev.Istiod == nil && rev.Managed {
		return nil, failure.Usage(fmt.Errorf("revision %s is Google's managed control plane (its webhook %s calls a URL; no istiod runs in the cluster)", o.Revision, rev.Webhook),
			"remove it with meshctl uninstall --managed")
	}
	if _, isTag := cl.Revisions.Tags[o.Revision]; isTag && !cl.Revisions.Installed(o.Revision) {
		return nil, failure.Usage(fmt.Errorf("%s is a tag, not a revision", o.Revision), "remove a tag with meshctl revision tag remove "+o.Revision)
	}
	objs, err := revisionObjects(ctx, c, o.Revision)
	if err != nil {
		return nil, err
	}
	for _, x := range objs {
		res.Changes = append(res.Changes, x.k.change(x.u.GetNamespace(), x.u.GetName(), plan.Delete))
	}
	res.Usage = cl.Usage(o.Revision)
	if res.Usage.InUse() {
		res.Refused, res.Findings = true, res.Usage.Findings()
		res.NextStep = "move what uses " + o.Revision + " to another revision, then run meshctl uninstall --revision " + o.Revision + " again"
		return res, nil
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
	st := rep.Step(fmt.Sprintf("remove revision %s (%s)", o.Revision, plural(len(objs), "object")))
	if err := deleteAll(ctx, c, objs); err != nil {
		st.Fail(err)
		return res, failure.WithHint(err, "run meshctl uninstall --revision "+o.Revision+" again: it deletes what is left")
	}
	st.Progressf("waiting for istiod's pods to go")
	if err := waitIstiodGone(ctx, c, o); err != nil {
		st.Fail(err)
		return res, err
	}
	st.Done()
	return res, nil
}

// others lists the installed revisions but one, for the result.
func others(revs mesh.Revisions, but string) string {
	var out []string
	for _, n := range revs.Names() {
		if n != but {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// object is one of a revision's objects.
type object struct {
	k kind
	u *unstructured.Unstructured
}

// revisionObjects finds a revision's control plane objects, in
// deleteOrder: everything labelled istio.io/rev=REV that Istio's charts
// made for istiod (app.kubernetes.io/name or app says istiod or its
// injector) or for a tag (istio.io/tag), cluster-wide for webhooks and in
// istio-system otherwise, and the service account and RBAC, which the
// charts name after the revision without labelling it. A gateway labelled
// with the revision is not the control plane and stays.
func revisionObjects(ctx context.Context, c kube.Objects, revision string) ([]object, error) {
	named := map[kind][]string{}
	for _, n := range rbacNames(revision) {
		named[n.k] = append(named[n.k], n.name)
	}
	var out []object
	for _, k := range deleteOrder {
		ns := ""
		if k.Namespaced {
			ns = mesh.IstioSystem
		}
		items, err := c.List(ctx, k.Resource, ns, mesh.LabelRevision+"="+revision)
		if err != nil {
			return nil, fmt.Errorf("list %ss: %w", k.Kind, err)
		}
		seen := map[string]bool{}
		for i := range items {
			if l := items[i].GetLabels(); l[mesh.LabelRevision] == revision && (controlPlaneLabels(l) || l[mesh.LabelTag] != "") {
				out = append(out, object{k, &items[i]})
				seen[items[i].GetName()] = true
			}
		}
		for _, name := range named[k] {
			u, err := c.Get(ctx, k.Resource, ns, name)
			switch {
			case kube.IsNotFound(err):
				continue
			case err != nil:
				return nil, fmt.Errorf("read %s %s: %w", k.Kind, name, err)
			}
			if l := u.GetLabels(); !seen[name] && (istiodName(l["app.kubernetes.io/name"]) || istiodName(l["app"])) {
				out = append(out, object{k, u})
			}
		}
	}
	return out, nil
}

// controlPlaneLabels reports whether an object's labels say Istio's charts
// made it for istiod or its injector.
func controlPlaneLabels(l map[string]string) bool {
	return l["app.kubernetes.io/name"] == mesh.IstiodApp || l["app"] == mesh.IstiodApp || l["app"] == "sidecar-injector"
}

func istiodName(v string) bool { return v == mesh.IstiodApp || v == "istio-reader" }

// named is an object known by kind and name.
type named struct {
	k    kind
	name string
}

// rbacNames are the service account and RBAC objects Istio's
// istio-discovery chart names after the revision without labelling them.
func rbacNames(revision string) []named {
	suffix := "-" + revision
	if revision == mesh.DefaultRevision {
		suffix = ""
	}
	out := []named{{kServiceAccount, "istiod" + suffix}, {kRole, "istiod" + suffix}, {kRoleBinding, "istiod" + suffix}}
	for _, base := range []string{"istiod-clusterrole", "istiod-gateway-controller", "istio-reader-clusterrole"} {
		name := base + suffix + "-" + mesh.IstioSystem
		out = append(out, named{kClusterRole, name}, named{kClusterRoleBind, name})
	}
	return out
}

// deleteAll deletes objs in order. It stops before istiod's Deployment
// when anything else failed, so a second run finds the revision again.
func deleteAll(ctx context.Context, c kube.Objects, objs []object) error {
	var errs []error
	for _, x := range objs {
		if x.k == kDeployment && len(errs) > 0 {
			break
		}
		err := c.Delete(ctx, x.k.Resource, x.u.GetNamespace(), x.u.GetName(), x.u.GetUID(), false)
		if err != nil && !kube.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", ref(x.k, x.u), err))
		}
	}
	return errors.Join(errs...)
}

// waitIstiodGone waits until no pod of the revision's istiod is left in
// istio-system.
func waitIstiodGone(ctx context.Context, c kube.Objects, o UninstallOptions) error {
	limit, poll := o.PodsGone, o.Poll
	if limit <= 0 {
		limit = 2 * time.Minute
	}
	if poll <= 0 {
		poll = 500 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	sel := "app=" + mesh.IstiodApp + "," + mesh.LabelRevision + "=" + o.Revision
	for {
		pods, err := c.List(ctx, kPod.Resource, mesh.IstioSystem, sel)
		if err == nil && len(pods) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("%s still running", plural(len(pods), "istiod pod"))
			}
			return failure.WithHint(fmt.Errorf("istiod of revision %s did not go within %s: %w", o.Revision, limit, err),
				fmt.Sprintf("kubectl -n %s get pods -l %s", mesh.IstioSystem, sel))
		case <-time.After(poll):
		}
	}
}
