package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/kube/kubefake"
	"github.com/meshctl/meshctl/internal/ui"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// runWithObjects runs meshctl in-process with expose and unexpose talking
// to objs instead of a cluster.
func runWithObjects(t *testing.T, h *harness, objs kube.Objects, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	app := NewApp(Env{
		Streams:   ui.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		LookupEnv: func(k string) (string, bool) { v, ok := h.env[k]; return v, ok },
	})
	root := NewRootCmd(app)
	for _, c := range root.Commands() {
		if c.Name() == "expose" || c.Name() == "unexpose" {
			root.RemoveCommand(c)
		}
	}
	fake := func(*App) (kube.Objects, error) { return objs, nil }
	root.AddCommand(newExposeCmdWith(app, fake), newUnexposeCmdWith(app, fake))
	code := runRoot(context.Background(), app, root, args)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

var (
	gvrNamespace = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	gvrService   = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	gvrPod       = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	gvrWebhook   = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"}
)

// meshCluster is a fake cluster with revision asm-1 and Service shop/web
// backed by an injected pod.
func meshCluster() *kubefake.Objects {
	f := kubefake.New()
	f.Add(gvrNamespace, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system", UID: "0a1b2c3d-0000-0000-0000-000000000000"}})
	f.Add(gvrNamespace, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"istio.io/rev": "asm-1"}}})
	f.Add(gvrWebhook, &admissionv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "istio-sidecar-injector-asm-1", Labels: map[string]string{"istio.io/rev": "asm-1"}}})
	f.Add(gvrService, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}})
	f.Add(gvrPod, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "istio-proxy"}}, Containers: []corev1.Container{{Name: "web"}}}})
	return f
}

func TestExposeUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"expose", "svc", "web", "-n", "shop"}, `required flag(s) "host" not set`},
		{[]string{"expose", "svc", "-n", "shop", "--host", "a.example.com"}, "want one Service name, got 0 arguments"},
		{[]string{"expose", "svc", "web", "api", "--host", "a.example.com"}, "want one Service name, got 2 arguments"},
		{[]string{"expose", "svc", "web", "-n", "shop", "--host", "a.example.com", "--replicas", "3-5"}, `--replicas "3-5": want MIN:MAX`},
		{[]string{"expose", "svc", "web", "-n", "shop", "--host", "a..example.com"}, `--host "a..example.com" is not a valid host name`},
		{[]string{"expose", "svc", "Web", "-n", "shop", "--host", "a.example.com"}, `invalid Service name "Web"`},
		{[]string{"unexpose", "svc", "-n", "shop"}, "want one Service name, got 0 arguments"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			f := meshCluster()
			r := runWithObjects(t, newHarness(t), f, tc.args...)
			if r.code != ui.ExitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", r.code, r.stderr, tc.want)
			}
			if w := f.Writes(); len(w) != 0 {
				t.Errorf("wrote %v", w)
			}
		})
	}
}

func TestExposeDryRunPrintsManifests(t *testing.T) {
	f := meshCluster()
	r := runWithObjects(t, newHarness(t), f, "expose", "svc", "web", "-n", "shop", "--host", "www.example.com", "--dry-run", "-o", "yaml")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "---\napiVersion: v1\nkind: ServiceAccount\n") || strings.Count(r.stdout, "\nkind: ") != 10 {
		t.Errorf("stdout is not the 10 manifests:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, "PRIVATE KEY") || strings.Contains(r.stdout, "tls.key") {
		t.Error("the manifests hold the private key")
	}
	if !strings.Contains(r.stderr, "plan the gateway's objects: 11 to create") {
		t.Errorf("no plan progress on stderr:\n%s", r.stderr)
	}

	r = runWithObjects(t, newHarness(t), f, "expose", "svc", "web", "-n", "shop", "--host", "www.example.com", "--dry-run", "-o", "json")
	var list struct {
		Kind  string
		Items []map[string]any
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || list.Kind != "List" || len(list.Items) != 10 {
		t.Errorf("-o json: %v, %s with %d items\n%s", err, list.Kind, len(list.Items), r.stdout)
	}

	r = runWithObjects(t, newHarness(t), f, "expose", "svc", "web", "-n", "shop", "--host", "www.example.com", "--dry-run")
	for _, want := range []string{"Dry run: exposing Service shop/web port 80 through gateway shop/web-gateway (revision asm-1) would create 11",
		"create  Deployment", "Run the same command without --dry-run"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text plan lacks %q:\n%s", want, r.stdout)
		}
	}
	if w := f.Writes(); len(w) != 0 {
		t.Errorf("dry runs wrote %v", w)
	}
}

func TestExposeNamespaceFromKubeconfigContext(t *testing.T) {
	h := newHarness(t)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {}}]
contexts: [{name: ctx, context: {cluster: c, user: u, namespace: shop}}]
current-context: ctx
`), 0o600); err != nil {
		t.Fatal(err)
	}
	h.env["KUBECONFIG"] = kc
	r := runWithObjects(t, h, meshCluster(), "expose", "svc", "web", "--host", "www.example.com", "--dry-run", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"namespace": "shop"`) {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestUnexposeWithNothingToRemove(t *testing.T) {
	f := meshCluster()
	r := runWithObjects(t, newHarness(t), f, "unexpose", "svc", "web", "-n", "shop")
	if r.code != 0 || !strings.Contains(r.stdout, "nothing to remove: meshctl has made nothing for Service shop/web") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
