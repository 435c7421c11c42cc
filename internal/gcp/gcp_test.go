package gcp

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/auth"
	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/meshctl/meshctl/internal/failure"
	"google.golang.org/api/gkehub/v1"
)

func TestIsLoopback(t *testing.T) {
	tests := map[string]bool{
		"http://127.0.0.1:8085":          true,
		"http://127.3.4.5":               true,
		"http://[::1]:9000":              true,
		"http://localhost:1234":          true,
		"https://LOCALHOST":              true,
		"https://compute.googleapis.com": false,
		"http://10.0.0.1:80":             false,
		"http://128.0.0.1":               false,
		"http://localhost.example.com":   false,
		"":                               false,
	}
	for endpoint, want := range tests {
		if got := IsLoopback(endpoint); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", endpoint, got, want)
		}
	}
}

func TestValidateEndpoint(t *testing.T) {
	ok := []string{"", "https://compute-psc.p.googleapis.com", "http://127.0.0.1:8085", "http://localhost:1"}
	bad := []string{"compute.googleapis.com", "ftp://x", "http://10.1.2.3:80", "https://", "::"}
	for _, e := range ok {
		if err := ValidateEndpoint(e); err != nil {
			t.Errorf("ValidateEndpoint(%q) = %v", e, err)
		}
	}
	for _, e := range bad {
		if err := ValidateEndpoint(e); err == nil {
			t.Errorf("ValidateEndpoint(%q) accepted", e)
		}
	}
}

// recordingServer answers like the Compute and GKE APIs and records what it
// was sent.
type recordingServer struct {
	mu       sync.Mutex
	paths    []string
	auth     []string
	agents   []string
	response string
}

func (s *recordingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.paths = append(s.paths, r.Method+" "+r.URL.Path)
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	s.agents = append(s.agents, r.Header.Get("User-Agent"))
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(s.response))
}

func noCredentials(t *testing.T) func() (*auth.Credentials, error) {
	return func() (*auth.Credentials, error) {
		t.Error("credentials were looked up for a loopback endpoint")
		return nil, errors.New("unexpected")
	}
}

func TestComputeClientOnLoopbackEndpoint(t *testing.T) {
	rec := &recordingServer{response: `{"name":"fr-web","IPAddress":"203.0.113.7"}`}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	ctx := context.Background()
	cfg := Config{ComputeEndpoint: srv.URL + "/", UserAgent: "meshctl/test", DetectCredentials: noCredentials(t)}

	c, err := NewCompute(ctx, cfg, compute.NewGlobalForwardingRulesRESTClient)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fr, err := c.Get(ctx, &computepb.GetGlobalForwardingRuleRequest{Project: "p", ForwardingRule: "fr-web"})
	if err != nil {
		t.Fatal(err)
	}
	if fr.GetIPAddress() != "203.0.113.7" {
		t.Errorf("IPAddress = %q", fr.GetIPAddress())
	}
	if want := "GET /compute/v1/projects/p/global/forwardingRules/fr-web"; rec.paths[0] != want {
		t.Errorf("path = %q, want %q", rec.paths[0], want)
	}
	if rec.auth[0] != "" {
		t.Errorf("Authorization header sent to loopback: %q", rec.auth[0])
	}
	if !strings.Contains(rec.agents[0], "meshctl/test") {
		t.Errorf("User-Agent = %q, want meshctl/test in it", rec.agents[0])
	}
}

func TestClusterManagerOnLoopbackEndpoint(t *testing.T) {
	rec := &recordingServer{response: `{"clusters":[{"name":"mesh-1","currentMasterVersion":"1.34.4-gke.1000"}]}`}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	ctx := context.Background()
	cfg := Config{ContainerEndpoint: srv.URL, UserAgent: "meshctl/test", DetectCredentials: noCredentials(t)}

	c, err := NewClusterManager(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/p/locations/-"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetClusters()) != 1 || resp.GetClusters()[0].GetName() != "mesh-1" {
		t.Errorf("clusters = %v", resp.GetClusters())
	}
	if want := "GET /v1/projects/p/locations/-/clusters"; rec.paths[0] != want {
		t.Errorf("path = %q, want %q", rec.paths[0], want)
	}
	if rec.auth[0] != "" || !strings.Contains(rec.agents[0], "meshctl/test") {
		t.Errorf("auth %q, user agent %q", rec.auth[0], rec.agents[0])
	}
}

func TestGKEHubOnLoopbackEndpoint(t *testing.T) {
	rec := &recordingServer{response: `{"name":"projects/p/locations/global/features/servicemesh"}`}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	ctx := context.Background()
	opts, err := Config{GKEHubEndpoint: srv.URL, DetectCredentials: noCredentials(t)}.GKEHubOptions()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := gkehub.NewService(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Projects.Locations.Features.Get("projects/p/locations/global/features/servicemesh").Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	if want := "GET /v1/projects/p/locations/global/features/servicemesh"; rec.paths[0] != want {
		t.Errorf("path = %q, want %q", rec.paths[0], want)
	}
}

func TestRemoteEndpointNeedsCredentials(t *testing.T) {
	ctx := context.Background()
	cfg := Config{
		ComputeEndpoint: "https://compute-psc.p.googleapis.com",
		DetectCredentials: func() (*auth.Credentials, error) {
			return nil, errors.New("credentials: could not find default credentials")
		},
	}
	_, err := NewCompute(ctx, cfg, compute.NewBackendServicesRESTClient)
	if err == nil {
		t.Fatal("want an error without credentials")
	}
	if !strings.Contains(failure.HintOf(err), "gcloud auth application-default login") {
		t.Errorf("hint = %q, want the ADC login command", failure.HintOf(err))
	}
	if failure.ExitCode(err) != failure.ExitFailure {
		t.Errorf("exit code = %d", failure.ExitCode(err))
	}

	called := false
	cfg.DetectCredentials = func() (*auth.Credentials, error) {
		called = true
		return auth.NewCredentials(&auth.CredentialsOptions{TokenProvider: staticToken("t")}), nil
	}
	c, err := NewCompute(ctx, cfg, compute.NewBackendServicesRESTClient)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !called {
		t.Error("credentials were not looked up for a remote endpoint")
	}
}

func TestBadEndpointIsUsageError(t *testing.T) {
	_, err := NewClusterManager(context.Background(), Config{ContainerEndpoint: "http://192.0.2.1:80"})
	if failure.ExitCode(err) != failure.ExitUsage {
		t.Errorf("err = %v (exit %d), want a usage error", err, failure.ExitCode(err))
	}
}

type staticToken string

func (s staticToken) Token(context.Context) (*auth.Token, error) {
	return &auth.Token{Value: string(s)}, nil
}
