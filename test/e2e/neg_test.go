//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// simEndpoint is the simulator's Google Cloud API endpoint.
func simEndpoint(t *testing.T) string {
	t.Helper()
	for _, kv := range simEnv {
		if v, ok := strings.CutPrefix(kv, "MESHCTL_COMPUTE_ENDPOINT="); ok {
			return v
		}
	}
	t.Fatal("meshsim env exports no MESHCTL_COMPUTE_ENDPOINT")
	return ""
}

// computeCall sends one request to the simulated Compute API and decodes the answer.
func computeCall(t *testing.T, method, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, simEndpoint(t)+"/compute/v1/projects/"+simProject+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func TestNEGControllerFollowsAnnotatedService(t *testing.T) {
	kubectlApply(t, `apiVersion: v1
kind: Namespace
metadata:
  name: e2e-neg
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: e2e-neg}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}
      containers:
      - name: web
        image: nginx
        ports: [{containerPort: 8443}]
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: e2e-neg
  annotations:
    cloud.google.com/neg: '{"exposed_ports":{"443":{}}}'
spec:
  selector: {app: web}
  ports: [{name: https, port: 443, targetPort: 8443}]
`)
	type negStatus struct {
		NEGs  map[string]string `json:"network_endpoint_groups"`
		Zones []string          `json:"zones"`
	}
	var st negStatus
	eventually(t, 60*time.Second, "neg-status written", func() (bool, string) {
		raw := runIn(t, "", "kubectl", "get", "svc", "web", "-n", "e2e-neg", "-o", `jsonpath={.metadata.annotations.cloud\.google\.com/neg-status}`).Stdout
		return json.Unmarshal([]byte(raw), &st) == nil && st.NEGs["443"] != "", raw
	})
	name := st.NEGs["443"]
	if !strings.HasPrefix(name, "k8s1-") || !strings.Contains(name, "-e2e-neg-web-443-") || len(name) > 63 {
		t.Errorf("NEG name %q does not follow GKE's scheme", name)
	}
	if strings.Join(st.Zones, ",") != "us-central1-a,us-central1-b,us-central1-c" {
		t.Errorf("zones = %v", st.Zones)
	}
	// Every zone's NEG holds that zone's ready pods, at the target port.
	eventually(t, 60*time.Second, "NEG endpoints equal the ready pods", func() (bool, string) {
		total, detail := 0, ""
		for _, zone := range st.Zones {
			var neg struct {
				Size int `json:"size"`
			}
			if code := computeCall(t, http.MethodGet, fmt.Sprintf("/zones/%s/networkEndpointGroups/%s", zone, name), &neg); code != 200 {
				return false, fmt.Sprintf("NEG %s in %s: HTTP %d", name, zone, code)
			}
			var list struct {
				Items []struct {
					NetworkEndpoint struct {
						IPAddress string `json:"ipAddress"`
						Port      int    `json:"port"`
					} `json:"networkEndpoint"`
				} `json:"items"`
			}
			computeCall(t, http.MethodPost, fmt.Sprintf("/zones/%s/networkEndpointGroups/%s/listNetworkEndpoints", zone, name), &list)
			for _, it := range list.Items {
				if it.NetworkEndpoint.Port != 8443 {
					return false, fmt.Sprintf("endpoint port %d, want the target port 8443", it.NetworkEndpoint.Port)
				}
			}
			total += len(list.Items)
			detail += fmt.Sprintf("%s:%d ", zone, len(list.Items))
		}
		return total == 4, detail
	})

	// The annotation goes: the status and the NEGs go with it.
	kubectl(t, "annotate", "svc", "web", "-n", "e2e-neg", "cloud.google.com/neg-")
	eventually(t, 60*time.Second, "NEGs removed with the annotation", func() (bool, string) {
		raw := runIn(t, "", "kubectl", "get", "svc", "web", "-n", "e2e-neg", "-o", `jsonpath={.metadata.annotations}`).Stdout
		code := computeCall(t, http.MethodGet, fmt.Sprintf("/zones/us-central1-a/networkEndpointGroups/%s", name), nil)
		return !strings.Contains(raw, "neg-status") && code == http.StatusNotFound, fmt.Sprintf("annotations %s, NEG HTTP %d", raw, code)
	})
}
