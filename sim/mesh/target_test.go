package mesh

import (
	"slices"
	"strings"
	"testing"

	"github.com/meshctl/meshctl/sim/scenario"
	"github.com/meshctl/meshctl/sim/state"
)

func simOf(t *testing.T, n int) state.Sim {
	t.Helper()
	cs, err := scenario.Default().Clusters(n, []string{"us-central1", "europe-west1"})
	if err != nil {
		t.Fatal(err)
	}
	s := state.Sim{Scenario: cs[0]}
	for i, c := range cs {
		s.Clusters = append(s.Clusters, state.Cluster{Scenario: c, Context: c.KubeContext(), ProxyPort: 4000 + i})
	}
	return s
}

func TestTargetFor(t *testing.T) {
	dir := state.Dir("/state")
	one, err := TargetFor(dir, simOf(t, 1), "", "", "", "asm-1")
	if err != nil {
		t.Fatal(err)
	}
	// One cluster: named and configured as before several existed.
	if one.Key != "asm-1" || one.Kubeconfig != "/state/kubeconfig" || one.Cluster != "meshsim" || one.CACerts != "/state/meshsim/cacerts" {
		t.Errorf("one cluster: %+v", one)
	}
	two := simOf(t, 2)
	for _, lookup := range [][3]string{
		{"gke_meshsim-project_europe-west1_meshsim-2", "", ""},
		{"", "europe-west1", "meshsim-2"},
	} {
		got, err := TargetFor(dir, two, lookup[0], lookup[1], lookup[2], "asm-1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Key != "meshsim-2-asm-1" || got.Kubeconfig != "/state/meshsim-2/kubeconfig" || got.ProxyPort != 4001 ||
			got.ClusterID != "cn-meshsim-project-europe-west1-meshsim-2" || got.CACerts != "/state/meshsim-2/cacerts" {
			t.Errorf("TargetFor(%v) = %+v", lookup, got)
		}
	}
	if _, err := TargetFor(dir, two, "", "us-east1", "meshsim-2", "asm-1"); err == nil || !strings.Contains(err.Error(), "no cluster us-east1/meshsim-2") {
		t.Errorf("a cluster meshsim does not simulate: %v", err)
	}
}

func TestTargetEnv(t *testing.T) {
	rendered := []string{"POD_NAMESPACE=istio-system", "CLUSTER_ID=from-the-chart"}
	env, id := targetEnv(rendered, Target{Kubeconfig: "/k", CACerts: "/ca", ProxyPort: 4001, ClusterID: "cn-p-l-c"})
	for _, want := range []string{"KUBECONFIG=/k", "ROOT_CA_DIR=/ca", "HTTPS_PROXY=http://127.0.0.1:4001", "NO_PROXY=127.0.0.1,localhost", "POD_NAMESPACE=istio-system"} {
		if !slices.Contains(env, want) {
			t.Errorf("env lacks %s: %v", want, env)
		}
	}
	// The target's cluster id wins, and comes last (exec keeps the last of
	// duplicate keys).
	last := ""
	for _, kv := range env {
		if strings.HasPrefix(kv, "CLUSTER_ID=") {
			last = kv
		}
	}
	if id != "cn-p-l-c" || last != "CLUSTER_ID=cn-p-l-c" {
		t.Errorf("cluster id %q, env %v", id, env)
	}
	env, id = targetEnv(rendered, Target{Kubeconfig: "/k", CACerts: "/ca"})
	if id != "from-the-chart" || slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "HTTPS_PROXY=") }) {
		t.Errorf("without a proxy or id: %q %v", id, env)
	}
}
