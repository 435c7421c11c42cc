package managed

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// The ControlPlaneRevision API Google installs with the managed control
// plane (controlplanerevisions.mesh.cloud.google.com), newest version first.
var cprVersions = []schema.GroupVersionResource{
	{Group: "mesh.cloud.google.com", Version: "v1beta1", Resource: "controlplanerevisions"},
	{Group: "mesh.cloud.google.com", Version: "v1alpha1", Resource: "controlplanerevisions"},
}

// CPRInfo is a ControlPlaneRevision as the cluster shows it.
type CPRInfo struct {
	Name       string         `json:"name"`
	Namespace  string         `json:"namespace"`
	Type       string         `json:"type,omitempty"`
	Channel    string         `json:"channel,omitempty"`
	Conditions []CPRCondition `json:"conditions,omitempty"`
}

// CPRCondition is one of status.conditions.
type CPRCondition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

func (c CPRInfo) condition(t string) string {
	for _, cond := range c.Conditions {
		if cond.Type == t {
			return cond.Status
		}
	}
	return ""
}

// Ready reports what asmcli (ProvisioningFinished) and Terraform
// (Reconciled) wait for, with no Stalled condition.
func (c CPRInfo) Ready() bool {
	if c.condition("Stalled") == "True" {
		return false
	}
	return c.condition("Reconciled") == "True" || c.condition("ProvisioningFinished") == "True"
}

// Summary lists the conditions, e.g. "Reconciled=True, ProvisioningFinished=True".
func (c CPRInfo) Summary() string {
	var parts []string
	for _, cond := range c.Conditions {
		parts = append(parts, cond.Type+"="+cond.Status)
	}
	if len(parts) == 0 {
		return "no conditions yet"
	}
	return strings.Join(parts, ", ")
}

// WebhookInfo is a revision's injection webhook.
type WebhookInfo struct {
	Name string `json:"name"`
	// ClientConfig is "url https://..." (Google-hosted, managed) or
	// "service NS/NAME" (an in-cluster istiod).
	ClientConfig string `json:"clientConfig"`
	// DefaultTag names the `default` revision tag's webhook when it points
	// at the revision: istio-injection=enabled then injects it.
	DefaultTag string `json:"defaultTag,omitempty"`
}

func clientConfigText(c admissionv1.WebhookClientConfig) string {
	switch {
	case c.URL != nil:
		return "url " + *c.URL
	case c.Service != nil:
		return "service " + c.Service.Namespace + "/" + c.Service.Name
	}
	return "none"
}

// ReadCPR returns the named ControlPlaneRevision in istio-system; found is
// false when the CRD or the object does not exist.
func (in Installer) ReadCPR(ctx context.Context, name string) (info *CPRInfo, found bool, err error) {
	if in.Dynamic == nil {
		return nil, false, nil
	}
	for _, gvr := range cprVersions {
		u, err := in.Dynamic.Resource(gvr).Namespace(mesh.IstioSystem).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue // object absent, or this version not served
		}
		if err != nil {
			return nil, false, fmt.Errorf("read ControlPlaneRevision %s: %w", name, err)
		}
		return cprInfo(u), true, nil
	}
	return nil, false, nil
}

func cprInfo(u *unstructured.Unstructured) *CPRInfo {
	info := &CPRInfo{Name: u.GetName(), Namespace: u.GetNamespace()}
	info.Type, _, _ = unstructured.NestedString(u.Object, "spec", "type")
	info.Channel, _, _ = unstructured.NestedString(u.Object, "spec", "channel")
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		s := func(k string) string { v, _ := m[k].(string); return v }
		info.Conditions = append(info.Conditions, CPRCondition{Type: s("type"), Status: s("status"), Reason: s("reason"), Message: s("message")})
	}
	return info
}

// readWebhook finds the revision's injection webhook and the default tag.
func (in Installer) readWebhook(ctx context.Context, revision string) (*WebhookInfo, error) {
	hooks, err := in.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations().List(ctx, metav1.ListOptions{LabelSelector: mesh.LabelRevision + "=" + revision})
	if err != nil {
		return nil, fmt.Errorf("list injection webhooks: %w", err)
	}
	items := hooks.Items
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	var info *WebhookInfo
	tag := ""
	for _, h := range items {
		if h.Labels[mesh.LabelTag] != "" {
			if h.Labels[mesh.LabelTag] == mesh.DefaultRevision {
				tag = h.Name
			}
			continue
		}
		if info == nil && len(h.Webhooks) > 0 {
			info = &WebhookInfo{Name: h.Name, ClientConfig: clientConfigText(h.Webhooks[0].ClientConfig)}
		}
	}
	if info != nil {
		info.DefaultTag = tag
	}
	return info, nil
}

// confirm waits until the cluster shows what the fleet reported: the
// revision's ControlPlaneRevision ready and its injection webhook.
func (in Installer) confirm(ctx context.Context, revision string) (*CPRInfo, *WebhookInfo, []string, error) {
	timeout := in.ConfirmTimeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	deadline := in.now().Add(timeout)
	interval := in.MinPoll
	if interval <= 0 {
		interval = time.Second
	}
	var (
		cpr  *CPRInfo
		hook *WebhookInfo
		last string
	)
	for {
		var found bool
		var err error
		cpr, found, err = in.ReadCPR(ctx, revision)
		if err != nil {
			return nil, nil, nil, err
		}
		if hook, err = in.readWebhook(ctx, revision); err != nil {
			return nil, nil, nil, err
		}
		switch {
		case !found:
			last = "no ControlPlaneRevision " + revision + " in istio-system"
		case cpr.condition("Stalled") == "True":
			return cpr, hook, nil, failure.WithHint(fmt.Errorf("ControlPlaneRevision %s is stalled (%s)", revision, cpr.Summary()),
				"kubectl describe controlplanerevision -n istio-system "+revision)
		case !cpr.Ready():
			last = "ControlPlaneRevision " + revision + ": " + cpr.Summary()
		case hook == nil:
			last = "no injection webhook labelled istio.io/rev=" + revision
		default:
			labels := []string{mesh.LabelRevision + "=" + revision}
			if hook.DefaultTag != "" {
				labels = append([]string{mesh.LabelInjection + "=enabled"}, labels...)
			}
			return cpr, hook, labels, nil
		}
		if in.now().After(deadline) {
			return cpr, hook, nil, failure.WithHint(fmt.Errorf("the fleet reports revision %s ready, but the cluster does not show it after %s: %s", revision, timeout, last),
				"check that the kube context (--context) is this cluster's; `kubectl get controlplanerevisions -n istio-system` lists what Google installed")
		}
		if err := sleep(ctx, interval); err != nil {
			return cpr, hook, nil, fmt.Errorf("confirm revision %s in the cluster (%s): %w", revision, last, err)
		}
		interval = min(interval*2, 5*time.Second)
	}
}

// waitGone waits until the revision's ControlPlaneRevision has left the
// cluster, up to ConfirmTimeout; it reports whether it did.
func (in Installer) waitGone(ctx context.Context, revision string) (bool, error) {
	if in.Dynamic == nil {
		return true, nil
	}
	timeout := in.ConfirmTimeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	deadline := in.now().Add(timeout)
	interval := max(in.MinPoll, 100*time.Millisecond)
	for {
		_, found, err := in.ReadCPR(ctx, revision)
		if err != nil {
			return false, err
		}
		if !found {
			return true, nil
		}
		if in.now().After(deadline) {
			return false, nil
		}
		if err := sleep(ctx, interval); err != nil {
			return false, err
		}
		interval = min(interval*2, 5*time.Second)
	}
}
