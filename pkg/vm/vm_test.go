package vm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube/kubefake"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/preflight"
)

func TestShellQuoteIsIstioctls(t *testing.T) {
	for in, want := range map[string]string{"": "''", "db": "'db'", "w": "w", "a b": "'a b'", "it's": `'it'"'"'s'`} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestParsePort(t *testing.T) {
	for in, ok := range map[string]bool{"mysql:3306": true, "http:8080": true, "3306": false, "MySQL:3306": false, "http:0": false, "http:70000": false} {
		_, err := ParsePort(in)
		if (err == nil) != ok {
			t.Errorf("ParsePort(%q): err %v, want ok %v", in, err, ok)
		}
	}
}

// mesh is a cluster with revision asm-1 (istiod env as given), namespace
// db labelled for it, the east-west gateway and the root certificate.
func meshCluster(istiodEnv ...corev1.EnvVar) *fake.Clientset {
	kc := fake.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system", Labels: map[string]string{"topology.istio.io/network": "net-a"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "db", Labels: map[string]string{"istio.io/rev": "asm-1"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "outside"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "istiod-asm-1", Namespace: "istio-system", Labels: map[string]string{"app": "istiod", "istio.io/rev": "asm-1"}},
			Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "discovery",
				Env: append([]corev1.EnvVar{{Name: "CLUSTER_ID", Value: "c1"}}, istiodEnv...)}}}}}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "istio-asm-1", Namespace: "istio-system"},
			Data: map[string]string{"mesh": "trustDomain: proj.svc.id.goog\ndefaultConfig:\n  meshId: proj-mesh\n  proxyMetadata: {ISTIO_META_DNS_CAPTURE: \"true\"}\n"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "istio-ca-root-cert", Namespace: "db"}, Data: map[string]string{"root-cert.pem": "ROOT"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: GatewayService, Namespace: "istio-system"},
			Spec:   corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "tls-istiod", Port: 15012}}},
			Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "10.0.0.9"}}}}},
	)
	kc.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "token" {
			return false, nil, nil
		}
		return true, &authnv1.TokenRequest{Status: authnv1.TokenRequestStatus{Token: "TOKEN", ExpirationTimestamp: metav1.NewTime(time.Now().Add(time.Hour))}}, nil
	})
	kc.PrependReactor("create", "selfsubjectaccessreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, &authzv1.SelfSubjectAccessReview{Status: authzv1.SubjectAccessReviewStatus{Allowed: true}}, nil
	})
	return kc
}

func TestAddWritesTheBundle(t *testing.T) {
	kc, objs := meshCluster(), kubefake.New()
	dir := filepath.Join(t.TempDir(), "db-bundle")
	res, err := Add(context.Background(), Clients{Kube: kc, Objects: objs}, ui.Discard, nil,
		AddOptions{Name: "db", Namespace: "db", Ports: []Port{{"mysql", 3306}}, Bundle: dir})
	if err != nil {
		t.Fatal(err)
	}
	if res.Revision != "asm-1" || res.ClusterID != "c1" || res.Network != "net-a" || res.Gateway != "10.0.0.9" {
		t.Errorf("result %+v", res)
	}
	if _, err := kc.CoreV1().ServiceAccounts("db").Get(context.Background(), "db", metav1.GetOptions{}); err != nil {
		t.Errorf("no service account: %v", err)
	}
	wg := objs.Stored(GVRWorkloadGroup, "db", "db")
	if wg == nil || wg.GetAnnotations()[AnnotationTokenExpires] == "" {
		t.Fatalf("WorkloadGroup %v", wg)
	}
	read := func(n string) string { b, _ := os.ReadFile(filepath.Join(dir, n)); return string(b) }
	env := read(FileClusterEnv)
	// Quoted as istioctl quotes them (its shellescape pattern quotes
	// nearly everything).
	for _, want := range []string{"CA_ADDR='istiod-asm-1.istio-system.svc:15012'", "ISTIO_INBOUND_PORTS='3306'", "ISTIO_SERVICE='db.db'",
		"ISTIO_META_DNS_CAPTURE='true'", "ISTIO_META_AUTO_REGISTER_GROUP='db'", `ISTIO_META_POD_PORTS='[{"name":"mysql","containerPort":3306,"protocol":""}]'`,
		"ISTIO_LOCAL_EXCLUDE_PORTS='22,15090,15021,15020'"} {
		if !strings.Contains(env, want+"\n") {
			t.Errorf("cluster.env lacks %s:\n%s", want, env)
		}
	}
	var m struct {
		DefaultConfig map[string]any `json:"defaultConfig"`
	}
	if err := yaml.Unmarshal([]byte(read(FileMesh)), &m); err != nil {
		t.Fatal(err)
	}
	md, _ := m.DefaultConfig["proxyMetadata"].(map[string]any)
	if m.DefaultConfig["discoveryAddress"] != "istiod-asm-1.istio-system.svc:15012" || m.DefaultConfig["meshId"] != "proj-mesh" ||
		md["TRUST_DOMAIN"] != "proj.svc.id.goog" || md["ISTIO_META_NETWORK"] != "net-a" || md["CANONICAL_SERVICE"] != "db" || m.DefaultConfig["readinessProbe"] == nil {
		t.Errorf("mesh.yaml:\n%s", read(FileMesh))
	}
	if got := read(FileHosts); got != "10.0.0.9 istiod-asm-1.istio-system.svc\n" {
		t.Errorf("hosts %q", got)
	}
	if fi, _ := os.Stat(filepath.Join(dir, FileToken)); fi.Mode().Perm() != 0o600 || read(FileToken) != "TOKEN" {
		t.Errorf("istio-token mode %v", fi.Mode())
	}

	// A second run keeps the group and the service account.
	res, err = Add(context.Background(), Clients{Kube: kc, Objects: objs}, ui.Discard, nil,
		AddOptions{Name: "db", Namespace: "db", Ports: []Port{{"mysql", 3306}}, Bundle: dir, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changes[0].Action != "keep" || res.Changes[1].Action != "keep" {
		t.Errorf("second run plans %+v", res.Changes)
	}
}

func TestAddRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, ns, network, want string
		env                     []corev1.EnvVar
	}{
		{name: "namespace outside the mesh", ns: "outside", want: "not in the mesh"},
		{name: "auto-registration off", ns: "db", env: []corev1.EnvVar{{Name: EnvAutoRegistration, Value: "false"}}, want: "kubectl set env deployment/istiod-asm-1"},
		{name: "another network without the gateway for it", ns: "db", network: "net-b", want: "--multi-network --expose-istiod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc, objs := meshCluster(tc.env...), kubefake.New()
			dir := filepath.Join(t.TempDir(), "b")
			_, err := Add(context.Background(), Clients{Kube: kc, Objects: objs}, ui.Discard, nil,
				AddOptions{Name: "db", Namespace: tc.ns, Network: tc.network, Ports: []Port{{"mysql", 3306}}, Bundle: dir})
			if err == nil || !strings.Contains(err.Error()+failure.HintOf(err), tc.want) {
				t.Fatalf("err %v, want it to say %q", err, tc.want)
			}
			if len(objs.Writes()) > 0 {
				t.Errorf("wrote %v", objs.Writes())
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("wrote the bundle")
			}
		})
	}
}

func TestAddRefusesWithoutTokenPermission(t *testing.T) {
	kc, objs := meshCluster(), kubefake.New()
	kc.PrependReactor("create", "selfsubjectaccessreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, &authzv1.SelfSubjectAccessReview{Status: authzv1.SubjectAccessReviewStatus{Allowed: false}}, nil
	})
	_, err := Add(context.Background(), Clients{Kube: kc, Objects: objs}, ui.Discard, nil,
		AddOptions{Name: "db", Namespace: "db", Ports: []Port{{"mysql", 3306}}, Bundle: filepath.Join(t.TempDir(), "b")})
	if err == nil || !strings.Contains(err.Error(), "serviceaccounts/token") {
		t.Fatalf("err %v", err)
	}
	if _, err := kc.CoreV1().ServiceAccounts("db").Get(context.Background(), "db", metav1.GetOptions{}); err == nil || len(objs.Writes()) > 0 {
		t.Errorf("made something before refusing")
	}
}

func TestCheck(t *testing.T) {
	now := time.Now()
	soon, later := now.Add(10*time.Minute), now.Add(50*time.Minute)
	gs := &Groups{Groups: []Group{
		{Name: "empty", Namespace: "db", TokenExpires: &later, tokenLifetime: time.Hour},
		{Name: "sick", Namespace: "db", TokenExpires: &soon, tokenLifetime: time.Hour, Entries: []Entry{{Name: "sick-10.0.0.2", Address: "10.0.0.2", Health: "unhealthy"}}},
		{Name: "fine", Namespace: "db", Entries: []Entry{{Name: "fine-10.0.0.3", Health: "healthy"}}},
	}}
	got := map[string][]string{}
	for obj, fs := range Check(gs, now) {
		for _, f := range fs {
			got[obj] = append(got[obj], f.Code)
		}
	}
	want := map[string][]string{
		"WorkloadGroup db/empty": {findings.VMGroupWithoutEntries.Code},
		"WorkloadGroup db/sick":  {findings.VMEntryUnhealthy.Code, findings.VMTokenExpiry.Code},
	}
	if len(got) != len(want) || strings.Join(got["WorkloadGroup db/empty"], ",") != strings.Join(want["WorkloadGroup db/empty"], ",") ||
		strings.Join(got["WorkloadGroup db/sick"], ",") != strings.Join(want["WorkloadGroup db/sick"], ",") {
		t.Errorf("Check: %v, want %v", got, want)
	}
}

// token-refresh checks both its writes before the first: refused the
// group's update, it requests no token and leaves the bundle's as it was;
// granted, it writes the new token and records its expiry.
func TestTokenRefreshChecksBothWritesFirst(t *testing.T) {
	kc, objs := meshCluster(), kubefake.New()
	dir := filepath.Join(t.TempDir(), "db-bundle")
	if _, err := Add(context.Background(), Clients{Kube: kc, Objects: objs}, ui.Discard, nil,
		AddOptions{Name: "db", Namespace: "db", Ports: []Port{{"mysql", 3306}}, Bundle: dir}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileToken), []byte("OLD"), 0o600); err != nil {
		t.Fatal(err)
	}
	granted := true
	kc.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		attrs := a.(k8stesting.CreateAction).GetObject().(*authzv1.SelfSubjectAccessReview).Spec.ResourceAttributes
		allowed := granted || attrs.Resource != "workloadgroups"
		return true, &authzv1.SelfSubjectAccessReview{Status: authzv1.SubjectAccessReviewStatus{Allowed: allowed}}, nil
	})
	tokenRequests := func() (n int) {
		for _, a := range kc.Actions() {
			if a.GetVerb() == "create" && a.GetSubresource() == "token" {
				n++
			}
		}
		return n
	}
	check := &preflight.Checker{Access: preflight.KubeReviewer{Client: kc}}
	o := RefreshOptions{Name: "db", Namespace: "db", Bundle: dir}
	before := tokenRequests()
	granted = false
	res, err := TokenRefresh(context.Background(), Clients{Kube: kc, Objects: objs}, ui.Discard, check, o)
	if err == nil || !strings.Contains(err.Error(), "workloadgroups") {
		t.Fatalf("refused the group's update: err %v", err)
	}
	if res == nil || res.Permissions == nil || tokenRequests() != before {
		t.Errorf("a token was requested before the refusal, or the report is missing: %+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, FileToken)); string(b) != "OLD" {
		t.Errorf("the bundle's token changed on refusal: %q", b)
	}
	granted = true
	if _, err := TokenRefresh(context.Background(), Clients{Kube: kc, Objects: objs}, ui.Discard, check, o); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, FileToken)); string(b) != "TOKEN" || tokenRequests() != before+1 {
		t.Errorf("granted: token %q, %d token requests", b, tokenRequests()-before)
	}
}
