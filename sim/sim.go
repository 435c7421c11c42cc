// Package sim is meshsim: a local stand-in for "GKE + the mesh + Google Cloud"
// made of real parts where they exist. Up starts it in the background under a
// state directory, Down stops everything it started.
package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshctl/meshctl/sim/cluster"
	"github.com/meshctl/meshctl/sim/proc"
	"github.com/meshctl/meshctl/sim/scenario"
	"github.com/meshctl/meshctl/sim/state"
)

// daemonName is the background process serving the Google Cloud half.
const daemonName = "meshsim-daemon"

// UpOptions configure Up.
type UpOptions struct {
	Dir      state.Dir
	BinDir   string // third-party binaries (make sim-deps)
	Meshsim  string // this executable, also the asmcli stand-in
	Scenario scenario.Scenario
	// More are further clusters in Scenario's project and network, each
	// with its own control plane (meshsim up --clusters N).
	More []scenario.Scenario
	Log  io.Writer // progress lines
}

func (o UpOptions) scenarios() []scenario.Scenario {
	return append([]scenario.Scenario{o.Scenario}, o.More...)
}

// Up starts the simulator, or checks that the running one has the asked
// shape. It returns once the clusters and the APIs answer.
func Up(ctx context.Context, o UpOptions) (state.Sim, error) {
	start := time.Now()
	step := func(format string, a ...any) {
		fmt.Fprintf(o.Log, "%5.1fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
	}
	if err := validateShapes(o.scenarios()); err != nil {
		return state.Sim{}, err
	}
	bins := cluster.Binaries{Dir: o.BinDir}
	if missing := bins.Missing(); len(missing) > 0 {
		return state.Sim{}, fmt.Errorf("the simulator's binaries are missing from %s: %v\nbuild them with `make sim-deps` (about 20 minutes the first time, cached afterwards)", o.BinDir, missing)
	}
	prev, prevErr := o.Dir.Load()
	if prevErr == nil && !sameShape(prev, o) {
		if _, running := o.Dir.Pids().Running(daemonName); running {
			return state.Sim{}, fmt.Errorf("meshsim is already up in %s with another cluster shape; run `meshsim down` first", o.Dir)
		}
	}
	for _, d := range []string{string(o.Dir), o.Dir.Logs(), o.Dir.Bin()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return state.Sim{}, err
		}
	}
	sim := state.Sim{Scenario: o.Scenario, BinDir: o.BinDir, Meshsim: o.Meshsim}

	if len(o.More) == 0 {
		step("starting the Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)")
	} else {
		step("starting %d Kubernetes control planes (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok each)", len(o.More)+1)
	}
	clusters, err := startControlPlanes(ctx, o.Dir, bins, o.scenarios())
	if err != nil {
		return sim, err
	}
	sim.Clusters, sim.KubeAPIServer = clusters, clusters[0].KubeAPIServer
	step("registering %d GKE-like nodes", nodeCount(o.scenarios()))
	if err := registerNodes(ctx, o.Dir, clusters); err != nil {
		return sim, err
	}
	if err := linkCommands(o.Dir, bins, o.Meshsim); err != nil {
		return sim, err
	}

	step("starting the Google Cloud APIs")
	if err := startDaemon(o.Dir, &sim, prev, prevErr == nil); err != nil {
		return sim, err
	}
	if err := o.Dir.Save(sim); err != nil {
		return sim, err
	}
	if err := waitClustersReady(ctx, o.Dir, sim, 120*time.Second); err != nil {
		return sim, err
	}
	step("ready")
	return sim, nil
}

// startDaemon starts the background process serving the Google Cloud APIs
// and the reachability proxy, or finds it running from an earlier `up`.
func startDaemon(dir state.Dir, sim *state.Sim, prev state.Sim, hasPrev bool) error {
	if _, running := dir.Pids().Running(daemonName); running && hasPrev {
		sim.GCPEndpoint, sim.VMProxyPort = prev.GCPEndpoint, prev.VMProxyPort
		for i := range sim.Clusters {
			if c, ok := prev.ClusterFor(sim.Clusters[i].Context, "", ""); ok {
				sim.Clusters[i].ProxyPort = c.ProxyPort
			}
		}
		return nil
	}
	port, err := proc.FreePort()
	if err != nil {
		return err
	}
	sim.GCPEndpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
	if sim.VMProxyPort, err = proc.FreePort(); err != nil {
		return err
	}
	listening := []string{fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", sim.VMProxyPort)}
	for i := range sim.Clusters {
		if sim.Clusters[i].ProxyPort, err = proc.FreePort(); err != nil {
			return err
		}
		listening = append(listening, fmt.Sprintf("127.0.0.1:%d", sim.Clusters[i].ProxyPort))
	}
	// The daemon reads the clusters and their ports from the saved record.
	if err := dir.Save(*sim); err != nil {
		return err
	}
	if _, _, err := dir.Pids().Start(proc.Spec{
		Name: daemonName, Path: sim.Meshsim, LogFile: dir.Log(daemonName),
		Args: []string{"daemon", "--state", string(dir), "--addr", listening[0]},
	}); err != nil {
		return err
	}
	for _, addr := range listening {
		if err := proc.WaitForPort(addr, 60*time.Second); err != nil {
			return fmt.Errorf("the Google Cloud APIs did not start (log: %s): %w", dir.Log(daemonName), err)
		}
	}
	return nil
}

// ControlPlane is the kwokctl-run control plane of a cluster of a state
// directory.
func ControlPlane(dir state.Dir, bins cluster.Binaries, name string) cluster.ControlPlane {
	return cluster.ControlPlane{Bin: bins, Workdir: dir.KwokWorkdir(), Name: name, LogFile: dir.Log("kwokctl")}
}

// KubeClient is a client for the simulated cluster (the first, when there
// are several).
func KubeClient(dir state.Dir) (kubernetes.Interface, error) {
	return kubeClient(dir.Kubeconfig())
}

// KubeClientFor is a client for one of the simulated clusters.
func KubeClientFor(dir state.Dir, c state.Cluster) (kubernetes.Interface, error) {
	return kubeClient(dir.ClusterKubeconfig(c.Name()))
}

func kubeClient(kubeconfig string) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	return kubernetes.NewForConfig(cfg)
}

// linkCommands puts asmcli (this executable under asmcli's name) and
// istioctl in the directory `meshsim env` adds to PATH.
func linkCommands(dir state.Dir, bins cluster.Binaries, meshsim string) error {
	links := map[string]string{"asmcli": meshsim, "istioctl": bins.Path("istioctl"), "kwokctl": bins.Path("kwokctl")}
	for name, target := range links {
		link := filepath.Join(dir.Bin(), name)
		if cur, err := os.Readlink(link); err == nil && cur == target {
			continue
		}
		_ = os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			return err
		}
	}
	return nil
}

// Down stops every process the simulator started (istiods, the daemon, the
// control planes) and removes the state directory.
func Down(ctx context.Context, dir state.Dir, log io.Writer) error {
	var errs []error
	for _, name := range dir.Pids().Names() {
		fmt.Fprintf(log, "stopping %s\n", name)
		if err := dir.Pids().Stop(name, 5*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	sim, loadErr := dir.Load()
	if loadErr == nil {
		for _, c := range sim.AllClusters() {
			cp := ControlPlane(dir, cluster.Binaries{Dir: sim.BinDir}, c.Name())
			if cp.Exists() {
				if sim.Multi() {
					fmt.Fprintf(log, "stopping the Kubernetes control plane of %s\n", c.Name())
				} else {
					fmt.Fprintln(log, "stopping the Kubernetes control plane")
				}
				if err := cp.Delete(ctx); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	// Whatever of the control planes is left, e.g. by an `up` killed before
	// kwokctl recorded a cluster, still names kwokctl's work directory.
	if left := proc.Mentioning(dir.KwokWorkdir()); len(left) > 0 {
		fmt.Fprintf(log, "stopping %d leftover control-plane processes\n", len(left))
		proc.StopAll(left, 5*time.Second)
	}
	// Down returns once the simulator's ports are free again, so a caller
	// can start another one, or check, right away.
	if loadErr == nil {
		endpoints := []string{sim.GCPEndpoint}
		if sim.VMProxyPort != 0 {
			endpoints = append(endpoints, fmt.Sprintf("http://127.0.0.1:%d", sim.VMProxyPort))
		}
		for _, c := range sim.AllClusters() {
			endpoints = append(endpoints, c.KubeAPIServer)
			if c.ProxyPort != 0 {
				endpoints = append(endpoints, fmt.Sprintf("http://127.0.0.1:%d", c.ProxyPort))
			}
		}
		for _, endpoint := range endpoints {
			if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
				if err := proc.WaitPortClosed(u.Host, 10*time.Second); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return os.RemoveAll(string(dir))
}
