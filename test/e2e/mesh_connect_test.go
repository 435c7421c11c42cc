//go:build e2e

package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// connectSim is TestMeshConnectPrivateClusters' own two-cluster
// simulator: it changes both clusters' GKE settings, firewall and Secrets.
func connectSim(t *testing.T) *mcSim { return multiClusterSim(t, "mesh connect") }

const connectRevision = "asm-mc-1"

// probeChange tells the verification's probe Service and EndpointSlice,
// which every connect creates and removes again (its plan lists them so
// that their permissions are checked first), from a lasting change.
func probeChange(name string) bool { return name == "meshctl-probe" }

// connectResult is the part of `mesh connect -o json` the test reads.
type connectResult struct {
	Findings []struct {
		Code   string `json:"code"`
		Level  string `json:"level"`
		Object string `json:"object"`
	} `json:"findings"`
	Plan []struct {
		Kind   string `json:"kind"`
		Name   string `json:"name"`
		Action string `json:"action"`
	} `json:"plan"`
	Matrix struct {
		Rows []struct {
			Cluster string `json:"cluster"`
			Cells   []struct {
				Cluster   string `json:"cluster"`
				Sync      string `json:"sync"`
				Endpoints bool   `json:"endpoints"`
			} `json:"cells"`
		} `json:"rows"`
	} `json:"matrix"`
	Connected bool `json:"connected"`
}

func (mc *mcSim) connect(t *testing.T, wantCode int, args ...string) connectResult {
	t.Helper()
	a, b := mc.status.Clusters[0], mc.status.Clusters[1]
	all := append([]string{"mesh", "connect", simProject + "/" + a.Location + "/" + a.Name, simProject + "/" + b.Location + "/" + b.Name, "-o", "json"}, args...)
	r := runEnv(t, mc.env, "", meshctlBin, all...)
	if r.Code != wantCode {
		t.Fatalf("meshctl %s: exit %d, want %d\n%s%s", strings.Join(all, " "), r.Code, wantCode, r.Stdout, r.Stderr)
	}
	var res connectResult
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatalf("connect -o json: %v\n%s", err, r.Stdout)
	}
	return res
}

func codesOf(res connectResult, level string) []string {
	var out []string
	for _, f := range res.Findings {
		if level == "" || f.Level == level {
			out = append(out, f.Code+" "+f.Object)
		}
	}
	slices.Sort(out)
	return out
}

// validateCodes runs validate over both clusters and returns the error
// findings as "CODE object" and the exit code.
func (mc *mcSim) validateCodes(t *testing.T) ([]string, int) {
	t.Helper()
	a, b := mc.status.Clusters[0], mc.status.Clusters[1]
	r := runEnv(t, mc.env, "", meshctlBin, "validate", "--cluster", a.Context, "--cluster", b.Context, "--skip-asmcli", "--skip-lb", "-o", "json")
	var res struct {
		Findings []struct {
			Code   string `json:"code"`
			Level  string `json:"level"`
			Object string `json:"object"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatalf("validate -o json: exit %d: %v\n%s%s", r.Code, err, r.Stdout, r.Stderr)
	}
	var out []string
	for _, f := range res.Findings {
		if f.Level == "error" {
			out = append(out, f.Code+" "+f.Object)
		}
	}
	slices.Sort(out)
	return out, r.Code
}

// gkeCluster reads a cluster from the fake GKE API, as any client would.
func (mc *mcSim) gkeCluster(t *testing.T, c mcCluster) (authorized []string, globalAccess bool) {
	t.Helper()
	var cl struct {
		MasterAuthorizedNetworksConfig struct {
			CidrBlocks []struct {
				CidrBlock string `json:"cidrBlock"`
			} `json:"cidrBlocks"`
		} `json:"masterAuthorizedNetworksConfig"`
		PrivateClusterConfig struct {
			MasterGlobalAccessConfig struct {
				Enabled bool `json:"enabled"`
			} `json:"masterGlobalAccessConfig"`
		} `json:"privateClusterConfig"`
	}
	if err := getJSON(mc.status.GCPEndpoint+"/v1/projects/"+simProject+"/locations/"+c.Location+"/clusters/"+c.Name, &cl); err != nil {
		t.Fatal(err)
	}
	for _, b := range cl.MasterAuthorizedNetworksConfig.CidrBlocks {
		authorized = append(authorized, b.CidrBlock)
	}
	return authorized, cl.PrivateClusterConfig.MasterGlobalAccessConfig.Enabled
}

func (mc *mcSim) firewallNames(t *testing.T) []string {
	t.Helper()
	var list struct {
		Items []struct {
			Name string `json:"name"`
		} `json:"items"`
	}
	if err := getJSON(mc.status.GCPEndpoint+"/compute/v1/projects/"+simProject+"/global/firewalls", &list); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, i := range list.Items {
		out = append(out, i.Name)
	}
	return out
}

// meshNetwork is the mesh network istio-system of c is labelled with.
func (mc *mcSim) meshNetwork(t *testing.T, c mcCluster) string {
	return strings.TrimSpace(mc.kubectl(t, c, "get", "namespace", "istio-system", "-o", `jsonpath={.metadata.labels.topology\.istio\.io/network}`))
}

func (mc *mcSim) kubectl(t *testing.T, c mcCluster, args ...string) string {
	t.Helper()
	return mc.run(t, "", "kubectl", append([]string{"--context", c.Context}, args...)...)
}

// TestMeshConnectPrivateClusters: two private clusters in two regions with
// the mesh installed. connect refuses while master global access is off,
// naming each change; --fix makes them and each istiod, read from its own
// debug endpoints, holds the other cluster's endpoints; the remote secrets
// are what the real istioctl makes; a re-run changes nothing; validate
// over both reports the differing roots, then --ca shared gives them one
// root (checked here with crypto/x509) and validate is clean; each
// breakage is reported; disconnect leaves nothing of meshctl's.
func TestMeshConnectPrivateClusters(t *testing.T) {
	mc := connectSim(t)
	mc.installMesh(t, connectRevision)
	a, b := mc.status.Clusters[0], mc.status.Clusters[1]
	netsBefore := map[string][]string{}
	for _, c := range []mcCluster{a, b} {
		netsBefore[c.Name], _ = mc.gkeCluster(t, c)
	}
	firewallsBefore := mc.firewallNames(t)
	probes := map[string][]string{a.Name: mc.deployProbe(t, a, connectRevision), b.Name: mc.deployProbe(t, b, connectRevision)}

	t.Run("refuses while global access is off", func(t *testing.T) {
		res := mc.connect(t, 3)
		want := []string{"MC0311 network " + simProject + "/default", "MC0312 cluster " + a.Name, "MC0312 cluster " + b.Name,
			"MC0313 cluster " + a.Name, "MC0313 cluster " + b.Name}
		if got := codesOf(res, "error"); !slices.Equal(got, want) || res.Connected {
			t.Errorf("errors %v (connected %v), want %v", got, res.Connected, want)
		}
		for _, c := range []mcCluster{a, b} {
			nets, global := mc.gkeCluster(t, c)
			if global || !slices.Equal(nets, netsBefore[c.Name]) {
				t.Errorf("%s changed without --fix: global access %v, authorized %v", c.Name, global, nets)
			}
			if s := mc.kubectl(t, c, "get", "secrets", "-A", "-l", "istio/multiCluster=true", "-o", "name"); s != "" {
				t.Errorf("remote secrets in %s without --fix: %s", c.Name, s)
			}
		}
		if fw := mc.firewallNames(t); !slices.Equal(fw, firewallsBefore) {
			t.Errorf("firewalls changed without --fix: %v", fw)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("fix connects", func(t *testing.T) {
		start := time.Now()
		res := mc.connect(t, 0, "--fix")
		t.Logf("connect --fix of two clusters: %.1fs", time.Since(start).Seconds())
		if !res.Connected || len(res.Matrix.Rows) != 2 {
			t.Fatalf("connected %v, matrix %+v", res.Connected, res.Matrix)
		}
		for _, pair := range [][2]mcCluster{{a, b}, {b, a}} {
			local, remote := pair[0], pair[1]
			nets, global := mc.gkeCluster(t, remote)
			if !global || !slices.Equal(nets, append(slices.Clone(netsBefore[remote.Name]), local.PodCIDR)) {
				t.Errorf("%s: global access %v, authorized %v; want on, %v + %s", remote.Name, global, nets, netsBefore[remote.Name], local.PodCIDR)
			}
			debug := local.istiodDebug(t, connectRevision)
			eventually(t, 60*time.Second, local.Name+"'s istiod holds "+remote.Name+"'s probe pods", func() (bool, string) {
				st, err := remoteSync(debug, remote.MeshClusterID)
				if err != nil || st != "synced" {
					return false, st + errString(err)
				}
				addrs, err := shardAddresses(debug, probeHost, probeNamespace, remote.MeshClusterID)
				return err == nil && slices.Equal(addrs, probes[remote.Name]), strings.Join(addrs, ",") + errString(err)
			})
		}
		for _, c := range []mcCluster{a, b} {
			if s := mc.kubectl(t, c, "get", "svc,endpointslices", "-n", "istio-system", "-l", "app.kubernetes.io/managed-by=meshctl", "-o", "name"); strings.Contains(s, "meshctl-probe") {
				t.Errorf("connect left its probe in %s: %s", c.Name, s)
			}
		}
	})

	t.Run("remote secrets as istioctl makes them", func(t *testing.T) {
		for _, pair := range [][2]mcCluster{{a, b}, {b, a}} {
			local, remote := pair[0], pair[1]
			want := istioctlRemoteSecret(t, mc, remote)
			name := "istio-remote-secret-" + remote.MeshClusterID
			var got secretJSON
			if err := json.Unmarshal([]byte(mc.kubectl(t, local, "get", "secret", "-n", "istio-system", name, "-o", "json")), &got); err != nil {
				t.Fatal(err)
			}
			kc, _ := base64.StdEncoding.DecodeString(got.Data[remote.MeshClusterID])
			if got.Metadata.Annotations["networking.istio.io/cluster"] != want.Metadata.Annotations["networking.istio.io/cluster"] ||
				got.Metadata.Labels["istio/multiCluster"] != "true" || len(got.Data) != 1 {
				t.Errorf("secret %s in %s: %+v, istioctl's %+v", name, local.Name, got.Metadata, want.Metadata)
			}
			if string(kc) != want.StringData[remote.MeshClusterID] {
				t.Errorf("kubeconfig for %s in %s differs from istioctl create-remote-secret's:\n%s\n---\n%s", remote.Name, local.Name, kc, want.StringData[remote.MeshClusterID])
			}
			if !strings.Contains(string(kc), "server: https://"+remote.PrivateEndpoint+"\n") {
				t.Errorf("kubeconfig server is not %s's private endpoint:\n%s", remote.Name, kc)
			}
		}
	})

	t.Run("re-run changes nothing", func(t *testing.T) {
		versions := func() string {
			return mc.kubectl(t, a, "get", "secrets", "-n", "istio-system", "-o", "jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}") +
				mc.kubectl(t, b, "get", "secrets", "-n", "istio-system", "-o", "jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}")
		}
		before := versions()
		res := mc.connect(t, 0, "--fix")
		for _, p := range res.Plan {
			if p.Action != "keep" && !probeChange(p.Name) {
				t.Errorf("re-run plans %s %s %s", p.Action, p.Kind, p.Name)
			}
		}
		if after := versions(); after != before {
			t.Errorf("re-run changed Secrets:\n%s\n%s", before, after)
		}
	})

	t.Run("validate reports the two roots", func(t *testing.T) {
		got, code := mc.validateCodes(t)
		if want := []string{"MC0318 clusters " + a.Name + ", " + b.Name}; code != 3 || !slices.Equal(got, want) {
			t.Errorf("validate: exit %d, errors %v; want 3, %v", code, got, want)
		}
	})

	t.Run("shared CA", func(t *testing.T) { testSharedCA(t, mc) })
	if t.Failed() {
		return
	}

	t.Run("validate clean, then each breakage", func(t *testing.T) { testValidateBreakages(t, mc) })

	t.Run("disconnect leaves nothing of meshctl's", func(t *testing.T) {
		r := runEnv(t, mc.env, "", meshctlBin, "mesh", "disconnect", a.Context, b.Context)
		if r.Code != 0 {
			t.Fatalf("disconnect: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
		for _, c := range []mcCluster{a, b} {
			if s := mc.kubectl(t, c, "get", "secrets", "-A", "-l", "istio/multiCluster=true", "-o", "name"); s != "" {
				t.Errorf("remote secrets left in %s: %s", c.Name, s)
			}
			if s := mc.kubectl(t, c, "get", "secrets,svc,endpointslices", "-A", "-l", "app.kubernetes.io/managed-by=meshctl", "-o", "name"); strings.TrimSpace(s) != "secret/cacerts" {
				t.Errorf("meshctl's objects left in %s (the shared CA's cacerts stays): %q", c.Name, s)
			}
			if nets, _ := mc.gkeCluster(t, c); !slices.Equal(nets, netsBefore[c.Name]) {
				t.Errorf("%s's authorized networks %v, before connect %v", c.Name, nets, netsBefore[c.Name])
			}
		}
		if fw := mc.firewallNames(t); !slices.Equal(fw, firewallsBefore) {
			t.Errorf("firewalls after disconnect %v, before connect %v", fw, firewallsBefore)
		}
		for _, pair := range [][2]mcCluster{{a, b}, {b, a}} {
			local, remote := pair[0], pair[1]
			debug := local.istiodDebug(t, connectRevision)
			eventually(t, 60*time.Second, local.Name+"'s istiod forgets "+remote.Name, func() (bool, string) {
				st, err := remoteSync(debug, remote.MeshClusterID)
				return err == nil && st == "", st + errString(err)
			})
		}
		if r := runEnv(t, mc.env, "", meshctlBin, "mesh", "disconnect", a.Context, b.Context); r.Code != 0 {
			t.Errorf("disconnect again: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
	})
}

type secretJSON struct {
	Metadata struct {
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Data       map[string]string `json:"data"`
	StringData map[string]string `json:"stringData"`
}

// istioctlRemoteSecret is what the real istioctl makes for a private
// cluster: its installed name, its private endpoint.
func istioctlRemoteSecret(t *testing.T, mc *mcSim, remote mcCluster) secretJSON {
	t.Helper()
	out := mc.run(t, "", "istioctl", "create-remote-secret", "--context", remote.Context, "--name", remote.MeshClusterID, "--server", "https://"+remote.PrivateEndpoint)
	var s secretJSON
	if err := yaml.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("istioctl create-remote-secret: %v\n%s", err, out)
	}
	return s
}

// testSharedCA: connect --ca shared puts one root behind both clusters,
// checked here with crypto/x509 in every namespace's istio-ca-root-cert
// and in the chain each istiod serves; the files are 0600 and the root key
// never reaches a cluster.
func testSharedCA(t *testing.T, mc *mcSim) {
	dir := filepath.Join(t.TempDir(), "ca")
	start := time.Now()
	res := mc.connect(t, 0, "--fix", "--ca", "shared", "--ca-dir", dir, "--ca-key-type", "ecdsa")
	t.Logf("connect --ca shared of two clusters: %.1fs", time.Since(start).Seconds())
	if !res.Connected {
		t.Fatalf("not connected: %v", codesOf(res, ""))
	}
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if want := os.FileMode(0o600); !info.IsDir() && info.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, err := os.ReadFile(filepath.Join(dir, "root-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	root := parseCerts(t, rootPEM)[0]
	rootKey, err := os.ReadFile(filepath.Join(dir, "root-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	for _, c := range mc.status.Clusters {
		var cacerts secretJSON
		if err := json.Unmarshal([]byte(mc.kubectl(t, c, "get", "secret", "-n", "istio-system", "cacerts", "-o", "json")), &cacerts); err != nil {
			t.Fatal(err)
		}
		for k, v := range cacerts.Data {
			if d, _ := base64.StdEncoding.DecodeString(v); bytes.Contains(d, bytes.TrimSpace(rootKey)) {
				t.Errorf("the root key is in %s's cacerts %s", c.Name, k)
			}
		}
		caPEM, _ := base64.StdEncoding.DecodeString(cacerts.Data["ca-cert.pem"])
		inter := parseCerts(t, caPEM)[0]
		if _, err := inter.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil ||
			!inter.IsCA || inter.MaxPathLen != 0 || !inter.MaxPathLenZero || !slices.Contains(inter.Subject.Locality, c.MeshClusterID) {
			t.Errorf("%s's intermediate %s: IsCA %v pathlen %d/%v, verify %v", c.Name, inter.Subject, inter.IsCA, inter.MaxPathLen, inter.MaxPathLenZero, err)
		}
		var cms struct {
			Items []struct {
				Metadata struct {
					Namespace string `json:"namespace"`
				} `json:"metadata"`
				Data map[string]string `json:"data"`
			} `json:"items"`
		}
		if err := json.Unmarshal([]byte(mc.kubectl(t, c, "get", "configmaps", "-A", "--field-selector", "metadata.name=istio-ca-root-cert", "-o", "json")), &cms); err != nil {
			t.Fatal(err)
		}
		if len(cms.Items) < 3 {
			t.Errorf("%s: istio-ca-root-cert in %d namespaces", c.Name, len(cms.Items))
		}
		for _, cm := range cms.Items {
			if !slices.ContainsFunc(parseCerts(t, []byte(cm.Data["root-cert.pem"])), root.Equal) {
				t.Errorf("%s: %s/istio-ca-root-cert lacks the shared root", c.Name, cm.Metadata.Namespace)
			}
		}
		chain := istiodChain(t, mc, c)
		im := x509.NewCertPool()
		for _, ic := range chain[1:] {
			im.AddCert(ic)
		}
		if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: im, DNSName: "istiod-" + connectRevision + ".istio-system.svc",
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s: istiod's serving chain does not lead to the shared root: %v", c.Name, err)
		}
	}
}

func parseCerts(t *testing.T, data []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		blk, rest := pem.Decode(data)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
		data = rest
	}
	if len(out) == 0 {
		t.Fatal("no certificate in the PEM data")
	}
	return out
}

// istiodChain is the chain the cluster's istiod serves on its secure xDS
// port.
func istiodChain(t *testing.T, mc *mcSim, c mcCluster) []*x509.Certificate {
	t.Helper()
	return revisionChain(t, mc.env, c.Location, c.Name, connectRevision)
}

// revisionChain is the chain a simulator's istiod of the revision serves
// on its secure xDS port (15012 in a pod), found where `meshsim env` says
// meshctl finds istiods.
func revisionChain(t *testing.T, env []string, location, cluster, revision string) []*x509.Certificate {
	t.Helper()
	var list struct {
		Istiods []struct {
			Revision  string `json:"revision"`
			SecureXDS string `json:"secureXDS"`
		} `json:"istiods"`
	}
	q := url.Values{"project": {simProject}, "location": {location}, "cluster": {cluster}}
	if err := getJSON(envValue(env, "MESHCTL_ISTIOD_ENDPOINTS")+"?"+q.Encode(), &list); err != nil {
		t.Fatalf("istiods of %s: %v", cluster, err)
	}
	for _, i := range list.Istiods {
		if i.Revision != revision {
			continue
		}
		conn, err := tls.Dial("tcp", i.SecureXDS, &tls.Config{InsecureSkipVerify: true, ServerName: "istiod-" + revision + ".istio-system.svc"}) //nolint:gosec // verified against the shared root by the caller
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates
	}
	t.Fatalf("no istiod of %s in %s among %+v", revision, cluster, list.Istiods)
	return nil
}

// testValidateBreakages: validate over both clusters is clean, then
// reports a deleted remote secret (and the remote unsynced), and a remote
// control plane out of reach; connect --fix mends each.
func testValidateBreakages(t *testing.T, mc *mcSim) {
	a, b := mc.status.Clusters[0], mc.status.Clusters[1]
	if got, code := mc.validateCodes(t); code != 0 || len(got) != 0 {
		t.Fatalf("validate after connect --ca shared: exit %d, errors %v", code, got)
	}
	pair := "cluster " + a.Name + " → " + b.Name
	mc.kubectl(t, a, "delete", "secret", "-n", "istio-system", "istio-remote-secret-"+b.MeshClusterID)
	var got []string
	eventually(t, 60*time.Second, "validate reports the missing secret and the unsynced remote", func() (bool, string) {
		got, _ = mc.validateCodes(t)
		return slices.Equal(got, []string{"MC0314 " + pair, "MC0316 " + pair}), strings.Join(got, "; ")
	})
	mc.connect(t, 0, "--fix")

	if _, err := exec.LookPath("gcloud"); err != nil {
		t.Log("gcloud is not on PATH: the unreachable control plane is not tested")
		return
	}
	mc.gcloud(t, t.TempDir(), "container", "clusters", "update", b.Name, "--location", b.Location, "--no-enable-master-global-access")
	got, code := mc.validateCodes(t)
	if want := "MC0312 cluster " + b.Name; code != 3 || !slices.Contains(got, want) {
		t.Errorf("validate with %s's global access off: exit %d, errors %v; want %s", b.Name, code, got, want)
	}
	mc.connect(t, 0, "--fix")
	if got, code := mc.validateCodes(t); code != 0 || len(got) != 0 {
		t.Errorf("validate after connect --fix mended it: exit %d, errors %v", code, got)
	}
}
