package validate

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// checkDataPlane looks at every namespace labelled for injection (either
// label, unlike istioctl's IST0103): its pods' sidecars and its Services'
// protocol selection. One case per check and namespace.
func checkDataPlane(ctx context.Context, st *state) []Case {
	nss, err := st.namespaces(ctx)
	if err != nil {
		return []Case{apiFailed(GroupDataPlane, "sidecars", "cluster", "list namespaces", err)}
	}
	revs, revErr := st.revisions(ctx)
	var labelled []corev1.Namespace
	for _, ns := range nss {
		if mesh.InjectionEnabled(ns.Labels) && st.opts.inScope(ns.Name) {
			labelled = append(labelled, ns)
		}
	}
	if len(labelled) == 0 {
		return nil
	}
	var out []Case
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

// checkSidecars checks each running pod against the revision its
// namespace's labels ask for (pkg/mesh's rules: the namespace's labels win
// over a pod's own istio.io/rev). When that revision is not installed
// (MC0204 says so), pods must still have a proxy, of any revision.
func checkSidecars(ns *corev1.Namespace, pods []corev1.Pod, revs mesh.Revisions) Case {
	obj := "Namespace " + ns.Name
	c := Case{Group: GroupDataPlane, Check: "sidecars", Object: obj}
	want := revs.Injection(ns.Labels)
	for i := range pods {
		p := &pods[i]
		if !mesh.Running(p) {
			continue
		}
		prob := mesh.CheckPodInjected(p)
		if want.Installed {
			prob = mesh.CheckPod(p, mesh.Want{Revision: want.Revision})
		}
		if prob != nil && prob.Reason == mesh.ReasonWrongRevision && !revs.Installed(mesh.ProxyOf(p).Revision) && mesh.ProxyOf(p).Revision != "" {
			continue // its revision is gone: checkProxyRevisions reports it (MC0270)
		}
		if prob != nil {
			c.Findings = append(c.Findings, podProblem(p, fmt.Sprintf("Pod %s/%s", p.Namespace, p.Name), prob, ns))
		}
	}
	return c
}

func podProblem(p *corev1.Pod, obj string, prob *mesh.Problem, ns *corev1.Namespace) findings.Finding {
	owner := "the pod"
	restart := fmt.Sprintf("kubectl -n %s delete pod %s", p.Namespace, p.Name)
	if ref := ownerOf(p); ref != "" {
		owner = ref
		restart = fmt.Sprintf("kubectl -n %s rollout restart %s", p.Namespace, strings.ToLower(ref))
	}
	switch prob.Reason {
	case mesh.ReasonOptedOut, mesh.ReasonHostNetwork:
		return findings.WorkloadOptedOut.New(obj, prob.Message, "")
	case mesh.ReasonWrongRevision:
		return findings.ProxyRevision.New(obj, prob.Message+"; restart "+owner+" to move it", restart+" (or meshctl inject "+ns.Name+")")
	default:
		return findings.PodWithoutProxy.New(obj, prob.Message+fmt.Sprintf(" though namespace %s is labelled for injection (istioctl analyze misses this when only %s is set)", ns.Name, mesh.LabelRevision),
			restart+" (or meshctl inject "+ns.Name+")")
	}
}

// ownerOf names the pod's workload (mesh.WorkloadOf).
func ownerOf(p *corev1.Pod) string { return mesh.WorkloadOf(p) }

// checkPortProtocols reports Service ports Istio must sniff, by pkg/mesh's
// reading of names and appProtocol (as `meshctl check` reports them).
func checkPortProtocols(ns string, svcs []corev1.Service) Case {
	c := Case{Group: GroupDataPlane, Check: "port protocols", Object: "Namespace " + ns}
	for _, s := range svcs {
		// Istio's own and meshctl's gateway Services name their ports as
		// Istio expects of gateways (status-port), as check skips them too.
		if s.Spec.Type == corev1.ServiceTypeExternalName || mesh.IstioGatewayService(&s) || mesh.MadeByMeshctl(s.Labels) {
			continue
		}
		for i, p := range s.Spec.Ports {
			if mesh.PortProtocol(p) != "" {
				continue
			}
			what := fmt.Sprintf("port %d %q", p.Port, p.Name)
			if p.Name == "" {
				what = fmt.Sprintf("port %d (unnamed)", p.Port)
			}
			c.Findings = append(c.Findings, findings.PortNaming.New(fmt.Sprintf("Service %s/%s port %d", s.Namespace, s.Name, p.Port),
				fmt.Sprintf("Service %s/%s %s names no protocol: Istio will sniff it (name it <protocol>[-suffix] or set appProtocol)", s.Namespace, s.Name, what),
				fmt.Sprintf(`kubectl -n %s patch service %s --type json -p '[{"op":"add","path":"/spec/ports/%d/appProtocol","value":"%s"}]'`, s.Namespace, s.Name, i, mesh.GuessProtocol(p))))
		}
	}
	return c
}
