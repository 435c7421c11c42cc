package migrate

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/inject"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/revision"
)

var (
	configMaps   = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	envoyFilters = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1alpha3", Resource: "envoyfilters"}
)

// prechecks are what would break the mesh during or after the move
// (install --managed checks the cluster itself):
//   - MC0273: the in-cluster revision signs with istiod's own CA (asmcli
//     --ca citadel), which the managed revision's workloads do not trust:
//     moved and unmoved pods would stop talking to each other;
//   - MC0274: pods on the revision that migrate does not move, in system
//     namespaces, or pinned by their own istio.io/rev label;
//   - MC0275 (warning): EnvoyFilters, which the managed control plane
//     does not support.
func prechecks(ctx context.Context, c kube.Objects, snap *revision.Snapshot, from string) ([]findings.Finding, error) {
	var out []findings.Finding
	cmName := "istio-" + from
	if from == mesh.DefaultRevision {
		cmName = "istio"
	}
	cm, err := c.Get(ctx, configMaps, mesh.IstioSystem, cmName)
	switch {
	case kube.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("read the mesh config of %s: %w", from, err)
	default:
		meshConfig, _, _ := unstructured.NestedString(cm.Object, "data", "mesh")
		if strings.Contains(meshConfig, "CA_PROVIDER: Citadel") {
			out = append(out, findings.MigrateIstiodCA.New("ConfigMap "+mesh.IstioSystem+"/"+cmName,
				"revision "+from+" was installed with --ca citadel: istiod signs its workloads' certificates, the managed revision's come from Google's CA",
				"move the in-cluster revision to Mesh CA first (asmcli install --ca mesh_ca, a new revision), or migrate with a downtime window and --skip-checks"))
		}
	}
	for i := range snap.Pods {
		p := &snap.Pods[i]
		if !mesh.Running(p) || mesh.ProxyOf(p).Revision != from {
			continue
		}
		switch {
		case inject.SystemNamespace(p.Namespace):
			out = append(out, leftBehind(p, "runs in system namespace "+p.Namespace+", which migrate does not relabel",
				fmt.Sprintf("move it yourself: kubectl label namespace %s istio.io/rev=MANAGED --overwrite, then restart it", p.Namespace)))
		case p.Labels[mesh.LabelRevision] == from:
			out = append(out, leftBehind(p, "is labelled "+mesh.LabelRevision+"="+from+" itself: a restart puts it back on "+from,
				"set "+mesh.LabelRevision+" in its workload's pod template to the managed revision, or remove it"))
		}
	}
	filters, err := c.List(ctx, envoyFilters, "", "")
	if err != nil && !kube.IsNotFound(err) {
		return nil, fmt.Errorf("list EnvoyFilters: %w", err)
	}
	for _, f := range filters {
		out = append(out, findings.ManagedEnvoyFilter.New("EnvoyFilter "+f.GetNamespace()+"/"+f.GetName(),
			"the managed control plane (TRAFFIC_DIRECTOR) ignores EnvoyFilters: what it changes stops at the move",
			"replace it with a supported API (Telemetry, WasmPlugin, AuthorizationPolicy...) before migrating"))
	}
	return out, nil
}

func leftBehind(p *corev1.Pod, why, hint string) findings.Finding {
	return findings.MigratePodsLeftBehind.New("Pod "+p.Namespace+"/"+p.Name, why, hint)
}
