package revision

import (
	"encoding/json"
	"os"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/meshctl/meshctl/internal/kube/kubefake"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// chartLabels are the labels Istio's istio-discovery chart puts on what it
// renders for a revision (as asmcli's istioctl install leaves them).
func chartLabels(revision string, extra map[string]string) map[string]string {
	l := map[string]string{
		"app.kubernetes.io/instance": "istio", "app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/name": "istiod",
		"app.kubernetes.io/part-of": "istio", "app.kubernetes.io/version": "1.0.0", "helm.sh/chart": "istiod-1.0.0",
		"install.operator.istio.io/owning-resource": "unknown", "operator.istio.io/component": "Pilot",
		"release": "istio", mesh.LabelRevision: revision,
	}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

// readYAML decodes a testdata file holding one object.
func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// canonicalWebhook is revision's own injection webhook as the chart renders
// it, calling its istiod Service.
func canonicalWebhook(t *testing.T, revision string) *admissionv1.MutatingWebhookConfiguration {
	t.Helper()
	var h admissionv1.MutatingWebhookConfiguration
	readYAML(t, "testdata/canonical-asm-svc.yaml", &h)
	h.Name = "istio-sidecar-injector-" + revision
	h.Labels[mesh.LabelRevision] = revision
	for i := range h.Webhooks {
		h.Webhooks[i].ClientConfig.Service.Name = "istiod-" + revision
		for _, sel := range []*metav1.LabelSelector{h.Webhooks[i].NamespaceSelector, h.Webhooks[i].ObjectSelector} {
			for j := range sel.MatchExpressions {
				if e := &sel.MatchExpressions[j]; len(e.Values) == 1 && e.Values[0] == "asm-svc" {
					e.Values[0] = revision
				}
			}
		}
	}
	return &h
}

// installRevision adds what asmcli's install leaves in the cluster for a
// revision: istiod, its Service, autoscaler, ConfigMaps, service account,
// RBAC and webhooks.
func installRevision(t *testing.T, f *kubefake.Objects, revision string) {
	t.Helper()
	sys := mesh.IstioSystem
	meta := func(name, ns string, labels map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}
	}
	one := int32(1)
	f.Add(kDeployment.Resource, &appsv1.Deployment{TypeMeta: typeMeta("apps/v1", "Deployment"),
		ObjectMeta: meta("istiod-"+revision, sys, chartLabels(revision, map[string]string{"app": "istiod", "istio": "pilot"})),
		Spec:       appsv1.DeploymentSpec{Replicas: &one}})
	f.Add(kService.Resource, &corev1.Service{TypeMeta: typeMeta("v1", "Service"), ObjectMeta: meta("istiod-"+revision, sys, chartLabels(revision, map[string]string{"app": "istiod"}))})
	f.Add(kHPA.Resource, obj("autoscaling/v2", "HorizontalPodAutoscaler", meta("istiod-"+revision, sys, chartLabels(revision, map[string]string{"app": "istiod"}))))
	for _, cm := range []string{"istio-" + revision, "istio-sidecar-injector-" + revision, "values-" + revision} {
		f.Add(kConfigMap.Resource, &corev1.ConfigMap{TypeMeta: typeMeta("v1", "ConfigMap"), ObjectMeta: meta(cm, sys, chartLabels(revision, nil))})
	}
	// The chart names the service account and RBAC after the revision but
	// does not label them with it.
	rbac := map[string]string{"app": "istiod", "app.kubernetes.io/name": "istiod", "release": "istio"}
	f.Add(kServiceAccount.Resource, &corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: meta("istiod-"+revision, sys, rbac)})
	f.Add(kRole.Resource, &rbacv1.Role{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "Role"), ObjectMeta: meta("istiod-"+revision, sys, rbac)})
	f.Add(kRoleBinding.Resource, &rbacv1.RoleBinding{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"), ObjectMeta: meta("istiod-"+revision, sys, rbac)})
	for _, base := range []string{"istiod-clusterrole", "istiod-gateway-controller"} {
		name := base + "-" + revision + "-" + sys
		f.Add(kClusterRole.Resource, &rbacv1.ClusterRole{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRole"), ObjectMeta: meta(name, "", rbac)})
		f.Add(kClusterRoleBind.Resource, &rbacv1.ClusterRoleBinding{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ObjectMeta: meta(name, "", rbac)})
	}
	reader := map[string]string{"app": "istio-reader", "app.kubernetes.io/name": "istio-reader"}
	f.Add(kClusterRole.Resource, &rbacv1.ClusterRole{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRole"),
		ObjectMeta: meta("istio-reader-clusterrole-"+revision+"-"+sys, "", reader)})
	f.Add(kMutatingWebhook.Resource, canonicalWebhook(t, revision))
	f.Add(kValidatingWebhook.Resource, &admissionv1.ValidatingWebhookConfiguration{TypeMeta: typeMeta("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
		ObjectMeta: meta("istio-validator-"+revision+"-"+sys, "", chartLabels(revision, map[string]string{"app": "istiod", "istio": "istiod"}))})
	// istiod's pod, as the Deployment's controller makes it.
	f.Add(kPod.Resource, &corev1.Pod{TypeMeta: typeMeta("v1", "Pod"),
		ObjectMeta: meta("istiod-"+revision+"-abc", sys, map[string]string{"app": "istiod", mesh.LabelRevision: revision}),
		Status:     corev1.PodStatus{Phase: corev1.PodRunning}})
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

func obj(apiVersion, kind string, m metav1.ObjectMeta) map[string]any {
	b, _ := json.Marshal(m)
	var md map[string]any
	_ = json.Unmarshal(b, &md)
	return map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": md}
}

func addNamespace(f *kubefake.Objects, name string, labels map[string]string) {
	f.Add(kNamespace.Resource, &corev1.Namespace{TypeMeta: typeMeta("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}})
}

// addPod adds a running pod of Deployment deploy whose istio-proxy was
// injected by revision ("" for no proxy).
func addPod(f *kubefake.Objects, ns, deploy, name, revision string) {
	ctrl := true
	p := &corev1.Pod{TypeMeta: typeMeta("v1", "Pod"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": deploy, "pod-template-hash": "5d6f"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: deploy + "-5d6f", Controller: &ctrl}}},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	if revision != "" {
		always := corev1.ContainerRestartPolicyAlways
		p.Spec.InitContainers = []corev1.Container{{Name: mesh.ProxyContainer, RestartPolicy: &always}}
		p.Annotations = map[string]string{mesh.AnnotationStatus: `{"revision":"` + revision + `"}`}
	}
	f.Add(kPod.Resource, p)
}
