//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// vmNamespace holds the VM's WorkloadGroup, its service account and the
// Service selecting it.
const vmNamespace = "e2e-vm"

// istiodExposure is cluster a's east-west gateway as Istio's VM guide
// makes it: the gateway (kwok pods, GKE's internal load balancer with
// global access) and expose-istiod.yaml's PASSTHROUGH Gateway and
// VirtualService to the revision's istiod.
func istiodExposure(network string) string {
	return ewGatewayService(network, true) + fmt.Sprintf(`---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: istio-eastwestgateway
  namespace: istio-system
spec:
  replicas: 1
  selector:
    matchLabels: {istio: eastwestgateway}
  template:
    metadata:
      labels: {istio: eastwestgateway, topology.istio.io/network: %[1]s}
    spec:
      containers:
      - {name: istio-proxy, image: auto}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: istiod-gateway
  namespace: istio-system
spec:
  selector: {istio: eastwestgateway}
  servers:
  - port: {name: tls-istiod, number: 15012, protocol: tls}
    tls: {mode: PASSTHROUGH}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: istiod-vs
  namespace: istio-system
spec:
  hosts: ["*"]
  gateways: [istiod-gateway]
  tls:
  - match:
    - port: 15012
      sniHosts: ["*"]
    route:
    - destination:
        host: istiod-%[2]s.istio-system.svc.cluster.local
        port: {number: 15012}
`, network, ewRevision)
}

// awaitGatewayNotTerminating waits while cluster c's east-west gateway Service is
// being deleted (an earlier test of the shared simulator deleted it, and
// GKE's load balancer finalizer holds it until its forwarding rule is
// gone): applying istiodExposure onto it would leave nothing once it goes.
func awaitGatewayNotTerminating(t *testing.T, mc *mcSim, c mcCluster) {
	t.Helper()
	eventually(t, 120*time.Second, "no east-west gateway Service is being deleted in "+c.Name, func() (bool, string) {
		r := runEnv(t, mc.env, "", "kubectl", "--context", c.Context, "get", "service", "-n", "istio-system", "istio-eastwestgateway",
			"--ignore-not-found", "-o", "jsonpath={.metadata.deletionTimestamp}")
		return r.Code == 0 && strings.TrimSpace(r.Stdout) == "", r.Stdout + r.Stderr
	})
}

// vmMeshSim is the shared two-network simulator ready for a VM test: the
// mesh installed, istiod exposed through cluster a's east-west gateway
// (istiodExposure, on a's mesh network, which it returns) and manifests
// applied in a, once the gateway has its internal address (gatewayIP).
// Without gcloud, which the VM tests check with, it skips.
func vmMeshSim(t *testing.T, manifests string) (mc *mcSim, a, b mcCluster, network, gatewayIP string) {
	t.Helper()
	if _, err := exec.LookPath("gcloud"); err != nil {
		t.Skip("gcloud is not on PATH")
	}
	mc = multiNetworkSim(t)
	mc.installMesh(t, ewRevision)
	a, b = mc.status.Clusters[0], mc.status.Clusters[1]
	network = mc.meshNetwork(t, a)
	awaitGatewayNotTerminating(t, mc, a)
	mc.run(t, istiodExposure(network)+"---\n"+manifests, "kubectl", "--context", a.Context, "apply", "-f", "-")
	eventually(t, 60*time.Second, "the east-west gateway gets an internal address", func() (bool, string) {
		gatewayIP = strings.TrimSpace(mc.kubectl(t, a, "get", "service", "-n", "istio-system", "istio-eastwestgateway", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"))
		return gatewayIP != "", ""
	})
	return mc, a, b, network, gatewayIP
}

// vmService is the namespace, service account and a Service selecting
// the VM's group.
const vmService = `apiVersion: v1
kind: Namespace
metadata:
  name: ` + vmNamespace + `
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: vm-sa
  namespace: ` + vmNamespace + `
---
apiVersion: v1
kind: Service
metadata:
  name: vm-app
  namespace: ` + vmNamespace + `
spec:
  selector: {app: vm-app}
  ports:
  - {name: http, port: 8080}
`

// TestVMAutoRegistersThroughEastWestGateway: a VM of the fake Compute API
// (gcloud compute instances create) in cluster a's network; the real
// istioctl makes the WorkloadGroup and the VM's bundle (x workload entry
// configure, --autoregister, istiod's name mapped to the east-west gateway's
// internal address); `meshsim vm --bundle` connects to istiod as the VM's
// pilot-agent through the gateway's load balancer. istiod itself creates the
// WorkloadEntry (read from the API server) and holds the VM's address for
// the Service selecting the group (/debug/endpointShardz); once the VM
// stops, istiod deletes the entry after its grace period.
func TestVMAutoRegistersThroughEastWestGateway(t *testing.T) {
	start := time.Now()
	mc, a, _, network, gatewayIP := vmMeshSim(t, vmService)

	// The VM, in cluster a's network and region.
	config := t.TempDir()
	zone := a.Location + "-a"
	mc.gcloudOut(t, config, "compute", "instances", "create", "e2e-vm-1", "--zone", zone, "--network", a.Network,
		"--subnet", a.Network+"-"+a.Location, "--tags", "mesh-vm")
	var vm struct {
		NetworkInterfaces []struct {
			NetworkIP string `json:"networkIP"`
		} `json:"networkInterfaces"`
	}
	out := mc.gcloudOut(t, config, "compute", "instances", "describe", "e2e-vm-1", "--zone", zone, "--format", "json")
	if err := json.Unmarshal([]byte(out), &vm); err != nil || len(vm.NetworkInterfaces) == 0 || !cidrContains(a.SubnetCIDR, vm.NetworkInterfaces[0].NetworkIP) {
		t.Fatalf("gcloud compute instances describe: %v\n%s", err, out)
	}
	vmIP := vm.NetworkInterfaces[0].NetworkIP

	// The real istioctl: the WorkloadGroup, then the bundle.
	group := mc.run(t, "", "istioctl", "x", "workload", "group", "create", "--name", "vm-app", "--namespace", vmNamespace,
		"--labels", "app=vm-app", "--serviceAccount", "vm-sa", "--network", network)
	groupFile := filepath.Join(t.TempDir(), "workloadgroup.yaml")
	if err := os.WriteFile(groupFile, []byte(group), 0o644); err != nil {
		t.Fatal(err)
	}
	mc.run(t, "", "kubectl", "--context", a.Context, "apply", "-f", groupFile)
	bundle := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, lookPathIn(mc.env, "istioctl"), "x", "workload", "entry", "configure", "-f", groupFile, "-o", bundle,
		"--clusterID", a.MeshClusterID, "--revision", ewRevision, "--autoregister", "--context", a.Context)
	cmd.Env = append(os.Environ(), mc.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("istioctl x workload entry configure: %v\n%s", err, out)
	}
	hosts, _ := os.ReadFile(filepath.Join(bundle, "hosts"))
	if !strings.Contains(string(hosts), gatewayIP+" istiod-"+ewRevision+".istio-system.svc") {
		t.Errorf("the bundle's hosts does not send istiod's name to the gateway %s:\n%s", gatewayIP, hosts)
	}

	// The VM's proxy runs until stopped.
	agent, exited, vmLog := startSimVM(t, mc, bundle, "zones/"+zone+"/instances/e2e-vm-1", vmIP)
	connected := time.Now()
	debug := a.istiodDebug(t, ewRevision)
	host := "vm-app." + vmNamespace + ".svc.cluster.local"
	eventually(t, 60*time.Second, "istiod registers the VM and holds its endpoint", func() (bool, string) {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(vmLog)
			t.Fatalf("meshsim vm exited: %v\n%s", err, log)
		default:
		}
		entries := workloadEntries(t, mc, a)
		addrs, err := allShardAddresses(debug, host, vmNamespace)
		return len(entries) == 1 && entries[0] == vmIP+" "+network && slices.Equal(addrs, []string{vmIP}),
			fmt.Sprintf("entries %v, endpoints %v%s", entries, addrs, errString(err))
	})
	t.Logf("istiod registered the VM %.1fs after meshsim vm started", time.Since(connected).Seconds())
	// The stream went through the VM proxy: the reach model admitted the
	// VM to the gateway's internal load balancer.
	through := false
	for _, at := range mc.reach(t).Attempts {
		through = through || (at.Caller == "e2e-vm-1" && at.Allowed && strings.HasPrefix(at.Target, "a"))
	}
	if !through {
		t.Errorf("the VM proxy recorded no admitted connection from e2e-vm-1 to the gateway's forwarding rule: %+v", mc.reach(t).Attempts)
	}

	if err := agent.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		log, _ := os.ReadFile(vmLog)
		t.Errorf("meshsim vm on SIGTERM: %v\n%s", err, log)
	}
	stopped := time.Now()
	eventually(t, 90*time.Second, "istiod deletes the VM's WorkloadEntry after its grace period", func() (bool, string) {
		entries := workloadEntries(t, mc, a)
		return len(entries) == 0, strings.Join(entries, ",")
	})
	t.Logf("istiod removed the entry %.1fs after the VM stopped; VM test %.1fs in all", time.Since(stopped).Seconds(), time.Since(start).Seconds())
}

// workloadEntries are the VM namespace's WorkloadEntries as "ADDRESS NETWORK".
func workloadEntries(t *testing.T, mc *mcSim, c mcCluster) []string {
	out := mc.run(t, "", "kubectl", "--context", c.Context, "get", "workloadentries", "-n", vmNamespace,
		"-o", `jsonpath={range .items[*]}{.spec.address} {.spec.network}{"\n"}{end}`)
	var entries []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line != "" {
			entries = append(entries, line)
		}
	}
	return entries
}

// allShardAddresses are the endpoint addresses istiod holds for a Service
// host from every registry shard.
func allShardAddresses(debug, host, namespace string) ([]string, error) {
	shards, err := endpointShards(debug, host, namespace)
	var addrs []string
	for _, a := range shards {
		addrs = append(addrs, a...)
	}
	slices.Sort(addrs)
	return addrs, err
}

// startSimVM runs `meshsim vm` with a bundle until the test ends (or the
// test stops it): the process, a channel that gets its exit, and its log.
func startSimVM(t *testing.T, mc *mcSim, bundle, instance, ip string) (*exec.Cmd, <-chan error, string) {
	t.Helper()
	vmLog := filepath.Join(t.TempDir(), "vm.log")
	logFile, err := os.Create(vmLog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	agent := exec.Command(meshsimBin, "--state", mc.state, "vm", "--bundle", bundle, "--instance", instance, "--ip", ip)
	agent.Stdout, agent.Stderr = logFile, logFile
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- agent.Wait() }()
	t.Cleanup(func() {
		if agent.ProcessState == nil {
			_ = agent.Process.Kill()
		}
	})
	return agent, exited, vmLog
}
