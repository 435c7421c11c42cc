package mesh

import (
	"bytes"
	"fmt"
	"net/url"
	"regexp"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/yaml"
)

var (
	docSeparator = regexp.MustCompile(`(?m)^---\s*$`)
	webhookKind  = regexp.MustCompile(`(?m)^kind:\s*(Mutating|Validating)WebhookConfiguration\s*$`)
)

// SplitWebhooks separates a rendered manifest into everything but the
// webhook configurations, and the webhook configurations, so the webhooks
// can be applied pointing at the local istiod once it runs.
func SplitWebhooks(manifest []byte) (rest, webhooks [][]byte) {
	for _, doc := range docSeparator.Split(string(manifest), -1) {
		if len(bytes.TrimSpace([]byte(doc))) == 0 {
			continue
		}
		if webhookKind.MatchString(doc) {
			webhooks = append(webhooks, []byte(doc))
		} else {
			rest = append(rest, []byte(doc))
		}
	}
	return rest, webhooks
}

// Join joins manifest documents.
func Join(docs [][]byte) []byte {
	return bytes.Join(docs, []byte("\n---\n"))
}

// LocalWebhooks rewrites the client config of every webhook in the given
// configurations from the in-cluster istiod Service to the local istiod at
// https://localhost:port, keeping each webhook's path. istiod itself keeps
// their caBundle current.
func LocalWebhooks(docs [][]byte, port int) ([][]byte, error) {
	var out [][]byte
	for _, doc := range docs {
		var probe struct{ Kind string }
		if err := yaml.Unmarshal(doc, &probe); err != nil {
			return nil, err
		}
		var obj any
		switch probe.Kind {
		case "MutatingWebhookConfiguration":
			var cfg admissionv1.MutatingWebhookConfiguration
			if err := yaml.Unmarshal(doc, &cfg); err != nil {
				return nil, err
			}
			for i := range cfg.Webhooks {
				toLocal(&cfg.Webhooks[i].ClientConfig, port)
			}
			obj = &cfg
		case "ValidatingWebhookConfiguration":
			var cfg admissionv1.ValidatingWebhookConfiguration
			if err := yaml.Unmarshal(doc, &cfg); err != nil {
				return nil, err
			}
			for i := range cfg.Webhooks {
				toLocal(&cfg.Webhooks[i].ClientConfig, port)
			}
			obj = &cfg
		default:
			return nil, fmt.Errorf("not a webhook configuration: %s", probe.Kind)
		}
		b, err := yaml.Marshal(obj)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func toLocal(c *admissionv1.WebhookClientConfig, port int) {
	path := "/"
	switch {
	case c.Service != nil && c.Service.Path != nil:
		path = *c.Service.Path
	case c.URL != nil:
		if u, err := url.Parse(*c.URL); err == nil {
			path = u.Path
		}
	}
	target := fmt.Sprintf("https://localhost:%d%s", port, path)
	c.Service = nil
	c.URL = &target
}
