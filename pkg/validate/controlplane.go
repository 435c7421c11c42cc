package validate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/inject"
	"github.com/meshctl/meshctl/pkg/install"
)

const (
	istioSystem    = "istio-system"
	labelRevision  = inject.LabelRevision
	labelInjection = inject.LabelInjection
	labelTag       = "istio.io/tag"
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
// revisions and with one injection label only.
func checkControlPlane(ctx context.Context, st *state) []Case {
	revs, err := st.revisions(ctx)
	if err != nil {
		return []Case{apiFailed(GroupControlPlane, "revisions", "cluster", "read the control plane", err)}
	}
	// With --namespace, only the revisions those namespaces use: other
	// teams' control planes are not this run's business.
	used, scoped := st.usedRevisions(ctx, revs)
	var out []Case
	for rev, d := range revs.istiods {
		if scoped && !used[rev] {
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
				fmt.Sprintf("istiod of revision %s: %d of %d replicas ready", rev, d.Status.ReadyReplicas, want),
				fmt.Sprintf("kubectl -n %s describe deployment %s; kubectl -n %s logs deploy/%s", d.Namespace, d.Name, d.Namespace, d.Name)))
		}
		out = append(out, c)
	}
	installed := strings.Join(sortedStrings(revs.names()), ", ")
	if installed == "" {
		installed = "none"
	}
	for _, h := range revs.hooks {
		if scoped && !used[h.revision] && !used[h.tag] {
			continue
		}
		obj := "MutatingWebhookConfiguration " + h.name
		c := Case{Group: GroupControlPlane, Check: "injection webhook", Object: obj}
		if !revs.has(h.revision) {
			what := "revision " + h.revision
			if h.tag != "" {
				what = fmt.Sprintf("tag %s for revision %s", h.tag, h.revision)
			}
			c.Findings = append(c.Findings, findings.WebhookRevisionMissing.New(obj,
				fmt.Sprintf("injects with %s, which is not installed (installed: %s)", what, installed),
				fmt.Sprintf("point it at an installed revision (istioctl tag set %s --revision REV --overwrite) or delete it: kubectl delete mutatingwebhookconfiguration %s", orDefault(h.tag, "TAG"), h.name)))
		}
		out = append(out, c)
	}

	nss, err := st.namespaces(ctx)
	if err != nil {
		return append(out, apiFailed(GroupControlPlane, "namespace labels", "cluster", "list namespaces", err))
	}
	for _, ns := range nss {
		rev, hasRev := ns.Labels[labelRevision]
		inj, hasInj := ns.Labels[labelInjection]
		if (!hasRev && !hasInj) || !st.opts.inScope(ns.Name) {
			continue
		}
		obj := "Namespace " + ns.Name
		c := Case{Group: GroupControlPlane, Check: "namespace labels", Object: obj}
		if hasRev {
			if _, ok := revs.resolve(rev); !ok {
				c.Findings = append(c.Findings, findings.NamespaceRevision.New(obj,
					fmt.Sprintf("labelled %s=%s, which is not installed (installed: %s): new pods get no sidecar", labelRevision, rev, installed),
					fmt.Sprintf("meshctl inject %s --revision REV, or kubectl label namespace %s %s=REV --overwrite", ns.Name, ns.Name, labelRevision)))
			}
		}
		if hasRev && hasInj {
			c.Findings = append(c.Findings, findings.DoubleInjectionLabels.New(obj,
				fmt.Sprintf("labelled both %s=%s and %s=%s: %s wins and the revision is ignored", labelInjection, inj, labelRevision, rev, labelInjection),
				fmt.Sprintf("kubectl label namespace %s %s-", ns.Name, labelInjection)))
		}
		out = append(out, c)
	}
	return out
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func sortedStrings(s []string) []string {
	slices.Sort(s)
	return s
}

// usedRevisions are the revisions and tags the namespaces in scope are
// labelled with; scoped is false without --namespace (or when namespaces
// cannot be read: then everything is checked).
func (st *state) usedRevisions(ctx context.Context, revs revisions) (map[string]bool, bool) {
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
		name := ns.Labels[labelRevision]
		if ns.Labels[labelInjection] == "enabled" {
			name = "default"
		}
		if name == "" {
			continue
		}
		used[name] = true
		if r, ok := revs.tags[name]; ok {
			used[r] = true
		}
	}
	return used, true
}
