package mesh

import (
	"strings"
	"testing"
)

const rendered = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: istiod-asm-1
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: istio-sidecar-injector-asm-1
webhooks:
- name: rev.namespace.sidecar-injector.istio.io
  clientConfig:
    service:
      name: istiod-asm-1
      namespace: istio-system
      path: /inject/cluster/c1/net/n1
  admissionReviewVersions: ["v1"]
  sideEffects: None
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: istio-validator-asm-1-istio-system
webhooks:
- name: rev.validation.istio.io
  clientConfig:
    service:
      name: istiod-asm-1
      namespace: istio-system
      path: /validate
  admissionReviewVersions: ["v1"]
  sideEffects: None
`

func TestWebhooksPointAtLocalIstiod(t *testing.T) {
	rest, hooks := SplitWebhooks([]byte(rendered))
	if len(rest) != 1 || len(hooks) != 2 {
		t.Fatalf("split into %d + %d documents, want 1 + 2", len(rest), len(hooks))
	}
	local, err := LocalWebhooks(hooks, 15017)
	if err != nil {
		t.Fatal(err)
	}
	all := string(Join(local))
	for _, want := range []string{"url: https://localhost:15017/inject/cluster/c1/net/n1", "url: https://localhost:15017/validate"} {
		if !strings.Contains(all, want) {
			t.Errorf("rewritten webhooks lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "service:") {
		t.Errorf("a webhook still points at the in-cluster Service:\n%s", all)
	}
	// A second rewrite (istiod restarted on another port) keeps the path.
	again, _ := LocalWebhooks(local, 20000)
	if !strings.Contains(string(Join(again)), "url: https://localhost:20000/validate") {
		t.Errorf("re-pointing lost the path:\n%s", Join(again))
	}
}
