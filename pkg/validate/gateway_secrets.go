package validate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshctl/meshctl/pkg/findings"
)

// gatewaySecrets: the gateway's namespace holds no Secret but those its
// Role names. istiod hands a gateway its certificate only if the gateway's
// ServiceAccount may `list secrets` in its namespace, a grant that cannot
// be narrowed by name, so the gateway can read every Secret there; in a
// namespace of its own (expose's default) that is its certificate alone.
func gatewaySecrets(ctx context.Context, st *state, e exposed) Case {
	gns, gw := e.gateway.Namespace, e.gateway.Name
	c := e.newCase("gateway secrets")
	role, err := st.c.Kube.RbacV1().Roles(gns).Get(ctx, gw, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return c // no grant, nothing reachable through it (istiod refuses the gateway: MC0223 and readiness say so)
	case err != nil:
		return apiFailed(GroupExposed, "gateway secrets", e.object(), "get the gateway's Role", err)
	}
	own, listsAll := secretGrants(role.Rules)
	if !listsAll {
		return c
	}
	secrets, err := st.c.Kube.CoreV1().Secrets(gns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return apiFailed(GroupExposed, "gateway secrets", e.object(), "list the Secrets in the gateway's namespace", err)
	}
	var others []string
	for _, s := range secrets.Items {
		if !slices.Contains(own, s.Name) && s.Type != corev1.SecretTypeServiceAccountToken {
			others = append(others, s.Name)
		}
	}
	if len(others) == 0 {
		return c
	}
	slices.Sort(others)
	c.Findings = append(c.Findings, findings.GatewaySharedSecrets.New(fmt.Sprintf("Role %s/%s", gns, gw),
		fmt.Sprintf("the gateway's ServiceAccount may list, and so read, %d other Secret(s) in %s: %s", len(others), gns, strings.Join(others, ", ")),
		fmt.Sprintf("give the gateway a namespace of its own: meshctl unexpose svc %s -n %s, then meshctl expose svc %s -n %s without --gateway-namespace (or move the other Secrets out of %s)",
			e.service, e.namespace, e.service, e.namespace, gns)))
	return c
}

// secretGrants reads a Role's rules on core Secrets: the names it grants by
// name, and whether it lets the holder list Secrets without naming them.
func secretGrants(rules []rbacv1.PolicyRule) (named []string, listsAll bool) {
	for _, r := range rules {
		core := slices.Contains(r.APIGroups, "") || slices.Contains(r.APIGroups, "*")
		secrets := slices.Contains(r.Resources, "secrets") || slices.Contains(r.Resources, "*")
		if !core || !secrets {
			continue
		}
		named = append(named, r.ResourceNames...)
		if len(r.ResourceNames) == 0 && (slices.Contains(r.Verbs, "list") || slices.Contains(r.Verbs, "*")) {
			listsAll = true
		}
	}
	return named, listsAll
}
