package validate

import (
	"context"
	"fmt"
	"strings"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/install"
	"github.com/meshctl/meshctl/pkg/mesh"
	corev1 "k8s.io/api/core/v1"
)

// checkAsmcli runs `asmcli validate`; its [ERROR] and [WARNING] lines
// become findings (install.ParseLine reads them).
func checkAsmcli(ctx context.Context, run func(context.Context) ([]string, error)) []Case {
	const check, object = "asmcli validate", "cluster"
	lines, err := run(ctx)
	c := Case{Group: GroupControlPlane, Check: check, Object: object}
	for _, l := range lines {
		ev, ok := install.ParseLine(l)
		if !ok {
			continue
		}
		switch ev.Level {
		case "error":
			c.Findings = append(c.Findings, findings.AsmcliError.New(object, ev.Message, ""))
		case "warning":
			c.Findings = append(c.Findings, findings.AsmcliWarning.New(object, ev.Message, ""))
		}
	}
	if err != nil && len(c.Findings) == 0 {
		c.Findings = append(c.Findings, findings.AsmcliError.New(object, fmt.Sprintf("asmcli validate failed: %v", err),
			"run it by hand to see why, or leave it out with --skip-asmcli"))
	}
	return []Case{c}
}

// checkControlPlane: each revision's istiod ready, injection webhooks
// pointing at installed revisions, namespaces labelled with installed
// revisions and with one injection label only. What counts as installed is
// pkg/mesh's rule, which inject and expose follow too.
func checkControlPlane(ctx context.Context, st *state) []Case {
	revs, err := st.revisions(ctx)
	if err != nil {
		return []Case{apiFailed(GroupControlPlane, "revisions", "cluster", "read the control plane", err)}
	}
	// With --namespace, only the revisions those namespaces use: other
	// teams' control planes are not this run's business.
	used, scoped := st.usedRevisions(ctx, revs)
	out := checkIstiods(revs, used, scoped)
	out = append(out, checkWebhooks(revs, used, scoped)...)
	nss, err := st.namespaces(ctx)
	if err != nil {
		return append(out, apiFailed(GroupControlPlane, "namespace labels", "cluster", "list namespaces", err))
	}
	for _, ns := range nss {
		if c, ok := checkNamespaceLabels(&ns, revs, st.opts); ok {
			out = append(out, c)
		}
	}
	return out
}

// checkIstiods: each in-cluster revision's istiod has its replicas ready.
func checkIstiods(revs mesh.Revisions, used map[string]bool, scoped bool) []Case {
	if revs.IstiodErr != nil {
		// Without istio-system's Deployments the webhooks still tell what
		// is installed; only istiod's readiness is unknown.
		return []Case{apiFailed(GroupControlPlane, "istiod ready", "cluster", "read istiod", revs.IstiodErr)}
	}
	var out []Case
	for _, name := range revs.Names() {
		d := revs.Revision(name).Istiod
		if d == nil || scoped && !used[name] {
			continue
		}
		obj := fmt.Sprintf("Deployment %s/%s", d.Namespace, d.Name)
		c := Case{Group: GroupControlPlane, Check: "istiod ready", Object: obj}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		if want == 0 || d.Status.ReadyReplicas < want {
			c.Findings = append(c.Findings, findings.IstiodNotReady.New(obj,
				fmt.Sprintf("istiod of revision %s: %d of %d replicas ready", name, d.Status.ReadyReplicas, want),
				fmt.Sprintf("kubectl -n %s describe deployment %s; kubectl -n %s logs deploy/%s", d.Namespace, d.Name, d.Namespace, d.Name)))
		}
		out = append(out, c)
	}
	return out
}

// checkWebhooks: every revision's own injection webhook injects for an
// installed revision; one for a revision whose istiod is gone makes pod
// creation fail. Tags are checkTags'.
func checkWebhooks(revs mesh.Revisions, used map[string]bool, scoped bool) []Case {
	var out []Case
	for _, h := range revs.Webhooks {
		if h.Tag != "" || scoped && !used[h.Revision] {
			continue // a tag's webhook is checkTags' (MC0271)
		}
		obj := "MutatingWebhookConfiguration " + h.Name
		c := Case{Group: GroupControlPlane, Check: "injection webhook", Object: obj}
		if !revs.Installed(h.Revision) {
			what := "revision " + h.Revision
			if h.Tag != "" {
				what = fmt.Sprintf("tag %s for revision %s", h.Tag, h.Revision)
			}
			c.Findings = append(c.Findings, findings.WebhookRevisionMissing.New(obj,
				fmt.Sprintf("injects with %s, which is not installed (installed: %s)", what, installedText(revs)),
				fmt.Sprintf("point it at an installed revision (istioctl tag set %s --revision REV --overwrite) or delete it: kubectl delete mutatingwebhookconfiguration %s", orDefault(h.Tag, "TAG"), h.Name)))
		}
		out = append(out, c)
	}
	return out
}

// checkNamespaceLabels: a namespace's injection labels name an installed
// revision, and only one of the two labels is set. ok is false for a
// namespace that is not labelled or not in scope.
func checkNamespaceLabels(ns *corev1.Namespace, revs mesh.Revisions, opts Options) (Case, bool) {
	rev, hasRev := ns.Labels[mesh.LabelRevision]
	inj, hasInj := ns.Labels[mesh.LabelInjection]
	if (!hasRev && !hasInj) || !opts.inScope(ns.Name) {
		return Case{}, false
	}
	obj := "Namespace " + ns.Name
	c := Case{Group: GroupControlPlane, Check: "namespace labels", Object: obj}
	if hasRev && !revs.Known(rev) {
		c.Findings = append(c.Findings, findings.NamespaceRevision.New(obj,
			fmt.Sprintf("labelled %s=%s, which is not installed (installed: %s): new pods get no sidecar", mesh.LabelRevision, rev, installedText(revs)),
			fmt.Sprintf("meshctl inject %s --revision REV, or kubectl label namespace %s %s=REV --overwrite", ns.Name, ns.Name, mesh.LabelRevision)))
	}
	if hasRev && hasInj {
		c.Findings = append(c.Findings, findings.DoubleInjectionLabels.New(obj,
			fmt.Sprintf("labelled both %s=%s and %s=%s: %s wins and the revision is ignored", mesh.LabelInjection, inj, mesh.LabelRevision, rev, mesh.LabelInjection),
			fmt.Sprintf("kubectl label namespace %s %s-", ns.Name, mesh.LabelInjection)))
	}
	return c, true
}

// installedText lists the installed revisions for a message.
func installedText(revs mesh.Revisions) string {
	if names := revs.Names(); len(names) > 0 {
		return strings.Join(names, ", ")
	}
	return "none"
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// usedRevisions are the revisions and tags the namespaces in scope ask
// for; scoped is false without --namespace (or when namespaces cannot be
// read: then everything is checked).
func (st *state) usedRevisions(ctx context.Context, revs mesh.Revisions) (map[string]bool, bool) {
	if len(st.opts.Namespaces) == 0 {
		return nil, false
	}
	nss, err := st.namespaces(ctx)
	if err != nil {
		return nil, false
	}
	used := map[string]bool{}
	for _, ns := range nss {
		if !st.opts.inScope(ns.Name) {
			continue
		}
		if want := revs.Injection(ns.Labels); want.Enabled {
			used[want.Name], used[want.Revision] = true, true
		}
	}
	return used, true
}
