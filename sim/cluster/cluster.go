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

// kwokName is the cluster's name inside kwokctl's work directory.
const kwokName = "meshsim"

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

// ControlPlane is the kwokctl-run control plane of one state directory.
type ControlPlane struct {
	Bin     Binaries
	Workdir string // kwokctl's work directory (KWOK_WORKDIR)
	LogFile string
}

func (c ControlPlane) kwokctl(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.Bin.path("kwokctl"), append(args, "--name", kwokName)...)
	cmd.Env = append(os.Environ(), "KWOK_WORKDIR="+c.Workdir, "KWOK_RUNTIME=binary", "KWOK_KUBE_VERSION="+KubeVersion)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if c.LogFile != "" {
		if f, ferr := os.OpenFile(c.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); ferr == nil {
			fmt.Fprintf(f, "$ kwokctl %s\n%s\n", strings.Join(args, " "), out.Bytes())
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
	return filepath.Join(c.Workdir, "clusters", kwokName, "kubeconfig.yaml")
}

//go:embed kwok-stages.yaml
var kwokStages string

// stagesConfig is kwokctl's configuration file carrying kwok's stages with
// the scenario's pod start-up and shutdown times.
func stagesConfig(startup, shutdown scenario.PodDelay) string {
	ms := func(v int64) string { return strconv.FormatInt(v, 10) }
	return strings.NewReplacer(
		"POD_READY_MIN_MS", ms(startup.MinMillis), "POD_READY_MAX_MS", ms(startup.MaxMillis),
		"POD_DELETE_MIN_MS", ms(shutdown.MinMillis), "POD_DELETE_MAX_MS", ms(shutdown.MaxMillis),
	).Replace(kwokStages)
}

// Create starts the control plane, with pods taking startup to become ready
// and shutdown to go once deleted, and waits until it serves.
func (c ControlPlane) Create(ctx context.Context, startup, shutdown scenario.PodDelay) error {
	if c.Exists() {
		// A cluster from an earlier `up`: start it again (a no-op when it runs).
		_, err := c.kwokctl(ctx, "start", "cluster", "--wait", "120s")
		return err
	}
	// A port the kernel picks at random: kwokctl's own choice walks down from
	// a fixed number, so a simulator started right after another stopped
	// would get the same port.
	port, err := proc.FreePort()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.Workdir, 0o755); err != nil {
		return err
	}
	stages := filepath.Join(c.Workdir, "meshsim-stages.yaml")
	if err := os.WriteFile(stages, []byte(stagesConfig(startup, shutdown)), 0o644); err != nil {
		return err
	}
	_, err = c.kwokctl(ctx, "create", "cluster",
		"--config", stages,
		"--runtime", "binary",
		"--kube-apiserver-port", strconv.Itoa(port),
		"--etcd-binary", c.Bin.path("etcd"),
		"--kube-apiserver-binary", c.Bin.path("kube-apiserver"),
		"--kube-controller-manager-binary", c.Bin.path("kube-controller-manager"),
		"--kube-scheduler-binary", c.Bin.path("kube-scheduler"),
		"--kwok-controller-binary", c.Bin.path("kwok"),
		"--disable-qps-limits",
		"--wait", "120s",
		"--quiet-pull",
	)
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
	_, err := c.kwokctl(ctx, "delete", "cluster")
	proc.WaitGone(pids, 10*time.Second)
	return err
}

// WriteKubeconfig writes the cluster's kubeconfig to path with the context,
// cluster and user named as `gcloud container clusters get-credentials` names
// them (gke_PROJECT_LOCATION_CLUSTER), and returns the API server's URL.
func (c ControlPlane) WriteKubeconfig(path, contextName string) (string, error) {
	cfg, err := clientcmd.LoadFromFile(c.kwokKubeconfig())
	if err != nil {
		return "", fmt.Errorf("read kwokctl's kubeconfig: %w", err)
	}
	cur, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok {
		return "", fmt.Errorf("kwokctl's kubeconfig has no current context")
	}
	cluster, user := cfg.Clusters[cur.Cluster], cfg.AuthInfos[cur.AuthInfo]
	if cluster == nil || user == nil {
		return "", fmt.Errorf("kwokctl's kubeconfig context %s is incomplete", cfg.CurrentContext)
	}
	next := clientcmdapi.NewConfig()
	next.Clusters[contextName] = cluster
	next.AuthInfos[contextName] = user
	next.Contexts[contextName] = &clientcmdapi.Context{Cluster: contextName, AuthInfo: contextName}
	next.CurrentContext = contextName
	if err := clientcmd.WriteToFile(*next, path); err != nil {
		return "", fmt.Errorf("write kubeconfig: %w", err)
	}
	return cluster.Server, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
