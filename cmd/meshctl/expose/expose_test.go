package expose

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshctl/meshctl/cmd/meshctl/cmdtest"
	"github.com/meshctl/meshctl/internal/config"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/kube/kubefake"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/expose"
	"github.com/meshctl/meshctl/pkg/lb"
)

var cluster = &config.Settings{Project: "p", Location: "us-central1", Cluster: "c1"}

func TestNewCmdExposeSvc(t *testing.T) {
	f, _ := cmdtest.Factory(cluster, nil)
	var got *ExposeOptions
	err := cmdtest.Execute(NewCmdExposeSvc(f, cmdtest.Capture(&got)), "api", "-n", "shop", "--host", "api.example.com", "--host", "*.api.example.com",
		"--port", "http", "--revision", "asm-2", "--gateway-namespace", "shop-ingress", "--replicas", "2:10", "--cpu-target", "60",
		"--gateway-cert-secret", "mine", "--strict-mtls", "--no-network-policy", "--dry-run",
		"--lb", "shared", "--address", "ip1", "--certificate", "cert1", "--ssl-profile", "MODERN", "--min-tls", "1.3",
		"--waf", "xss,sqli", "--allow-cidr", "203.0.113.0/24", "--deny-cidr", "198.51.100.0/24", "--log-sample-rate", "0.5",
		"--max-rate-per-endpoint", "50", "--iap", "--request-header", "X-Team:web", "--no-http-redirect", "--adopt")
	if err != nil {
		t.Fatal(err)
	}
	o := got.Expose
	if o.Service != "api" || o.Namespace != "shop" || !reflect.DeepEqual(o.Hosts, []string{"api.example.com", "*.api.example.com"}) || o.Port != "http" ||
		o.Revision != "asm-2" || o.GatewayNamespace != "shop-ingress" || o.MinReplicas != 2 || o.MaxReplicas != 10 || o.CPUTarget != 60 ||
		o.CertSecret != "mine" || !o.StrictMTLS || !o.NoNetworkPolicy || !o.DryRun {
		t.Errorf("expose options %+v", o)
	}
	want := lb.Spec{Project: "p", Location: "us-central1", Cluster: "c1", LB: "shared", Address: "ip1", Certificate: "cert1", SSLProfile: "MODERN", MinTLS: "1.3",
		Armor:         lb.Armor{Specified: true, WAF: []string{"xss", "sqli"}, AllowCIDRs: []string{"203.0.113.0/24"}, DenyCIDRs: []string{"198.51.100.0/24"}},
		LogSampleRate: 0.5, MaxRatePerEndpoint: 50, IAP: lb.IAP{Enabled: true}, CustomRequestHeaders: []string{"X-Team:web"}, NoHTTPRedirect: true, Adopt: true}
	if !reflect.DeepEqual(got.LB.Spec, want) || got.NoLB {
		t.Errorf("load balancer %+v\nwant %+v", got.LB.Spec, want)
	}
	if got.LB.Client == nil || got.Objects == nil || got.Printer != f.Printer || got.Reporter != f.Reporter {
		t.Error("clients, printer or reporter not handed over")
	}
}

// Everything, the load balancer's flags included, is checked before the
// command runs: the gateway is not touched when the load balancer could not
// be built after it.
func TestNewCmdExposeSvcErrors(t *testing.T) {
	base := []string{"web", "-n", "shop", "--host", "www.example.com"}
	cases := []struct {
		settings *config.Settings
		args     []string
		want     string
		hint     string
	}{
		{cluster, []string{"web", "-n", "shop"}, `required flag(s) "host" not set`, ""},
		{cluster, []string{"-n", "shop", "--host", "a.example.com"}, "name the Service to expose", ""},
		{cluster, []string{"web", "api", "--host", "a.example.com"}, `--host "a.example.com" would go to every Service`, ""},
		{cluster, []string{"web", "api", "--host", "web=a.example.com"}, "Service api gets no host", ""},
		{cluster, []string{"web", "--all", "--host", "{service}.example.com"}, "name Services or pass --all, not both", ""},
		{cluster, []string{"--all", "-l", "a=(", "--host", "{service}.example.com"}, `--selector "a=("`, ""},
		{cluster, append(base, "--manifests"), "--manifests prints a dry run's manifests", ""},
		{cluster, append(base, "--replicas", "3-5"), `--replicas "3-5": want MIN:MAX`, ""},
		{cluster, []string{"web", "-n", "shop", "--host", "a..example.com"}, `--host "a..example.com" is not a valid host name`, ""},
		{cluster, []string{"Web", "-n", "shop", "--host", "a.example.com"}, `invalid Service name "Web"`, ""},
		{cluster, append(base, "--waf", "bogus"), `--waf "bogus"`, ""},
		{cluster, append(base, "--deny-cidr", "10.0.0.0/33"), `CIDR "10.0.0.0/33"`, ""},
		{cluster, append(base, "--no-armor", "--waf", "xss"), "--no-armor cannot be combined", ""},
		{cluster, append(base, "--min-tls", "2.0"), `--min-tls "2.0"`, ""},
		{&config.Settings{}, base, "the load balancer needs [--project --location --cluster]", "--no-lb"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			f, _ := cmdtest.Factory(tc.settings, nil)
			var got *ExposeOptions
			err := cmdtest.Execute(NewCmdExposeSvc(f, cmdtest.Capture(&got)), tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(failure.HintOf(err), tc.hint) || got != nil {
				t.Errorf("err %v (hint %q), ran %v; want %q and hint %q", err, failure.HintOf(err), got != nil, tc.want, tc.hint)
			}
			if !strings.HasPrefix(tc.want, "invalid") && !strings.HasPrefix(tc.want, "required") {
				if failure.ExitCode(err) != failure.ExitUsage {
					t.Errorf("exit code %d, want a usage error", failure.ExitCode(err))
				}
			}
		})
	}
	// A dry run plans without the cluster's coordinates (and says so); so
	// does --no-lb, without a word.
	for _, extra := range [][]string{{"--dry-run"}, {"--no-lb"}} {
		f, _ := cmdtest.Factory(&config.Settings{}, nil)
		var got *ExposeOptions
		if err := cmdtest.Execute(NewCmdExposeSvc(f, cmdtest.Capture(&got)), append(base, extra...)...); err != nil || got == nil {
			t.Errorf("%v: %v", extra, err)
		}
	}
}

func TestNamespaceFromKubeconfigContext(t *testing.T) {
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
	f, _ := cmdtest.Factory(cluster, map[string]string{"KUBECONFIG": kc})
	var ex *ExposeOptions
	if err := cmdtest.Execute(NewCmdExposeSvc(f, cmdtest.Capture(&ex)), "web", "--host", "www.example.com"); err != nil || ex.Expose.Namespace != "shop" {
		t.Errorf("expose: %v, namespace %q", err, namespaceOf(ex))
	}
	var un *UnexposeOptions
	if err := cmdtest.Execute(NewCmdUnexposeSvc(f, cmdtest.Capture(&un)), "web"); err != nil || un.Unexpose.Namespace != "shop" {
		t.Errorf("unexpose: %v, %+v", err, un)
	}
}

func namespaceOf(o *ExposeOptions) string {
	if o == nil {
		return ""
	}
	return o.Expose.Namespace
}

func TestNewCmdUnexposeSvc(t *testing.T) {
	f, _ := cmdtest.Factory(cluster, nil)
	var got *UnexposeOptions
	if err := cmdtest.Execute(NewCmdUnexposeSvc(f, cmdtest.Capture(&got)), "web", "-n", "shop", "--gateway-namespace", "ingress", "--lb", "shared", "--dry-run"); err != nil {
		t.Fatal(err)
	}
	want := expose.UnexposeOptions{Service: "web", Namespace: "shop", GatewayNamespace: "ingress", DryRun: true}
	if got.Unexpose != want || got.LB.Spec.LB != "shared" || got.LB.Spec.Project != "p" || got.NoLB || got.LB.Client == nil {
		t.Errorf("options %+v, load balancer %+v", got.Unexpose, got.LB.Spec)
	}
	got = nil
	err := cmdtest.Execute(NewCmdUnexposeSvc(f, cmdtest.Capture(&got)), "-n", "shop")
	if failure.ExitCode(err) != failure.ExitUsage || !strings.Contains(err.Error(), "want one Service name, got 0 arguments") || got != nil {
		t.Errorf("no name: %v", err)
	}
	// unexpose takes only where the load balancer is.
	if err := cmdtest.Execute(NewCmdUnexposeSvc(f, cmdtest.Capture(&got)), "web", "--waf", "xss"); err == nil || !strings.Contains(err.Error(), "unknown flag: --waf") {
		t.Errorf("--waf: %v", err)
	}
	// --lb says what it means for unexpose, not what it means for expose.
	if u := NewCmdUnexposeSvc(f, nil).Flags().Lookup("lb").Usage; strings.Contains(u, "put the Service") || !strings.Contains(u, "the shared load balancer the Service is on") {
		t.Errorf("unexpose --lb help: %q", u)
	}
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

// exposeDryRun parses args as `meshctl expose svc` would, with no cluster
// coordinates, then runs against objs with output format; it returns
// stdout and stderr.
func exposeDryRun(t *testing.T, objs kube.Objects, format ui.Format, args ...string) (string, string) {
	t.Helper()
	f, out := cmdtest.Factory(&config.Settings{Output: format}, nil)
	var opts *ExposeOptions
	if err := cmdtest.Execute(NewCmdExposeSvc(f, cmdtest.Capture(&opts)), args...); err != nil {
		t.Fatal(err)
	}
	opts.Objects = func() (kube.Objects, error) { return objs, nil }
	if err := runExpose(context.Background(), opts); err != nil {
		t.Fatalf("%v\n%s", err, out.Err.String())
	}
	return out.Out.String(), out.Err.String()
}

// Several names, or --all, make a batch: the hosts are filled in per
// Service when the cluster is read.
func TestNewCmdExposeSvcSeveral(t *testing.T) {
	f, _ := cmdtest.Factory(cluster, nil)
	var got *ExposeOptions
	err := cmdtest.Execute(NewCmdExposeSvc(f, cmdtest.Capture(&got)), "web", "api", "-n", "shop", "--host", "web=www.example.com", "--host", "{service}.{namespace}.example.com", "--lb", "shop")
	if err != nil {
		t.Fatal(err)
	}
	b := got.Batch
	if b == nil || !reflect.DeepEqual(b.Services, []string{"web", "api"}) || b.Template.Namespace != "shop" || got.LB.Spec.LB != "shop" {
		t.Fatalf("batch %+v", b)
	}
	if h := b.HostsFor("web"); !reflect.DeepEqual(h, []string{"www.example.com", "web.shop.example.com"}) {
		t.Errorf("web's hosts %v", h)
	}
	if h := b.HostsFor("api"); !reflect.DeepEqual(h, []string{"api.shop.example.com"}) {
		t.Errorf("api's hosts %v", h)
	}
	got = nil
	if err := cmdtest.Execute(NewCmdExposeSvc(f, cmdtest.Capture(&got)), "--all", "-n", "shop", "-l", "tier=front", "--host", "{service}.example.com"); err != nil {
		t.Fatal(err)
	}
	if b := got.Batch; b == nil || !b.All || b.Selector != "tier=front" {
		t.Errorf("--all: batch %+v", b)
	}
	// One name is not a batch: the Service's options are complete.
	got = nil
	if err := cmdtest.Execute(NewCmdExposeSvc(f, cmdtest.Capture(&got)), "web", "-n", "shop", "--host", "{service}.example.com"); err != nil {
		t.Fatal(err)
	}
	if got.Batch != nil || got.Expose.Service != "web" || !reflect.DeepEqual(got.Expose.Hosts, []string{"web.example.com"}) {
		t.Errorf("one name: batch %+v, options %+v", got.Batch, got.Expose)
	}
}

// A batch dry run plans every named Service, and --all finds them.
func TestRunExposeSeveralDryRun(t *testing.T) {
	f := meshCluster()
	f.Add(gvrService, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}})
	for _, args := range [][]string{{"web", "api"}, {"--all"}} {
		stdout, _ := exposeDryRun(t, f, ui.FormatJSON, append(args, "-n", "shop", "--host", "{service}.example.com", "--dry-run", "--no-lb")...)
		var out expose.ManyOutput
		if err := json.Unmarshal([]byte(stdout), &out); err != nil || len(out.Services) != 2 || !out.DryRun {
			t.Fatalf("%v: %v\n%s", args, err, stdout)
		}
		hosts := map[string]string{}
		for _, s := range out.Services {
			hosts[s.Service.Name] = strings.Join(s.Hosts, ",")
		}
		if !reflect.DeepEqual(hosts, map[string]string{"web": "web.example.com", "api": "api.example.com"}) {
			t.Errorf("%v: hosts %v", args, hosts)
		}
	}
	if w := f.Writes(); len(w) != 0 {
		t.Errorf("dry runs wrote %v", w)
	}
}

// -o json in a dry run is the whole plan; --manifests the manifests.
func TestRunExposeDryRunPrintsPlanOrManifests(t *testing.T) {
	f := meshCluster()
	args := []string{"web", "-n", "shop", "--host", "www.example.com", "--dry-run"}
	stdout, _ := exposeDryRun(t, f, ui.FormatJSON, args...)
	var plan expose.ExposeOutput
	if err := json.Unmarshal([]byte(stdout), &plan); err != nil || plan.Result == nil || len(plan.Changes) != 13 || !plan.DryRun {
		t.Errorf("-o json is not the plan: %v\n%s", err, stdout)
	}
	manifests := append(slices.Clone(args), "--manifests")
	stdout, stderr := exposeDryRun(t, f, ui.FormatYAML, manifests...)
	// The gateway's own namespace first, then its 11 objects (the
	// certificate Secret is a comment), the NetworkPolicy among them.
	if !strings.HasPrefix(stdout, "---\napiVersion: v1\nkind: Namespace\n") || strings.Count(stdout, "\nkind: ") != 12 ||
		!strings.Contains(stdout, "\nkind: NetworkPolicy\n") {
		t.Errorf("stdout is not the 12 manifests:\n%s", stdout)
	}
	if strings.Contains(stdout, "PRIVATE KEY") || strings.Contains(stdout, "tls.key") {
		t.Error("the manifests hold the private key")
	}
	if !strings.Contains(stderr, "plan the gateway's objects: 13 to create") {
		t.Errorf("no plan progress on stderr:\n%s", stderr)
	}

	stdout, _ = exposeDryRun(t, f, ui.FormatJSON, manifests...)
	var list struct {
		Kind  string
		Items []map[string]any
	}
	if err := json.Unmarshal([]byte(stdout), &list); err != nil || list.Kind != "List" || len(list.Items) != 12 {
		t.Errorf("-o json: %v, %s with %d items\n%s", err, list.Kind, len(list.Items), stdout)
	}

	stdout, stderr = exposeDryRun(t, f, ui.FormatText, args...)
	for _, want := range []string{"Dry run: exposing Service shop/web port 80 through gateway shop-web-gateway/web-gateway (revision asm-1) would create 13",
		"create  Deployment", "Run the same command without --dry-run"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("text plan lacks %q:\n%s", want, stdout)
		}
	}
	// Without the cluster's coordinates the load balancer is left out, with
	// a word; --no-lb leaves it out silently.
	if !strings.Contains(stdout+stderr, "the load balancer is not planned") {
		t.Errorf("no word on the load balancer:\n%s%s", stdout, stderr)
	}
	stdout, stderr = exposeDryRun(t, f, ui.FormatText, append(args, "--no-lb")...)
	if strings.Contains(stderr, "Google's load balancer") || strings.Contains(stdout, "the load balancer is not planned") {
		t.Errorf("--no-lb:\n%s%s", stdout, stderr)
	}
	if w := f.Writes(); len(w) != 0 {
		t.Errorf("dry runs wrote %v", w)
	}
}

// Without the cluster's coordinates and with nothing exposed, there is
// nothing to ask for: no load balancer client, no error.
func TestRunUnexposeWithNothingToRemove(t *testing.T) {
	f, out := cmdtest.Factory(&config.Settings{}, nil)
	var opts *UnexposeOptions
	if err := cmdtest.Execute(NewCmdUnexposeSvc(f, cmdtest.Capture(&opts)), "web", "-n", "shop"); err != nil {
		t.Fatal(err)
	}
	objs := meshCluster()
	opts.Objects = func() (kube.Objects, error) { return objs, nil }
	opts.LB.Client = func(context.Context) (*lb.Client, func(), error) {
		t.Error("nothing was exposed, yet the load balancer's client was built")
		return nil, nil, context.Canceled
	}
	if err := runUnexpose(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.Out.String(), "nothing to remove: meshctl has made nothing for Service shop/web") {
		t.Errorf("stdout:\n%s", out.Out.String())
	}
}
