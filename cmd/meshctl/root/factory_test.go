package root

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/spf13/cobra"
)

// TestAppClientsFollowSettings checks that the endpoint and kubeconfig
// settings reach the clients a command gets from the factory.
func TestAppClientsFollowSettings(t *testing.T) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path+" auth="+r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasPrefix(r.URL.Path, "/compute/"):
			fmt.Fprint(w, `{"name":"hc-web"}`)
		default:
			fmt.Fprint(w, `{"clusters":[{"name":"mesh-1"}]}`)
		}
	}))
	defer srv.Close()
	kubeconfig, _ := filepath.Abs("../../../testdata/kubeconfig/gke.yaml")

	h := newHarness(t)
	h.env["KUBECONFIG"] = kubeconfig
	h.env["MESHCTL_CONTAINER_ENDPOINT"] = srv.URL
	h.extra = func(f *factory.Factory) []*cobra.Command {
		return []*cobra.Command{{Use: "probe", RunE: func(cmd *cobra.Command, _ []string) error {
			rc, err := f.KubeRESTConfig()
			if err != nil {
				return err
			}
			if _, err := f.Kube(); err != nil {
				return err
			}
			gke, err := f.ClusterManager(cmd.Context())
			if err != nil {
				return err
			}
			resp, err := gke.ListClusters(cmd.Context(), &containerpb.ListClustersRequest{Parent: "projects/" + f.Settings.Project + "/locations/-"})
			if err != nil {
				return err
			}
			hc, err := factory.NewCompute(cmd.Context(), f, compute.NewHealthChecksRESTClient)
			if err != nil {
				return err
			}
			got, err := hc.Get(cmd.Context(), &computepb.GetHealthCheckRequest{Project: f.Settings.Project, HealthCheck: "hc-web"})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s %s %s\n", rc.Host, rc.UserAgent, resp.GetClusters()[0].GetName(), got.GetName())
			return nil
		}}}
	}
	r := h.run(t, "probe", "--compute-endpoint", srv.URL)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if want := "https://127.0.0.1:6443 meshctl/dev mesh-1 hc-web\n"; r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
	want := []string{
		"/v1/projects/demo-project/locations/-/clusters auth=",
		"/compute/v1/projects/demo-project/global/healthChecks/hc-web auth=",
	}
	if strings.Join(paths, "|") != strings.Join(want, "|") {
		t.Errorf("requests = %q, want %q", paths, want)
	}
}

func TestKubeErrorHintNamesTheCluster(t *testing.T) {
	h := newHarness(t)
	h.extra = func(f *factory.Factory) []*cobra.Command {
		return []*cobra.Command{{Use: "probe", RunE: func(*cobra.Command, []string) error {
			_, err := f.Kube()
			return err
		}}}
	}
	r := h.run(t, "probe", "--project", "p", "--location", "us-central1", "--cluster", "mesh-1")
	if r.code != failure.ExitFailure || !strings.Contains(r.stderr, "Hint: run `gcloud container clusters get-credentials mesh-1 --location us-central1 --project p`") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestRemoteEndpointWithoutCredentials(t *testing.T) {
	h := newHarness(t)
	h.extra = func(f *factory.Factory) []*cobra.Command {
		return []*cobra.Command{{Use: "probe", RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := f.ClusterManager(cmd.Context())
			return err
		}}}
	}
	r := h.run(t, "probe")
	if r.code != failure.ExitFailure || !strings.Contains(r.stderr, "Hint: run `gcloud auth application-default login`") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}
