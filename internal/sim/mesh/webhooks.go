package mesh

import (
	"context"
	"fmt"
	"net/url"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// PointWebhooks rewrites the client config of every injection and validation
// webhook of the revision from the in-cluster istiod Service to the local
// istiod at https://localhost:port, keeping each webhook's path. istiod
// itself keeps their caBundle current.
func PointWebhooks(ctx context.Context, kc kubernetes.Interface, revision string, port int) error {
	sel := metav1.ListOptions{LabelSelector: "istio.io/rev=" + revision}
	mutating, err := kc.AdmissionregistrationV1().MutatingWebhookConfigurations().List(ctx, sel)
	if err != nil {
		return fmt.Errorf("list injection webhooks: %w", err)
	}
	for _, cfg := range mutating.Items {
		changed := false
		for i := range cfg.Webhooks {
			changed = toLocal(&cfg.Webhooks[i].ClientConfig, port) || changed
		}
		if changed {
			if _, err := kc.AdmissionregistrationV1().MutatingWebhookConfigurations().Update(ctx, &cfg, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("point %s at the local istiod: %w", cfg.Name, err)
			}
		}
	}
	validating, err := kc.AdmissionregistrationV1().ValidatingWebhookConfigurations().List(ctx, sel)
	if err != nil {
		return fmt.Errorf("list validation webhooks: %w", err)
	}
	for _, cfg := range validating.Items {
		changed := false
		for i := range cfg.Webhooks {
			changed = toLocal(&cfg.Webhooks[i].ClientConfig, port) || changed
		}
		if changed {
			if _, err := kc.AdmissionregistrationV1().ValidatingWebhookConfigurations().Update(ctx, &cfg, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("point %s at the local istiod: %w", cfg.Name, err)
			}
		}
	}
	return nil
}

func toLocal(c *admissionv1.WebhookClientConfig, port int) bool {
	path := "/"
	switch {
	case c.Service != nil && c.Service.Path != nil:
		path = *c.Service.Path
	case c.URL != nil:
		// Pointed earlier, perhaps at an istiod that has since restarted on another port.
		if u, err := url.Parse(*c.URL); err == nil {
			path = u.Path
		}
	}
	target := fmt.Sprintf("https://localhost:%d%s", port, path)
	if c.Service == nil && c.URL != nil && *c.URL == target {
		return false
	}
	c.Service = nil
	c.URL = &target
	return true
}
