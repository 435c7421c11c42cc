package expose

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ownNamespaceOpts are opts() with the default placement: the gateway's
// own namespace.
func ownNamespaceOpts() Options {
	o := opts()
	o.GatewayNamespace = ""
	return o
}

const ownNS = "shop-web-gateway"

// TestGatewayGetsANamespaceOfItsOwn: by default meshctl makes the gateway a
// namespace (first), puts everything of the gateway there with its
// NetworkPolicy, checks the objects in the Service's namespace before the
// namespace exists, and a second run changes nothing.
func TestGatewayGetsANamespaceOfItsOwn(t *testing.T) {
	c := newCluster(t)
	res, rec, err := run(t, c, ownNamespaceOpts(), Hooks{})
	if err != nil {
		t.Fatalf("expose: %v\n%s", err, strings.Join(rec.Lines(), "\n"))
	}
	writes := c.Writes()
	if len(writes) == 0 || writes[0] != "apply Namespace /"+ownNS {
		t.Fatalf("first write %v, want the namespace", writes)
	}
	for _, w := range writes[1:] {
		if !strings.Contains(w, " "+ownNS+"/") {
			t.Errorf("%s: not in the gateway's namespace", w)
		}
	}
	if !slices.Contains(writes, "apply NetworkPolicy "+ownNS+"/web-gateway") {
		t.Errorf("no NetworkPolicy: %v", writes)
	}
	ns := c.Stored(kNamespace.Resource, "", ownNS)
	if ns == nil || !mesh.OwnedBy(ns.GetLabels(), "shop", "web") {
		t.Errorf("namespace %s not marked as meshctl's for shop/web: %v", ownNS, ns)
	}
	if res.Gateway.Namespace != ownNS || res.Gateway.Name != "web-gateway" || len(res.Warnings) != 0 {
		t.Errorf("gateway %+v, warnings %q", res.Gateway, res.Warnings)
	}
	before := len(c.Writes())
	again, _, err := run(t, c, ownNamespaceOpts(), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range again.Changes {
		if ch.Action != plan.Keep {
			t.Errorf("second run: %s %s", ch.Action, ch.Ref())
		}
	}
	if w := c.Writes()[before:]; len(w) != 0 {
		t.Errorf("second run wrote %v", w)
	}
}

// TestOwnNamespaceIsLabelledForTheGatewaysRevision: the namespace meshctl
// makes carries istio.io/rev for the gateway's revision, so that `istioctl
// analyze` sees the namespace injected (no IST0102); a re-run
// with another revision relabels it rather than refusing it for the label
// an earlier run set.
func TestOwnNamespaceIsLabelledForTheGatewaysRevision(t *testing.T) {
	c := newCluster(t)
	if _, _, err := run(t, c, ownNamespaceOpts(), Hooks{}); err != nil {
		t.Fatal(err)
	}
	label := func() string {
		ns := c.Stored(kNamespace.Resource, "", ownNS)
		if ns == nil {
			t.Fatalf("no namespace %s", ownNS)
		}
		return ns.GetLabels()[mesh.LabelRevision]
	}
	if got := label(); got != "asm-1" {
		t.Errorf("namespace %s labelled %s=%q, want asm-1", ownNS, mesh.LabelRevision, got)
	}

	c.addRevision("asm-2", "")
	o := ownNamespaceOpts()
	o.Revision = "asm-2"
	res, _, err := run(t, c, o, Hooks{})
	if err != nil {
		t.Fatalf("re-run with --revision asm-2: %v", err)
	}
	if got := label(); got != "asm-2" || res.Revision != "asm-2" {
		t.Errorf("after --revision asm-2: label %q, revision %q", got, res.Revision)
	}
	if res.Changes[0].Ref() != "Namespace "+ownNS || res.Changes[0].Action != plan.Update {
		t.Errorf("first change %+v, want the namespace updated", res.Changes[0])
	}
}

// TestDryRunChecksObjectsOfANewNamespace: a dry run writes nothing, and
// each object of the namespace to be made is checked by the API server's
// dry run in the Service's namespace (the new one would refuse it).
func TestDryRunChecksObjectsOfANewNamespace(t *testing.T) {
	c := newCluster(t)
	var checked []string
	c.Fail = func(verb string, _ schema.GroupVersionResource, key string) error {
		if verb == "dry-run" {
			checked = append(checked, key)
		}
		return nil
	}
	o := ownNamespaceOpts()
	o.DryRun = true
	res, _, err := run(t, c, o, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Writes()) != 0 || len(res.Changes) != 13 || res.Changes[0].Ref() != "Namespace "+ownNS {
		t.Errorf("writes %v; changes %+v", c.Writes(), res.Changes)
	}
	for _, k := range checked[1:] {
		if !strings.HasPrefix(k, "shop/") {
			t.Errorf("dry run of %s, want it in shop", k)
		}
	}
	if len(checked) != 13 || checked[0] != "/"+ownNS {
		t.Errorf("dry runs %v", checked)
	}
}

// TestPlacementChoices: a running gateway stays where it is (saying how to
// move it, and what its shared namespace grants), a namespace of the
// gateway's name that meshctl did not make is refused, and the user's
// certificate cannot be in a namespace meshctl has yet to make.
func TestPlacementChoices(t *testing.T) {
	t.Run("a running gateway stays where it is", func(t *testing.T) {
		c := newCluster(t)
		if _, _, err := run(t, c, opts(), Hooks{}); err != nil { // --gateway-namespace shop, as before
			t.Fatal(err)
		}
		c.Add(kSecret.Resource, &corev1.Secret{TypeMeta: tm("v1", "Secret"), ObjectMeta: metav1.ObjectMeta{Name: "db-password", Namespace: "shop"}})
		res, _, err := run(t, c, ownNamespaceOpts(), Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		warn := strings.Join(res.Warnings, "\n")
		if res.Gateway.Namespace != "shop" || !strings.Contains(warn, "read every Secret in shop (1 other Secrets there now: db-password)") ||
			!strings.Contains(warn, "pass --gateway-namespace "+ownNS+" to move it") {
			t.Errorf("gateway %+v, warnings %q", res.Gateway, warn)
		}
		if c.Stored(kNamespace.Resource, "", ownNS) != nil {
			t.Error("made a namespace for a gateway that stays where it runs")
		}
	})
	t.Run("a namespace of that name meshctl did not make", func(t *testing.T) {
		c := newCluster(t)
		c.addNamespace(ownNS, nil)
		_, _, err := run(t, c, ownNamespaceOpts(), Hooks{})
		if err == nil || !strings.Contains(err.Error(), "namespace "+ownNS+", where the gateway of shop/web would run alone, exists and was not made by meshctl") ||
			!strings.Contains(failure.HintOf(err), "--gateway-namespace "+ownNS) || len(c.Writes()) != 0 {
			t.Errorf("err %v (hint %q), writes %v", err, failure.HintOf(err), c.Writes())
		}
	})
	t.Run("the user's certificate and a namespace to be made", func(t *testing.T) {
		c := newCluster(t)
		o := ownNamespaceOpts()
		o.CertSecret = "my-tls"
		_, _, err := run(t, c, o, Hooks{})
		if err == nil || !strings.Contains(err.Error(), "does not exist yet") || !strings.Contains(failure.HintOf(err), "kubectl create namespace "+ownNS) {
			t.Errorf("err %v, hint %q", err, failure.HintOf(err))
		}
	})
}

// TestNoNetworkPolicy: --no-network-policy makes none, and removes the one
// an earlier run made.
func TestNoNetworkPolicy(t *testing.T) {
	c := newCluster(t)
	if _, _, err := run(t, c, ownNamespaceOpts(), Hooks{}); err != nil {
		t.Fatal(err)
	}
	o := ownNamespaceOpts()
	o.NoNetworkPolicy = true
	res, _, err := run(t, c, o, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, ch := range res.Changes {
		if ch.Action != plan.Keep {
			changed = append(changed, string(ch.Action)+" "+ch.Ref())
		}
	}
	if !slices.Equal(changed, []string{"delete NetworkPolicy " + ownNS + "/web-gateway"}) || c.Stored(kNetworkPolicy.Resource, ownNS, "web-gateway") != nil {
		t.Errorf("changes %v", changed)
	}
}

// TestUnexposeRemovesTheGatewayNamespaceOnlyWhenEmpty: unexpose deletes the
// namespace meshctl made once nothing but what every namespace has is left
// in it, and keeps it, saying why, when something else is there.
func TestUnexposeRemovesTheGatewayNamespaceOnlyWhenEmpty(t *testing.T) {
	uo := UnexposeOptions{Namespace: "shop", Service: "web", PollInterval: time.Millisecond, WaitTimeout: time.Second}
	for _, extra := range []bool{false, true} {
		c := newCluster(t)
		if _, _, err := run(t, c, ownNamespaceOpts(), Hooks{}); err != nil {
			t.Fatal(err)
		}
		// What Kubernetes and istiod put in every namespace.
		c.Add(kServiceAccountGVR, &corev1.ServiceAccount{TypeMeta: tm("v1", "ServiceAccount"), ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ownNS}})
		c.Add(configMapGVR, &corev1.ConfigMap{TypeMeta: tm("v1", "ConfigMap"), ObjectMeta: metav1.ObjectMeta{Name: "istio-ca-root-cert", Namespace: ownNS}})
		c.Add(configMapGVR, &corev1.ConfigMap{TypeMeta: tm("v1", "ConfigMap"), ObjectMeta: metav1.ObjectMeta{Name: "istio-ca-crl", Namespace: ownNS}})
		if extra {
			c.Add(configMapGVR, &corev1.ConfigMap{TypeMeta: tm("v1", "ConfigMap"), ObjectMeta: metav1.ObjectMeta{Name: "team-notes", Namespace: ownNS}})
		}
		res, err := Unexpose(context.Background(), c, &ui.Recorder{}, uo, Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		kept := c.Stored(kNamespace.Resource, "", ownNS) != nil
		if kept != extra {
			t.Errorf("something else in it %v: namespace kept %v", extra, kept)
		}
		note := strings.Join(res.Notes, "\n")
		if extra != strings.Contains(note, "namespace "+ownNS+", which meshctl made for the gateway, stays: it holds ConfigMap team-notes") {
			t.Errorf("something else in it %v: notes %q", extra, note)
		}
		if c.Stored(kDeployment.Resource, ownNS, "web-gateway") != nil {
			t.Error("the gateway is still there")
		}
	}
}

var (
	kServiceAccountGVR = kServiceAccount.Resource
	configMapGVR       = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)
