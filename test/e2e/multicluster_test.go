//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// mcSim is a simulator of several clusters (meshsim up --clusters N). It
// costs a control plane and an istiod per cluster, so a test that needs one
// starts it with startSimFor and it stops when that test ends; only one
// shared by several tests (multiNetworkSim) lives until the last test.
type mcSim struct {
	state  string
	env    []string
	status mcStatus
	stop   func() // meshsim down; safe to call more than once

	installOnce sync.Once
	installErr  string
}

// mcStatus is the part of `meshsim status --json` the tests read, as a
// meshctl test would.
type mcStatus struct {
	GCPEndpoint string      `json:"gcpEndpoint"`
	Reach       string      `json:"reachURL"`
	Clusters    []mcCluster `json:"clusters"`
}

type mcCluster struct {
	Name            string `json:"name"`
	Location        string `json:"location"`
	Context         string `json:"context"`
	KubeAPIServer   string `json:"kubeAPIServer"`
	PrivateEndpoint string `json:"privateEndpoint"`
	PublicEndpoint  string `json:"publicEndpoint"`
	Network         string `json:"network"`
	PodCIDR         string `json:"podCidr"`
	SubnetCIDR      string `json:"subnetCidr"`
	MeshClusterID   string `json:"meshClusterID"`
	Proxy           string `json:"proxy"`
	Istiods         []struct {
		Revision    string `json:"revision"`
		ClusterID   string `json:"clusterID"`
		MonitorPort int    `json:"monitoringPort"`
		DebugURL    string `json:"debugURL"`
	} `json:"istiods"`
}

// onceSimStops stop the simulators started by startOnceSim; TestMain calls
// stopOnceSims after the last test.
var onceSimStops []func()

func stopOnceSims() {
	for _, stop := range onceSimStops {
		stop()
	}
}

// multiClusterSim starts, for test t alone, a simulator of two private
// clusters in two regions.
func multiClusterSim(t *testing.T, what string) *mcSim {
	t.Helper()
	mc := startSimFor(t, "e2e-mc-", what, "--clusters", "2", "--regions", "us-central1,europe-west1", "--private")
	mc.refreshStatus(t)
	return mc
}

// startSimFor starts a simulator for test tb alone, stopped when it ends:
// a several-cluster simulator left running would weigh on every test
// after it.
func startSimFor(tb testing.TB, prefix, what string, upArgs ...string) *mcSim {
	tb.Helper()
	mc, why := startOnceSim(prefix, what, upArgs...)
	if mc != nil {
		tb.Cleanup(mc.stop)
	}
	if why != "" {
		tb.Fatal(why)
	}
	return mc
}

// startOnceSim starts a simulator shared by several tests, stopped by
// stopOnceSims after the last test; it returns the simulator or why it
// did not start.
func startOnceSim(prefix, what string, upArgs ...string) (*mcSim, string) {
	state, err := os.MkdirTemp("", prefix) // short: kwok puts unix sockets under it
	if err != nil {
		return nil, err.Error()
	}
	stop := sync.OnceFunc(func() {
		if out, err := meshsim(context.Background(), state, "down"); err != nil {
			fmt.Fprintf(os.Stderr, "meshsim down (%s): %v\n%s", what, err, out)
		}
		os.RemoveAll(state)
	})
	onceSimStops = append(onceSimStops, stop)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	if out, err := meshsim(ctx, state, append([]string{"up"}, upArgs...)...); err != nil {
		stop()
		return nil, fmt.Sprintf("meshsim up %v: %v\n%s", upArgs, err, out)
	}
	fmt.Fprintf(os.Stderr, "e2e: %s meshsim up in %.1fs\n", what, time.Since(start).Seconds())
	out, err := meshsim(ctx, state, "env")
	if err != nil {
		stop()
		return nil, fmt.Sprintf("meshsim env: %v\n%s", err, out)
	}
	return &mcSim{state: state, env: parseExports(out), stop: stop}, ""
}

func (mc *mcSim) refreshStatus(t *testing.T) {
	t.Helper()
	out, err := meshsim(context.Background(), mc.state, "status", "--json")
	if err != nil {
		t.Fatalf("meshsim status: %v\n%s", err, out)
	}
	mc.status = mcStatus{}
	if err := json.Unmarshal([]byte(out), &mc.status); err != nil {
		t.Fatalf("meshsim status --json: %v\n%s", err, out)
	}
	if len(mc.status.Clusters) != 2 {
		t.Fatalf("meshsim status lists %d clusters, want 2:\n%s", len(mc.status.Clusters), out)
	}
}

func (mc *mcSim) run(t *testing.T, stdin, name string, args ...string) string {
	t.Helper()
	r := runEnv(t, mc.env, stdin, name, args...)
	if r.Code != 0 {
		t.Fatalf("%s %s: exit %d\n%s%s", name, strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// installMesh installs the revision in both clusters through the asmcli
// stand-in, once, side by side.
func (mc *mcSim) installMesh(t *testing.T, revision string) {
	t.Helper()
	mc.installOnce.Do(func() {
		var wg sync.WaitGroup
		errs := make([]string, len(mc.status.Clusters))
		for i, c := range mc.status.Clusters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := runEnv(t, mc.env, "", "asmcli", "install", "--project_id", simProject, "--cluster_location", c.Location,
					"--cluster_name", c.Name, "--output_dir", t.TempDir(), "--revision_name", revision, "--enable_all", "--ca", "mesh_ca")
				if r.Code != 0 || !strings.Contains(r.Stderr, "Successfully installed ASM.") {
					errs[i] = fmt.Sprintf("asmcli install in %s: exit %d\n%s", c.Name, r.Code, r.Stderr)
				}
			}()
		}
		wg.Wait()
		mc.installErr = strings.Join(slices.DeleteFunc(errs, func(s string) bool { return s == "" }), "\n")
	})
	if mc.installErr != "" {
		t.Fatal(mc.installErr)
	}
	mc.refreshStatus(t)
}

// istiodDebug is the debug URL of the cluster's istiod of the revision.
func (c mcCluster) istiodDebug(t *testing.T, revision string) string {
	t.Helper()
	for _, i := range c.Istiods {
		if i.Revision == revision {
			if i.ClusterID != c.MeshClusterID {
				t.Errorf("istiod of %s registers as %q, want %q", c.Name, i.ClusterID, c.MeshClusterID)
			}
			return i.DebugURL
		}
	}
	t.Fatalf("meshsim status shows no istiod %s in %s", revision, c.Name)
	return ""
}

func getJSON(url string, out any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return json.Unmarshal(b, out)
}

// remoteSync is what istiod's /debug/clusterz says of a cluster ("" when
// it does not know it).
func remoteSync(debug, clusterID string) (string, error) {
	var clusters []struct {
		ID         string `json:"id"`
		SyncStatus string `json:"syncStatus"`
	}
	if err := getJSON(debug+"/clusterz", &clusters); err != nil {
		return "", err
	}
	for _, c := range clusters {
		if c.ID == clusterID {
			return c.SyncStatus, nil
		}
	}
	return "", nil
}

// shardAddresses are the endpoint addresses istiod holds for a Service host
// from one cluster (/debug/endpointShardz, shard Kubernetes/<cluster id>).
func shardAddresses(debug, host, namespace, clusterID string) ([]string, error) {
	shards, err := endpointShards(debug, host, namespace)
	return shards["Kubernetes/"+clusterID], err
}

// endpointShards are the endpoint addresses istiod holds for a Service
// host by registry shard (/debug/endpointShardz), each sorted.
func endpointShards(debug, host, namespace string) (map[string][]string, error) {
	var shardz map[string]map[string]struct {
		Shards map[string][]struct {
			Addresses []string `json:"Addresses"`
		} `json:"Shards"`
	}
	if err := getJSON(debug+"/endpointShardz", &shardz); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for shard, eps := range shardz[host][namespace].Shards {
		for _, ep := range eps {
			out[shard] = append(out[shard], ep.Addresses...)
		}
		sort.Strings(out[shard])
	}
	return out, nil
}

// probeNamespace holds the probe: webApp's Service web, injected.
const probeNamespace = "e2e-mc-probe"

// probeHost is the probe Service's host in istiod's registry.
const probeHost = "web." + probeNamespace + ".svc.cluster.local"

// deployProbe puts the probe Service with two pods in a cluster and
// returns the pods' addresses once they run.
func (mc *mcSim) deployProbe(t *testing.T, c mcCluster, revision string) []string {
	t.Helper()
	mc.run(t, webApp(probeNamespace, revision, 2), "kubectl", "--context", c.Context, "apply", "-f", "-")
	var ips []string
	eventually(t, 60*time.Second, "the probe pods of "+c.Name+" run", func() (bool, string) {
		out := runEnv(t, mc.env, "", "kubectl", "--context", c.Context, "get", "pods", "-n", probeNamespace, "-l", "app=web",
			"-o", `jsonpath={range .items[*]}{.status.phase}={.status.podIP}{"\n"}{end}`).Stdout
		ips = nil
		for _, line := range strings.Fields(out) {
			if phase, ip, _ := strings.Cut(line, "="); phase == "Running" && ip != "" {
				ips = append(ips, ip)
			}
		}
		return len(ips) == 2, out
	})
	sort.Strings(ips)
	return ips
}

// reachReport is GET /meshsim/reach.
type reachReport struct {
	Paths []struct {
		From    string `json:"from"`
		To      string `json:"to"`
		Allowed bool   `json:"allowed"`
		Reason  string `json:"reason"`
	} `json:"paths"`
	Attempts []struct {
		Caller  string `json:"caller"`
		Target  string `json:"target"`
		Allowed bool   `json:"allowed"`
	} `json:"attempts"`
}

func (mc *mcSim) reach(t *testing.T) reachReport {
	t.Helper()
	var r reachReport
	if err := getJSON(mc.status.Reach, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func (mc *mcSim) gcloud(t *testing.T, config string, args ...string) {
	t.Helper()
	env := append(append([]string{}, mc.env...), "CLOUDSDK_CONFIG="+config, "CLOUDSDK_CORE_DISABLE_PROMPTS=1",
		"CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true", "CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER="+mc.status.GCPEndpoint+"/",
		"CLOUDSDK_CORE_PROJECT="+simProject, "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true", "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true")
	if r := runEnv(t, env, "", "gcloud", args...); r.Code != 0 {
		t.Errorf("gcloud %s: exit %d\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
}
