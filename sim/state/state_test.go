package state

import (
	"slices"
	"strings"
	"testing"
)

// meshsim env points meshctl and gcloud at the simulator's Certificate
// Manager, served under a path of the simulator's port: the Go client takes
// the prefix as its endpoint, gcloud's override is a base URL ending in a
// slash.
func TestEnvPointsAtCertificateManager(t *testing.T) {
	env := Dir("/tmp/sim").Env(Sim{GCPEndpoint: "http://127.0.0.1:4000"})
	for _, want := range []string{
		"MESHCTL_CERTIFICATE_MANAGER_ENDPOINT=http://127.0.0.1:4000/certificatemanager",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_CERTIFICATEMANAGER=http://127.0.0.1:4000/certificatemanager/",
	} {
		if !slices.Contains(env, want) {
			t.Errorf("env lacks %s: %v", want, env)
		}
	}
	if env := Dir("/tmp/sim").Env(Sim{}); slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "CLOUDSDK") }) {
		t.Errorf("without Google APIs up, env points gcloud somewhere: %v", env)
	}
}
