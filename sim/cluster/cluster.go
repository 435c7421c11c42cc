// Package cluster runs the simulated GKE cluster: a real Kubernetes control
// plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) run by
// kwokctl's binary runtime from locally built binaries, and kwok nodes that
// carry the labels GKE puts on its nodes.
package cluster

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meshctl/meshctl/sim/proc"
	"github.com/meshctl/meshctl/sim/scenario"
)

// KubeVersion is the version the locally built control plane reports.
const KubeVersion = "v1.34.4"

// defaultKwokName is the cluster's name inside kwokctl's work directory
// when the ControlPlane does not name it.
const defaultKwokName = "meshsim"

// Binaries names the executables the control plane is made of.
type Binaries struct{ Dir string }

func (b Binaries) path(name string) string { return filepath.Join(b.Dir, name) }

// Missing lists the binaries that are not there.
func (b Binaries) Missing() []string {
	var missing []string
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kwokctl", "pilot-discovery", "istioctl"} {
		if st, err := os.Stat(b.path(name)); err != nil || st.Mode()&0o111 == 0 {
			missing = append(missing, name)
		}
	}
	return missing
}

// Path is the full path of a named binary.
func (b Binaries) Path(name string) string { return b.path(name) }

// ControlPlane is one kwokctl-run control plane; the clusters of a state
// directory share kwokctl's work directory under their own names.
type ControlPlane struct {
	Bin     Binaries
	Workdir string // kwokctl's work directory (KWOK_WORKDIR)
	Name    string // the cluster's name there; empty means "meshsim"
	LogFile string
}

func (c ControlPlane) name() string {
	if c.Name == "" {
		return defaultKwokName
	}
	return c.Name
}

// contextsFile is where kwokctl adds (and removes) the cluster's context,
// which it would otherwise write into the user's ~/.kube/config; meshsim
// writes its own kubeconfig (Credentials).
func (c ControlPlane) contextsFile() string {
	return filepath.Join(c.Workdir, "kwokctl-contexts.yaml")
}

func (c ControlPlane) kwokctl(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.Bin.path("kwokctl"), append(args, "--name", c.name())...)
	cmd.Env = append(os.Environ(), "KWOK_WORKDIR="+c.Workdir, "KWOK_RUNTIME=binary", "KWOK_KUBE_VERSION="+KubeVersion)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if c.LogFile != "" {
		if f, ferr := os.OpenFile(c.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); ferr == nil {
			fmt.Fprintf(f, "$ kwokctl %s --name %s\n%s\n", strings.Join(args, " "), c.name(), out.Bytes())
			f.Close()
		}
	}
	if err != nil {
		return out.Bytes(), fmt.Errorf("kwokctl %s: %w\n%s", args[0], err, lastLines(out.String(), 15))
	}
	return out.Bytes(), nil
}

// Exists reports whether kwokctl knows the cluster.
func (c ControlPlane) Exists() bool {
	_, err := os.Stat(c.kwokKubeconfig())
	return err == nil
}

func (c ControlPlane) kwokKubeconfig() string {
	return filepath.Join(c.Workdir, "clusters", c.name(), "kubeconfig.yaml")
}

// Dir is the cluster's own directory under kwokctl's work directory.
func (c ControlPlane) Dir() string { return filepath.Join(c.Workdir, "clusters", c.name()) }

//go:embed kwok-stages.yaml
var kwokStages string

// CreateOptions shape a new control plane.
type CreateOptions struct {
	// PodStartup and PodShutdown are how long kwok takes to start and stop
	// a Pod.
	PodStartup, PodShutdown scenario.PodDelay
	// CertSANs are further addresses the API server's serving certificate
	// names: the cluster's private and public endpoints, which remote
	// secrets and other clusters' istiods dial.
	CertSANs []string
	// PodCIDR is where kwok takes Pod addresses for nodes without a
	// podCIDR of their own.
	PodCIDR string
}

// config is kwokctl's configuration file: kwok's stages with the Pod
// start-up and shutdown times, and the API server certificate's extra
// names and the components' ports, which kwokctl would otherwise pick by
// walking down from a fixed port: clusters created side by side (or right
// after another simulator stopped) would collide.
func (o CreateOptions) config(ports map[string]int) string {
	var b strings.Builder
	b.WriteString(stagesConfig(o.PodStartup, o.PodShutdown))
	b.WriteString("\n---\napiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokctlConfiguration\noptions:\n")
	for _, key := range []string{"etcdPeerPort"} {
		if p := ports[key]; p != 0 {
			fmt.Fprintf(&b, "  %s: %d\n", key, p)
		}
	}
	if len(o.CertSANs) > 0 {
		b.WriteString("  kubeApiserverCertSANs:\n")
		for _, san := range o.CertSANs {
			fmt.Fprintf(&b, "  - %q\n", san)
		}
	}
	return b.String()
}

// stagesConfig is kwok's stages with the given Pod start-up and shutdown
// times.
func stagesConfig(startup, shutdown scenario.PodDelay) string {
	ms := func(v int64) string { return strconv.FormatInt(v, 10) }
	return strings.NewReplacer(
		"POD_READY_MIN_MS", ms(startup.MinMillis), "POD_READY_MAX_MS", ms(startup.MaxMillis),
		"POD_DELETE_MIN_MS", ms(shutdown.MinMillis), "POD_DELETE_MAX_MS", ms(shutdown.MaxMillis),
	).Replace(kwokStages)
}

// Create starts the control plane and waits until it serves.
func (c ControlPlane) Create(ctx context.Context, o CreateOptions) error {
	if c.Exists() {
		// A cluster from an earlier `up`: start it again (a no-op when it runs).
		_, err := c.kwokctl(ctx, "start", "cluster", "--wait", "120s")
		return err
	}
	// Ports the kernel picks at random, see CreateOptions.config.
	ports := map[string]int{}
	for _, key := range []string{"apiserver", "etcd", "etcdPeerPort", "controller-manager", "scheduler", "kwok"} {
		p, err := proc.FreePort()
		if err != nil {
			return err
		}
		ports[key] = p
	}
	if err := os.MkdirAll(c.Workdir, 0o755); err != nil {
		return err
	}
	cfg := filepath.Join(c.Workdir, c.name()+"-config.yaml")
	if err := os.WriteFile(cfg, []byte(o.config(ports)), 0o644); err != nil {
		return err
	}
	args := []string{"create", "cluster", "--kubeconfig", c.contextsFile(),
		"--config", cfg,
		"--runtime", "binary",
		"--kube-apiserver-port", strconv.Itoa(ports["apiserver"]),
		"--etcd-port", strconv.Itoa(ports["etcd"]),
		"--kube-controller-manager-port", strconv.Itoa(ports["controller-manager"]),
		"--kube-scheduler-port", strconv.Itoa(ports["scheduler"]),
		"--controller-port", strconv.Itoa(ports["kwok"]),
		"--etcd-binary", c.Bin.path("etcd"),
		"--kube-apiserver-binary", c.Bin.path("kube-apiserver"),
		"--kube-controller-manager-binary", c.Bin.path("kube-controller-manager"),
		"--kube-scheduler-binary", c.Bin.path("kube-scheduler"),
		"--kwok-controller-binary", c.Bin.path("kwok"),
		"--disable-qps-limits",
		// With authorization on, kwokctl gives the controller manager
		// --root-ca-file and --service-account-private-key-file: its token
		// controller then fills service-account token Secrets, which
		// `istioctl create-remote-secret` waits for.
		"--kube-authorization",
		"--wait", "120s",
		"--quiet-pull",
	}
	if o.PodCIDR != "" {
		args = append(args, "--extra-args", "kwok-controller=cidr="+o.PodCIDR)
	}
	_, err := c.kwokctl(ctx, args...)
	return err
}

// Delete stops every control-plane process and removes kwokctl's files.
func (c ControlPlane) Delete(ctx context.Context) error {
	if !c.Exists() {
		return nil
	}
	// kwokctl signals the control plane and returns; wait until those
	// processes are gone so their ports are free when Delete returns.
	pids := proc.Mentioning(c.Workdir)
	_, err := c.kwokctl(ctx, "delete", "cluster", "--kubeconfig", c.contextsFile())
	proc.WaitGone(pids, 10*time.Second)
	return err
}

// Credentials is one cluster's entry in a kubeconfig.
type Credentials struct {
	Context string
	Cluster *clientcmdapi.Cluster
	User    *clientcmdapi.AuthInfo
}

// Server is the API server's URL.
func (c Credentials) Server() string { return c.Cluster.Server }

// Credentials reads kwokctl's admin credentials for the cluster, to go
// under contextName.
func (c ControlPlane) Credentials(contextName string) (Credentials, error) {
	cfg, err := clientcmd.LoadFromFile(c.kwokKubeconfig())
	if err != nil {
		return Credentials{}, fmt.Errorf("read kwokctl's kubeconfig: %w", err)
	}
	cur, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok {
		return Credentials{}, fmt.Errorf("kwokctl's kubeconfig has no current context")
	}
	cluster, user := cfg.Clusters[cur.Cluster], cfg.AuthInfos[cur.AuthInfo]
	if cluster == nil || user == nil {
		return Credentials{}, fmt.Errorf("kwokctl's kubeconfig context %s is incomplete", cfg.CurrentContext)
	}
	return Credentials{Context: contextName, Cluster: cluster, User: user}, nil
}

// WriteKubeconfig writes a kubeconfig holding the clusters, each with its
// context, cluster and user named as `gcloud container clusters
// get-credentials` names them (gke_PROJECT_LOCATION_CLUSTER); the first is
// the current context.
func WriteKubeconfig(path string, creds ...Credentials) error {
	next := clientcmdapi.NewConfig()
	for i, c := range creds {
		next.Clusters[c.Context] = c.Cluster
		next.AuthInfos[c.Context] = c.User
		next.Contexts[c.Context] = &clientcmdapi.Context{Cluster: c.Context, AuthInfo: c.Context}
		if i == 0 {
			next.CurrentContext = c.Context
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := clientcmd.WriteToFile(*next, path); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
