// Package state is meshsim's state directory: what runs, where, and how to
// reach it. Every meshsim command (and the asmcli stand-in) finds the running
// simulator through it, so nothing is kept in memory between commands.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/meshctl/meshctl/sim/proc"
	"github.com/meshctl/meshctl/sim/scenario"
)

// EnvVar names the state directory for commands started from `meshsim env`.
const EnvVar = "MESHSIM_STATE"

// Sim is what `meshsim up` recorded about the running simulator.
type Sim struct {
	Scenario scenario.Scenario `json:"scenario"`
	// BinDir holds the third-party binaries (kube-apiserver, istioctl, ...).
	BinDir string `json:"binDir"`
	// Meshsim is the meshsim executable, which is also the asmcli stand-in.
	Meshsim       string `json:"meshsim"`
	KubeAPIServer string `json:"kubeAPIServer"`
	// GCPEndpoint serves the fake Compute and GKE APIs, e.g. http://127.0.0.1:PORT.
	GCPEndpoint string `json:"gcpEndpoint"`
	// Clusters are the simulated clusters, Scenario's first (the only one
	// unless `meshsim up --clusters N`).
	Clusters []Cluster `json:"clusters,omitempty"`
	// VMProxyPort is where simulated VMs (meshsim vm) open their
	// connections through internal load balancers (sim/reach ServeVMs).
	VMProxyPort int `json:"vmProxyPort,omitempty"`
}

// Cluster is one simulated cluster: its shape, and where its control plane
// and its callers' proxy listen.
type Cluster struct {
	Scenario scenario.Scenario `json:"scenario"`
	// Context is its context in the kubeconfig, gke_PROJECT_LOCATION_NAME.
	Context       string `json:"context"`
	KubeAPIServer string `json:"kubeAPIServer"`
	// ProxyPort is where the reachability proxy (sim/reach) takes this
	// cluster's istiods' connections to other control planes.
	ProxyPort int `json:"proxyPort,omitempty"`
}

// Name is the cluster's GKE name.
func (c Cluster) Name() string { return c.Scenario.Cluster }

// AllClusters lists the simulated clusters; a record written before
// several clusters existed has one, from Scenario.
func (s Sim) AllClusters() []Cluster {
	if len(s.Clusters) > 0 {
		return s.Clusters
	}
	return []Cluster{{Scenario: s.Scenario, Context: s.Scenario.KubeContext(), KubeAPIServer: s.KubeAPIServer}}
}

// Multi reports whether the simulator has several clusters.
func (s Sim) Multi() bool { return len(s.Clusters) > 1 }

// ClusterFor finds a cluster by kubeconfig context, or else by location and
// name (location "" or "-" matches any).
func (s Sim) ClusterFor(context, location, name string) (Cluster, bool) {
	for _, c := range s.AllClusters() {
		if context != "" && c.Context == context {
			return c, true
		}
		if context == "" && c.Scenario.Cluster == name && (location == "" || location == "-" || location == c.Scenario.Location) {
			return c, true
		}
	}
	return Cluster{}, false
}

// Istiod is one revision's locally running istiod.
type Istiod struct {
	Revision string `json:"revision"`
	// Key names the istiod among all clusters' (pid and record files):
	// the revision in a one-cluster simulator, CLUSTER-REVISION otherwise.
	// Empty means the revision.
	Key string `json:"key,omitempty"`
	// Cluster is the GKE name of the cluster it serves, ClusterID the
	// cluster name it registers under (--clusterID, CLUSTER_ID).
	Cluster      string `json:"cluster,omitempty"`
	ClusterID    string `json:"clusterID,omitempty"`
	WebhookPort  int    `json:"webhookPort"`
	HTTPPort     int    `json:"httpPort"`
	GRPCPort     int    `json:"grpcPort"`
	SecureGRPC   int    `json:"secureGrpcPort"`
	MonitorPort  int    `json:"monitoringPort"`
	Pid          int    `json:"pid"`
	ReadinessURL string `json:"readinessUrl"`
	// Template is a hash of the istiod Deployment's pod template the
	// process was started from: a rollout (a new template) restarts it.
	Template string `json:"template,omitempty"`
}

// Dir is a state directory.
type Dir string

// Default is $MESHSIM_STATE, else $XDG_STATE_HOME/meshsim, else ~/.local/state/meshsim.
func Default() Dir {
	if d := os.Getenv(EnvVar); d != "" {
		return Dir(d)
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return Dir(filepath.Join(d, "meshsim"))
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return Dir(filepath.Join(os.TempDir(), "meshsim"))
	}
	return Dir(filepath.Join(home, ".local", "state", "meshsim"))
}

func (d Dir) path(parts ...string) string {
	return filepath.Join(append([]string{string(d)}, parts...)...)
}

// Kubeconfig is the simulated cluster's kubeconfig, with a GKE-style context.
func (d Dir) Kubeconfig() string { return d.path("kubeconfig") }

// ClusterKubeconfig is a kubeconfig holding one cluster alone, for the
// processes that serve it (its istiods): they take the current context.
func (d Dir) ClusterKubeconfig(cluster string) string { return d.path(cluster, "kubeconfig") }

// CACerts is where a cluster's istiods look for plug-in CA certificates
// (ROOT_CA_DIR): ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem.
func (d Dir) CACerts(cluster string) string { return d.path(cluster, "cacerts") }

// Pids holds the pid files of every background process.
func (d Dir) Pids() proc.Dir { return proc.Dir(d.path("pids")) }

// Logs holds every background process's log.
func (d Dir) Logs() string { return d.path("logs") }

// Log is the log file of a named process.
func (d Dir) Log(name string) string { return d.path("logs", name+".log") }

// Bin holds the commands `meshsim env` puts on PATH (asmcli, istioctl).
func (d Dir) Bin() string { return d.path("bin") }

// IAMPolicy is the simulated principals' permissions (sim/fakeiam's
// Config as JSON), written by `meshsim up --deny/--iam-policy` and read by
// the daemon; absent, every caller holds every permission.
func (d Dir) IAMPolicy() string { return d.path("iam.json") }

// KwokWorkdir is kwokctl's work directory.
func (d Dir) KwokWorkdir() string { return d.path("kwok") }

// Exists reports whether a simulator was set up in d.
func (d Dir) Exists() bool {
	_, err := os.Stat(d.path("sim.json"))
	return err == nil
}

// ErrNotUp is returned when no simulator runs from this directory.
var ErrNotUp = errors.New("meshsim is not up (run `meshsim up`, or set MESHSIM_STATE to its state directory)")

// Load reads the simulator's record.
func (d Dir) Load() (Sim, error) {
	var s Sim
	b, err := os.ReadFile(d.path("sim.json"))
	if errors.Is(err, os.ErrNotExist) {
		return s, ErrNotUp
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("read %s: %w", d.path("sim.json"), err)
	}
	return s, nil
}

// Save writes the simulator's record atomically.
func (d Dir) Save(s Sim) error { return writeJSON(d.path("sim.json"), s) }

// IstiodKey names a revision's istiod in a cluster: the revision alone when
// the simulator has one cluster (as before several existed).
func IstiodKey(multi bool, cluster, revision string) string {
	if !multi || cluster == "" {
		return revision
	}
	return cluster + "-" + revision
}

// KeyOrRevision is the istiod's key.
func (i Istiod) KeyOrRevision() string {
	if i.Key != "" {
		return i.Key
	}
	return i.Revision
}

// SaveIstiod records a revision's istiod.
func (d Dir) SaveIstiod(i Istiod) error {
	return writeJSON(d.path("istiod", i.KeyOrRevision()+".json"), i)
}

// Istiods lists the recorded istiods, by revision.
func (d Dir) Istiods() ([]Istiod, error) {
	files, _ := filepath.Glob(d.path("istiod", "*.json"))
	sort.Strings(files)
	var out []Istiod
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var i Istiod
		if err := json.Unmarshal(b, &i); err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		out = append(out, i)
	}
	return out, nil
}

// RemoveIstiod forgets an istiod, by key (the revision in a one-cluster
// simulator).
func (d Dir) RemoveIstiod(key string) error {
	err := os.Remove(d.path("istiod", key+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Env is the environment that points kubectl, meshctl, Go clients, the
// asmcli stand-in and gcloud's Resource Manager calls at the simulator.
func (d Dir) Env(s Sim) []string {
	sc := s.Scenario
	env := []string{
		EnvVar + "=" + string(d),
		"KUBECONFIG=" + d.Kubeconfig(),
		"PATH=" + d.Bin() + string(os.PathListSeparator) + os.Getenv("PATH"),
	}
	if s.GCPEndpoint != "" {
		env = append(env,
			"MESHCTL_COMPUTE_ENDPOINT="+s.GCPEndpoint,
			"MESHCTL_CONTAINER_ENDPOINT="+s.GCPEndpoint,
			"MESHCTL_GKEHUB_ENDPOINT="+s.GCPEndpoint,
			"MESHCTL_SERVICEUSAGE_ENDPOINT="+s.GCPEndpoint,
			// Certificate Manager is served under a path of the same port:
			// the Go client takes the prefix as its endpoint, gcloud's
			// override (a base URL) ends with a slash.
			"MESHCTL_CERTIFICATE_MANAGER_ENDPOINT="+s.GCPEndpoint+"/certificatemanager",
			"CLOUDSDK_API_ENDPOINT_OVERRIDES_CERTIFICATEMANAGER="+s.GCPEndpoint+"/certificatemanager/",
			"MESHCTL_RESOURCE_MANAGER_ENDPOINT="+s.GCPEndpoint,
			// istiods run as local processes, not in pods meshctl could
			// port-forward to: the daemon says where (simcmd.IstiodsPath).
			"MESHCTL_ISTIOD_ENDPOINTS="+s.GCPEndpoint+"/meshsim/istiods",
			// gcloud appends v1/projects/...: the override ends in a slash.
			"CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER="+s.GCPEndpoint+"/",
			"MESHCTL_PROJECT="+sc.Project,
			"MESHCTL_LOCATION="+sc.Location,
			"MESHCTL_CLUSTER="+sc.Cluster,
		)
	}
	return env
}

// ShellQuote quotes v for a POSIX shell.
func ShellQuote(v string) string {
	if v != "" && strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-:=,@") == "" {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
