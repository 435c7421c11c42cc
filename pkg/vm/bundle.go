package vm

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	meshconfig "istio.io/api/mesh/v1alpha1"
	"sigs.k8s.io/yaml"
)

// The bundle's files, named and placed on the VM as Istio's VM guide has
// them (istio.io virtual-machine/snips.sh).
const (
	FileClusterEnv = "cluster.env"   // /var/lib/istio/envoy/cluster.env
	FileMesh       = "mesh.yaml"     // /etc/istio/config/mesh
	FileRootCert   = "root-cert.pem" // /etc/certs/root-cert.pem
	FileToken      = "istio-token"   // /var/run/secrets/tokens/istio-token
	FileHosts      = "hosts"         // appended to /etc/hosts
	FileInstall    = "install.sh"
)

// BundleFile is one file of a bundle.
type BundleFile struct {
	Name string      `json:"name"`
	Mode os.FileMode `json:"mode"`
	// OnVM is where install.sh puts it.
	OnVM string `json:"onVM"`
}

// bundleInput is what the files are made from.
type bundleInput struct {
	Group, Namespace, ServiceAccount, Network, ClusterID, Revision string
	Ports                                                          []Port
	Labels                                                         map[string]string
	Probe                                                          map[string]any
	// MeshConfig is the revision's mesh ConfigMap (istio[-REV], key mesh).
	MeshConfig string
	RootCert   string
	Token      string
	// GatewayIP is where the VM reaches istiod: the east-west gateway.
	GatewayIP string
	// Address is the VM's internal address (ISTIO_SVC_IP); "" when unknown.
	Address string
}

// revisioned is istioctl's isRevisioned: the default revision's istiod
// is plain "istiod".
func revisioned(rev string) bool { return rev != "" && rev != "default" }

// IstiodHost is the name the VM reaches the revision's istiod by.
func IstiodHost(rev string) string {
	if revisioned(rev) {
		return "istiod-" + rev + ".istio-system.svc"
	}
	return "istiod.istio-system.svc"
}

func istiodAddr(rev string) string { return IstiodHost(rev) + ":15012" }

// files renders the bundle as `istioctl x workload entry configure
// --autoregister --revision REV --clusterID ID` does (istioctl/pkg/workload
// createClusterEnv, createMeshConfig, createHosts), so the VM's pilot-agent
// reads what it would read from istioctl's bundle.
func (in bundleInput) files() (map[string][]byte, error) {
	mc := &meshconfig.MeshConfig{DefaultConfig: &meshconfig.ProxyConfig{ProxyMetadata: map[string]string{}}}
	if strings.TrimSpace(in.MeshConfig) != "" {
		js, err := yaml.YAMLToJSON([]byte(in.MeshConfig))
		if err != nil {
			return nil, fmt.Errorf("read the mesh config: %w", err)
		}
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(js, mc); err != nil {
			return nil, fmt.Errorf("read the mesh config: %w", err)
		}
	}
	pc := mc.DefaultConfig
	if pc == nil {
		pc = &meshconfig.ProxyConfig{}
	}
	if revisioned(in.Revision) && pc.DiscoveryAddress == "" {
		pc.DiscoveryAddress = istiodAddr(in.Revision)
	}
	md := map[string]string{}
	maps.Copy(md, pc.ProxyMetadata)
	lbls := maps.Clone(in.Labels)
	if lbls == nil {
		lbls = map[string]string{}
	}
	md["CANONICAL_SERVICE"], md["CANONICAL_REVISION"] = canonicalService(lbls, in.Group)
	md["POD_NAMESPACE"] = in.Namespace
	md["SERVICE_ACCOUNT"] = in.ServiceAccount
	md["TRUST_DOMAIN"] = mc.TrustDomain
	md["ISTIO_META_CLUSTER_ID"] = in.ClusterID
	md["ISTIO_META_MESH_ID"] = pc.MeshId
	md["ISTIO_META_NETWORK"] = in.Network
	if len(in.Ports) > 0 {
		type podPort struct {
			Name          string `json:"name,omitempty"`
			ContainerPort int    `json:"containerPort"`
			// Always "" as istioctl writes it (istio pkg/model PodPort).
			Protocol string `json:"protocol"`
		}
		var pp []podPort
		for _, p := range slices.SortedFunc(slices.Values(in.Ports), func(a, b Port) int { return strings.Compare(a.Name, b.Name) }) {
			pp = append(pp, podPort{Name: p.Name, ContainerPort: p.Number})
		}
		b, _ := json.Marshal(pp)
		md["ISTIO_META_POD_PORTS"] = string(b)
	}
	md["ISTIO_META_WORKLOAD_NAME"] = in.Group
	lbls["service.istio.io/canonical-name"] = md["CANONICAL_SERVICE"]
	lbls["service.istio.io/canonical-revision"] = md["CANONICAL_REVISION"]
	lj, _ := json.Marshal(lbls)
	md["ISTIO_METAJSON_LABELS"] = string(lj)
	md["ISTIO_META_AUTO_REGISTER_GROUP"] = in.Group
	pc.ProxyMetadata = md

	pcJSON, err := protojson.Marshal(pc)
	if err != nil {
		return nil, err
	}
	defaultConfig := map[string]any{}
	if err := json.Unmarshal(pcJSON, &defaultConfig); err != nil {
		return nil, err
	}
	if in.Probe != nil {
		defaultConfig["readinessProbe"] = in.Probe
	}
	meshYAML, err := yaml.Marshal(map[string]any{"defaultConfig": defaultConfig})
	if err != nil {
		return nil, err
	}

	// cluster.env is the proxy metadata above (what the injector gives a
	// pod's proxy as environment) and the group's settings.
	env := maps.Clone(pc.ProxyMetadata)
	inbound := "*"
	if len(in.Ports) > 0 {
		var nums []string
		for _, p := range in.Ports {
			nums = append(nums, fmt.Sprint(p.Number))
		}
		inbound = strings.Join(nums, ",")
	}
	exclude := "22,15090,15021"
	if sp := pc.StatusPort; sp != 15090 && sp != 15021 {
		if sp != 0 {
			exclude += fmt.Sprintf(",%d", sp)
		} else {
			exclude += ",15020"
		}
	}
	maps.Copy(env, map[string]string{
		"ISTIO_INBOUND_PORTS":       inbound,
		"ISTIO_NAMESPACE":           in.Namespace,
		"ISTIO_SERVICE":             in.Group + "." + in.Namespace,
		"ISTIO_SERVICE_CIDR":        "*",
		"ISTIO_LOCAL_EXCLUDE_PORTS": exclude,
		"SERVICE_ACCOUNT":           in.ServiceAccount,
	})
	if revisioned(in.Revision) {
		env["CA_ADDR"] = istiodAddr(in.Revision)
	}
	if in.Address != "" {
		env["ISTIO_SVC_IP"] = in.Address
	}
	var lines []string
	for k, v := range env {
		lines = append(lines, k+"="+shellQuote(v))
	}
	slices.Sort(lines)

	return map[string][]byte{
		FileClusterEnv: []byte(strings.Join(lines, "\n") + "\n"),
		FileMesh:       meshYAML,
		FileRootCert:   []byte(in.RootCert),
		FileToken:      []byte(in.Token),
		FileHosts:      fmt.Appendf(nil, "%s %s\n", in.GatewayIP, IstiodHost(in.Revision)),
		FileInstall:    []byte(installScript),
	}, nil
}

// canonicalService is Istio's pkg/kube/labels CanonicalService.
func canonicalService(l map[string]string, workload string) (string, string) {
	first := func(keys ...string) (string, bool) {
		for _, k := range keys {
			if v, ok := l[k]; ok {
				return v, true
			}
		}
		return "", false
	}
	name, ok := first("service.istio.io/canonical-name", "app.kubernetes.io/name", "app")
	if !ok {
		name = workload
	}
	rev, ok := first("service.istio.io/canonical-revision", "app.kubernetes.io/version", "version")
	if !ok {
		rev = "latest"
	}
	return name, rev
}

// shellUnsafe is istioctl's own shellescape pattern (istio
// pkg/util/shellescape), kept byte for byte: its "\\w" inside a raw string
// is a backslash and a "w", not a word character, so istioctl quotes
// nearly every value. Matching it keeps meshctl's cluster.env identical to
// istioctl's; the shell reads both the same.
var shellUnsafe = regexp.MustCompile(`[^\\w@%+=:,./-]`)

// shellQuote is istioctl's cluster.env quoting (shellescape.Quote).
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	if !shellUnsafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// bundleFiles are the files with their modes and places: the token is the
// one secret (a credential for the service account until it expires).
var bundleFiles = []BundleFile{
	{FileClusterEnv, 0o644, "/var/lib/istio/envoy/cluster.env"},
	{FileMesh, 0o644, "/etc/istio/config/mesh"},
	{FileRootCert, 0o644, "/etc/certs/root-cert.pem"},
	{FileToken, 0o600, "/var/run/secrets/tokens/istio-token"},
	{FileHosts, 0o644, "/etc/hosts (appended)"},
	{FileInstall, 0o755, ""},
}

// writeBundle writes the files into dir (made 0700), each through a
// temporary file renamed into place so a VM copying the bundle never
// reads half a file.
func writeBundle(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("make the bundle directory: %w", err)
	}
	for _, f := range bundleFiles {
		if err := writeFile(dir, f.Name, files[f.Name], f.Mode); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(dir, name string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, name))
}

// installScript runs on the VM, as root, from the bundle's directory: the
// steps of Istio's VM guide (the sidecar package, the files in place and
// owned by istio-proxy, the service started).
const installScript = `#!/bin/sh
# Written by meshctl vm add: installs Istio's sidecar on this VM from this
# bundle, as Istio's virtual machine guide does. Run as root from the
# bundle's directory. ISTIO_VERSION picks the package (default: the
# control plane's, as meshctl vm add printed it).
set -eu
cd "$(dirname "$0")"
: "${ISTIO_VERSION:?set ISTIO_VERSION to the mesh's Istio version, e.g. 1.28.0}"
if command -v dpkg >/dev/null; then
  curl -fsSLO "https://storage.googleapis.com/istio-release/releases/${ISTIO_VERSION}/deb/istio-sidecar.deb"
  dpkg -i istio-sidecar.deb
else
  curl -fsSLO "https://storage.googleapis.com/istio-release/releases/${ISTIO_VERSION}/rpm/istio-sidecar.rpm"
  rpm -i istio-sidecar.rpm
fi
install -d -m 0755 /etc/certs /etc/istio/config /var/lib/istio/envoy
install -d -m 0700 /var/run/secrets/tokens
install -m 0644 root-cert.pem /etc/certs/root-cert.pem
install -m 0600 istio-token /var/run/secrets/tokens/istio-token
install -m 0644 cluster.env /var/lib/istio/envoy/cluster.env
install -m 0644 mesh.yaml /etc/istio/config/mesh
grep -qxF "$(cat hosts)" /etc/hosts || cat hosts >> /etc/hosts
chown -R istio-proxy /var/lib/istio /etc/certs /etc/istio/proxy /etc/istio/config /var/run/secrets
systemctl enable --now istio
`
