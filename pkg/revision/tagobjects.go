package revision

import (
	"fmt"
	"net/url"
	"strings"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshctl/meshctl/pkg/mesh"
)

// The objects of a revision tag are those `istioctl tag set` applies,
// rendered from Istio's charts (istio-discovery's revision-tags-mwc.yaml
// and revision-tags-svc.yaml, and the default chart's validatingwebhook.yaml
// for the default tag) with the revision's own injection webhook as the
// source of the client config, CA bundle and labels
// (istioctl/pkg/tag/generate.go). A test compares them with the real
// istioctl's output.

// TagWebhookName is the name of a tag's injection webhook in istio-system.
func TagWebhookName(tag string) string { return "istio-revision-tag-" + tag }

// TagServiceName is the name of a tag's Service.
func TagServiceName(tag string) string { return "istiod-revision-tag-" + tag }

// DefaultValidator is the validating webhook that the default tag owns:
// it validates Istio configuration cluster-wide.
const DefaultValidator = "istiod-default-validator"

// injectorSuffix ends the name of an injection webhook in Istio's
// configurations ("rev.namespace.sidecar-injector.istio.io").
const injectorSuffix = "sidecar-injector.istio.io"

// deactivated is istioctl's selector that matches nothing: `tag set
// default` puts it on the old default revision's webhooks rather than
// deleting them, so that revision can take the default back later.
var deactivated = &metav1.LabelSelector{MatchLabels: map[string]string{"istio.io/deactivated": "never-match"}}

// tagSource is what a tag's objects take from its revision's webhook.
type tagSource struct {
	revision string
	// url or service: how the API server reaches the injector.
	url              string
	service, path    string
	caBundle         []byte
	reinvocation     *admissionv1.ReinvocationPolicyType
	labels, annotate map[string]string
}

// sourceOf reads the injector of a revision's own webhook (canonical), as
// istioctl's tagWebhookConfigFromCanonicalWebhook does.
func sourceOf(canonical *admissionv1.MutatingWebhookConfiguration, revision string) (tagSource, error) {
	src := tagSource{revision: revision, labels: map[string]string{}}
	// The revision's annotations go on the tag's objects, as istioctl
	// copies them, but not kubectl's record of its last apply: on another
	// object it would make a later kubectl apply compute a wrong diff.
	for k, v := range canonical.Annotations {
		if k != "kubectl.kubernetes.io/last-applied-configuration" {
			if src.annotate == nil {
				src.annotate = map[string]string{}
			}
			src.annotate[k] = v
		}
	}
	found := false
	for _, w := range canonical.Webhooks {
		if !strings.HasSuffix(w.Name, injectorSuffix) {
			continue
		}
		found = true
		src.caBundle = w.ClientConfig.CABundle
		if w.ClientConfig.URL != nil {
			src.url = *w.ClientConfig.URL
		}
		if s := w.ClientConfig.Service; s != nil {
			src.service = s.Name
			if s.Path != nil {
				src.path = *s.Path
			}
		}
		src.reinvocation = w.ReinvocationPolicy
		break
	}
	if !found {
		return src, fmt.Errorf("injection webhook %s has no %s webhook to copy", canonical.Name, injectorSuffix)
	}
	// The revision's labels without "app", which names the webhook's own
	// function, and without the operator's, as istioctl drops them for a
	// tag the user manages.
	for k, v := range canonical.Labels {
		if k != "app" && !strings.Contains(k, "operator.istio.io") {
			src.labels[k] = v
		}
	}
	return src, nil
}

func (s tagSource) labelsFor(tag string, extra map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range s.labels {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	out[mesh.LabelRevision] = s.revision
	out[mesh.LabelTag] = tag
	out["app.kubernetes.io/name"] = mesh.IstiodApp
	return out
}

// tagWebhook is the tag's MutatingWebhookConfiguration: its namespaces
// (istio.io/rev=TAG) and pods (the pod label) go to the revision's
// injector; the default tag also takes istio-injection=enabled namespaces
// and pods labelled sidecar.istio.io/inject=true in unlabelled ones.
func (s tagSource) tagWebhook(tag string) *admissionv1.MutatingWebhookConfiguration {
	h := &admissionv1.MutatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: TagWebhookName(tag), Labels: s.labelsFor(tag, map[string]string{"app": "sidecar-injector"}), Annotations: s.annotate},
	}
	notOptedOut := expr(mesh.AnnotationInject, metav1.LabelSelectorOpNotIn, "false")
	h.Webhooks = []admissionv1.MutatingWebhook{
		s.injector("rev.namespace.",
			selector(expr(mesh.LabelRevision, metav1.LabelSelectorOpIn, tag), expr(mesh.LabelInjection, metav1.LabelSelectorOpDoesNotExist)),
			selector(notOptedOut)),
		s.injector("rev.object.",
			selector(expr(mesh.LabelRevision, metav1.LabelSelectorOpDoesNotExist), expr(mesh.LabelInjection, metav1.LabelSelectorOpDoesNotExist)),
			selector(notOptedOut, expr(mesh.LabelRevision, metav1.LabelSelectorOpIn, tag))),
	}
	if tag == mesh.DefaultRevision {
		h.Webhooks = append(h.Webhooks,
			s.injector("namespace.",
				selector(expr(mesh.LabelInjection, metav1.LabelSelectorOpIn, "enabled")),
				selector(notOptedOut)),
			s.injector("object.",
				selector(expr(mesh.LabelInjection, metav1.LabelSelectorOpDoesNotExist), expr(mesh.LabelRevision, metav1.LabelSelectorOpDoesNotExist)),
				selector(expr(mesh.AnnotationInject, metav1.LabelSelectorOpIn, "true"), expr(mesh.LabelRevision, metav1.LabelSelectorOpDoesNotExist))))
	}
	return h
}

// injector is one webhook of the chart's "core" template.
func (s tagSource) injector(prefix string, namespaces, objects *metav1.LabelSelector) admissionv1.MutatingWebhook {
	fail := admissionv1.Fail
	none := admissionv1.SideEffectClassNone
	reinvocation := admissionv1.NeverReinvocationPolicy
	if s.reinvocation != nil {
		reinvocation = *s.reinvocation
	}
	cc := admissionv1.WebhookClientConfig{CABundle: s.caBundle}
	if s.url != "" {
		u := s.url
		cc.URL = &u
	} else {
		path, port := s.path, int32(443)
		cc.Service = &admissionv1.ServiceReference{Name: s.service, Namespace: mesh.IstioSystem, Path: &path, Port: &port}
	}
	return admissionv1.MutatingWebhook{
		Name:         prefix + injectorSuffix,
		ClientConfig: cc,
		Rules: []admissionv1.RuleWithOperations{{
			Operations: []admissionv1.OperationType{admissionv1.Create},
			Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
		}},
		FailurePolicy:           &fail,
		SideEffects:             &none,
		ReinvocationPolicy:      &reinvocation,
		AdmissionReviewVersions: []string{"v1"},
		NamespaceSelector:       namespaces,
		ObjectSelector:          objects,
	}
}

// tagService is the tag's Service: istiod of the revision under the tag's
// name, for clients that address the control plane by tag.
func (s tagSource) tagService(tag string) *corev1.Service {
	port := func(name string, p, target int32) corev1.ServicePort {
		sp := corev1.ServicePort{Name: name, Port: p, Protocol: corev1.ProtocolTCP}
		if target != 0 {
			sp.TargetPort = intstr.FromInt32(target)
		}
		return sp
	}
	sel := map[string]string{"app": mesh.IstiodApp, mesh.LabelRevision: s.revision}
	if s.revision == mesh.DefaultRevision {
		sel = map[string]string{"app": mesh.IstiodApp, mesh.LabelIstio: "pilot"}
	}
	return &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: TagServiceName(tag), Namespace: mesh.IstioSystem,
			Labels: s.labelsFor(tag, map[string]string{"app": mesh.IstiodApp, mesh.LabelIstio: "pilot"})},
		Spec: corev1.ServiceSpec{
			Ports: []corev1.ServicePort{
				port("grpc-xds", 15010, 0), port("https-dns", 15012, 0),
				port("https-webhook", 443, mesh.IstiodWebhookPort), port("http-monitoring", 15014, 0),
			},
			Selector: sel,
		},
	}
}

// defaultValidator is the default tag's validating webhook: Istio
// configuration without an istio.io/rev label is validated by the default
// revision. An existing one's failure policy is kept, as istiod sets it to
// Fail once it serves (istioctl's fixWhConfig); a new one fails open until
// then.
func (s tagSource) defaultValidator(existing *admissionv1.ValidatingWebhookConfiguration) *admissionv1.ValidatingWebhookConfiguration {
	none := admissionv1.SideEffectClassNone
	policy := admissionv1.Ignore
	if existing != nil {
		for _, w := range existing.Webhooks {
			if w.FailurePolicy != nil {
				policy = *w.FailurePolicy
			}
		}
	}
	cc := admissionv1.WebhookClientConfig{CABundle: s.caBundle}
	if s.url != "" {
		u := s.url
		if parsed, err := url.Parse(s.url); err == nil {
			parsed.Path = "/validate"
			u = parsed.String()
		}
		cc.URL = &u
	} else {
		name, path := "istiod-"+s.revision, "/validate"
		if s.revision == mesh.DefaultRevision {
			name = "istiod"
		}
		cc.Service = &admissionv1.ServiceReference{Name: name, Namespace: mesh.IstioSystem, Path: &path}
	}
	return &admissionv1.ValidatingWebhookConfiguration{
		TypeMeta: metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: DefaultValidator, Annotations: s.annotate,
			Labels: s.labelsFor(mesh.DefaultRevision, map[string]string{"app": mesh.IstiodApp, mesh.LabelIstio: "istiod"})},
		Webhooks: []admissionv1.ValidatingWebhook{{
			Name:         "validation.istio.io",
			ClientConfig: cc,
			Rules: []admissionv1.RuleWithOperations{{
				Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
				Rule: admissionv1.Rule{APIGroups: []string{"security.istio.io", "networking.istio.io", "telemetry.istio.io", "extensions.istio.io"},
					APIVersions: []string{"*"}, Resources: []string{"*"}},
			}},
			FailurePolicy:           &policy,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
			ObjectSelector:          selector(expr(mesh.LabelRevision, metav1.LabelSelectorOpDoesNotExist)),
		}},
	}
}

func expr(key string, op metav1.LabelSelectorOperator, values ...string) metav1.LabelSelectorRequirement {
	return metav1.LabelSelectorRequirement{Key: key, Operator: op, Values: values}
}

func selector(reqs ...metav1.LabelSelectorRequirement) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchExpressions: reqs}
}
