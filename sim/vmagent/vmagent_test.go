package vmagent

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// writeBundle lays out a bundle as istioctl 1.2x's `x workload entry
// configure --autoregister` writes it (cluster.env values quoted by
// shellescape, mesh.yaml's proxyMetadata, hosts to the gateway).
func writeBundle(t *testing.T, skip string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		ClusterEnvFile: `CANONICAL_REVISION='latest'
CANONICAL_SERVICE='vm-app'
ISTIO_INBOUND_PORTS='*'
ISTIO_METAJSON_LABELS='{"app":"vm-app","service.istio.io/canonical-name":"vm-app"}'
ISTIO_META_CLUSTER_ID='cn-p-us-central1-c1'
ISTIO_META_NETWORK='p-net-1'
ISTIO_META_WORKLOAD_NAME='vm-app'
POD_NAMESPACE='e2e-vm'
SERVICE_ACCOUNT='vm-sa'
TRUST_DOMAIN=p.svc.id.goog
`,
		MeshFile: `defaultConfig:
  discoveryAddress: istiod-asm-1.istio-system.svc:15012
  meshId: proj-1
  proxyMetadata:
    CANONICAL_REVISION: latest
    ISTIO_META_AUTO_REGISTER_GROUP: vm-app
    ISTIO_META_NETWORK: p-net-1
    POD_NAMESPACE: e2e-vm
`,
		RootCertFile: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
		TokenFile:    "eyJtoken\n",
		HostsFile:    "10.128.0.9 istiod-asm-1.istio-system.svc\n",
	}
	for name, content := range files {
		if name == skip {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadBundleAndNode(t *testing.T) {
	b, err := ReadBundle(writeBundle(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	if b.DiscoveryAddress != "istiod-asm-1.istio-system.svc:15012" || b.Token != "eyJtoken" || b.Env["TRUST_DOMAIN"] != "p.svc.id.goog" {
		t.Errorf("bundle: %+v", b)
	}
	target, err := b.Resolve(b.DiscoveryAddress)
	if err != nil || target != "10.128.0.9:15012" {
		t.Errorf("Resolve = %q, %v; want the hosts file's gateway address", target, err)
	}
	if _, err := b.Resolve("istiod.istio-system.svc:15012"); err == nil || !strings.Contains(err.Error(), "hosts file") {
		t.Errorf("a name the hosts file lacks: %v", err)
	}

	n, err := b.NodeFor(netip.MustParseAddr("10.128.0.20"), "vm-1")
	if err != nil {
		t.Fatal(err)
	}
	if n.ID != "sidecar~10.128.0.20~vm-1.e2e-vm~e2e-vm.svc.cluster.local" || n.ClusterID != "cn-p-us-central1-c1" || n.Cluster != "vm-app.e2e-vm" {
		t.Errorf("node %+v", n)
	}
	labels, _ := n.Metadata["LABELS"].(map[string]any)
	for k, want := range map[string]any{"AUTO_REGISTER_GROUP": "vm-app", "NETWORK": "p-net-1", "NAMESPACE": "e2e-vm",
		"INSTANCE_IPS": "10.128.0.20", "WORKLOAD_NAME": "vm-app"} {
		if n.Metadata[k] != want {
			t.Errorf("metadata %s = %v, want %v", k, n.Metadata[k], want)
		}
	}
	if labels["app"] != "vm-app" || labels["service.istio.io/canonical-revision"] != "latest" {
		t.Errorf("LABELS = %v", labels)
	}
}

func TestReadBundleMissingFile(t *testing.T) {
	dir := writeBundle(t, TokenFile)
	if _, err := ReadBundle(dir); err == nil || !strings.Contains(err.Error(), "has no istio-token") {
		t.Errorf("ReadBundle without the token: %v", err)
	}
}

func TestDiscoveryRequestWire(t *testing.T) {
	n := Node{ID: "sidecar~1.2.3.4~vm.ns~ns.svc.cluster.local", Cluster: "c", Metadata: map[string]any{"NAMESPACE": "ns"}}
	req, err := discoveryRequest(n, clusterType, "v1", "n1")
	if err != nil {
		t.Fatal(err)
	}
	fields := map[protowire.Number][]byte{}
	for b := req; len(b) > 0; {
		num, _, l := protowire.ConsumeTag(b)
		v, m := protowire.ConsumeBytes(b[l:])
		if l < 0 || m < 0 {
			t.Fatalf("bad encoding at %x", b)
		}
		fields[num], b = v, b[l+m:]
	}
	if string(fields[1]) != "v1" || string(fields[4]) != clusterType || string(fields[5]) != "n1" {
		t.Errorf("request fields %q", fields)
	}
	node := fields[2]
	num, _, l := protowire.ConsumeTag(node)
	id, _ := protowire.ConsumeBytes(node[l:])
	if num != 1 || string(id) != n.ID {
		t.Errorf("node id field %d %q", num, id)
	}
	// The metadata is a Struct that decodes back.
	var meta []byte
	for b := node; len(b) > 0; {
		num, _, l := protowire.ConsumeTag(b)
		v, m := protowire.ConsumeBytes(b[l:])
		if num == 3 {
			meta = v
		}
		b = b[l+m:]
	}
	var s structpb.Struct
	if err := proto.Unmarshal(meta, &s); err != nil || s.Fields["NAMESPACE"].GetStringValue() != "ns" {
		t.Errorf("metadata %v %v", &s, err)
	}

	var resp []byte
	resp = appendString(resp, 1, "v2")
	resp = appendString(resp, 2, "any1")
	resp = appendString(resp, 2, "any2")
	resp = appendString(resp, 4, clusterType)
	resp = appendString(resp, 5, "n2")
	r, err := parseDiscoveryResponse(resp)
	if err != nil || r != (discoveryResponse{Version: "v2", TypeURL: clusterType, Nonce: "n2", Resources: 2}) {
		t.Errorf("parseDiscoveryResponse = %+v, %v", r, err)
	}
}
