package vmagent

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
)

// Node is the Envoy node a VM's pilot-agent announces to istiod: its ID
// (sidecar~IP~NAME.NAMESPACE~NAMESPACE.svc.cluster.local) and metadata.
type Node struct {
	ID       string
	Cluster  string
	Metadata map[string]any
	// Namespace and ClusterID are what the agent also sends as gRPC
	// headers (istiod's token authenticator picks the cluster by the
	// ClusterID header).
	Namespace, ClusterID string
}

// Env is the environment pilot-agent runs with on the VM: cluster.env
// (istio-start.sh sources it) and, where cluster.env does not set a
// variable, mesh.yaml's proxyMetadata (pilot-agent exports it at start).
func (b *Bundle) Environ() map[string]string {
	env := map[string]string{}
	for k, v := range b.ProxyMetadata {
		env[k] = v
	}
	for k, v := range b.Env {
		env[k] = v
	}
	return env
}

// NodeFor builds the node as pilot-agent does (pkg/bootstrap
// GetNodeMetaData): every ISTIO_META_X variable becomes metadata X, every
// ISTIO_METAJSON_X is X parsed as JSON (LABELS above all), and the agent
// adds NAMESPACE, INSTANCE_IPS, CLUSTER_ID and the canonical labels. ip is
// the VM's address (pilot-agent's INSTANCE_IP, or the host's); name its
// host name.
func (b *Bundle) NodeFor(ip netip.Addr, name string) (Node, error) {
	env := b.Environ()
	ns := env["POD_NAMESPACE"]
	if ns == "" {
		return Node{}, errors.New("the bundle sets no POD_NAMESPACE: istioctl writes it to cluster.env and mesh.yaml's proxyMetadata")
	}
	meta := map[string]any{}
	for _, k := range sortedKeys(env) {
		v := env[k]
		switch {
		case strings.HasPrefix(k, "ISTIO_METAJSON_"):
			var parsed any
			if err := json.Unmarshal([]byte(v), &parsed); err != nil {
				return Node{}, fmt.Errorf("%s is not JSON: %w", k, err)
			}
			meta[strings.TrimPrefix(k, "ISTIO_METAJSON_")] = parsed
		case strings.HasPrefix(k, "ISTIO_META_"):
			meta[strings.TrimPrefix(k, "ISTIO_META_")] = v
		}
	}
	labels, _ := meta["LABELS"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
	}
	// pilot-agent adds the canonical service labels from the environment.
	for label, key := range map[string]string{"service.istio.io/canonical-name": "CANONICAL_SERVICE",
		"service.istio.io/canonical-revision": "CANONICAL_REVISION"} {
		if v := env[key]; v != "" {
			if _, set := labels[label]; !set {
				labels[label] = v
			}
		}
	}
	meta["LABELS"] = labels
	meta["NAMESPACE"] = ns
	meta["INSTANCE_IPS"] = ip.String()
	if _, ok := meta["INTERCEPTION_MODE"]; !ok {
		meta["INTERCEPTION_MODE"] = "REDIRECT"
	}
	clusterID, _ := meta["CLUSTER_ID"].(string)
	if clusterID == "" {
		clusterID = "Kubernetes" // pilot-agent's default
		meta["CLUSTER_ID"] = clusterID
	}
	cluster := "istio-proxy"
	if svc := env["CANONICAL_SERVICE"]; svc != "" {
		cluster = svc + "." + ns
	}
	return Node{ID: fmt.Sprintf("sidecar~%s~%s.%s~%s.svc.cluster.local", ip, name, ns, ns), Cluster: cluster,
		Metadata: meta, Namespace: ns, ClusterID: clusterID}, nil
}

// metadataStruct is the metadata as the node's protobuf Struct.
func (n Node) metadataStruct() (*structpb.Struct, error) {
	return structpb.NewStruct(n.Metadata)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
