package expose

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixedCert stands in for a generated certificate in golden files.
var fixedCert = &Cert{
	CertPEM:  []byte("-----BEGIN CERTIFICATE-----\nZmFrZQ==\n-----END CERTIFICATE-----\n"),
	Key:      privateKey("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n"),
	NotAfter: time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC),
}

func baseSpec() Spec {
	return Spec{
		Namespace: "shop", Service: "web", Port: 80, Selector: map[string]string{"app": "web"},
		Hosts: []string{"www.example.com"}, Revision: "asm-1", GatewayNamespace: "shop",
		Names:    NamesFor("shop", "web", "shop", "0a1b2c3d"),
		Replicas: 3, MinReplicas: 3, MaxReplicas: 5, CPUTarget: 80,
		CertSecret: "web-gateway-cert", Cert: fixedCert, NetworkPolicy: true,
	}
}

func TestRenderGolden(t *testing.T) {
	cases := map[string]func(s *Spec){
		// One host, gateway next to the Service, meshctl's certificate.
		"basic": func(*Spec) {},
		// Several hosts with a wildcard, the gateway in its own namespace,
		// STRICT mTLS, a revision tag and a wider autoscaler.
		"own-namespace-strict": func(s *Spec) {
			s.Hosts = []string{"api.example.com", "*.api.example.com"}
			s.Port = 9090
			s.GatewayNamespace = "shop-ingress"
			s.Names = NamesFor("shop", "web", "shop-ingress", "0a1b2c3d")
			s.CertSecret = s.Names.CertSecret
			s.Revision = "prod"
			s.StrictMTLS = true
			s.MinReplicas, s.MaxReplicas, s.Replicas, s.CPUTarget = 2, 10, 4, 60
		},
		// The user's own certificate Secret: meshctl makes none. No
		// NetworkPolicy (--no-network-policy).
		"user-cert": func(s *Spec) {
			s.CertSecret = "my-tls"
			s.Cert = nil
			s.NetworkPolicy = false
		},
		// The default: the gateway in a namespace of its own, which
		// meshctl makes first, with its NetworkPolicy.
		"dedicated-namespace": func(s *Spec) {
			s.GatewayNamespace = DedicatedNamespace("shop", "web")
			s.Names = NamesFor("shop", "web", s.GatewayNamespace, "0a1b2c3d")
			s.CertSecret = s.Names.CertSecret
			s.OwnNamespace = true
		},
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			s := baseSpec()
			mod(&s)
			got, err := Manifests(Render(s))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", name+".golden"), got)
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs (run go test -update after checking):\n--- got\n%s", path, got)
	}
}

var (
	rfc1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	rfc1035Label = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
)

func TestNames(t *testing.T) {
	n63 := strings.Repeat("n", 63)
	s63 := "s" + strings.Repeat("x", 62)
	cases := []struct {
		name                 string
		ns, svc, gwNS        string
		wantGateway, wantPA  string
		wantCert             string
		wantHashedGateway    bool
		wantGatewayMaxLength bool
	}{
		{name: "same namespace", ns: "shop", svc: "web", gwNS: "shop",
			wantGateway: "web-gateway", wantCert: "web-gateway-cert", wantPA: "web-strict-mtls"},
		{name: "gateway namespace of its own", ns: "shop", svc: "web", gwNS: "edge",
			wantGateway: "web-shop-gateway", wantCert: "web-shop-gateway-cert", wantPA: "web-strict-mtls"},
		// 55 + len("-gateway") = 63: fits exactly, no hash.
		{name: "exactly 63", ns: "shop", svc: "w" + strings.Repeat("x", 54), gwNS: "shop",
			wantGateway: "w" + strings.Repeat("x", 54) + "-gateway"},
		{name: "longest names", ns: n63, svc: s63, gwNS: "edge", wantHashedGateway: true, wantGatewayMaxLength: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := NamesFor(tc.ns, tc.svc, tc.gwNS, "0a1b2c3d")
			if tc.wantGateway != "" && n.Gateway != tc.wantGateway {
				t.Errorf("Gateway = %q, want %q", n.Gateway, tc.wantGateway)
			}
			if tc.wantCert != "" && n.CertSecret != tc.wantCert {
				t.Errorf("CertSecret = %q, want %q", n.CertSecret, tc.wantCert)
			}
			if tc.wantPA != "" && n.PeerAuthentication != tc.wantPA {
				t.Errorf("PeerAuthentication = %q, want %q", n.PeerAuthentication, tc.wantPA)
			}
			if tc.wantGatewayMaxLength && len(n.Gateway) != MaxNameLength {
				t.Errorf("Gateway %q has %d characters, want the full %d", n.Gateway, len(n.Gateway), MaxNameLength)
			}
			if tc.wantHashedGateway && !regexp.MustCompile(`-[0-9a-f]{8}-gateway$`).MatchString(n.Gateway) {
				t.Errorf("Gateway %q: a truncated name keeps its suffix after a hash", n.Gateway)
			}
			for what, v := range map[string]string{"Gateway": n.Gateway, "CertSecret": n.CertSecret, "PeerAuthentication": n.PeerAuthentication} {
				if len(v) > MaxNameLength || !rfc1123Label.MatchString(v) {
					t.Errorf("%s %q is not an RFC 1123 label of at most 63 characters", what, v)
				}
			}
			// The gateway's Service name must also be an RFC 1035 label.
			if msgs := validation.IsDNS1035Label(n.Gateway); len(msgs) > 0 {
				t.Errorf("Gateway %q cannot name a Service: %v", n.Gateway, msgs)
			}
			if len(n.NEG) > MaxNameLength || !rfc1035Label.MatchString(n.NEG) {
				t.Errorf("NEG %q is not a Compute name (RFC 1035, at most 63)", n.NEG)
			}
		})
	}
}

func TestLongNamesStayDistinct(t *testing.T) {
	long := "s" + strings.Repeat("x", 61)
	a := NamesFor("shop", long+"a", "edge", "0a1b2c3d")
	b := NamesFor("shop", long+"b", "edge", "0a1b2c3d")
	if a.Gateway == b.Gateway || a.CertSecret == b.CertSecret || a.NEG == b.NEG || a.PeerAuthentication == b.PeerAuthentication {
		t.Errorf("Services differing only past the truncation share names: %+v %+v", a, b)
	}
	if NamesFor("shop", "web", "shop", "0a1b2c3d").NEG == NamesFor("shop", "web", "shop", "99999999").NEG {
		t.Error("two clusters of a project would share NEG names")
	}
	if got, again := NamesFor("shop", long, "edge", "x"), NamesFor("shop", long, "edge", "x"); got != again {
		t.Errorf("names are not deterministic: %+v, %+v", got, again)
	}
}

func objectOf[T any](t *testing.T, objs []Object) T {
	t.Helper()
	for _, o := range objs {
		if v, ok := o.Obj.(T); ok {
			return v
		}
	}
	var zero T
	t.Fatalf("no %T rendered", zero)
	return zero
}

// The ASM sample's PDB selects labels its pods do not carry, so it
// protects nothing. Every selector of the gateway must select its pods,
// and only them.
func TestSelectorsSelectTheGatewayPods(t *testing.T) {
	s := baseSpec()
	objs := Render(s)
	d := objectOf[*appsv1.Deployment](t, objs)
	pdb := objectOf[*policyv1.PodDisruptionBudget](t, objs)
	svc := objectOf[*corev1.Service](t, objs)
	gw := objectOf[*networkingv1.Gateway](t, objs)
	pods := labels.Set(d.Spec.Template.Labels)

	pdbSel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	if !pdbSel.Matches(pods) {
		t.Errorf("the PodDisruptionBudget's selector %s does not select the gateway's pods %v", pdbSel, pods)
	}
	if !equalMaps(pdb.Spec.Selector.MatchLabels, d.Spec.Selector.MatchLabels) {
		t.Errorf("PDB selector %v differs from the Deployment's %v", pdb.Spec.Selector.MatchLabels, d.Spec.Selector.MatchLabels)
	}
	for what, sel := range map[string]map[string]string{"Deployment": d.Spec.Selector.MatchLabels, "Service": svc.Spec.Selector, "Istio Gateway": gw.Spec.Selector} {
		if !labels.SelectorFromSet(sel).Matches(pods) {
			t.Errorf("the %s's selector %v does not select the gateway's pods %v", what, sel, pods)
		}
	}
	// Another Service's gateway in the same namespace is not selected.
	other := baseSpec()
	other.Service = "api"
	other.Names = NamesFor("shop", "api", "shop", "0a1b2c3d")
	otherPods := labels.Set(objectOf[*appsv1.Deployment](t, Render(other)).Spec.Template.Labels)
	if pdbSel.Matches(otherPods) {
		t.Errorf("web's PDB selects api's gateway pods %v", otherPods)
	}
	if d.Spec.Template.Labels["istio.io/rev"] != "asm-1" {
		t.Errorf("pod template lacks istio.io/rev: %v", d.Spec.Template.Labels)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// The Role may read only the gateway's own Secret; the one unnamed rule is
// the bare "list" istiod's SubjectAccessReview asks for (see Spec.role).
func TestRoleLimitedToTheGatewaySecret(t *testing.T) {
	for _, secret := range []string{"web-gateway-cert", "my-tls"} {
		s := baseSpec()
		s.CertSecret = secret
		role := objectOf[*rbacv1.Role](t, Render(s))
		var named, unnamed []rbacv1.PolicyRule
		for _, r := range role.Rules {
			if !slices.Equal(r.APIGroups, []string{""}) || !slices.Equal(r.Resources, []string{"secrets"}) {
				t.Errorf("rule %+v is about something other than Secrets", r)
			}
			if len(r.ResourceNames) > 0 {
				named = append(named, r)
			} else {
				unnamed = append(unnamed, r)
			}
		}
		if len(named) != 1 || !slices.Equal(named[0].ResourceNames, []string{secret}) ||
			!slices.Equal(named[0].Verbs, []string{"get", "watch", "list"}) {
			t.Errorf("named rules %+v: want get/watch/list of %s only", named, secret)
		}
		if len(unnamed) != 1 || !slices.Equal(unnamed[0].Verbs, []string{"list"}) {
			t.Errorf("unnamed rules %+v: want only the bare list istiod checks", unnamed)
		}
		d := objectOf[*appsv1.Deployment](t, Render(s))
		if tok := d.Spec.Template.Spec.AutomountServiceAccountToken; tok == nil || *tok {
			t.Error("the gateway pods must run without a Kubernetes API token, so nothing in them can use the Role")
		}
		gw := objectOf[*networkingv1.Gateway](t, Render(s))
		if got := gw.Spec.Servers[0].Tls.CredentialName; got != secret {
			t.Errorf("Gateway serves %q, the Role covers %q", got, secret)
		}
	}
}

func TestDeploymentHardening(t *testing.T) {
	d := objectOf[*appsv1.Deployment](t, Render(baseSpec()))
	pod := d.Spec.Template.Spec
	if d.Spec.Template.Annotations["inject.istio.io/templates"] != "gateway" {
		t.Error("not injected from the gateway template")
	}
	if len(pod.Containers) != 1 || pod.Containers[0].Name != "istio-proxy" || pod.Containers[0].Image != "auto" {
		t.Fatalf("containers: %+v", pod.Containers)
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc == nil || !*sc.RunAsNonRoot || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation ||
		!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security context %+v", sc)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v", c.Resources)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/healthz/ready" || c.ReadinessProbe.HTTPGet.Port.IntValue() != 15021 {
		t.Errorf("readiness probe %+v", c.ReadinessProbe)
	}
	var ports []int32
	for _, p := range c.Ports {
		ports = append(ports, p.ContainerPort)
	}
	if !slices.Equal(ports, []int32{8443, 15021}) {
		t.Errorf("container ports %v", ports)
	}
	if len(pod.TopologySpreadConstraints) == 0 || pod.TopologySpreadConstraints[0].TopologyKey != "topology.kubernetes.io/zone" {
		t.Errorf("no spread over zones: %+v", pod.TopologySpreadConstraints)
	}
}
