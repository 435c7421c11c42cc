package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshctl/meshctl/internal/failure"
)

const gkeKubeconfig = "../../testdata/kubeconfig/gke.yaml"

func TestParseGKEContext(t *testing.T) {
	tests := []struct {
		name string
		want GKEContext
		ok   bool
	}{
		{"gke_my-project_us-central1_mesh-1", GKEContext{"my-project", "us-central1", "mesh-1"}, true},
		{"gke_p_europe-west1-b_c", GKEContext{"p", "europe-west1-b", "c"}, true},
		{"gke_p_l", GKEContext{}, false},
		{"gke_p_l_c_extra", GKEContext{}, false},
		{"gke__us-central1_c", GKEContext{}, false},
		{"kind-local", GKEContext{}, false},
		{"connectgateway_p_global_membership", GKEContext{}, false},
		{"", GKEContext{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseGKEContext(tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseGKEContext(%q) = %+v, %v; want %+v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
		if ok && got.String() != tt.name {
			t.Errorf("String() = %q, want %q", got.String(), tt.name)
		}
	}
}

func TestCurrentContext(t *testing.T) {
	got, err := CurrentContext(Config{Kubeconfig: gkeKubeconfig, Context: "kind-local"})
	if err != nil {
		t.Fatal(err)
	}
	if got != "gke_demo-project_us-central1_mesh-1" {
		t.Errorf("CurrentContext = %q", got)
	}
}

func TestCurrentContextHonorsKUBECONFIG(t *testing.T) {
	abs, err := filepath.Abs(gkeKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "missing.yaml")+string(os.PathListSeparator)+abs)
	got, err := CurrentContext(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got != "gke_demo-project_us-central1_mesh-1" {
		t.Errorf("CurrentContext = %q", got)
	}
}

func TestSearchPaths(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "missing.yaml"))
	got, err := CurrentContext(Config{SearchPaths: []string{filepath.Join(t.TempDir(), "none"), gkeKubeconfig}})
	if err != nil || got != "gke_demo-project_us-central1_mesh-1" {
		t.Errorf("CurrentContext = %q, %v; want the context from SearchPaths", got, err)
	}
}

func TestRESTConfig(t *testing.T) {
	tests := []struct {
		context, host, token string
	}{
		{"", "https://127.0.0.1:6443", "test-token"},
		{"kind-local", "https://127.0.0.1:7443", "other-token"},
	}
	for _, tt := range tests {
		rc, err := RESTConfig(Config{Kubeconfig: gkeKubeconfig, Context: tt.context, UserAgent: "meshctl/test"})
		if err != nil {
			t.Fatal(err)
		}
		if rc.Host != tt.host || rc.BearerToken != tt.token || rc.UserAgent != "meshctl/test" {
			t.Errorf("context %q: host %q token %q ua %q", tt.context, rc.Host, rc.BearerToken, rc.UserAgent)
		}
		// Every client meshctl builds gets its tuning from here.
		if rc.QPS != QPS || rc.Burst != Burst || rc.ContentType != "application/vnd.kubernetes.protobuf" ||
			rc.AcceptContentTypes != "application/vnd.kubernetes.protobuf,application/json" {
			t.Errorf("context %q: QPS %v burst %d content %q accept %q, want meshctl's tuning", tt.context, rc.QPS, rc.Burst, rc.ContentType, rc.AcceptContentTypes)
		}
	}
}

func TestRESTConfigErrors(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(empty, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", empty)
	_, err := RESTConfig(Config{})
	if err == nil || !strings.Contains(failure.HintOf(err), "get-credentials") {
		t.Errorf("empty kubeconfig: err %v, hint %q; want a get-credentials hint", err, failure.HintOf(err))
	}
	_, err = RESTConfig(Config{Kubeconfig: gkeKubeconfig, Context: "nope"})
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown context: err %v, want it named", err)
	}
}
