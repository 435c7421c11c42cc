package validate

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/meshctl/meshctl/pkg/check"
	"github.com/meshctl/meshctl/pkg/expose"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/inject"
)

// checkDataPlane looks at every namespace labelled for injection (either
// label, unlike istioctl's IST0103): its pods' sidecars and its Services'
// protocol selection. One case per check and namespace.
func checkDataPlane(ctx context.Context, st *state) []Case {
	nss, err := st.namespaces(ctx)
	if err != nil {
		return []Case{apiFailed(GroupDataPlane, "sidecars", "cluster", "list namespaces", err)}
	}
	var labelled []corev1.Namespace
	for _, ns := range nss {
		_, hasRev := ns.Labels[labelRevision]
		if (hasRev || ns.Labels[labelInjection] == "enabled") && st.opts.inScope(ns.Name) {
			labelled = append(labelled, ns)
		}
	}
	if len(labelled) == 0 {
		return nil
	}
	var out []Case
	revs, revErr := st.revisions(ctx)
	pods, podErr := st.podsByNamespace(ctx)
	switch {
	case podErr != nil:
		out = append(out, apiFailed(GroupDataPlane, "sidecars", "cluster", "list pods", podErr))
	case revErr != nil:
		out = append(out, apiFailed(GroupDataPlane, "sidecars", "cluster", "read the control plane", revErr))
	default:
		for i := range labelled {
			out = append(out, checkSidecars(&labelled[i], pods[labelled[i].Name], revs))
		}
	}
	svcs, err := st.servicesByNamespace(ctx)
	if err != nil {
		return append(out, apiFailed(GroupDataPlane, "port protocols", "cluster", "list services", err))
	}
	for _, ns := range labelled {
		out = append(out, checkPortProtocols(ns.Name, svcs[ns.Name]))
	}
	return out
}

// wantFor is the revision a namespace's pods should run: the revision (or
// tag) of istio.io/rev, or the default revision for istio-injection. known
// is false when that revision is not installed (MC0204 says so): pods must
// then still have a proxy, of any revision.
func wantFor(ns *corev1.Namespace, revs revisions) (rev string, known bool) {
	name := ns.Labels[labelRevision]
	if ns.Labels[labelInjection] == "enabled" {
		name = "default"
	}
	return revs.resolve(name)
}

func checkSidecars(ns *corev1.Namespace, pods []corev1.Pod, revs revisions) Case {
	obj := "Namespace " + ns.Name
	c := Case{Group: GroupDataPlane, Check: "sidecars", Object: obj}
	nsRev, known := wantFor(ns, revs)
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		want := nsRev
		// A pod's own istio.io/rev label picks its injector (expose's gateways do this).
		if r := p.Labels[labelRevision]; r != "" {
			if rr, ok := revs.resolve(r); ok {
				want = rr
			}
		}
		pobj := fmt.Sprintf("Pod %s/%s", p.Namespace, p.Name)
		if !known && want == nsRev {
			if !inject.ProxyOf(p).Injected {
				c.Findings = append(c.Findings, podProblem(p, pobj, inject.CheckPod(p, inject.Want{Revision: "any"}), ns))
			}
			continue
		}
		if prob := inject.CheckPod(p, inject.Want{Revision: want}); prob != nil {
			c.Findings = append(c.Findings, podProblem(p, pobj, prob, ns))
		}
	}
	return c
}

func podProblem(p *corev1.Pod, obj string, prob *inject.Problem, ns *corev1.Namespace) findings.Finding {
	owner := "the pod"
	restart := fmt.Sprintf("kubectl -n %s delete pod %s", p.Namespace, p.Name)
	if ref := ownerOf(p); ref != "" {
		owner = ref
		restart = fmt.Sprintf("kubectl -n %s rollout restart %s", p.Namespace, strings.ToLower(ref))
	}
	switch prob.Reason {
	case inject.ReasonOptedOut, inject.ReasonHostNetwork:
		return findings.WorkloadOptedOut.New(obj, prob.Message, "")
	case inject.ReasonWrongRevision:
		return findings.ProxyRevision.New(obj, prob.Message+"; restart "+owner+" to move it", restart+" (or meshctl inject "+ns.Name+")")
	default:
		return findings.PodWithoutProxy.New(obj, prob.Message+fmt.Sprintf(" though namespace %s is labelled for injection (istioctl analyze misses this when only %s is set)", ns.Name, labelRevision),
			restart+" (or meshctl inject "+ns.Name+")")
	}
}

// ownerOf names the pod's workload as "deployment/NAME" (through its
// ReplicaSet's pod-template-hash) or "KIND/NAME"; "" for a bare pod.
func ownerOf(p *corev1.Pod) string {
	for _, r := range p.OwnerReferences {
		if r.Controller == nil || !*r.Controller {
			continue
		}
		if r.Kind == "ReplicaSet" {
			if h := p.Labels["pod-template-hash"]; h != "" {
				return "Deployment/" + strings.TrimSuffix(r.Name, "-"+h)
			}
		}
		if r.Kind == "Job" {
			return ""
		}
		return r.Kind + "/" + r.Name
	}
	return ""
}

// checkPortProtocols reports Service ports Istio must sniff, with pkg/check's
// reading of names and appProtocol.
func checkPortProtocols(ns string, svcs []corev1.Service) Case {
	c := Case{Group: GroupDataPlane, Check: "port protocols", Object: "Namespace " + ns}
	for _, s := range svcs {
		// Istio's own and meshctl's gateway Services name their ports as
		// Istio expects of gateways (status-port), as check skips them too.
		if s.Spec.Type == corev1.ServiceTypeExternalName || s.Labels["istio"] != "" || s.Labels[labelRevision] != "" ||
			s.Labels[expose.LabelManagedBy] == expose.ManagedByValue {
			continue
		}
		for i, p := range s.Spec.Ports {
			if check.PortProtocol(p) != "" {
				continue
			}
			what := fmt.Sprintf("port %d %q", p.Port, p.Name)
			if p.Name == "" {
				what = fmt.Sprintf("port %d (unnamed)", p.Port)
			}
			c.Findings = append(c.Findings, findings.PortNaming.New(fmt.Sprintf("Service %s/%s port %d", s.Namespace, s.Name, p.Port),
				fmt.Sprintf("Service %s/%s %s names no protocol: Istio will sniff it (name it <protocol>[-suffix] or set appProtocol)", s.Namespace, s.Name, what),
				fmt.Sprintf(`kubectl -n %s patch service %s --type json -p '[{"op":"add","path":"/spec/ports/%d/appProtocol","value":"%s"}]'`, s.Namespace, s.Name, i, check.GuessProtocol(p))))
		}
	}
	return c
}
