package gkegateway

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEmbeddedCRDsMatchTheModules holds the copies under crds/ to the
// modules go.mod names, so a version bump without `go generate` fails.
func TestEmbeddedCRDsMatchTheModules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH")
	}
	sources := map[string]string{
		"gateway.networking.k8s.io_": "sigs.k8s.io/gateway-api|config/crd/standard",
		"networking.gke.io_":         "github.com/GoogleCloudPlatform/gke-gateway-api|config/crd",
	}
	names := CRDNames()
	if len(names) != 8 {
		t.Errorf("embedded CRDs = %v, want the five Gateway API kinds and the three policies", names)
	}
	for _, name := range names {
		var module, dir string
		for p, src := range sources {
			if strings.HasPrefix(name, p) {
				module, dir, _ = strings.Cut(src, "|")
			}
		}
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
		if err != nil {
			t.Fatalf("go list -m %s: %v", module, err)
		}
		want, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := crdFiles.ReadFile("crds/" + name)
		if !bytes.Equal(got, want) {
			t.Errorf("crds/%s differs from %s's; run go generate ./sim/gkegateway", name, module)
		}
	}
	// The decision documented in install.go: v1.3.0's policy CRDs carry no
	// CEL rule on the health check's port.
	hc, _ := crdFiles.ReadFile("crds/networking.gke.io_healthcheckpolicies.yaml")
	if bytes.Contains(hc, []byte("x-kubernetes-validations")) {
		t.Error("the HealthCheckPolicy CRD now has CEL rules: revisit the choice in install.go and the e2e test of the guide's form")
	}
}

func TestCertificateManagerREST(t *testing.T) {
	stub := &certMapStub{maps: map[string]bool{"edge2mesh-cert-map": true}}
	srv := httptest.NewServer(stub)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cm := CertificateManagerREST{Endpoint: srv.URL}
	if ok, err := cm.CertificateMapExists(ctx, "p", "edge2mesh-cert-map"); !ok || err != nil {
		t.Errorf("an existing map: %v, %v", ok, err)
	}
	if ok, err := cm.CertificateMapExists(ctx, "p", "other"); ok || err != nil {
		t.Errorf("a missing map: %v, %v; want false and no error", ok, err)
	}
	// An endpoint without the API (meshsim before its fake Certificate
	// Manager) says the URL is unknown.
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":404,"message":"The requested URL ` + r.URL.Path + ` was not found on this server.","errors":[{"reason":"notFound"}]}}`))
	}))
	defer bare.Close()
	if _, err := (CertificateManagerREST{Endpoint: bare.URL}).CertificateMapExists(ctx, "p", "m"); !errors.Is(err, ErrCertificateManagerNotServed) {
		t.Errorf("an endpoint without Certificate Manager: %v", err)
	}
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer broken.Close()
	if _, err := (CertificateManagerREST{Endpoint: broken.URL}).CertificateMapExists(ctx, "p", "m"); err == nil || errors.Is(err, ErrCertificateManagerNotServed) {
		t.Errorf("a 503: %v, want an error to retry on", err)
	}
}

func TestKnobs(t *testing.T) {
	k, err := ParseKnobs(`{"acceptDelay":"20s"}`)
	if err != nil || time.Duration(k.AcceptDelay) != 20*time.Second || k.ProgramDelay != DefaultKnobs().ProgramDelay {
		t.Errorf("ParseKnobs = %+v, %v", k, err)
	}
	if _, err := ParseKnobs(`{"acceptDelay":"soon"}`); err == nil {
		t.Error("a bad duration was accepted")
	}
	h := NewKnobsHolder(DefaultKnobs())
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Post(srv.URL+KnobsPath, "application/json", strings.NewReader(`{"programDelay":"2m"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := h.Get(); time.Duration(got.ProgramDelay) != 2*time.Minute || got.AcceptDelay != DefaultKnobs().AcceptDelay {
		t.Errorf("after POST: %+v", got)
	}
	select {
	case <-h.changed:
	default:
		t.Error("the controller was not told the knobs changed")
	}
}
