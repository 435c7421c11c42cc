package vmagent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// The bundle's files, as `istioctl x workload entry configure -o DIR`
// writes them and Istio's VM guide installs them: cluster.env to
// /var/lib/istio/envoy/, mesh.yaml to /etc/istio/config/mesh,
// root-cert.pem to /etc/certs/, istio-token to /var/run/secrets/tokens/,
// hosts appended to /etc/hosts.
const (
	ClusterEnvFile = "cluster.env"
	MeshFile       = "mesh.yaml"
	RootCertFile   = "root-cert.pem"
	TokenFile      = "istio-token"
	HostsFile      = "hosts"
)

// Bundle is a VM's bootstrap bundle, read.
type Bundle struct {
	Dir string
	// Env is cluster.env: the environment istio-start.sh gives pilot-agent.
	Env map[string]string
	// ProxyConfig is mesh.yaml's defaultConfig, as JSON.
	ProxyConfig map[string]any
	// ProxyMetadata is ProxyConfig's proxyMetadata.
	ProxyMetadata map[string]string
	// DiscoveryAddress is istiod's HOST:PORT for xDS; CAAddress for
	// certificates (CA_ADDR, else the discovery address).
	DiscoveryAddress, CAAddress string
	RootCert                    []byte
	Token                       string
	// Hosts maps names to addresses, as the bundle's hosts file lines
	// "ADDRESS NAME..." do once appended to /etc/hosts.
	Hosts map[string]string
}

// ReadBundle reads a bundle directory; every file must be there.
func ReadBundle(dir string) (*Bundle, error) {
	b := &Bundle{Dir: dir, Hosts: map[string]string{}}
	read := func(name string) ([]byte, error) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("the bundle %s has no %s: is it what `istioctl x workload entry configure -o %s` wrote?", dir, name, dir)
		}
		return data, err
	}
	env, err := read(ClusterEnvFile)
	if err != nil {
		return nil, err
	}
	if b.Env, err = parseEnvFile(string(env)); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ClusterEnvFile), err)
	}
	mesh, err := read(MeshFile)
	if err != nil {
		return nil, err
	}
	if err := b.readMesh(mesh); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, MeshFile), err)
	}
	if b.RootCert, err = read(RootCertFile); err != nil {
		return nil, err
	}
	token, err := read(TokenFile)
	if err != nil {
		return nil, err
	}
	b.Token = strings.TrimSpace(string(token))
	hosts, err := read(HostsFile)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(hosts), "\n") {
		if fields := strings.Fields(line); len(fields) >= 2 && !strings.HasPrefix(fields[0], "#") {
			for _, name := range fields[1:] {
				b.Hosts[name] = fields[0]
			}
		}
	}
	b.CAAddress = b.Env["CA_ADDR"]
	if b.CAAddress == "" {
		b.CAAddress = b.DiscoveryAddress
	}
	return b, nil
}

// readMesh reads mesh.yaml's defaultConfig.
func (b *Bundle) readMesh(data []byte) error {
	var mesh struct {
		DefaultConfig map[string]any `json:"defaultConfig"`
	}
	if err := yaml.Unmarshal(data, &mesh); err != nil {
		return err
	}
	if mesh.DefaultConfig == nil {
		return errors.New("no defaultConfig")
	}
	b.ProxyConfig = mesh.DefaultConfig
	b.DiscoveryAddress, _ = mesh.DefaultConfig["discoveryAddress"].(string)
	if b.DiscoveryAddress == "" {
		return errors.New("defaultConfig has no discoveryAddress")
	}
	raw, _ := json.Marshal(mesh.DefaultConfig["proxyMetadata"])
	return json.Unmarshal(raw, &b.ProxyMetadata)
}

// Resolve finds a HOST:PORT's address as the VM would: an IP stays, a
// name comes from the bundle's hosts (a VM resolves no cluster names).
func (b *Bundle) Resolve(hostPort string) (string, error) {
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return "", err
	}
	if net.ParseIP(host) != nil {
		return hostPort, nil
	}
	ip, ok := b.Hosts[host]
	if !ok {
		return "", fmt.Errorf("%s does not resolve on the VM: the bundle's hosts file names no address for it "+
			"(istioctl writes the east-west gateway's address there; it found none, or pass --ingressIP)", host)
	}
	return net.JoinHostPort(ip, port), nil
}

// parseEnvFile reads KEY=VALUE lines with shell quoting, as istioctl
// writes cluster.env (shellescape.Quote) and istio-start.sh sources it.
func parseEnvFile(text string) (map[string]string, error) {
	env := map[string]string{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: %q is not KEY=VALUE", i+1, line)
		}
		val, err := unquote(v)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		env[strings.TrimPrefix(k, "export ")] = val
	}
	return env, nil
}

// unquote reads one shell word: 'single' and "double" quoted parts and
// backslash escapes outside quotes.
func unquote(s string) (string, error) {
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return "", fmt.Errorf("unterminated ' in %q", s)
			}
			out.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case '"':
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				out.WriteByte(s[j])
			}
			if j >= len(s) {
				return "", fmt.Errorf("unterminated \" in %q", s)
			}
			i = j
		case '\\':
			if i+1 < len(s) {
				i++
				out.WriteByte(s[i])
			}
		default:
			out.WriteByte(c)
		}
	}
	return out.String(), nil
}
