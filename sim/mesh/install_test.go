package mesh

import (
	"os"
	"path/filepath"
	"testing"

	klabels "k8s.io/apimachinery/pkg/labels"
)

// A revision's render, cut down: a Base CRD and service account, and
// Pilot's objects, some labelled by their chart and some not.
const (
	baseObjects = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: sidecars.networking.istio.io
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: istio-reader-service-account
  namespace: istio-system
---
`
	pilotObjects = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: istiod-asm-1
  namespace: istio-system
  labels: {app: istiod, istio.io/rev: asm-1, operator.istio.io/component: Pilot, install.operator.istio.io/owning-resource: unknown}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: istiod-asm-1
  namespace: istio-system
  labels: {app: istiod}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: istiod-clusterrole-asm-1-istio-system
---
apiVersion: v1
kind: Service
metadata:
  name: istio-ingressgateway
  namespace: istio-system
  labels: {operator.istio.io/component: IngressGateways}
`
)

// uninstallSelector is the selector `istioctl uninstall --revision asm-1`
// lists each kind with (operator/pkg/uninstall GetPrunedResources, the
// default profile's namespace as owner namespace).
var uninstallSelector = "istio.io/rev=asm-1,install.operator.istio.io/owning-resource-namespace=istio-system," +
	"operator.istio.io/component in (Pilot,IngressGateways,EgressGateways,Cni,Ztunnel)"

func TestLabelAsInstalledLetsIstioctlUninstallFindTheRevision(t *testing.T) {
	out, err := LabelAsInstalled([]byte(baseObjects+pilotObjects), []byte(pilotObjects),
		Owner{Name: "asm", Namespace: "istio-system", Revision: "asm-1", Version: "1.31.0"})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := parseObjects(out)
	if err != nil {
		t.Fatal(err)
	}
	sel, err := klabels.Parse(uninstallSelector)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		component string
		pruned    bool
	}{
		"CustomResourceDefinition/sidecars.networking.istio.io": {"Base", false},
		"ServiceAccount/istio-reader-service-account":           {"Base", false},
		"Deployment/istiod-asm-1":                               {"Pilot", true},
		"ServiceAccount/istiod-asm-1":                           {"Pilot", true},
		"ClusterRole/istiod-clusterrole-asm-1-istio-system":     {"Pilot", true},
		"Service/istio-ingressgateway":                          {"IngressGateways", true},
	}
	if len(objs) != len(want) {
		t.Fatalf("got %d objects, want %d:\n%s", len(objs), len(want), out)
	}
	for _, obj := range objs {
		meta := obj["metadata"].(map[string]any)
		key := obj["kind"].(string) + "/" + meta["name"].(string)
		w, ok := want[key]
		if !ok {
			t.Fatalf("unexpected object %s", key)
		}
		labels := map[string]string{}
		for k, v := range meta["labels"].(map[string]any) {
			labels[k] = v.(string)
		}
		if got := labels[labelIstioComponent]; got != w.component {
			t.Errorf("%s: component %q, want %q", key, got, w.component)
		}
		for k, v := range map[string]string{labelIstioRev: "asm-1", labelOwningResource: "asm", labelOwningNamespace: "istio-system",
			labelOperatorManaged: "Reconcile", labelOperatorVersion: "1.31.0"} {
			if labels[k] != v {
				t.Errorf("%s: label %s=%q, want %q", key, k, labels[k], v)
			}
		}
		if got := sel.Matches(klabels.Set(labels)); got != w.pruned {
			t.Errorf("%s: selected by istioctl uninstall --revision: %v, want %v", key, got, w.pruned)
		}
	}
}

func TestOwnerOfMergesTheOperatorFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base := write("base.yaml", Operator("asm", "1.28.1", "proj-1", "cn-p-l-c", "p-default"))
	overlay := write("overlay.yaml", "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  meshConfig: {}\n")
	got, err := ownerOf([]string{base, overlay})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "asm" || got.Namespace != "istio-system" {
		t.Errorf("owner %+v, want asm in istio-system (the default profile's namespace)", got)
	}
	moved := write("ns.yaml", "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata: {namespace: mesh}\n")
	if got, _ := ownerOf([]string{base, moved}); got.Namespace != "mesh" {
		t.Errorf("namespace %q, want the later file's mesh", got.Namespace)
	}
	if _, err := ownerOf([]string{filepath.Join(dir, "missing.yaml")}); err == nil {
		t.Error("a missing file read without error")
	}
}
