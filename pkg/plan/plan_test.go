package plan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/meshctl/meshctl/internal/ui"
)

func TestActionChanges(t *testing.T) {
	for a, want := range map[Action]bool{Create: true, Update: true, Delete: true, Restart: true, Keep: false, Use: false, Skip: false} {
		if a.Changes() != want {
			t.Errorf("%s.Changes() = %v, want %v", a, a.Changes(), want)
		}
	}
	cs := []Change{{Action: Create}, {Action: Keep}, {Action: Update}, {Action: Use}, {Action: Create}}
	if got := Pending(cs); got != 3 {
		t.Errorf("Pending = %d, want 3", got)
	}
	if n := Counts(cs); n[Create] != 2 || n[Keep] != 1 || n[Delete] != 0 {
		t.Errorf("Counts = %v", n)
	}
}

func TestDetail(t *testing.T) {
	tests := []struct {
		c    Change
		want string
	}{
		{Change{}, ""},
		{Change{Note: "certificate renewed: expires in 10 days"}, "certificate renewed: expires in 10 days"},
		{Change{Fields: []string{"spec.replicas"}}, "spec.replicas"},
		{Change{Note: "attach Cloud Armor policy p once it is ready", Fields: []string{"securityPolicy"}}, "attach Cloud Armor policy p once it is ready; securityPolicy"},
		{Change{Fields: []string{"a", "b", "c", "d", "e", "f"}}, "a, b, c, d and 2 more fields"},
	}
	for _, tt := range tests {
		if got := Detail(tt.c); got != tt.want {
			t.Errorf("Detail(%+v) = %q, want %q", tt.c, got, tt.want)
		}
	}
}

// Kubernetes objects show their namespace; Google resources have none, and
// their kinds read as people say them.
func TestTable(t *testing.T) {
	var b bytes.Buffer
	k8s := []Change{{Kind: "Deployment", Namespace: "shop", Name: "web-gateway", Action: Update, Fields: []string{"spec.replicas"}}}
	if err := (ui.Styles{}).WriteTable(&b, Table(k8s, nil)); err != nil {
		t.Fatal(err)
	}
	want := "ACTION  KIND        NAMESPACE  NAME         DETAIL\nupdate  Deployment  shop       web-gateway  spec.replicas\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	gcp := []Change{{Kind: "backendServices", Name: "mc-bs", Action: Create}}
	title := func(k string) string { return map[string]string{"backendServices": "backend service"}[k] }
	if err := (ui.Styles{}).WriteTable(&b, Table(gcp, title)); err != nil {
		t.Fatal(err)
	}
	if want := "ACTION  KIND             NAME   DETAIL\ncreate  backend service  mc-bs  \n"; b.String() != want {
		t.Errorf("table:\n%q\nwant:\n%q", b.String(), want)
	}
}

func TestChangeJSON(t *testing.T) {
	b, err := json.Marshal(Change{Kind: "urlMaps", Name: "um", Action: Update, Fields: []string{"hostRules"}, DependsOn: []string{"backendServices/bs"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != `{"kind":"urlMaps","name":"um","action":"update","fields":["hostRules"],"dependsOn":["backendServices/bs"]}` {
		t.Errorf("JSON %s", got)
	}
	if r := (Change{Kind: "Secret", Namespace: "shop", Name: "c"}).Ref(); r != "Secret shop/c" || !strings.HasPrefix((Change{Kind: "urlMaps", Name: "um"}).Ref(), "urlMaps um") {
		t.Errorf("Ref %q", r)
	}
}
