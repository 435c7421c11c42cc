package expose

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/kube/kubefake"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// run plans and applies as RunMany does for one Service, with hooks (as
// pkg/gatewayapi applies the mesh's plan).
func run(t *testing.T, c *cluster, o Options, hooks Hooks) (*Result, *ui.Recorder, error) {
	t.Helper()
	ctx, rec := context.Background(), &ui.Recorder{}
	p, err := NewPlan(ctx, c, rec, o)
	if err != nil {
		return nil, rec, err
	}
	if o.DryRun {
		res := p.dryRunResult(ctx, c)
		return res, rec, runHooks(ctx, rec, hooks, res)
	}
	res, err := p.Apply(ctx, c, rec, hooks)
	return res, rec, err
}

func TestExposeCreatesThenChangesNothing(t *testing.T) {
	c := newCluster(t)
	res, rec, err := run(t, c, opts(), Hooks{})
	if err != nil {
		t.Fatalf("expose: %v\n%s", err, strings.Join(rec.Lines(), "\n"))
	}
	// Each wave's objects are written at the same time, the waves in order:
	// what the pods need before they start, the workload, the routing.
	want := [][]string{
		{"apply ServiceAccount shop/web-gateway", "apply Role shop/web-gateway", "apply RoleBinding shop/web-gateway",
			"apply Secret shop/web-gateway-cert", "apply DestinationRule shop/web-gateway", "apply NetworkPolicy shop/web-gateway"},
		{"apply Deployment shop/web-gateway", "apply Service shop/web-gateway", "apply PodDisruptionBudget shop/web-gateway",
			"apply HorizontalPodAutoscaler shop/web-gateway"},
		{"apply Gateway shop/web-gateway", "apply VirtualService shop/web-gateway"},
	}
	if got := c.Writes(); !inWaves(got, want...) {
		t.Errorf("writes:\n%s\nwant, wave by wave (any order within one):\n%v", strings.Join(got, "\n"), want)
	}
	if res.NEG.Name == "" || len(res.NEG.Zones) != 3 {
		t.Errorf("NEG = %+v, want the name and three zones", res.NEG)
	}
	if !strings.HasPrefix(res.NEG.Name, "meshctl-shop-web-") {
		t.Errorf("NEG name %q", res.NEG.Name)
	}
	for _, step := range []string{"done check Service shop/web", "done roll out gateway shop/web-gateway", "done wait for NEGs of Service shop/web-gateway"} {
		if !slices.Contains(rec.Lines(), step) {
			t.Errorf("progress lacks %q:\n%s", step, strings.Join(rec.Lines(), "\n"))
		}
	}

	// The same input again: everything is kept and nothing is written.
	before := len(c.Writes())
	res, _, err = run(t, c, opts(), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Writes()[before:]; len(got) != 0 {
		t.Errorf("a second run wrote %v", got)
	}
	for _, ch := range res.Changes {
		if ch.Action != plan.Keep {
			t.Errorf("second run: %s %s", ch.Action, ch.Ref())
		}
	}
}

func TestChangedInputUpdatesOnlyWhatDiffers(t *testing.T) {
	cases := []struct {
		name   string
		change func(o *Options)
		want   [][]string // writes of the second run, wave by wave
	}{
		{"cpu target", func(o *Options) { o.CPUTarget = 50 }, [][]string{{"apply HorizontalPodAutoscaler shop/web-gateway"}}},
		{"replicas", func(o *Options) { o.MinReplicas, o.MaxReplicas = 4, 8 }, [][]string{{
			"apply Deployment shop/web-gateway", "apply HorizontalPodAutoscaler shop/web-gateway"}}},
		// The certificate names the hosts, so it is renewed with them.
		{"hosts", func(o *Options) { o.Hosts = append(o.Hosts, "shop.example.com") }, [][]string{
			{"apply Secret shop/web-gateway-cert"}, {"apply VirtualService shop/web-gateway"}}},
		{"strict mTLS", func(o *Options) { o.StrictMTLS = true }, [][]string{{"apply PeerAuthentication shop/web-strict-mtls"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			if _, _, err := run(t, c, opts(), Hooks{}); err != nil {
				t.Fatal(err)
			}
			before := len(c.Writes())
			o := opts()
			tc.change(&o)
			res, _, err := run(t, c, o, Hooks{})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Writes()[before:]; !inWaves(got, tc.want...) {
				t.Errorf("writes %v, want %v", got, tc.want)
			}
			for _, ch := range res.Changes {
				if ch.Action == plan.Update && len(ch.Fields) == 0 {
					t.Errorf("update of %s names no fields", ch.Ref())
				}
			}
		})
	}
}

func TestDroppedOptionsDeleteWhatIsNoLongerWanted(t *testing.T) {
	c := newCluster(t)
	o := opts()
	o.StrictMTLS = true
	if _, _, err := run(t, c, o, Hooks{}); err != nil {
		t.Fatal(err)
	}
	// Moving the gateway and dropping --strict-mtls: the new gateway is
	// made first, the hook runs, and only then the old objects go.
	c.addNamespace("edge", nil)
	o = opts()
	o.GatewayNamespace = "edge"
	var order []string
	hooks := Hooks{AfterGateway: []Hook{{Name: "load balancer", Run: func(_ context.Context, res *Result) error {
		order = append(order, "hook sees NEG "+res.NEG.Name)
		if c.Stored(kService.Resource, "shop", "web-gateway") == nil {
			t.Error("the old gateway went before the hook could move the load balancer")
		}
		return nil
	}}}}
	before := len(c.Writes())
	res, _, err := run(t, c, o, hooks)
	if err != nil {
		t.Fatal(err)
	}
	writes := c.Writes()[before:]
	if !slices.Contains(writes, "apply Deployment edge/web-shop-gateway") {
		t.Errorf("no gateway in edge: %v", writes)
	}
	var deletes []string
	for _, w := range writes {
		if strings.HasPrefix(w, "delete ") {
			deletes = append(deletes, w)
		}
	}
	wantDeletes := []string{
		"delete VirtualService shop/web-gateway", "delete Gateway shop/web-gateway", "delete Service shop/web-gateway",
		"delete HorizontalPodAutoscaler shop/web-gateway", "delete PodDisruptionBudget shop/web-gateway", "delete Deployment shop/web-gateway",
		"delete DestinationRule shop/web-gateway", "delete PeerAuthentication shop/web-strict-mtls", "delete NetworkPolicy shop/web-gateway",
		"delete RoleBinding shop/web-gateway", "delete Role shop/web-gateway", "delete ServiceAccount shop/web-gateway", "delete Secret shop/web-gateway-cert",
	}
	if !slices.Equal(deletes, wantDeletes) {
		t.Errorf("deletes:\n%s\nwant:\n%s", strings.Join(deletes, "\n"), strings.Join(wantDeletes, "\n"))
	}
	if len(order) != 1 || res.Gateway.Namespace != "edge" {
		t.Errorf("hook calls %v, gateway %+v", order, res.Gateway)
	}
}

func TestTwoServicesInOneNamespaceDoNotCollide(t *testing.T) {
	c := newCluster(t)
	if _, _, err := run(t, c, opts(), Hooks{}); err != nil {
		t.Fatal(err)
	}
	api := opts("api.example.com")
	api.Service, api.Port = "api", "grpc"
	res, _, err := run(t, c, api, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range res.Changes {
		if ch.Action != plan.Create {
			t.Errorf("exposing api %ss %s, which web's gateway holds", ch.Action, ch.Ref())
		}
	}
	// Unexposing web leaves api's gateway whole.
	apiObjects := ownedKeys(t, c, "shop", "api")
	if _, err := Unexpose(context.Background(), c, ui.Discard, UnexposeOptions{Namespace: "shop", Service: "web", PollInterval: time.Millisecond, WaitTimeout: time.Second}, Hooks{}); err != nil {
		t.Fatal(err)
	}
	if left := ownedKeys(t, c, "shop", "web"); len(left) != 0 {
		t.Errorf("left after unexpose: %v", left)
	}
	if after := ownedKeys(t, c, "shop", "api"); !slices.Equal(after, apiObjects) {
		t.Errorf("api's objects changed: %v -> %v", apiObjects, after)
	}
}

// ownedKeys lists "Kind ns/name" of what meshctl made for a Service.
func ownedKeys(t *testing.T, c *cluster, ns, svc string) []string {
	t.Helper()
	var out []string
	for _, k := range deleteOrder {
		items, err := c.List(context.Background(), k.Resource, "", mesh.OwnerSelector(ns, svc))
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			out = append(out, k.Kind+" "+it.GetNamespace()+"/"+it.GetName()+" rv "+it.GetResourceVersion())
		}
	}
	return out
}

func TestBadInputIsRefusedBeforeAnyChange(t *testing.T) {
	cases := []struct {
		name     string
		setup    func(c *cluster)
		opts     func(o *Options)
		want     []string // parts of the error
		wantHint string
		usage    bool
	}{
		{name: "no host", opts: func(o *Options) { o.Hosts = nil }, want: []string{"at least one --host"}, usage: true},
		{name: "bad host", opts: func(o *Options) { o.Hosts = []string{"www.exa_mple.com"} }, want: []string{`--host "www.exa_mple.com" is not a valid host name`}, usage: true},
		{name: "wildcard inside", opts: func(o *Options) { o.Hosts = []string{"www.*.example.com"} }, want: []string{"wildcard is allowed only in the first label"}, usage: true},
		{name: "url for host", opts: func(o *Options) { o.Hosts = []string{"https://www.example.com/"} }, want: []string{"without scheme, port or path"}, usage: true},
		{name: "IP for host", opts: func(o *Options) { o.Hosts = []string{"10.0.0.1"} }, want: []string{"all digits"}, usage: true},
		{name: "host twice", opts: func(o *Options) { o.Hosts = []string{"a.example.com", "A.example.com"} }, want: []string{"given twice"}, usage: true},
		{name: "bad replicas", opts: func(o *Options) { o.MinReplicas, o.MaxReplicas = 5, 3 }, want: []string{"--replicas 5:3"}, usage: true},
		{name: "zero replicas", opts: func(o *Options) { o.MinReplicas = 0 }, want: []string{"1 <= MIN <= MAX"}, usage: true},
		{name: "bad cpu target", opts: func(o *Options) { o.CPUTarget = 0 }, want: []string{"--cpu-target 0"}, usage: true},
		{name: "bad port", opts: func(o *Options) { o.Port = "70000" }, want: []string{"--port 70000 is not a port number"}, usage: true},
		{name: "bad revision", opts: func(o *Options) { o.Revision = "ASM_1" }, want: []string{`--revision "ASM_1"`}, usage: true},
		{name: "bad namespace", opts: func(o *Options) { o.Namespace = "Shop" }, want: []string{`--namespace "Shop" is not a valid namespace name`}, usage: true},
		{name: "missing namespace", opts: func(o *Options) { o.Namespace = "shopp" },
			want: []string{`namespace "shopp" not found; namespaces: default, kube-system, shop`}},
		{name: "missing service", opts: func(o *Options) { o.Service = "webb" },
			want: []string{"service shop/webb not found; Services in shop: api, web"}},
		{name: "missing port", opts: func(o *Options) { o.Port = "8080" },
			want: []string{"the Service shop/web has no port 8080; its ports: http 80/TCP"}},
		{name: "several ports", opts: func(o *Options) { o.Service = "api" },
			want: []string{"the Service shop/api has several ports (http 80/TCP, grpc 9090/TCP): choose one with --port"}, usage: true},
		{name: "revision not installed", opts: func(o *Options) { o.Revision = "asm-2" },
			want: []string{`revision "asm-2" is not installed; installed: asm-1`}},
		{name: "namespace labelled for a missing revision", setup: func(c *cluster) { c.addNamespace("shop", map[string]string{mesh.LabelRevision: "asm-0"}) },
			want: []string{"namespace shop is labelled istio.io/rev=asm-0, which is not installed"}},
		{name: "no mesh", setup: func(c *cluster) { c.Remove(kMutatingWebhookConf.Resource, "", "istio-sidecar-injector-asm-1") },
			want: []string{"no mesh revision is installed"}, wantHint: "meshctl install"},
		{name: "pods not in the mesh", setup: func(c *cluster) {
			c.addService("shop", "legacy", []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}, 2, false)
		}, opts: func(o *Options) { o.Service = "legacy" },
			want:     []string{"2 of 2 pods of Service shop/legacy are not in the mesh (no istio-proxy): legacy-0, legacy-1"},
			wantHint: "meshctl inject --namespace shop --revision asm-1"},
		{name: "missing gateway namespace", opts: func(o *Options) { o.GatewayNamespace = "edge" },
			want: []string{`namespace "edge" not found`}, wantHint: "kubectl create namespace edge"},
		{name: "gateway namespace not injectable", setup: func(c *cluster) { c.addNamespace("edge", map[string]string{mesh.LabelInjection: "disabled"}) },
			opts: func(o *Options) { o.GatewayNamespace = "edge" }, want: []string{"namespace edge is labelled istio-injection=disabled"}},
		{name: "missing cert secret", opts: func(o *Options) { o.CertSecret = "my-tls" },
			want: []string{"--gateway-cert-secret: Secret shop/my-tls not found"}, wantHint: "kubectl create secret tls my-tls -n shop"},
		{name: "meshctl's own secret as the user's", opts: func(o *Options) { o.CertSecret = "web-gateway-cert" },
			want: []string{"--gateway-cert-secret web-gateway-cert names the Secret meshctl makes"}, usage: true},
		{name: "someone else's object", setup: func(c *cluster) {
			c.Add(kService.Resource, &corev1.Service{TypeMeta: tm("v1", "Service"), ObjectMeta: metav1.ObjectMeta{Name: "web-gateway", Namespace: "shop"}})
		}, want: []string{"Service shop/web-gateway exists and was not made by meshctl for this Service (labels: not managed by meshctl)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			if tc.setup != nil {
				tc.setup(c)
			}
			o := opts()
			if tc.opts != nil {
				tc.opts(&o)
			}
			_, _, err := run(t, c, o, Hooks{})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tc.wantHint != "" && !strings.Contains(failure.HintOf(err), tc.wantHint) {
				t.Errorf("hint %q lacks %q", failure.HintOf(err), tc.wantHint)
			}
			if got := failure.ExitCode(err) == failure.ExitUsage; got != tc.usage {
				t.Errorf("exit code %d, usage error: %v", failure.ExitCode(err), tc.usage)
			}
			if w := c.Writes(); len(w) != 0 {
				t.Errorf("bad input still wrote %v", w)
			}
		})
	}
}

func TestRevisionDefaults(t *testing.T) {
	cases := []struct {
		name  string
		setup func(c *cluster)
		flag  string
		want  string
		err   string
	}{
		{name: "namespace label", want: "asm-1"},
		{name: "flag wins", setup: func(c *cluster) {
			c.addRevision("asm-2", "")
			c.addNamespace("shop", nil)
		}, flag: "asm-2", want: "asm-2"},
		{name: "a tag", setup: func(c *cluster) {
			c.addRevision("asm-1", "prod")
			c.addNamespace("shop", map[string]string{mesh.LabelRevision: "prod"})
		}, want: "prod"},
		{name: "only revision", setup: func(c *cluster) { c.addNamespace("shop", nil) }, want: "asm-1"},
		{name: "istio-injection=enabled uses the default tag", setup: func(c *cluster) {
			c.addRevision("asm-2", "")
			c.addRevision("asm-2", "default")
			c.addNamespace("shop", map[string]string{mesh.LabelInjection: "enabled"})
		}, want: "asm-2"},
		{name: "several and no label", setup: func(c *cluster) {
			c.addRevision("asm-2", "")
			c.addNamespace("shop", nil)
		}, err: "several mesh revisions are installed (asm-1, asm-2) and namespace shop names none"},
		{name: "gateway namespace injects another revision", setup: func(c *cluster) { c.addRevision("asm-2", "") },
			flag: "asm-2", err: "namespace shop is labelled istio.io/rev=asm-1, so that revision would inject the gateway, not asm-2"},
		// pkg/mesh's revision rules, which inject and validate share. Before
		// them expose counted tags as revisions and refused here, while
		// inject took the only revision.
		{name: "one revision and a tag: the only revision", setup: func(c *cluster) {
			c.addRevision("asm-1", "prod")
			c.addNamespace("shop", nil)
		}, want: "asm-1"},
		{name: "the injector of an install from before revisions is the default revision", setup: func(c *cluster) {
			c.Remove(kMutatingWebhookConf.Resource, "", "istio-sidecar-injector-asm-1")
			c.Add(kMutatingWebhookConf.Resource, &admissionv1.MutatingWebhookConfiguration{
				TypeMeta: tm("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"), ObjectMeta: metav1.ObjectMeta{Name: mesh.LegacyInjector}})
			c.addNamespace("shop", map[string]string{mesh.LabelInjection: "enabled"})
		}, want: "default"},
		{name: "istio-injection=enabled without a default revision: nothing would inject the gateway", setup: func(c *cluster) {
			c.addNamespace("shop", map[string]string{mesh.LabelInjection: "enabled"})
		}, err: `namespace shop is labelled istio-injection=enabled, but no revision is the default (no "default" tag or revision)`},
		{name: "both labels: istio-injection decides, not istio.io/rev", setup: func(c *cluster) {
			c.addRevision("asm-2", "")
			c.addRevision("asm-2", "default")
			c.addNamespace("shop", map[string]string{mesh.LabelInjection: "enabled", mesh.LabelRevision: "asm-1"})
		}, want: "asm-2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			if tc.setup != nil {
				tc.setup(c)
			}
			o := opts()
			o.Revision = tc.flag
			o.DryRun = true
			res, _, err := run(t, c, o, Hooks{})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Revision != tc.want {
				t.Errorf("revision %q, want %q", res.Revision, tc.want)
			}
		})
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	c := newCluster(t)
	o := opts()
	o.DryRun = true
	var hookSaw *Result
	res, _, err := run(t, c, o, Hooks{AfterGateway: []Hook{{Name: "lb plan", Run: func(_ context.Context, r *Result) error { hookSaw = r; return nil }}}})
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Writes(); len(w) != 0 {
		t.Errorf("dry run wrote %v", w)
	}
	if !res.DryRun || len(res.Changes) != 12 || res.Changes[0].Action != plan.Create {
		t.Errorf("dry run result: %+v", res.Changes)
	}
	if hookSaw == nil || !hookSaw.DryRun || hookSaw.NEG.Name == "" {
		t.Errorf("the hook did not get the planned result: %+v", hookSaw)
	}
}

func TestGatewayNotInjectedFails(t *testing.T) {
	c := newCluster(t)
	c.inject = false
	_, _, err := run(t, c, opts(), Hooks{})
	if err == nil || !strings.Contains(err.Error(), "gateway pods without an injected proxy") {
		t.Fatalf("error %v", err)
	}
	if !strings.Contains(failure.HintOf(err), "mutatingwebhookconfiguration -l istio.io/rev=asm-1") {
		t.Errorf("hint %q", failure.HintOf(err))
	}
}

func TestNoNEGStatusTimesOutWithAHint(t *testing.T) {
	c := newCluster(t)
	c.AfterWrite = func(f *kubefake.Objects, verb string, gvr schema.GroupVersionResource, obj *unstructured.Unstructured) {
		if gvr != kService.Resource { // no NEG controller
			c.controllers(f, verb, gvr, obj)
		}
	}
	o := opts()
	o.WaitTimeout = 50 * time.Millisecond
	_, _, err := run(t, c, o, Hooks{})
	if err == nil || !strings.Contains(err.Error(), "NEGs of Service shop/web-gateway: not done after 50ms (no cloud.google.com/neg-status yet)") {
		t.Fatalf("error %v", err)
	}
	if !strings.Contains(failure.HintOf(err), "VPC-native") {
		t.Errorf("hint %q", failure.HintOf(err))
	}
}

func TestCertificateRotation(t *testing.T) {
	cases := []struct {
		name    string
		age     time.Duration // how long before testNow the first run was
		renewed bool
	}{
		{"fresh", 0, false},
		{"half way", 180 * 24 * time.Hour, false},
		{"near expiry", 340 * 24 * time.Hour, true},
		{"expired", 400 * 24 * time.Hour, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			o := opts()
			o.Now = func() time.Time { return testNow.Add(-tc.age) }
			if _, _, err := run(t, c, o, Hooks{}); err != nil {
				t.Fatal(err)
			}
			before := c.Stored(kSecret.Resource, "shop", "web-gateway-cert")
			res, _, err := run(t, c, opts(), Hooks{})
			if err != nil {
				t.Fatal(err)
			}
			after := c.Stored(kSecret.Resource, "shop", "web-gateway-cert")
			changed := !equalJSON(before.Object["data"], after.Object["data"])
			if changed != tc.renewed {
				t.Errorf("certificate changed: %v, want %v", changed, tc.renewed)
			}
			for _, ch := range res.Changes {
				if ch.Kind == "Secret" && tc.renewed && (ch.Action != plan.Update || !strings.Contains(ch.Note, "certificate renewed")) {
					t.Errorf("secret change %+v", ch)
				}
			}
		})
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// The private key must not appear in anything meshctl shows: progress,
// results in every format, manifests, errors.
func TestPrivateKeyNeverShown(t *testing.T) {
	c := newCluster(t)
	res, rec, err := run(t, c, opts(), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	secret := c.Stored(kSecret.Resource, "shop", "web-gateway-cert")
	var s corev1.Secret
	if err := kube.FromUnstructured(secret, &s); err != nil {
		t.Fatal(err)
	}
	key := s.Data[corev1.TLSPrivateKeyKey]
	if len(key) == 0 {
		t.Fatal("no key stored")
	}
	keyBody := strings.Split(string(key), "\n")[1] // a line of the base64 body
	forbidden := []string{keyBody, base64.StdEncoding.EncodeToString(key), "PRIVATE KEY-----"}

	// Renew the certificate in a dry run too, so that a new key exists
	// in the plan that is printed.
	o := opts("www.example.com", "new.example.com")
	o.DryRun = true
	dry, dryRec, err := run(t, c, o, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	var planned *Cert
	p, err := NewPlan(context.Background(), c, ui.Discard, o)
	if err != nil {
		t.Fatal(err)
	}
	planned = p.Spec.Cert
	forbidden = append(forbidden, strings.Split(string(planned.Key), "\n")[1], base64.StdEncoding.EncodeToString(planned.Key))

	var out bytes.Buffer
	for _, r := range []*Result{res, dry} {
		for _, f := range ui.Formats {
			pr := &ui.Printer{Format: f, Out: &out}
			if err := pr.Print(r); err != nil {
				t.Fatal(err)
			}
		}
		m, err := Manifests(r.Objects)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(m)
		l, err := ManifestList(r.Objects)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := yaml.Marshal(l)
		out.Write(b)
	}
	out.WriteString(strings.Join(rec.Lines(), "\n") + strings.Join(dryRec.Lines(), "\n"))
	// Fmt verbs on the key and on structs holding it.
	for _, v := range []any{planned, *planned, planned.Key, p.Spec} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
			fmt.Fprintf(&out, verb, v)
		}
	}
	b, _ := json.Marshal(p.Spec)
	out.Write(b)
	// An error while applying the Secret.
	c2 := newCluster(t)
	c2.FailWhen(t, func(verb string, gvr schema.GroupVersionResource, _ string) error {
		if verb == "apply" && gvr == kSecret.Resource {
			return apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "web-gateway-cert", nil)
		}
		return nil
	})
	_, errRec, err := run(t, c2, opts(), Hooks{})
	if err == nil {
		t.Fatal("want an error")
	}
	out.WriteString(err.Error() + failure.HintOf(err) + strings.Join(errRec.Lines(), "\n"))

	for _, f := range forbidden {
		if strings.Contains(out.String(), f) {
			t.Errorf("output shows key material %q", f)
		}
	}
	if !strings.Contains(out.String(), "Secret shop/web-gateway-cert (kubernetes.io/tls) is left out") {
		t.Error("manifests do not say the Secret was left out")
	}
}

func TestUnexposeRunsTheHookFirstAndStopsOnItsError(t *testing.T) {
	c := newCluster(t)
	if _, _, err := run(t, c, opts(), Hooks{}); err != nil {
		t.Fatal(err)
	}
	before := len(c.Writes())
	uo := UnexposeOptions{Namespace: "shop", Service: "web", PollInterval: time.Millisecond, WaitTimeout: time.Second}
	var got *Teardown
	failing := Hooks{BeforeTeardown: []TeardownHook{{Name: "remove load balancer", Run: func(_ context.Context, t *Teardown) error {
		got = t
		return errors.New("backend service in use")
	}}}}
	_, err := Unexpose(context.Background(), c, ui.Discard, uo, failing)
	if err == nil || !strings.Contains(err.Error(), "nothing deleted") {
		t.Fatalf("error %v", err)
	}
	if w := c.Writes()[before:]; len(w) != 0 {
		t.Errorf("deleted despite the hook's error: %v", w)
	}
	if got == nil || len(got.Gateways) != 1 || got.Gateways[0].NEG.Name == "" || len(got.Gateways[0].NEG.Zones) != 3 {
		t.Errorf("the hook did not get the NEGs: %+v", got)
	}

	res, err := Unexpose(context.Background(), c, ui.Discard, uo, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 12 {
		t.Errorf("deleted %d objects, want 12", len(res.Changes))
	}
	for _, k := range c.Keys() {
		if strings.Contains(k, "web-gateway") {
			t.Errorf("left behind: %s", k)
		}
	}
	// Again: nothing to do, no error.
	res, err = Unexpose(context.Background(), c, ui.Discard, uo, Hooks{})
	if err != nil || len(res.Changes) != 0 {
		t.Errorf("second unexpose: %v, %+v", err, res)
	}
}

func TestParseNEGStatus(t *testing.T) {
	st, err := ParseNEGStatus(`{"network_endpoint_groups":{"443":"neg-a"},"zones":["us-central1-b","us-central1-a"]}`, 443)
	if err != nil || st.Name != "neg-a" || !slices.Equal(st.Zones, []string{"us-central1-a", "us-central1-b"}) {
		t.Errorf("got %+v, %v", st, err)
	}
	if _, err := ParseNEGStatus(`{"network_endpoint_groups":{"80":"x"}}`, 443); err == nil {
		t.Error("a status without the port parsed")
	}
	if _, err := ParseNEGStatus(`{`, 443); err == nil {
		t.Error("bad JSON parsed")
	}
}

func TestUnexposeWithoutIstioKinds(t *testing.T) {
	c := newCluster(t)
	if _, _, err := run(t, c, opts(), Hooks{}); err != nil {
		t.Fatal(err)
	}
	// Istio's CRDs were removed: listing their kinds is a 404.
	c.FailWhen(t, func(verb string, gvr schema.GroupVersionResource, _ string) error {
		if verb == "list" && strings.HasSuffix(gvr.Group, "istio.io") {
			return apierrors.NewNotFound(schema.GroupResource{Group: gvr.Group, Resource: gvr.Resource}, "")
		}
		return nil
	})
	res, err := Unexpose(context.Background(), c, ui.Discard, UnexposeOptions{Namespace: "shop", Service: "web", PollInterval: time.Millisecond, WaitTimeout: time.Second}, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 9 || c.Stored(kDeployment.Resource, "shop", "web-gateway") != nil {
		t.Errorf("deleted %d objects, want the 9 of Kubernetes kinds", len(res.Changes))
	}
}

// inWaves reports whether got is the waves' writes, wave after wave, in
// any order within each.
func inWaves(got []string, waves ...[]string) bool {
	for _, w := range waves {
		if len(got) < len(w) {
			return false
		}
		head := slices.Sorted(slices.Values(got[:len(w)]))
		if !slices.Equal(head, slices.Sorted(slices.Values(w))) {
			return false
		}
		got = got[len(w):]
	}
	return len(got) == 0
}

// A write that fails stops the writes after its wave: the routing is
// never written when the workload could not be.
func TestAFailedWriteStopsTheLaterWaves(t *testing.T) {
	c := newCluster(t)
	c.FailWhen(t, func(verb string, gvr schema.GroupVersionResource, _ string) error {
		if verb == "apply" && gvr == kDeployment.Resource {
			return errors.New("admission webhook denied the request")
		}
		return nil
	})
	if _, _, err := run(t, c, opts(), Hooks{}); err == nil || !strings.Contains(err.Error(), "create Deployment shop/web-gateway") {
		t.Fatalf("expose: %v", err)
	}
	for _, w := range c.Writes() {
		if strings.Contains(w, "Gateway shop/") || strings.Contains(w, "VirtualService") {
			t.Errorf("written after the workload failed: %s", w)
		}
	}
}
