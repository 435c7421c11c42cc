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
	"reflect"
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
	Log      io.Writer // progress lines
}

// Up starts the simulator, or checks that the running one has the asked
// shape. It returns once the cluster and the APIs answer.
func Up(ctx context.Context, o UpOptions) (state.Sim, error) {
	start := time.Now()
	step := func(format string, a ...any) {
		fmt.Fprintf(o.Log, "%5.1fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
	}
	if err := o.Scenario.Validate(); err != nil {
		return state.Sim{}, err
	}
	bins := cluster.Binaries{Dir: o.BinDir}
	if missing := bins.Missing(); len(missing) > 0 {
		return state.Sim{}, fmt.Errorf("the simulator's binaries are missing from %s: %v\nbuild them with `make sim-deps` (about 20 minutes the first time, cached afterwards)", o.BinDir, missing)
	}
	if prev, err := o.Dir.Load(); err == nil && !reflect.DeepEqual(prev.Scenario, o.Scenario) {
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

	cp := ControlPlane(o.Dir, bins)
	step("starting the Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)")
	if err := cp.Create(ctx, o.Scenario.PodStartup, o.Scenario.PodShutdown); err != nil {
		return sim, err
	}
	server, err := cp.WriteKubeconfig(o.Dir.Kubeconfig(), o.Scenario.KubeContext())
	if err != nil {
		return sim, err
	}
	sim.KubeAPIServer = server
	kc, err := KubeClient(o.Dir)
	if err != nil {
		return sim, err
	}
	step("registering %d GKE-like nodes", len(o.Scenario.Nodes()))
	if err := cluster.EnsureNodes(ctx, kc, o.Scenario); err != nil {
		return sim, err
	}
	if err := linkCommands(o.Dir, bins, o.Meshsim); err != nil {
		return sim, err
	}

	step("starting the Google Cloud APIs")
	if pid, running := o.Dir.Pids().Running(daemonName); running {
		prev, err := o.Dir.Load()
		if err != nil {
			return sim, err
		}
		sim.GCPEndpoint = prev.GCPEndpoint
		_ = pid
	} else {
		port, err := proc.FreePort()
		if err != nil {
			return sim, err
		}
		sim.GCPEndpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
		// The daemon reads the scenario from the saved record.
		if err := o.Dir.Save(sim); err != nil {
			return sim, err
		}
		if _, _, err := o.Dir.Pids().Start(proc.Spec{
			Name: daemonName, Path: o.Meshsim, LogFile: o.Dir.Log(daemonName),
			Args: []string{"daemon", "--state", string(o.Dir), "--addr", fmt.Sprintf("127.0.0.1:%d", port)},
		}); err != nil {
			return sim, err
		}
		if err := proc.WaitForPort(fmt.Sprintf("127.0.0.1:%d", port), 60*time.Second); err != nil {
			return sim, fmt.Errorf("the Google Cloud APIs did not start (log: %s): %w", o.Dir.Log(daemonName), err)
		}
	}
	if err := o.Dir.Save(sim); err != nil {
		return sim, err
	}
	if err := waitNodesReady(ctx, kc, len(o.Scenario.Nodes()), 120*time.Second); err != nil {
		return sim, err
	}
	step("ready")
	return sim, nil
}

// ControlPlane is the kwokctl-run control plane of a state directory.
func ControlPlane(dir state.Dir, bins cluster.Binaries) cluster.ControlPlane {
	return cluster.ControlPlane{Bin: bins, Workdir: dir.KwokWorkdir(), LogFile: dir.Log("kwokctl")}
}

// KubeClient is a client for the simulated cluster.
func KubeClient(dir state.Dir) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", dir.Kubeconfig())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir.Kubeconfig(), err)
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
// control plane) and removes the state directory.
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
		cp := ControlPlane(dir, cluster.Binaries{Dir: sim.BinDir})
		if cp.Exists() {
			fmt.Fprintln(log, "stopping the Kubernetes control plane")
			if err := cp.Delete(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// Whatever of the control plane is left, e.g. by an `up` killed before
	// kwokctl recorded the cluster, still names kwokctl's work directory.
	if left := proc.Mentioning(dir.KwokWorkdir()); len(left) > 0 {
		fmt.Fprintf(log, "stopping %d leftover control-plane processes\n", len(left))
		proc.StopAll(left, 5*time.Second)
	}
	// Down returns once the simulator's ports are free again, so a caller
	// can start another one, or check, right away.
	if loadErr == nil {
		for _, endpoint := range []string{sim.KubeAPIServer, sim.GCPEndpoint} {
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
