package validate

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	admv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/stubs"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/vm"
)

var now = time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func certPEM(t *testing.T, hosts []string, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: hosts[0]}, DNSNames: hosts,
		NotBefore: now.Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func ns(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func pod(namespace, name, proxyRev string, native bool, labels map[string]string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels, Annotations: map[string]string{}},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	if proxyRev != "" {
		c := corev1.Container{Name: "istio-proxy"}
		if native {
			c.RestartPolicy = ptr(corev1.ContainerRestartPolicyAlways)
			p.Spec.InitContainers = append(p.Spec.InitContainers, c)
		} else {
			p.Spec.Containers = append(p.Spec.Containers, c)
		}
		p.Annotations["sidecar.istio.io/status"] = `{"revision":"` + proxyRev + `"}`
	}
	return p
}

func deployment(namespace, name string, labels map[string]string, replicas, ready int32) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels},
		Spec:   appsv1.DeploymentSpec{Replicas: ptr(replicas), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{mesh.LabelGateway: name}}, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{mesh.LabelGateway: name}}}},
		Status: appsv1.DeploymentStatus{ReadyReplicas: ready}}
}

// fixture is a healthy mesh: revision asm-1 installed, namespace shop
// injected, Service shop/cart exposed through gateway cart-gateway.
type fixture struct {
	kube  []runtime.Object
	dyn   []runtime.Object
	stubs *stubs.Registry // set by clients
}

func healthy(t *testing.T) *fixture {
	gwLabels := mesh.OwnerLabels("shop", "cart") // as expose labels the gateway Deployment
	f := &fixture{}
	f.kube = []runtime.Object{
		ns("istio-system", nil),
		deployment("istio-system", "istiod-asm-1", map[string]string{"app": "istiod", "istio.io/rev": "asm-1"}, 2, 2),
		&admv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "istio-sidecar-injector-asm-1", Labels: map[string]string{"istio.io/rev": "asm-1"}},
			Webhooks: []admv1.MutatingWebhook{{Name: "rev.namespace.sidecar-injector.istio.io", ClientConfig: admv1.WebhookClientConfig{Service: &admv1.ServiceReference{Namespace: "istio-system", Name: "istiod-asm-1"}}}}},
		ns("shop", map[string]string{"istio.io/rev": "asm-1"}),
		ns("plain", nil),
		pod("shop", "cart-1", "asm-1", false, nil),
		pod("shop", "cart-2", "asm-1", true, nil), // native sidecar
		pod("plain", "free", "", false, nil),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "plain", Name: "raw"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 9999}}}},
		deployment("shop", "cart-gateway", gwLabels, 2, 2),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart-gateway", Labels: gwLabels,
			Annotations: map[string]string{"cloud.google.com/neg-status": `{"network_endpoint_groups":{"443":"cart-neg"},"zones":["us-central1-a","us-central1-b"]}`}},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "https", Port: 443}}}},
		pod("shop", "cart-gateway-1", "asm-1", false, map[string]string{mesh.LabelGateway: "cart-gateway", "istio.io/rev": "asm-1"}),
		&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart-gateway"},
			Spec: policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{mesh.LabelGateway: "cart-gateway"}}}},
		&autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart-gateway"},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "cart-gateway", APIVersion: "apps/v1"}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart-gateway-cert"}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: certPEM(t, []string{"cart.example.com"}, now.AddDate(0, 0, 90))}},
	}
	f.dyn = []runtime.Object{
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
			"metadata": map[string]any{"namespace": "shop", "name": "cart-gateway"},
			"spec":     map[string]any{"servers": []any{map[string]any{"hosts": []any{"./*"}, "tls": map[string]any{"mode": "SIMPLE", "credentialName": "cart-gateway-cert"}}}}}},
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
			"metadata": map[string]any{"namespace": "shop", "name": "cart-gateway"},
			"spec": map[string]any{"hosts": []any{"cart.example.com"}, "gateways": []any{"cart-gateway"},
				"http": []any{map[string]any{"route": []any{map[string]any{"destination": map[string]any{"host": "cart.shop.svc.cluster.local", "port": map[string]any{"number": int64(8080)}}}}}}}}},
	}
	return f
}

func (f *fixture) without(kind, namespace, name string) *fixture {
	f.kube = slices.DeleteFunc(f.kube, func(o runtime.Object) bool {
		m, _ := o.(metav1.Object)
		return m != nil && m.GetNamespace() == namespace && m.GetName() == name && typeName(o) == kind
	})
	f.dyn = slices.DeleteFunc(f.dyn, func(o runtime.Object) bool {
		u := o.(*unstructured.Unstructured)
		return u.GetKind() == kind && u.GetNamespace() == namespace && u.GetName() == name
	})
	return f
}

func typeName(o runtime.Object) string {
	t := fmt.Sprintf("%T", o)
	return t[strings.LastIndex(t, ".")+1:]
}

func (f *fixture) with(objs ...runtime.Object) *fixture {
	f.kube = append(f.kube, objs...)
	return f
}

// clients are fakes over the fixture's objects. validate only reads: a
// write fails the test, and so does a reaction stubbed with f.stubs.React
// that never runs.
func (f *fixture) clients(t *testing.T) (Clients, *fake.Clientset) {
	t.Helper()
	f.stubs = stubs.New(t)
	kc := fake.NewClientset(f.kube...)
	f.stubs.ReadOnly(kc)
	scheme := runtime.NewScheme()
	dc := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, map[schema.GroupVersionResource]string{
		gvrGateway: "GatewayList", gvrVirtualService: "VirtualServiceList",
		// The Gateway API path (pkg/gatewayapi) lists meshctl's routes and
		// policies; none here.
		{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}:  "HTTPRouteList",
		{Group: "networking.gke.io", Version: "v1", Resource: "healthcheckpolicies"}: "HealthCheckPolicyList",
		{Group: "networking.gke.io", Version: "v1", Resource: "gcpbackendpolicies"}:  "GCPBackendPolicyList",
		// VM groups (pkg/vm); none here.
		vm.GVRWorkloadGroup: "WorkloadGroupList", vm.GVRWorkloadEntry: "WorkloadEntryList"})
	for _, o := range f.dyn {
		u := o.(*unstructured.Unstructured)
		gvr := gvrGateway
		if u.GetKind() == "VirtualService" {
			gvr = gvrVirtualService
		}
		if _, err := dc.Resource(gvr).Namespace(u.GetNamespace()).Create(context.Background(), u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	f.stubs.ReadOnly(dc)
	return Clients{Kube: kc, Dynamic: dc}, kc
}

func run(t *testing.T, c Clients, opts Options) *Result {
	t.Helper()
	opts.Now = func() time.Time { return now }
	r, err := Run(context.Background(), c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// injector is an injection webhook configuration whose one webhook takes
// namespaces labelled key=value.
func injector(name string, labels map[string]string, key, value string) *admv1.MutatingWebhookConfiguration {
	return &admv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Webhooks: []admv1.MutatingWebhook{{Name: "namespace.sidecar-injector.istio.io",
			ClientConfig:      admv1.WebhookClientConfig{Service: &admv1.ServiceReference{Namespace: "istio-system", Name: "istiod"}},
			NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: key, Operator: metav1.LabelSelectorOpIn, Values: []string{value}}}}}}}
}

func codes(r *Result) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Code+" "+f.Object)
	}
	return out
}

func TestHealthyMeshPasses(t *testing.T) {
	c, _ := healthy(t).clients(t)
	r := run(t, c, Options{})
	if len(r.Findings) != 0 || r.Failed() {
		t.Fatalf("findings on a healthy mesh: %v", codes(r))
	}
	// Every check ran: one case each at least.
	var checks []string
	for _, cs := range r.Cases {
		if !slices.Contains(checks, cs.Check) {
			checks = append(checks, cs.Check)
		}
	}
	want := []string{"istiod ready", "injection webhook", "namespace labels", "sidecars", "port protocols",
		"gateway ready", "gateway PDB", "gateway HPA", "virtual service", "tls certificate", "default revision", "proxy revisions"}
	for _, w := range want {
		if !slices.Contains(checks, w) {
			t.Errorf("check %q did not run; ran %v", w, checks)
		}
	}
}

func TestFindings(t *testing.T) {
	gwPod := map[string]string{mesh.LabelGateway: "cart-gateway"}
	tests := []struct {
		name   string
		change func(t *testing.T, f *fixture)
		opts   Options
		want   []string // "CODE object"
		fails  bool
	}{
		{"pod without sidecar in a revision-labelled namespace", func(t *testing.T, f *fixture) {
			f.with(pod("shop", "bare", "", false, nil))
		}, Options{}, []string{"MC0210 Pod shop/bare"}, true},
		{"pod on another revision", func(t *testing.T, f *fixture) {
			f.with(deployment("istio-system", "istiod-asm-0", map[string]string{"app": "istiod", "istio.io/rev": "asm-0"}, 1, 1),
				pod("shop", "old", "asm-0", false, nil))
		}, Options{}, []string{"MC0211 Pod shop/old"}, false},
		{"pod on a revision that is gone", func(t *testing.T, f *fixture) {
			f.with(pod("shop", "old", "asm-0", false, nil), ns("loose", nil), pod("loose", "stray", "asm-0", false, nil))
		}, Options{}, []string{"MC0270 Pod/old in shop", "MC0270 Pod/stray in loose"}, true},
		{"opted out", func(t *testing.T, f *fixture) {
			p := pod("shop", "out", "", false, nil)
			p.Annotations["sidecar.istio.io/inject"] = "false"
			f.with(p)
		}, Options{}, []string{"MC0212 Pod shop/out"}, false},
		{"istio-injection=enabled namespace, no default revision: a pod without proxy still counts", func(t *testing.T, f *fixture) {
			f.with(ns("legacy", map[string]string{"istio-injection": "enabled"}), pod("legacy", "bare", "", false, nil))
		}, Options{}, []string{"MC0210 Pod legacy/bare"}, true},
		{"namespace labelled with a deleted revision", func(t *testing.T, f *fixture) {
			f.with(ns("stale", map[string]string{"istio.io/rev": "asm-0"}))
		}, Options{}, []string{"MC0204 Namespace stale"}, true},
		{"both injection labels", func(t *testing.T, f *fixture) {
			f.with(ns("both", map[string]string{"istio.io/rev": "asm-1", "istio-injection": "enabled"}))
		}, Options{}, []string{"MC0157 Namespace both"}, false},
		{"webhook for a missing revision", func(t *testing.T, f *fixture) {
			f.with(&admv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "istio-sidecar-injector-asm-0", Labels: map[string]string{"istio.io/rev": "asm-0"}},
				Webhooks: []admv1.MutatingWebhook{{Name: "x", ClientConfig: admv1.WebhookClientConfig{Service: &admv1.ServiceReference{Namespace: "istio-system", Name: "istiod-asm-0"}}}}})
		}, Options{}, []string{"MC0203 MutatingWebhookConfiguration istio-sidecar-injector-asm-0"}, true},
		{"tag pointing at a removed revision", func(t *testing.T, f *fixture) {
			f.with(injector("istio-revision-tag-prod", map[string]string{"istio.io/rev": "asm-0", "istio.io/tag": "prod"}, "istio.io/rev", "prod"))
		}, Options{}, []string{"MC0271 MutatingWebhookConfiguration istio-revision-tag-prod"}, true},
		{"two revisions serve istio-injection=enabled", func(t *testing.T, f *fixture) {
			f.with(deployment("istio-system", "istiod", map[string]string{"app": "istiod"}, 1, 1),
				injector("istio-sidecar-injector", nil, "istio-injection", "enabled"),
				injector("istio-revision-tag-default", map[string]string{"istio.io/rev": "asm-1", "istio.io/tag": "default"}, "istio-injection", "enabled"))
		}, Options{}, []string{"MC0272 cluster"}, true},
		{"the default tag deactivated the default revision's webhook", func(t *testing.T, f *fixture) {
			legacy := injector("istio-sidecar-injector", nil, "istio-injection", "enabled")
			legacy.Webhooks[0].NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"istio.io/deactivated": "never-match"}}
			f.with(deployment("istio-system", "istiod", map[string]string{"app": "istiod"}, 1, 1), legacy,
				injector("istio-revision-tag-default", map[string]string{"istio.io/rev": "asm-1", "istio.io/tag": "default"}, "istio-injection", "enabled"))
		}, Options{}, nil, false},
		{"istiod not ready", func(t *testing.T, f *fixture) {
			f.without("Deployment", "istio-system", "istiod-asm-1").with(deployment("istio-system", "istiod-asm-1", map[string]string{"app": "istiod", "istio.io/rev": "asm-1"}, 2, 0))
		}, Options{}, []string{"MC0202 Deployment istio-system/istiod-asm-1"}, true},
		{"service port without protocol in an injected namespace", func(t *testing.T, f *fixture) {
			f.with(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "data", Port: 7000}}}})
		}, Options{}, []string{"MC0156 Service shop/db port 7000"}, false},
		{"gateway not ready", func(t *testing.T, f *fixture) {
			d := deployment("shop", "cart-gateway", nil, 2, 1)
			for _, o := range f.kube {
				if x, ok := o.(*appsv1.Deployment); ok && x.Name == "cart-gateway" {
					d.Labels = x.Labels
				}
			}
			f.without("Deployment", "shop", "cart-gateway").with(d)
		}, Options{}, []string{"MC0220 Deployment shop/cart-gateway"}, true},
		{"gateway pod not injected", func(t *testing.T, f *fixture) {
			f.with(pod("shop", "cart-gateway-2", "", false, gwPod))
		}, Options{}, []string{"MC0210 Pod shop/cart-gateway-2", "MC0220 Pod shop/cart-gateway-2"}, true},
		{"PDB missing", func(t *testing.T, f *fixture) {
			f.without("PodDisruptionBudget", "shop", "cart-gateway")
		}, Options{}, []string{"MC0221 PodDisruptionBudget shop/cart-gateway"}, true},
		{"PDB selecting other pods", func(t *testing.T, f *fixture) {
			f.without("PodDisruptionBudget", "shop", "cart-gateway").with(&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart-gateway"},
				Spec: policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}}})
		}, Options{}, []string{"MC0221 PodDisruptionBudget shop/cart-gateway"}, true},
		{"HPA target missing", func(t *testing.T, f *fixture) {
			f.without("HorizontalPodAutoscaler", "shop", "cart-gateway").with(&autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart-gateway"},
				Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "gone"}}})
		}, Options{}, []string{"MC0222 HorizontalPodAutoscaler shop/cart-gateway"}, true},
		{"TLS secret deleted", func(t *testing.T, f *fixture) {
			f.without("Secret", "shop", "cart-gateway-cert")
		}, Options{}, []string{"MC0223 Secret shop/cart-gateway-cert"}, true},
		{"certificate for other hosts", func(t *testing.T, f *fixture) {
			f.without("Secret", "shop", "cart-gateway-cert").with(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart-gateway-cert"},
				Data: map[string][]byte{corev1.TLSCertKey: certPEM(t, []string{"other.example.com"}, now.AddDate(0, 0, 90))}})
		}, Options{}, []string{"MC0223 Secret shop/cart-gateway-cert"}, true},
		{"certificate expiring soon", func(t *testing.T, f *fixture) {
			f.without("Secret", "shop", "cart-gateway-cert").with(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart-gateway-cert"},
				Data: map[string][]byte{corev1.TLSCertKey: certPEM(t, []string{"cart.example.com"}, now.AddDate(0, 0, 10))}})
		}, Options{}, []string{"MC0224 Secret shop/cart-gateway-cert"}, false},
		{"certificate expiring soon fails with --fail-on warning", func(t *testing.T, f *fixture) {
			f.without("Secret", "shop", "cart-gateway-cert").with(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart-gateway-cert"},
				Data: map[string][]byte{corev1.TLSCertKey: certPEM(t, []string{"cart.example.com"}, now.AddDate(0, 0, 10))}})
		}, Options{FailOn: findings.Warning}, []string{"MC0224 Secret shop/cart-gateway-cert"}, true},
		{"VirtualService routing to a missing port", func(t *testing.T, f *fixture) {
			f.without("Service", "shop", "cart").with(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}})
		}, Options{}, []string{"MC0225 VirtualService shop/cart-gateway"}, true},
		{"VirtualService missing", func(t *testing.T, f *fixture) {
			f.without("VirtualService", "shop", "cart-gateway")
		}, Options{}, []string{"MC0225 VirtualService shop/cart-gateway"}, true},
		// pkg/mesh's revision rules, shared with inject and expose.
		{"istio-injection=disabled turns istio.io/rev off: pods without a proxy are as asked", func(t *testing.T, f *fixture) {
			f.with(ns("off", map[string]string{"istio.io/rev": "asm-1", "istio-injection": "disabled"}), pod("off", "bare", "", false, nil))
		}, Options{}, []string{"MC0157 Namespace off"}, false},
		{"a namespace's revision wins over a pod's own istio.io/rev", func(t *testing.T, f *fixture) {
			f.with(deployment("istio-system", "istiod-asm-2", map[string]string{"app": "istiod", "istio.io/rev": "asm-2"}, 1, 1),
				pod("shop", "labelled", "asm-1", false, map[string]string{"istio.io/rev": "asm-2"}))
		}, Options{}, nil, false},
		{"--namespace leaves other namespaces out", func(t *testing.T, f *fixture) {
			f.with(ns("stale", map[string]string{"istio.io/rev": "asm-0"}), ns("other", map[string]string{"istio.io/rev": "asm-1"}), pod("other", "bare", "", false, nil),
				// another team's broken control plane
				&admv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "istio-sidecar-injector-asm-0", Labels: map[string]string{"istio.io/rev": "asm-0"}},
					Webhooks: []admv1.MutatingWebhook{{Name: "x", ClientConfig: admv1.WebhookClientConfig{Service: &admv1.ServiceReference{Namespace: "istio-system", Name: "istiod-asm-0"}}}}})
		}, Options{Namespaces: []string{"shop"}}, nil, false},
		{"--service leaves other exposed services out", func(t *testing.T, f *fixture) {
			f.without("Secret", "shop", "cart-gateway-cert")
		}, Options{Services: []string{"shop/checkout"}}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := healthy(t)
			tt.change(t, f)
			c, _ := f.clients(t)
			r := run(t, c, tt.opts)
			got := codes(r)
			if !slices.Equal(sorted(got), sorted(tt.want)) {
				t.Errorf("findings = %v, want %v", got, tt.want)
			}
			if r.Failed() != tt.fails {
				t.Errorf("Failed() = %v, want %v", r.Failed(), tt.fails)
			}
			for _, f := range r.Findings {
				if f.Level.AtLeast(findings.Warning) && f.Hint == "" && f.Code != "MC0225" && f.Code != "MC0223" {
					t.Errorf("%s has no hint", f)
				}
			}
		})
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// An API call that fails is reported as MC0100 and the checks that do not
// need it still run.
func TestAPIErrorIsAFindingAndTheRestRuns(t *testing.T) {
	f := healthy(t)
	f.with(ns("stale", map[string]string{"istio.io/rev": "asm-0"}))
	c, kc := f.clients(t)
	f.stubs.React(kc, "list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	r := run(t, c, Options{})
	got := codes(r)
	if !slices.Contains(got, "MC0100 cluster") {
		t.Errorf("no MC0100 for the failed pod list: %v", got)
	}
	if !slices.Contains(got, "MC0204 Namespace stale") {
		t.Errorf("the namespace check did not run after the pod list failed: %v", got)
	}
	if !r.Failed() {
		t.Error("a failed API call must fail the run")
	}
}

// A caller who may not read istio-system still gets the webhooks, labels
// and sidecars checked; only istiod's readiness is reported as not checked.
func TestIstioSystemForbidden(t *testing.T) {
	f := healthy(t).with(pod("shop", "bare", "", false, nil))
	c, kc := f.clients(t)
	f.stubs.React(kc, "list", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetNamespace() != "istio-system" {
			return false, nil, nil
		}
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "", errors.New("not allowed"))
	})
	r := run(t, c, Options{})
	if got := codes(r); !slices.Equal(sorted(got), []string{"MC0100 cluster", "MC0210 Pod shop/bare"}) {
		t.Errorf("findings = %v, want istiod not checked (MC0100) and the pod without sidecar (MC0210)", got)
	}
	for _, f := range r.Findings {
		if f.Code == "MC0100" && !strings.Contains(f.Hint, "view ClusterRole") {
			t.Errorf("MC0100 without the permission hint: %+v", f)
		}
	}
}

func TestAsmcliLinesBecomeFindings(t *testing.T) {
	c, _ := healthy(t).clients(t)
	c.Asmcli = func(context.Context) ([]string, error) {
		return []string{
			"asmcli: Checking installation tool dependencies...",
			"asmcli: [WARNING]: nc not found, skipping k8s connection verification",
			"asmcli: [ERROR]: Cluster label not found - mesh_id",
			"unrelated line",
		}, errors.New("exit status 2")
	}
	r := run(t, c, Options{})
	got := codes(r)
	if !slices.Equal(sorted(got), []string{"MC0200 cluster", "MC0201 cluster"}) {
		t.Errorf("findings = %v", got)
	}
	c.Asmcli = func(context.Context) ([]string, error) { return nil, errors.New("asmcli not found") }
	if got := codes(run(t, c, Options{})); !slices.Equal(got, []string{"MC0200 cluster"}) {
		t.Errorf("asmcli that cannot run: findings = %v", got)
	}
}

func TestListsArePaginated(t *testing.T) {
	f := healthy(t)
	c, kc := f.clients(t)
	var limits []int64
	f.stubs.React(kc, "list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if l, ok := a.(k8stesting.ListActionImpl); ok && l.ListOptions.LabelSelector == "" {
			limits = append(limits, l.ListOptions.Limit)
		}
		return false, nil, nil
	})
	run(t, c, Options{})
	if len(limits) == 0 || limits[0] != kube.PageSize {
		t.Errorf("pod lists with limits %v, want the first with %d", limits, kube.PageSize)
	}
}

func TestJUnitRoundTrip(t *testing.T) {
	f := healthy(t).without("Secret", "shop", "cart-gateway-cert")
	f.with(ns("both", map[string]string{"istio.io/rev": "asm-1", "istio-injection": "enabled"}))
	c, _ := f.clients(t)
	r := run(t, c, Options{})
	var buf bytes.Buffer
	if err := r.WriteJUnit(&buf); err != nil {
		t.Fatal(err)
	}
	var doc JUnitSuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not valid XML: %v\n%s", err, buf.String())
	}
	if doc.Tests != len(r.Cases) || doc.Failures != 1 {
		t.Errorf("tests=%d failures=%d, want %d and 1", doc.Tests, doc.Failures, len(r.Cases))
	}
	var failed, warned []string
	for _, s := range doc.Suites {
		for _, tc := range s.Cases {
			if tc.Failure != nil {
				failed = append(failed, tc.Name+" "+tc.Failure.Type)
			}
			if strings.Contains(tc.SystemOut, "MC0157") {
				warned = append(warned, tc.Name)
			}
		}
	}
	if !slices.Equal(failed, []string{"tls certificate: Service shop/cart MC0223"}) {
		t.Errorf("failed cases %v", failed)
	}
	if !slices.Equal(warned, []string{"namespace labels: Namespace both"}) {
		t.Errorf("a warning below --fail-on belongs in system-out: %v", warned)
	}
}

func TestRenderText(t *testing.T) {
	f := healthy(t).with(pod("shop", "bare", "", false, nil))
	c, _ := f.clients(t)
	r := run(t, c, Options{})
	var buf bytes.Buffer
	if err := r.RenderText(&buf, ui.Styles{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"Control plane\n", "Data plane\n", "Exposed services\n",
		"✗ sidecars  Namespace shop", "MC0210 (Pod shop/bare) no istio-proxy", "hint: kubectl -n shop delete pod bare",
		"✓ gateway PDB  Service shop/cart", "✗ mesh not valid: 1 error, 0 warnings (--fail-on error)"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
}
