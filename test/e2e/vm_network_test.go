//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// vmNetNamespace is TestVMOnAnotherNetwork's namespace, in the mesh, with
// a Service selecting the VM's group.
const vmNetNamespace = "e2e-vm-net"

// islandNetwork is a VPC network peered with nothing: a VM there has no
// route to any cluster's gateway.
const islandNetwork = "e2e-vm-island"

// islandInstance creates (once per simulator) the island network with a
// subnet in cluster c's region, and an instance name there; it returns
// the instance's zone.
func (mc *mcSim) islandInstance(t *testing.T, config, name string, c mcCluster) string {
	t.Helper()
	island := mcCluster{Network: islandNetwork, Location: c.Location}
	if !slices.Contains(strings.Fields(mc.gcloudOut(t, config, "compute", "networks", "list", "--format", "value(name)")), islandNetwork) {
		mc.gcloudOut(t, config, "compute", "networks", "create", islandNetwork, "--subnet-mode", "custom")
		mc.gcloudOut(t, config, "compute", "networks", "subnets", "create", islandNetwork+"-"+c.Location, "--network", islandNetwork,
			"--region", c.Location, "--range", "10.250.0.0/24")
	}
	zone, _ := mc.createInstance(t, config, name, island)
	return zone
}

// ensurePeered peers the two clusters' VPC networks both ways (gcloud) when
// they are not yet, and undoes only what it did when the test ends: the
// simulator is shared, and TestEastWestGatewaysOnInternalLoadBalancers
// makes the same peerings.
func (mc *mcSim) ensurePeered(t *testing.T, config string, a, b mcCluster) {
	t.Helper()
	for _, pair := range [][2]mcCluster{{a, b}, {b, a}} {
		var nets []struct {
			Peerings []struct {
				Name string `json:"name"`
			} `json:"peerings"`
		}
		out := mc.gcloudOut(t, config, "compute", "networks", "peerings", "list", "--network", pair[0].Network, "--format", "json")
		if err := json.Unmarshal([]byte(out), &nets); err != nil {
			t.Fatalf("gcloud compute networks peerings list: %v\n%s", err, out)
		}
		name := pair[0].Network + "-to-" + pair[1].Network
		peered := false
		for _, n := range nets {
			for _, p := range n.Peerings {
				peered = peered || p.Name == name
			}
		}
		if peered {
			continue
		}
		mc.gcloudOut(t, config, "compute", "networks", "peerings", "create", name, "--network", pair[0].Network, "--peer-network", pair[1].Network)
		t.Cleanup(func() {
			mc.gcloudOut(t, config, "compute", "networks", "peerings", "delete", name, "--network", pair[0].Network)
		})
	}
}

// TestVMOnAnotherNetwork: a VM instance on cluster b's VPC network (peered
// with a's, in b's region) joins cluster a's mesh as network
// PROJECT-VPC(b) through a's east-west gateway (global access, istiod
// exposed, as Istio's multi-network VM guide has it). vm add puts that
// network in the WorkloadGroup and in a bundle that matches the real
// istioctl's for the group (--ingressIP the gateway's address); gcloud
// lists the rule to the gateway (15012, 15017, 15443, in a's network) and
// the rule to the VM (in b's network, from both clusters' Pod ranges: a
// holds b's remote secret). meshsim vm connects with only the bundle,
// through the reach model of a's internal load balancer, and a's istiod
// registers the WorkloadEntry with the VM's network (read from the API
// server) and holds its endpoint, on that network, for the Service
// (/debug/endpointShardz). remove leaves nothing.
// Refused first, with nothing made: an instance on a network peered with
// nothing. check --permissions --for vm names compute.instances.get once
// it is denied.
func TestVMOnAnotherNetwork(t *testing.T) {
	start := time.Now()
	mc, a, b, netA, gatewayIP := vmMeshSim(t, fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s
  labels: {istio.io/rev: %[2]s}
---
apiVersion: v1
kind: Service
metadata:
  name: db
  namespace: %[1]s
spec:
  selector: {app: db}
  ports:
  - {name: mysql, port: 3306}
`, vmNetNamespace, ewRevision))
	netB := mc.meshNetwork(t, b)
	if netB != simProject+"-"+b.Network {
		t.Fatalf("cluster b's mesh network is %q, want asmcli's %s-%s", netB, simProject, b.Network)
	}
	// a's istiod discovers b (b's remote secret in a): the mesh's Pods are
	// both clusters'.
	secretName := "istio-remote-secret-" + b.MeshClusterID
	if r := runEnv(t, mc.env, "", "kubectl", "--context", a.Context, "get", "secret", "-n", "istio-system", secretName); r.Code != 0 {
		secret := mc.run(t, "", "istioctl", "create-remote-secret", "--context", b.Context, "--name", b.MeshClusterID, "--server", "https://"+b.PublicEndpoint)
		mc.run(t, secret, "kubectl", "--context", a.Context, "apply", "-f", "-")
		t.Cleanup(func() {
			runEnv(t, mc.env, "", "kubectl", "--context", a.Context, "delete", "secret", "-n", "istio-system", secretName, "--ignore-not-found")
		})
	}
	meshctl := func(args ...string) result {
		return runEnv(t, mc.env, "", meshctlBin, append(args, "--context", a.Context)...)
	}
	config := t.TempDir()
	meshctlRules := func() []vmRule {
		var rs []vmRule
		out := mc.gcloudOut(t, config, "compute", "firewall-rules", "list", "--project", simProject, "--format", "json")
		if err := json.Unmarshal([]byte(out), &rs); err != nil {
			t.Fatalf("gcloud compute firewall-rules list: %v\n%s", err, out)
		}
		return slices.DeleteFunc(rs, func(r vmRule) bool {
			return !strings.HasPrefix(r.Name, "meshctl-vm-db-") || !strings.Contains(r.Description, vmNetNamespace+"/db")
		})
	}
	nothingMade := func(what string) {
		t.Helper()
		if out := mc.run(t, "", "kubectl", "--context", a.Context, "get", "serviceaccounts,workloadgroups", "-n", vmNetNamespace, "-l", "meshctl.io/vm", "-o", "name"); strings.TrimSpace(out) != "" {
			t.Errorf("%s left %s", what, out)
		}
		if rs := meshctlRules(); len(rs) > 0 {
			t.Errorf("%s left firewall rules %+v", what, rs)
		}
	}

	// Refused, nothing made: a VM on a network peered with nothing.
	islandZone := mc.islandInstance(t, config, "e2e-vm-net-island", a)
	r := meshctl("vm", "add", "db", "-n", vmNetNamespace, "--port", "mysql:3306", "--bundle", filepath.Join(t.TempDir(), "b"), "--instance", "e2e-vm-net-island", "--zone", islandZone)
	for _, w := range []string{"is on VPC network " + simProject + "/" + islandNetwork, "no active VPC Network Peering", "nothing was changed", "gcloud compute networks peerings create"} {
		if r.Code == 0 || !strings.Contains(r.Stderr, w) {
			t.Errorf("vm add for an instance on an unpeered network: exit %d, want a refusal saying %q\n%s", r.Code, w, r.Stderr)
		}
	}
	nothingMade("vm add on an unpeered network")

	// check --permissions --for vm names the instance read when it is
	// denied.
	mc.iam(t, "deny", simProject, "compute.instances.get")
	r = meshctl("check", "--permissions", "--for", "vm", "--project", simProject, "-o", "json")
	mc.iam(t, "grant", simProject, "compute.instances.get")
	var perms struct {
		Commands []struct {
			Command     string `json:"command"`
			Missing     int    `json:"missing"`
			Permissions []struct {
				Permission string `json:"permission"`
				Status     string `json:"status"`
			} `json:"permissions"`
		} `json:"commands"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &perms); err != nil || r.Code != 3 || len(perms.Commands) != 1 || perms.Commands[0].Command != "vm" || perms.Commands[0].Missing != 1 {
		t.Errorf("check --permissions --for vm with compute.instances.get denied: exit %d (want 3), %v\n%s%s", r.Code, err, r.Stdout, r.Stderr)
	} else {
		status := ""
		for _, p := range perms.Commands[0].Permissions {
			if p.Permission == "compute.instances.get" {
				status = p.Status
			}
		}
		if status != "missing" {
			t.Errorf("check --permissions --for vm: compute.instances.get %q, want missing: %+v", status, perms.Commands[0].Permissions)
		}
	}

	// The VM on b's network, peered with a's.
	mc.ensurePeered(t, config, a, b)
	zone, vmIP := mc.createInstance(t, config, "e2e-vm-net", b, "--tags", "mesh-far")
	bundle := filepath.Join(t.TempDir(), "db-bundle")
	began := time.Now()
	r = meshctl("vm", "add", "db", "-n", vmNetNamespace, "--port", "mysql:3306", "--bundle", bundle, "--instance", "e2e-vm-net", "--zone", zone, "-o", "json")
	var added struct {
		Network        string `json:"network"`
		ClusterNetwork string `json:"clusterNetwork"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &added); r.Code != 0 || err != nil {
		t.Fatalf("vm add --instance on b's network: exit %d: %v\n%s%s", r.Code, err, r.Stdout, r.Stderr)
	}
	t.Logf("vm add on another network took %.1fs", time.Since(began).Seconds())
	if added.Network != netB || added.ClusterNetwork != netA {
		t.Errorf("vm add: VM network %q, cluster network %q; want %q and %q", added.Network, added.ClusterNetwork, netB, netA)
	}
	if got := mc.run(t, "", "kubectl", "--context", a.Context, "get", "workloadgroup", "-n", vmNetNamespace, "db", "-o", "jsonpath={.spec.template.network}"); got != netB {
		t.Errorf("the WorkloadGroup's template network is %q, want %q", got, netB)
	}

	// gcloud: the rule to the gateway in a's network, the rule to the VM
	// in b's from both clusters' Pods.
	made := meshctlRules()
	if len(made) != 2 {
		t.Fatalf("gcloud lists %d rules of meshctl's for the group, want 2: %+v", len(made), made)
	}
	pods := []string{a.PodCIDR, b.PodCIDR}
	slices.Sort(pods)
	for _, rl := range made {
		ports := []string{}
		if len(rl.Allowed) == 1 {
			ports = rl.Allowed[0].Ports
		}
		switch {
		case strings.HasSuffix(rl.Name, "-istiod"):
			if !strings.HasSuffix("/"+rl.Network, "/networks/"+a.Network) || !slices.Equal(rl.SourceRanges, []string{vmIP + "/32"}) ||
				!slices.Equal(rl.DestinationRanges, []string{gatewayIP + "/32"}) || !slices.Equal(ports, []string{"15012", "15017", "15443"}) {
				t.Errorf("rule to the gateway %s: network %s from %v to %v ports %v; want network %s from %s/32 to %s/32 tcp:15012,15017,15443",
					rl.Name, rl.Network, rl.SourceRanges, rl.DestinationRanges, ports, a.Network, vmIP, gatewayIP)
			}
		case strings.HasSuffix(rl.Name, "-ports"):
			if !strings.HasSuffix("/"+rl.Network, "/networks/"+b.Network) || !slices.Equal(rl.SourceRanges, pods) ||
				!slices.Equal(rl.DestinationRanges, []string{vmIP + "/32"}) || !slices.Equal(rl.TargetTags, []string{"mesh-far"}) || !slices.Equal(ports, []string{"3306"}) {
				t.Errorf("rule to the VM %s: network %s from %v to %v on %v ports %v; want network %s from %v to %s/32 on mesh-far tcp:3306\nvm add said:\n%s",
					rl.Name, rl.Network, rl.SourceRanges, rl.DestinationRanges, rl.TargetTags, ports, b.Network, pods, vmIP, r.Stderr)
			}
		default:
			t.Errorf("unexpected rule %s", rl.Name)
		}
	}

	// The bundle is the real istioctl's for the group (its network from
	// the group, istiod's name at the gateway's address).
	mc.compareWithIstioctl(t, a, vmNetNamespace, "db", bundle, "--internalIP", vmIP, "--ingressIP", gatewayIP)
	if env, _ := os.ReadFile(filepath.Join(bundle, "cluster.env")); !strings.Contains(string(env), "ISTIO_META_NETWORK='"+netB+"'") {
		t.Errorf("cluster.env lacks ISTIO_META_NETWORK=%s:\n%s", netB, env)
	}

	// The simulated VM connects from b's network through a's gateway.
	agent, exited, vmLog := startSimVM(t, mc, bundle, "zones/"+zone+"/instances/e2e-vm-net", vmIP)
	connected := time.Now()
	debug := a.istiodDebug(t, ewRevision)
	host := "db." + vmNetNamespace + ".svc.cluster.local"
	eventually(t, 90*time.Second, "a's istiod registers the VM on network "+netB+" and holds its endpoint", func() (bool, string) {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(vmLog)
			t.Fatalf("meshsim vm exited: %v\n%s", err, log)
		default:
		}
		entries := strings.Fields(mc.run(t, "", "kubectl", "--context", a.Context, "get", "workloadentries", "-n", vmNetNamespace,
			"-o", `jsonpath={range .items[*]}{.spec.address}={.spec.network}{"\n"}{end}`))
		endpoints, err := shardNetworks(debug, host, vmNetNamespace, "")
		return slices.Equal(entries, []string{vmIP + "=" + netB}) && slices.Equal(endpoints, []string{vmIP + "@" + netB}),
			fmt.Sprintf("entries %v, istiod's endpoints %v%s", entries, endpoints, errString(err))
	})
	t.Logf("istiod registered the VM %.1fs after meshsim vm started", time.Since(connected).Seconds())
	through := false
	for _, at := range mc.reach(t).Attempts {
		through = through || (at.Caller == "e2e-vm-net" && at.Allowed)
	}
	if !through {
		t.Errorf("the VM proxy recorded no admitted connection from e2e-vm-net to a's gateway: %+v", mc.reach(t).Attempts)
	}
	if err := agent.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-exited

	// remove leaves nothing of what add made, in either network.
	if r := meshctl("vm", "remove", "db", "-n", vmNetNamespace); r.Code != 0 {
		t.Fatalf("vm remove: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	nothingMade("vm remove")
	if out := mc.run(t, "", "kubectl", "--context", a.Context, "get", "workloadentries", "-n", vmNetNamespace, "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("vm remove left %s", out)
	}
	t.Logf("TestVMOnAnotherNetwork %.1fs", time.Since(start).Seconds())
}
