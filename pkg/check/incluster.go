package check

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/mesh"
)

const (
	istioSystem       = mesh.IstioSystem
	legacyGatewayName = "istio-ingressgateway"
)

func checkServerVersion(f *facts) outcome {
	v, err := f.serverVersion()
	if err != nil {
		return unavailable(err)
	}
	msg := "Kubernetes " + v.GitVersion
	if f.opts.KubeContext != "" {
		msg += " (context " + f.opts.KubeContext + ")"
	}
	return outcome{status: StatusInfo, message: msg}
}

func checkClusterAdmin(f *facts) outcome {
	ok, err := f.admin()
	if err != nil {
		return unavailable(err)
	}
	if ok {
		return outcome{message: "the caller may do anything in the cluster"}
	}
	user := `"$(gcloud config get-value core/account)"`
	if name, err := f.user(); err == nil && name != "" {
		user = name
	}
	return outcome{findings: []findings.Finding{findings.ClusterAdmin.New(f.clusterObject(),
		"the caller is not cluster-admin: installing the control plane creates cluster-wide objects (CRDs, webhooks, cluster roles)",
		"kubectl create clusterrolebinding meshctl-cluster-admin --clusterrole cluster-admin --user "+user)}}
}

func checkIstioSystem(f *facts) outcome {
	nss, err := f.namespaces()
	if err != nil {
		return unavailable(err)
	}
	for _, ns := range nss {
		if ns.Name == istioSystem {
			return outcome{message: "namespace istio-system exists"}
		}
	}
	return outcome{findings: []findings.Finding{findings.IstioSystemNamespace.New("namespace istio-system",
		"namespace istio-system does not exist: asmcli stops unless it may create it",
		"kubectl create namespace istio-system")}}
}

func checkRevisions(f *facts) outcome {
	deps, err := f.deployments()
	if err != nil {
		return unavailable(err)
	}
	var revs []string
	for _, d := range deps {
		if d.Labels["app"] != mesh.IstiodApp {
			continue
		}
		revs = append(revs, fmt.Sprintf("%s (%s/%s)", mesh.IstiodRevision(d.Labels), d.Namespace, d.Name))
	}
	sort.Strings(revs)
	if len(revs) == 0 {
		return outcome{status: StatusInfo, message: "none installed"}
	}
	return outcome{status: StatusInfo, message: strings.Join(revs, ", ")}
}

func checkIstiodNamespace(f *facts) outcome {
	deps, err := f.deployments()
	if err != nil {
		return unavailable(err)
	}
	var out outcome
	for _, d := range deps {
		if d.Labels["app"] != mesh.IstiodApp || d.Namespace == istioSystem {
			continue
		}
		out.findings = append(out.findings, findings.IstiodOutsideSystem.New("Deployment "+d.Namespace+"/"+d.Name,
			fmt.Sprintf("istiod revision %s runs in namespace %s: asmcli refuses to install next to it", mesh.IstiodRevision(d.Labels), d.Namespace),
			fmt.Sprintf("remove that control plane (istioctl uninstall --revision %s) or manage it without asmcli", mesh.IstiodRevision(d.Labels))))
	}
	if len(out.findings) == 0 {
		out.message = "no istiod outside istio-system"
	}
	return out
}

func checkLegacyGateway(f *facts) outcome {
	svcs, err := f.services()
	if err != nil {
		return unavailable(err)
	}
	deps, err := f.deployments()
	if err != nil {
		return unavailable(err)
	}
	var found []string
	for _, s := range svcs {
		if s.Namespace == istioSystem && s.Name == legacyGatewayName {
			found = append(found, "Service")
		}
	}
	for _, d := range deps {
		if d.Namespace == istioSystem && d.Name == legacyGatewayName {
			found = append(found, "Deployment")
		}
	}
	if len(found) == 0 {
		return outcome{message: "no istio-ingressgateway in istio-system"}
	}
	return outcome{findings: []findings.Finding{findings.LegacyIngressGateway.New(strings.Join(found, " and ")+" istio-system/"+legacyGatewayName,
		"istio-system has "+strings.Join(found, " and ")+" istio-ingressgateway: asmcli install asks \"Continue? [y/N]\" and stops (exit 2) in CI",
		"keep it by passing --option legacy-default-ingressgateway to asmcli, or move to a gateway in its own namespace and delete it: kubectl -n istio-system delete service,deployment istio-ingressgateway")}}
}

// systemNamespace: Istio's analyzers skip these (IST0118), and so do we.
func systemNamespace(ns string) bool {
	return ns == istioSystem || strings.HasPrefix(ns, "kube-") || strings.HasPrefix(ns, "gke-") ||
		strings.HasPrefix(ns, "gmp-") || ns == "config-management-system"
}

func checkPortNames(f *facts) outcome {
	svcs, err := f.services()
	if err != nil {
		return unavailable(err)
	}
	var out outcome
	checked := 0
	for _, s := range svcs {
		if systemNamespace(s.Namespace) || s.Spec.Type == corev1.ServiceTypeExternalName ||
			mesh.IstioGatewayService(&s) {
			continue
		}
		for i, p := range s.Spec.Ports {
			checked++
			if mesh.PortProtocol(p) != "" {
				continue
			}
			name := p.Name
			what := fmt.Sprintf("port %d %q", p.Port, name)
			if name == "" {
				what = fmt.Sprintf("port %d (unnamed)", p.Port)
			}
			proto := mesh.GuessProtocol(p)
			out.findings = append(out.findings, findings.PortNaming.New(fmt.Sprintf("Service %s/%s port %d", s.Namespace, s.Name, p.Port),
				fmt.Sprintf("Service %s/%s %s names no protocol: Istio will sniff it (name it <protocol>[-suffix] or set appProtocol)", s.Namespace, s.Name, what),
				fmt.Sprintf(`kubectl -n %s patch service %s --type json -p '[{"op":"add","path":"/spec/ports/%d/appProtocol","value":"%s"}]'`, s.Namespace, s.Name, i, proto)))
		}
	}
	if len(out.findings) == 0 {
		out.message = fmt.Sprintf("%s outside system namespaces, each naming its protocol", plural(checked, "Service port", "Service ports"))
	} else {
		out.message = fmt.Sprintf("%s of %d rely on protocol sniffing", plural(len(out.findings), "Service port", "Service ports"), checked)
	}
	return out
}

func checkInjectionLabels(f *facts) outcome {
	nss, err := f.namespaces()
	if err != nil {
		return unavailable(err)
	}
	var out outcome
	for _, ns := range nss {
		inj, hasInj := ns.Labels[mesh.LabelInjection]
		rev, hasRev := ns.Labels[mesh.LabelRevision]
		if !hasInj || !hasRev {
			continue
		}
		out.findings = append(out.findings, findings.DoubleInjectionLabels.New("namespace "+ns.Name,
			fmt.Sprintf("namespace %s has %s=%s and %s=%s: istio-injection wins, so the revision label is ignored", ns.Name, mesh.LabelInjection, inj, mesh.LabelRevision, rev),
			fmt.Sprintf("kubectl label namespace %s %s-", ns.Name, mesh.LabelInjection)))
	}
	if len(out.findings) == 0 {
		out.message = "no namespace has both istio-injection and istio.io/rev"
	}
	return out
}
