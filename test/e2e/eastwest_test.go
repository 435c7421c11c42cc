//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// ewRevision is the revision the multi-network tests install.
const ewRevision = "asm-ew-1"

var (
	mnOnce sync.Once
	mnSim  *mcSim
	mnErr  string
)

// multiNetworkSim is a simulator of two clusters in two regions on two VPC
// networks (meshsim up --networks 2), started once for this file's tests
// and stopped after the last test.
func multiNetworkSim(t *testing.T) *mcSim {
	t.Helper()
	mnOnce.Do(func() {
		mnSim, mnErr = startOnceSim("e2e-mn-", "two networks", "--clusters", "2", "--regions", "us-central1,europe-west1", "--networks", "2")
	})
	if mnErr != "" {
		t.Fatal(mnErr)
	}
	mnSim.refreshStatus(t)
	return mnSim
}

// ewGatewayService is an east-west gateway's Service as Istio's
// multi-network guide has it (gen-eastwest-gateway.sh), put on GKE's
// internal passthrough load balancer with global access. It selects no
// pods: istiod finds network gateways from the Service alone (its
// topology.istio.io/network label and status.loadBalancer.ingress).
func ewGatewayService(network string, globalAccess bool) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: istio-eastwestgateway
  namespace: istio-system
  labels:
    istio: eastwestgateway
    topology.istio.io/network: %s
  annotations:
    networking.gke.io/load-balancer-type: "Internal"
    networking.gke.io/internal-load-balancer-allow-global-access: "%t"
spec:
  type: LoadBalancer
  selector:
    istio: eastwestgateway
  ports:
  - {name: status-port, port: 15021, targetPort: 15021}
  - {name: tls, port: 15443, targetPort: 15443}
  - {name: tls-istiod, port: 15012, targetPort: 15012}
  - {name: tls-webhook, port: 15017, targetPort: 15017}
`, network, globalAccess)
}

// networkGateways is istiod's /debug/networkz: the gateways of every
// network it knows, as network=address:port.
func networkGateways(debug string) ([]string, error) {
	var gws []struct {
		Network string `json:"Network"`
		Addr    string `json:"Addr"`
		Port    uint32 `json:"Port"`
	}
	if err := getJSON(debug+"/networkz", &gws); err != nil {
		return nil, err
	}
	var out []string
	for _, g := range gws {
		out = append(out, fmt.Sprintf("%s=%s:%d", g.Network, g.Addr, g.Port))
	}
	slices.Sort(out)
	return out, nil
}

// TestEastWestGatewaysOnInternalLoadBalancers: two clusters in two regions
// on two VPC networks (meshsim up --networks 2), the mesh installed in
// both by the asmcli stand-in (istio-system labelled with each cluster's
// network), remote secrets both ways by the real istioctl. An east-west
// gateway Service with GKE's internal annotation in each cluster gets an
// address from its cluster's subnet; each istiod's /debug/networkz then
// lists both networks' gateways; gcloud sees the internal forwarding rules
// with global access on, and the reachability model lets each cluster's
// Pods reach the other's gateway over a VPC peering only while global
// access is on. Deleting the Services deletes the forwarding rules.
func TestEastWestGatewaysOnInternalLoadBalancers(t *testing.T) {
	if _, err := exec.LookPath("gcloud"); err != nil {
		t.Skip("gcloud is not on PATH")
	}
	start := time.Now()
	mc := multiNetworkSim(t)
	mc.installMesh(t, ewRevision)
	t.Logf("mesh installed in both clusters %.1fs after the start", time.Since(start).Seconds())
	a, b := mc.status.Clusters[0], mc.status.Clusters[1]
	if a.Network == b.Network || a.Network == "" || b.Network == "" {
		t.Fatalf("clusters on networks %q and %q, want two", a.Network, b.Network)
	}
	meshNetwork := map[string]string{}
	for _, c := range []mcCluster{a, b} {
		meshNetwork[c.Name] = mc.meshNetwork(t, c)
		if want := simProject + "-" + c.Network; meshNetwork[c.Name] != want {
			t.Errorf("asmcli labelled %s's istio-system with network %q, want %q", c.Name, meshNetwork[c.Name], want)
		}
	}
	for _, pair := range [][2]mcCluster{{a, b}, {b, a}} {
		local, remote := pair[0], pair[1]
		secret := mc.run(t, "", "istioctl", "create-remote-secret", "--context", remote.Context, "--name", remote.MeshClusterID,
			"--server", "https://"+remote.PublicEndpoint)
		mc.run(t, secret, "kubectl", "--context", local.Context, "apply", "-f", "-")
	}

	applied := time.Now()
	addr := map[string]string{}
	for _, c := range []mcCluster{a, b} {
		mc.run(t, ewGatewayService(meshNetwork[c.Name], true), "kubectl", "--context", c.Context, "apply", "-f", "-")
	}
	for _, c := range []mcCluster{a, b} {
		eventually(t, 60*time.Second, c.Name+"'s east-west gateway gets an internal address", func() (bool, string) {
			addr[c.Name] = strings.TrimSpace(runEnv(t, mc.env, "", "kubectl", "--context", c.Context, "get", "service", "-n", "istio-system",
				"istio-eastwestgateway", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}").Stdout)
			return addr[c.Name] != "", ""
		})
		if !cidrContains(c.SubnetCIDR, addr[c.Name]) {
			t.Errorf("%s's gateway address %s is not from its subnet %s", c.Name, addr[c.Name], c.SubnetCIDR)
		}
	}
	t.Logf("both gateways had internal addresses %.1fs after the Services were applied", time.Since(applied).Seconds())

	// istiod itself: each lists both networks' gateways, the other's
	// through the remote secret.
	want := []string{meshNetwork[a.Name] + "=" + addr[a.Name] + ":15443", meshNetwork[b.Name] + "=" + addr[b.Name] + ":15443"}
	slices.Sort(want)
	for _, c := range []mcCluster{a, b} {
		debug := c.istiodDebug(t, ewRevision)
		eventually(t, 90*time.Second, c.Name+"'s istiod lists both networks' gateways", func() (bool, string) {
			got, err := networkGateways(debug)
			return err == nil && slices.Equal(got, want), strings.Join(got, ",") + errString(err)
		})
	}
	t.Logf("both istiods listed both gateways %.1fs after the Services were applied", time.Since(applied).Seconds())

	// gcloud, an independent client, sees GKE's forwarding rules.
	config := t.TempDir()
	rules := mc.forwardingRules(t, config)
	for _, c := range []mcCluster{a, b} {
		r, ok := rules[addr[c.Name]]
		if !ok || r.LoadBalancingScheme != "INTERNAL" || !r.AllowGlobalAccess || !strings.HasSuffix(r.Network, "/networks/"+c.Network) ||
			!strings.HasSuffix(r.Region, "/regions/"+c.Location) || !slices.Equal(r.Ports, []string{"15021", "15443", "15012", "15017"}) ||
			!strings.Contains(r.Description, `"kubernetes.io/service-name":"istio-system/istio-eastwestgateway"`) {
			t.Errorf("gcloud: forwarding rule for %s's gateway at %s: %+v (found %v)", c.Name, addr[c.Name], r, ok)
		}
	}

	// The two networks are peered (gcloud, both sides); with global access
	// each cluster's Pods reach the other's gateway across regions.
	for _, pair := range [][2]mcCluster{{a, b}, {b, a}} {
		mc.gcloudOut(t, config, "compute", "networks", "peerings", "create", pair[0].Network+"-to-"+pair[1].Network,
			"--network", pair[0].Network, "--peer-network", pair[1].Network)
	}
	crossGateway := func(from, to mcCluster) (bool, string) {
		for _, p := range mc.reachLB(t) {
			if p.From == from.Name && p.Address == addr[to.Name]+":15443" {
				return p.Allowed, p.Reason
			}
		}
		return false, "no path"
	}
	for _, pair := range [][2]mcCluster{{a, b}, {b, a}} {
		if ok, why := crossGateway(pair[0], pair[1]); !ok {
			t.Errorf("%s to %s's gateway with peering and global access: %s", pair[0].Name, pair[1].Name, why)
		}
	}

	// Global access off on b's gateway: the rule is made again on the same
	// address without it, and a's Pods (another region) no longer reach it.
	mc.run(t, ewGatewayService(meshNetwork[b.Name], false), "kubectl", "--context", b.Context, "apply", "-f", "-")
	eventually(t, 60*time.Second, "gcloud sees global access off on "+b.Name+"'s gateway", func() (bool, string) {
		r := mc.forwardingRules(t, config)[addr[b.Name]]
		return r.Name != "" && !r.AllowGlobalAccess, fmt.Sprintf("%+v", r)
	})
	if ok, why := crossGateway(a, b); ok || !strings.Contains(why, "global access is off") {
		t.Errorf("%s to %s's gateway without global access: allowed=%t %s", a.Name, b.Name, ok, why)
	}

	// Deleting the Services deletes the forwarding rules.
	for _, c := range []mcCluster{a, b} {
		mc.run(t, "", "kubectl", "--context", c.Context, "delete", "service", "-n", "istio-system", "istio-eastwestgateway", "--wait=false")
	}
	eventually(t, 60*time.Second, "the gateways' forwarding rules are deleted", func() (bool, string) {
		rules := mc.forwardingRules(t, config)
		return len(rules) == 0, fmt.Sprintf("%v", rules)
	})
	t.Logf("east-west test: %.1fs in all", time.Since(start).Seconds())
}

// gcloudRule is what the test reads of `gcloud compute forwarding-rules
// list --format json`.
type gcloudRule struct {
	Name                string   `json:"name"`
	IPAddress           string   `json:"IPAddress"`
	LoadBalancingScheme string   `json:"loadBalancingScheme"`
	AllowGlobalAccess   bool     `json:"allowGlobalAccess"`
	Network             string   `json:"network"`
	Region              string   `json:"region"`
	Ports               []string `json:"ports"`
	Description         string   `json:"description"`
}

// forwardingRules lists the project's internal forwarding rules through
// gcloud, by address.
func (mc *mcSim) forwardingRules(t *testing.T, config string) map[string]gcloudRule {
	t.Helper()
	out := mc.gcloudOut(t, config, "compute", "forwarding-rules", "list", "--filter", "loadBalancingScheme=INTERNAL", "--format", "json")
	var rules []gcloudRule
	if err := json.Unmarshal([]byte(out), &rules); err != nil {
		t.Fatalf("gcloud compute forwarding-rules list: %v\n%s", err, out)
	}
	byAddr := map[string]gcloudRule{}
	for _, r := range rules {
		byAddr[r.IPAddress] = r
	}
	return byAddr
}

// gcloudOut runs gcloud against the simulator and returns its output.
func (mc *mcSim) gcloudOut(t *testing.T, config string, args ...string) string {
	t.Helper()
	env := append(append([]string{}, mc.env...), "CLOUDSDK_CONFIG="+config, "CLOUDSDK_CORE_DISABLE_PROMPTS=1",
		"CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true", "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE="+mc.status.GCPEndpoint+"/compute/v1/",
		"CLOUDSDK_CORE_PROJECT="+simProject, "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true", "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true")
	r := runEnv(t, env, "", "gcloud", args...)
	if r.Code != 0 {
		t.Fatalf("gcloud %s: exit %d\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// reachLB is GET /meshsim/reach's internal load balancer verdicts.
func (mc *mcSim) reachLB(t *testing.T) []struct {
	From, Address string
	Allowed       bool
	Reason        string
} {
	t.Helper()
	var r struct {
		LoadBalancers []struct {
			From, Address string
			Allowed       bool
			Reason        string
		} `json:"loadBalancers"`
	}
	if err := getJSON(mc.status.Reach, &r); err != nil {
		t.Fatal(err)
	}
	return r.LoadBalancers
}

// cidrContains says whether the address is in the range.
func cidrContains(cidr, addr string) bool {
	p, err := netip.ParsePrefix(cidr)
	a, aerr := netip.ParseAddr(addr)
	return err == nil && aerr == nil && p.Contains(a)
}

// TestMeshConnectMultiNetwork: two clusters in two regions on two VPC
// networks with the mesh installed (asmcli labels istio-system with each
// cluster's network). `meshctl mesh connect --multi-network --fix` builds
// an east-west gateway per cluster; the gateways get internal addresses
// from their subnets; each istiod's /debug/networkz lists the other
// network's gateway and its /debug/endpointShardz holds the other
// cluster's probe endpoints on the other network (which istiod routes
// through that network's gateway); gcloud sees the internal forwarding
// rules with global access and meshctl's firewall rules; with global
// access turned off validate reports MC0332 and a re-run restores it; a
// re-run changes nothing; disconnect leaves nothing of meshctl's.
func TestMeshConnectMultiNetwork(t *testing.T) {
	if _, err := exec.LookPath("gcloud"); err != nil {
		t.Skip("gcloud is not on PATH")
	}
	mc := startSimFor(t, "e2e-ewc-", "two networks, mesh connect", "--clusters", "2", "--regions", "us-central1,europe-west1", "--networks", "2")
	mc.refreshStatus(t)
	mc.installMesh(t, ewRevision)
	a, b := mc.status.Clusters[0], mc.status.Clusters[1]
	network := map[string]string{a.Name: simProject + "-" + a.Network, b.Name: simProject + "-" + b.Network}
	config := t.TempDir()
	firewallsBefore := mc.gcloudOut(t, config, "compute", "firewall-rules", "list", "--format", "value(name)")
	probes := map[string][]string{a.Name: mc.deployProbe(t, a, ewRevision), b.Name: mc.deployProbe(t, b, ewRevision)}

	t.Run("refuses without --multi-network", func(t *testing.T) {
		res := mc.connect(t, 3)
		if got := codesOf(res, "error"); !slices.Contains(got, "MC0310 clusters "+a.Name+", "+b.Name) {
			t.Errorf("errors %v, want MC0310", got)
		}
	})

	addr := map[string]string{}
	t.Run("connect --multi-network --fix", func(t *testing.T) {
		start := time.Now()
		res := mc.connect(t, 0, "--multi-network", "--fix")
		t.Logf("connect --multi-network --fix of two clusters: %.1fs", time.Since(start).Seconds())
		if !res.Connected {
			t.Fatalf("not connected: %+v", res)
		}
		for _, c := range []mcCluster{a, b} {
			addr[c.Name] = strings.TrimSpace(mc.kubectl(t, c, "get", "service", "-n", "istio-system", "istio-eastwestgateway",
				"-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"))
			if !cidrContains(c.SubnetCIDR, addr[c.Name]) {
				t.Errorf("%s's gateway address %q is not from its subnet %s", c.Name, addr[c.Name], c.SubnetCIDR)
			}
			if got := mc.kubectl(t, c, "get", "deployment,pdb,hpa,gateway.networking.istio.io", "-n", "istio-system", "-l", "app.kubernetes.io/managed-by=meshctl", "-o", "name"); !strings.Contains(got, "deployment.apps/istio-eastwestgateway") ||
				!strings.Contains(got, "poddisruptionbudget.policy/istio-eastwestgateway") || !strings.Contains(got, "horizontalpodautoscaler.autoscaling/istio-eastwestgateway") ||
				!strings.Contains(got, "gateway.networking.istio.io/cross-network-gateway") {
				t.Errorf("%s: meshctl's gateway objects: %s", c.Name, got)
			}
		}
		// istiod itself: each lists the other network's gateway and holds
		// the other cluster's probe endpoints on that network.
		for _, pair := range [][2]mcCluster{{a, b}, {b, a}} {
			local, remote := pair[0], pair[1]
			debug := local.istiodDebug(t, ewRevision)
			gw := network[remote.Name] + "=" + addr[remote.Name] + ":15443"
			eventually(t, 60*time.Second, local.Name+"'s istiod lists "+gw, func() (bool, string) {
				got, err := networkGateways(debug)
				return err == nil && slices.Contains(got, gw), strings.Join(got, ",") + errString(err)
			})
			eventually(t, 60*time.Second, local.Name+"'s istiod holds "+remote.Name+"'s probe endpoints on network "+network[remote.Name], func() (bool, string) {
				got, err := shardNetworks(debug, probeHost, probeNamespace, remote.MeshClusterID)
				want := []string{}
				for _, ip := range probes[remote.Name] {
					want = append(want, ip+"@"+network[remote.Name])
				}
				return err == nil && slices.Equal(got, want), strings.Join(got, ",") + errString(err)
			})
		}
		// gcloud, an independent client: the internal forwarding rules
		// with global access, and meshctl's firewall rule per gateway.
		rules := mc.forwardingRules(t, config)
		for _, c := range []mcCluster{a, b} {
			if r := rules[addr[c.Name]]; r.LoadBalancingScheme != "INTERNAL" || !r.AllowGlobalAccess || !strings.HasSuffix(r.Region, "/regions/"+c.Location) {
				t.Errorf("gcloud: forwarding rule of %s's gateway: %+v", c.Name, r)
			}
		}
		fw := mc.gcloudOut(t, config, "compute", "firewall-rules", "list", "--filter", "name~^meshctl-ew-", "--format", "json")
		var fws []struct {
			Network      string   `json:"network"`
			SourceRanges []string `json:"sourceRanges"`
			Allowed      []struct {
				IPProtocol string   `json:"IPProtocol"`
				Ports      []string `json:"ports"`
			} `json:"allowed"`
		}
		if err := json.Unmarshal([]byte(fw), &fws); err != nil {
			t.Fatal(err)
		}
		if len(fws) != 2 {
			t.Fatalf("gcloud: meshctl's gateway firewall rules: %s", fw)
		}
		for _, r := range fws {
			other := a
			if strings.HasSuffix(r.Network, "/networks/"+a.Network) {
				other = b
			}
			if !slices.Equal(r.SourceRanges, []string{other.PodCIDR}) || len(r.Allowed) != 1 || r.Allowed[0].IPProtocol != "tcp" || !slices.Equal(r.Allowed[0].Ports, []string{"15443"}) {
				t.Errorf("gcloud: firewall rule %+v, want tcp:15443 from %s", r, other.PodCIDR)
			}
		}
	})
	if t.Failed() {
		return
	}

	t.Run("re-run changes nothing", func(t *testing.T) {
		res := mc.connect(t, 0, "--multi-network", "--fix")
		for _, p := range res.Plan {
			if p.Action != "keep" && !probeChange(p.Name) {
				t.Errorf("re-run plans %s %s %s", p.Action, p.Kind, p.Name)
			}
		}
	})

	t.Run("global access off: validate reports it, a re-run restores it", func(t *testing.T) {
		mc.kubectl(t, b, "annotate", "service", "-n", "istio-system", "istio-eastwestgateway", "--overwrite",
			"networking.gke.io/internal-load-balancer-allow-global-access=false")
		eventually(t, 60*time.Second, "gcloud sees global access off on "+b.Name+"'s gateway", func() (bool, string) {
			r := mc.forwardingRules(t, config)[addr[b.Name]]
			return r.Name != "" && !r.AllowGlobalAccess, fmt.Sprintf("%+v", r)
		})
		got, code := mc.validateCodes(t)
		want := "MC0332 cluster " + b.Name + ": Service istio-system/istio-eastwestgateway"
		if code != 3 || !slices.Contains(got, want) {
			t.Errorf("validate: exit %d, errors %v; want %s", code, got, want)
		}
		res := mc.connect(t, 0, "--multi-network", "--fix")
		if !slices.ContainsFunc(res.Plan, func(p struct {
			Kind   string `json:"kind"`
			Name   string `json:"name"`
			Action string `json:"action"`
		}) bool {
			return p.Kind == "Service" && p.Name == "istio-eastwestgateway" && p.Action == "update"
		}) {
			t.Errorf("re-run does not update the gateway Service: %+v", res.Plan)
		}
		eventually(t, 60*time.Second, "gcloud sees global access on again", func() (bool, string) {
			r := mc.forwardingRules(t, config)[addr[b.Name]]
			return r.AllowGlobalAccess, fmt.Sprintf("%+v", r)
		})
		if got, code := mc.validateCodes(t); slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "MC033") }) {
			t.Errorf("validate after the re-run: exit %d, %v", code, got)
		}
	})

	t.Run("disconnect leaves nothing of meshctl's", func(t *testing.T) {
		r := runEnv(t, mc.env, "", meshctlBin, "mesh", "disconnect", a.Context, b.Context)
		if r.Code != 0 {
			t.Fatalf("disconnect: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
		for _, c := range []mcCluster{a, b} {
			if s := mc.kubectl(t, c, "get", "secrets,svc,deployments,serviceaccounts,pdb,hpa,gateway.networking.istio.io", "-n", "istio-system",
				"-l", "app.kubernetes.io/managed-by=meshctl", "-o", "name"); s != "" {
				t.Errorf("meshctl's objects left in %s: %s", c.Name, s)
			}
			if got := mc.meshNetwork(t, c); got != network[c.Name] {
				t.Errorf("%s: asmcli's network label %q is gone or changed (want %q)", c.Name, got, network[c.Name])
			}
		}
		eventually(t, 60*time.Second, "the gateways' forwarding rules are deleted", func() (bool, string) {
			rules := mc.forwardingRules(t, config)
			return len(rules) == 0, fmt.Sprintf("%v", rules)
		})
		if fw := mc.gcloudOut(t, config, "compute", "firewall-rules", "list", "--format", "value(name)"); fw != firewallsBefore {
			t.Errorf("firewalls after disconnect:\n%s\nbefore connect:\n%s", fw, firewallsBefore)
		}
	})
}

// shardNetworks are the endpoints istiod holds for a host from one cluster
// (every shard when clusterID is empty)
// as ADDRESS@NETWORK (/debug/endpointShardz), sorted: istiod sends a
// proxy of another network the network's gateway instead of them.
func shardNetworks(debug, host, namespace, clusterID string) ([]string, error) {
	var shardz map[string]map[string]struct {
		Shards map[string][]struct {
			Addresses []string `json:"Addresses"`
			Network   string   `json:"Network"`
		} `json:"Shards"`
	}
	if err := getJSON(debug+"/endpointShardz", &shardz); err != nil {
		return nil, err
	}
	out := []string{}
	for shard, eps := range shardz[host][namespace].Shards {
		if clusterID != "" && shard != "Kubernetes/"+clusterID {
			continue
		}
		for _, ep := range eps {
			for _, a := range ep.Addresses {
				out = append(out, a+"@"+ep.Network)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
