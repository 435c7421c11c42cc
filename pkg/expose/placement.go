package expose

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// placement is where the gateway runs, and why there.
type placement struct {
	ns *corev1.Namespace
	// own: the namespace is the gateway's alone (meshctl made it, or
	// makes it: exists is false).
	own, exists bool
	// kept: no --gateway-namespace, and meshctl's gateway for the Service
	// already runs in ns, where it stays (moving it is the user's choice).
	kept bool
}

// placeGateway decides the gateway's namespace: --gateway-namespace; else
// the namespace where meshctl's gateway for the Service runs already (a
// re-run never moves a serving gateway by itself); else the gateway's own
// namespace, DedicatedNamespace, made by meshctl. It only reads.
func placeGateway(ctx context.Context, c kube.Objects, opts Options, svcNS *corev1.Namespace) (placement, error) {
	name, explicit := opts.GatewayNamespace, opts.GatewayNamespace != ""
	dedicated := DedicatedNamespace(opts.Namespace, opts.Service)
	var pl placement
	if !explicit {
		where, err := runningGateway(ctx, c, opts.Namespace, opts.Service, dedicated)
		if err != nil {
			return pl, err
		}
		name, pl.kept = where, where != ""
		if name == "" {
			name = dedicated
		}
	}
	if name == opts.Namespace {
		pl.ns, pl.exists = svcNS, true
		return pl, nil
	}
	ns, err := get[corev1.Namespace](ctx, c, kNamespace, "", name)
	switch {
	case kube.IsNotFound(err) && name == dedicated:
		pl.ns, pl.own = &corev1.Namespace{}, true
		pl.ns.Name = name
		return pl, nil
	case kube.IsNotFound(err):
		_, err = namespace(ctx, c, name, "--gateway-namespace")
		return pl, err
	case err != nil:
		return pl, fmt.Errorf("read namespace %s: %w", name, err)
	}
	pl.ns, pl.exists = ns, true
	pl.own = mesh.OwnedBy(ns.Labels, opts.Namespace, opts.Service)
	if !pl.own && !explicit && !pl.kept {
		return pl, failure.WithHint(fmt.Errorf("namespace %s, where the gateway of %s/%s would run alone, exists and was not made by meshctl for it (%s)",
			name, opts.Namespace, opts.Service, describeOwner(ns.Labels)),
			fmt.Sprintf("run the gateway there anyway with --gateway-namespace %s (its Role then lets it list every Secret there), or in another namespace", name))
	}
	return pl, nil
}

// runningGateway is the namespace of meshctl's gateway Deployment for
// namespace/service, or "" when there is none. Where the user may not list
// Deployments cluster-wide, it looks where expose puts gateways by itself.
func runningGateway(ctx context.Context, c kube.Objects, namespace, service, dedicated string) (string, error) {
	sel := mesh.OwnerSelector(namespace, service)
	items, err := c.List(ctx, kDeployment.Resource, "", sel)
	if apierrors.IsForbidden(err) {
		items = nil
		for _, ns := range []string{namespace, dedicated} {
			more, nerr := c.List(ctx, kDeployment.Resource, ns, sel)
			if nerr != nil && !apierrors.IsForbidden(nerr) {
				return "", apiError("list Deployments in "+ns, nerr)
			}
			items = append(items, more...)
		}
		err = nil
	}
	if err != nil {
		return "", apiError("list the Deployments meshctl made for "+namespace+"/"+service, err)
	}
	for _, d := range items {
		if matchLabels(d.Object)[mesh.LabelGateway] != "" {
			return d.GetNamespace(), nil
		}
	}
	return "", nil
}

// matchLabels reads a Deployment's spec.selector.matchLabels (a gateway's
// holds mesh.LabelGateway).
func matchLabels(obj map[string]any) map[string]string {
	ml, _, _ := unstructured.NestedStringMap(obj, "spec", "selector", "matchLabels")
	return ml
}

// sharedNamespaceWarning says what running the gateway in a namespace it
// shares grants: the Role's bare `list secrets` (istiod's SDS check needs
// it) covers every Secret there, which list returns in full.
func sharedNamespaceWarning(ctx context.Context, c kube.Objects, s Spec, pl placement) string {
	gns := s.GatewayNamespace
	secrets, err := list[corev1.Secret](ctx, c, kSecret, gns, "")
	count := ""
	switch {
	case err != nil:
		count = "meshctl could not count them: " + err.Error()
	default:
		var others []string
		for _, sec := range secrets {
			if sec.Name != s.CertSecret && sec.Name != s.Names.CertSecret {
				others = append(others, sec.Name)
			}
		}
		count = fmt.Sprintf("%d other Secrets there now", len(others))
		if len(others) > 0 {
			count += ": " + listNames(others)
		}
	}
	move := "leave out --gateway-namespace to give it a namespace of its own"
	if pl.kept {
		move = "pass --gateway-namespace " + DedicatedNamespace(s.Namespace, s.Service) + " to move it to a namespace of its own (meshctl makes it)"
	}
	return fmt.Sprintf("the gateway of %s/%s runs in namespace %s, which it shares: its Role's `list secrets` (istiod's SDS access check needs it) lets the gateway's ServiceAccount %s/%s read every Secret in %s (%s); %s",
		s.Namespace, s.Service, gns, gns, s.Names.Gateway, gns, count, move)
}
