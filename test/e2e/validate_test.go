//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshctl/meshctl/pkg/validate"
)

// validateRun runs meshctl validate -o json and decodes the report.
func validateRun(t *testing.T, args ...string) (*validate.Result, result) {
	t.Helper()
	r := lbRun(t, "", meshctlBin, append(append([]string{"validate", "--skip-asmcli"}, args...), "-o", "json")...)
	var res validate.Result
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatalf("meshctl validate %v: exit %d: %v\n%s\n%s", args, r.Code, err, r.Stdout, r.Stderr)
	}
	return &res, r
}

func validateCodes(res *validate.Result, level string) []string {
	var out []string
	for _, f := range res.Findings {
		if level == "" || string(f.Level) == level {
			out = append(out, f.Code+" "+f.Object)
		}
	}
	return out
}

func hasCode(res *validate.Result, code string) bool {
	for _, f := range res.Findings {
		if f.Code == code {
			return true
		}
	}
	return false
}

// validateCompute sends one request with a JSON body to the simulated Compute API.
func validateCompute(t *testing.T, method, path string, body any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, lbSimVar(t, "MESHCTL_COMPUTE_ENDPOINT")+"/compute/v1/projects/"+simProject+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// ownedBy returns the name of the Compute object of kind meshctl made for
// the Service key ("namespace/name").
func ownedBy(t *testing.T, kind, key string) string {
	t.Helper()
	var list struct {
		Items []struct {
			Name        string `json:"name"`
			Description string `json:"description"`
		} `json:"items"`
	}
	if code := lbComputeCall(t, http.MethodGet, "/global/"+kind, &list); code != http.StatusOK {
		t.Fatalf("list %s: HTTP %d", kind, code)
	}
	for _, it := range list.Items {
		if strings.Contains(it.Description, `"services":["`+key+`"]`) {
			return it.Name
		}
	}
	t.Fatalf("no %s made by meshctl for %s", kind, key)
	return ""
}

// TestValidateHealthyThenEachBreakage exposes a Service with its load
// balancer, validates it (exit 0), then breaks one thing at a time with
// kubectl or the Compute API and checks the code and exit 3.
func TestValidateHealthyThenEachBreakage(t *testing.T) {
	ensureRevision(t, "asm-test-1")
	const ns, nsBare, nsGone = "e2e-validate", "e2e-validate-bare", "e2e-validate-gone"
	t.Cleanup(func() {
		lbRun(t, "", meshctlBin, "unexpose", "svc", "web", "-n", ns)
		lbRun(t, "", "kubectl", "delete", "namespace", ns, nsBare, nsGone, "--wait=false")
	})
	lbKubectl(t, webApp(ns, "asm-test-1", 1), "apply", "-f", "-")
	expose := []string{"expose", "svc", "web", "-n", ns, "--host", "web.e2e-validate.example.com", "--waf", "xss", "-o", "json"}
	reexpose := func(t *testing.T) {
		t.Helper()
		if r := lbRun(t, "", meshctlBin, expose...); r.Code != 0 {
			t.Fatalf("meshctl expose: exit %d\n%s", r.Code, r.Stderr)
		}
	}
	reexpose(t)
	key := ns + "/web"

	// Healthy: exit 0 (backends take a moment to be probed healthy).
	junit := filepath.Join(t.TempDir(), "validate.xml")
	var res *validate.Result
	eventually(t, 2*time.Minute, "validate passes on the healthy setup", func() (bool, string) {
		var r result
		res, r = validateRun(t, "--namespace", ns, "--junit", junit)
		return r.Code == 0, fmt.Sprintf("exit %d: %v", r.Code, validateCodes(res, ""))
	})
	groups := map[string]bool{}
	for _, c := range res.Cases {
		groups[c.Group] = true
	}
	for _, g := range []string{validate.GroupControlPlane, validate.GroupDataPlane, validate.GroupExposed, validate.GroupLB} {
		if !groups[g] {
			t.Errorf("no %s checks ran: %+v", g, res.Cases)
		}
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var doc validate.JUnitSuites
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("--junit is not valid XML: %v\n%s", err, b)
	}
	var names []string
	for _, s := range doc.Suites {
		for _, tc := range s.Cases {
			names = append(names, tc.Name)
		}
	}
	for _, want := range []string{"sidecars: Namespace " + ns, "tls certificate: Service " + key, "backend health: Service " + key,
		"cloud armor: Service " + key, "firewall: Service " + key} {
		if !slices.Contains(names, want) {
			t.Errorf("JUnit lacks test case %q: %v", want, names)
		}
	}
	if doc.Tests != len(res.Cases) || doc.Failures != 0 {
		t.Errorf("JUnit tests=%d failures=%d, want %d and 0", doc.Tests, doc.Failures, len(res.Cases))
	}

	broken := func(t *testing.T, name, code string, args ...string) {
		t.Helper()
		var res *validate.Result
		eventually(t, time.Minute, name+" reported as "+code, func() (bool, string) {
			var r result
			res, r = validateRun(t, args...)
			return r.Code == 3 && hasCode(res, code), fmt.Sprintf("exit %d: %v", r.Code, validateCodes(res, ""))
		})
		t.Logf("%s: %v", name, validateCodes(res, ""))
	}

	t.Run("pod without sidecar in a revision-labelled namespace", func(t *testing.T) {
		lbKubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: v1
kind: Pod
metadata: {name: bare, namespace: %[1]s}
spec:
  containers: [{name: app, image: nginx}]
`, nsBare), "apply", "-f", "-")
		lbKubectl(t, "", "label", "namespace", nsBare, "istio.io/rev=asm-test-1")
		broken(t, "pod without sidecar", "MC0210", "--namespace", nsBare)
	})
	t.Run("namespace labelled with a deleted revision", func(t *testing.T) {
		lbKubectl(t, "", "create", "namespace", nsGone)
		lbKubectl(t, "", "label", "namespace", nsGone, "istio.io/rev=asm-deleted")
		broken(t, "namespace on a deleted revision", "MC0204", "--namespace", nsGone)
	})
	t.Run("TLS secret deleted", func(t *testing.T) {
		lbKubectl(t, "", "-n", ns+"-web-gateway", "delete", "secret", "web-gateway-cert") // in the gateway's own namespace
		broken(t, "TLS secret deleted", "MC0223", "--namespace", ns)
		reexpose(t)
	})
	t.Run("Cloud Armor detached", func(t *testing.T) {
		bs := ownedBy(t, "backendServices", key)
		if code := validateCompute(t, http.MethodPost, "/global/backendServices/"+bs+"/setSecurityPolicy", map[string]any{}); code != http.StatusOK {
			t.Fatalf("setSecurityPolicy: HTTP %d", code)
		}
		broken(t, "Cloud Armor detached", "MC0234", "--namespace", ns)
		reexpose(t)
	})
	t.Run("firewall rule deleted", func(t *testing.T) {
		fw := ownedBy(t, "firewalls", key)
		if code := validateCompute(t, http.MethodDelete, "/global/firewalls/"+fw, nil); code != http.StatusOK {
			t.Fatalf("delete firewall: HTTP %d", code)
		}
		broken(t, "firewall rule deleted", "MC0235", "--namespace", ns)
		reexpose(t)
	})
	t.Run("backend endpoints unhealthy", func(t *testing.T) {
		// Probe a port the gateway does not serve: every endpoint fails.
		hc := ownedBy(t, "healthChecks", key)
		var cur map[string]any
		if code := lbComputeCall(t, http.MethodGet, "/global/healthChecks/"+hc, &cur); code != http.StatusOK {
			t.Fatalf("get health check: HTTP %d", code)
		}
		field := map[string]string{"HTTP": "httpHealthCheck", "HTTPS": "httpsHealthCheck", "HTTP2": "http2HealthCheck", "TCP": "tcpHealthCheck"}[fmt.Sprint(cur["type"])]
		settings, _ := cur[field].(map[string]any)
		if settings == nil {
			settings = map[string]any{}
		}
		settings["port"] = 15999
		settings["portSpecification"] = "USE_FIXED_PORT"
		body := map[string]any{field: settings}
		if code := validateCompute(t, http.MethodPatch, "/global/healthChecks/"+hc, body); code != http.StatusOK {
			t.Fatalf("patch health check: HTTP %d", code)
		}
		broken(t, "backends unhealthy", "MC0231", "--namespace", ns)
		reexpose(t)
	})
	// And all is well again.
	eventually(t, 2*time.Minute, "validate passes again after re-exposing", func() (bool, string) {
		res, r := validateRun(t, "--namespace", ns)
		return r.Code == 0, fmt.Sprintf("exit %d: %v", r.Code, validateCodes(res, ""))
	})
}
