package validate

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// gatewayRole is the Role expose gives cart's gateway: its certificate by
// name, and the bare list istiod's SDS check needs.
func gatewayRole(bareList bool) *rbacv1.Role {
	r := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart-gateway"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"cart-gateway-cert"}, Verbs: []string{"get", "watch", "list"}},
	}}
	if bareList {
		r.Rules = append(r.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"list"}})
	}
	return r
}

func TestGatewaySecrets(t *testing.T) {
	other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db-password"}}
	token := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "legacy-token"}, Type: corev1.SecretTypeServiceAccountToken}
	tests := []struct {
		name string
		f    func(t *testing.T) *fixture
		want []string
	}{
		{"its own certificate alone", func(t *testing.T) *fixture { return healthy(t).with(gatewayRole(true), token) }, nil},
		{"another Secret it may list", func(t *testing.T) *fixture { return healthy(t).with(gatewayRole(true), other) }, []string{"MC0250 Role shop/cart-gateway"}},
		{"another Secret, no bare list", func(t *testing.T) *fixture { return healthy(t).with(gatewayRole(false), other) }, nil},
		{"no Role", func(t *testing.T) *fixture { return healthy(t).with(other) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := tt.f(t).clients(t)
			r := run(t, c, Options{})
			if got := codes(r); !slices.Equal(got, tt.want) {
				t.Fatalf("findings %v, want %v", got, tt.want)
			}
			if r.Failed() {
				t.Error("a warning failed the run")
			}
			ran := false
			for _, cs := range r.Cases {
				ran = ran || cs.Check == "gateway secrets"
			}
			if !ran {
				t.Error("the gateway secrets check did not run")
			}
			if tt.want != nil && (!strings.Contains(r.Findings[0].Message, "1 other Secret(s) in shop: db-password") ||
				!strings.Contains(r.Findings[0].Hint, "meshctl expose svc cart -n shop without --gateway-namespace")) {
				t.Errorf("finding %+v", r.Findings[0])
			}
		})
	}
}
