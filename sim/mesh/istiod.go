// Package mesh installs a real Istio control-plane revision into the simulated
// cluster: the manifests istioctl renders are applied to the cluster, istiod
// (pilot-discovery) runs as a local process for the revision, and the
// revision's injection and validation webhooks are pointed at it over
// https://localhost, since the kwok pods of the in-cluster istiod run nothing.
package mesh

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshctl/meshctl/sim/proc"
	"github.com/meshctl/meshctl/sim/state"
)

// Render runs `istioctl manifest generate` for a revision with the given
// IstioOperator files, as asmcli's install does with `istioctl install`.
func Render(ctx context.Context, istioctl, revision string, files []string) ([]byte, error) {
	return render(ctx, istioctl, revision, files)
}

// render runs `istioctl manifest generate` with more --set values.
func render(ctx context.Context, istioctl, revision string, files []string, sets ...string) ([]byte, error) {
	args := []string{"manifest", "generate", "--set", "revision=" + revision}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	for _, f := range files {
		args = append(args, "-f", f)
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, istioctl, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("istioctl manifest generate: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// Apply applies a manifest with kubectl's server-side apply, as field manager
// "asmcli" so later tools can see who owns what.
func Apply(ctx context.Context, kubeconfig string, manifest []byte) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "kubectl", "--kubeconfig", kubeconfig, "apply", "--server-side",
		"--force-conflicts", "--field-manager", "asmcli", "-f", "-")
	cmd.Stdin = bytes.NewReader(manifest)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("kubectl apply: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// IstiodName is the name of a revision's istiod Deployment, and of its
// process in a one-cluster simulator.
func IstiodName(revision string) string { return "istiod-" + revision }

// Target is the cluster an istiod serves.
type Target struct {
	// Cluster is the cluster's GKE name.
	Cluster string
	// Key names the istiod's process and record (state.IstiodKey).
	Key string
	// Kubeconfig holds the cluster as its current context.
	Kubeconfig string
	// ClusterID is the cluster name istiod registers under; empty means
	// the rendered Deployment's CLUSTER_ID.
	ClusterID string
	// ProxyPort is the reachability proxy for other clusters' control
	// planes; 0 means none.
	ProxyPort int
	// CACerts is ROOT_CA_DIR, where plug-in CA certificates go.
	CACerts string
}

// TargetFor is the target serving a cluster of the simulator, given by
// kube context or, without one, by location and name; with neither, the
// first cluster.
func TargetFor(dir state.Dir, sim state.Sim, context, location, name, revision string) (Target, error) {
	c := sim.AllClusters()[0]
	if context != "" || name != "" {
		var ok bool
		if c, ok = sim.ClusterFor(context, location, name); !ok {
			return Target{}, fmt.Errorf("meshsim simulates no cluster %s", firstNonEmpty(context, location+"/"+name))
		}
	}
	t := Target{Cluster: c.Name(), Key: state.IstiodKey(sim.Multi(), c.Name(), revision),
		Kubeconfig: dir.ClusterKubeconfig(c.Name()), ClusterID: c.Scenario.MeshClusterID(),
		ProxyPort: c.ProxyPort, CACerts: dir.CACerts(c.Name())}
	if !sim.Multi() {
		// One cluster: the shared kubeconfig, as before several existed.
		t.Kubeconfig = dir.Kubeconfig()
	}
	return t, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// StartIstiodIn runs pilot-discovery for the revision as a local process
// serving the target cluster, with the environment and flags of the
// Deployment that istioctl rendered, and waits until it is ready. A running
// istiod for the revision and cluster is reused.
func StartIstiodIn(ctx context.Context, dir state.Dir, t Target, kc kubernetes.Interface, pilot, revision string) (state.Istiod, error) {
	name := "istiod-" + t.Key
	if pid, ok := dir.Pids().Running(name); ok {
		for _, i := range mustIstiods(dir) {
			if i.KeyOrRevision() == t.Key {
				i.Pid = pid
				return i, waitReady(ctx, i.ReadinessURL, 60*time.Second)
			}
		}
	}
	deploy, err := kc.AppsV1().Deployments("istio-system").Get(ctx, IstiodName(revision), metav1.GetOptions{})
	if err != nil {
		return state.Istiod{}, fmt.Errorf("read the %s Deployment istioctl rendered: %w", IstiodName(revision), err)
	}
	ports := make([]int, 5)
	for i := range ports {
		if ports[i], err = proc.FreePort(); err != nil {
			return state.Istiod{}, err
		}
	}
	ist := state.Istiod{Revision: revision, Cluster: t.Cluster, WebhookPort: ports[0], HTTPPort: ports[1], GRPCPort: ports[2],
		SecureGRPC: ports[3], MonitorPort: ports[4]}
	if t.Key != revision {
		ist.Key = t.Key
	}
	ist.ReadinessURL = fmt.Sprintf("http://127.0.0.1:%d/ready", ist.HTTPPort)
	return launch(ctx, dir, t, kc, pilot, deploy, ist)
}

// launch starts pilot-discovery on ist's ports as a pod of deploy would
// start: with the cacerts Secret mounted (ROOT_CA_DIR), and records it.
func launch(ctx context.Context, dir state.Dir, t Target, kc kubernetes.Interface, pilot string, deploy *appsv1.Deployment, ist state.Istiod) (state.Istiod, error) {
	name := "istiod-" + t.Key
	env, clusterID := targetEnv(istiodEnv(deploy, IstiodName(ist.Revision)), t)
	ist.ClusterID = clusterID
	ist.Template = templateHash(deploy)
	if err := MountCACerts(ctx, kc, t.CACerts); err != nil {
		return ist, err
	}
	args := []string{"discovery",
		"--kubeconfig", t.Kubeconfig,
		"--httpsAddr", fmt.Sprintf("127.0.0.1:%d", ist.WebhookPort),
		"--httpAddr", fmt.Sprintf("127.0.0.1:%d", ist.HTTPPort),
		"--grpcAddr", fmt.Sprintf("127.0.0.1:%d", ist.GRPCPort),
		"--secureGRPCAddr", fmt.Sprintf("127.0.0.1:%d", ist.SecureGRPC),
		"--monitoringAddr", fmt.Sprintf("127.0.0.1:%d", ist.MonitorPort),
		"--domain", "cluster.local",
		"--log_output_level", "default:info",
	}
	if clusterID != "" {
		args = append(args, "--clusterID", clusterID)
	}
	if err := os.MkdirAll(dir.Logs(), 0o755); err != nil {
		return ist, err
	}
	pid, _, err := dir.Pids().Start(proc.Spec{Name: name, Path: pilot, Args: args, Env: env, LogFile: dir.Log(name)})
	if err != nil {
		return ist, err
	}
	ist.Pid = pid
	if err := dir.SaveIstiod(ist); err != nil {
		return ist, err
	}
	if err := waitReady(ctx, ist.ReadinessURL, 90*time.Second); err != nil {
		return ist, fmt.Errorf("istiod %s did not become ready (log: %s): %w", t.Key, dir.Log(name), err)
	}
	return ist, nil
}

// targetEnv completes the rendered environment for a local istiod serving
// the target, and returns it with the cluster id it registers under.
func targetEnv(env []string, t Target) ([]string, string) {
	clusterID := t.ClusterID
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "CLUSTER_ID="); ok && clusterID == "" {
			clusterID = v
		}
	}
	env = append(env,
		"KUBECONFIG="+t.Kubeconfig,
		// The webhooks reach this process at https://localhost:PORT: its
		// serving certificate must name localhost.
		"ISTIOD_CUSTOM_HOST=localhost",
		"PILOT_ENABLE_ANALYSIS=false",
		// Plug-in CA certificates, per cluster; the default ./etc/cacerts
		// would be relative to wherever meshsim was started.
		"ROOT_CA_DIR="+t.CACerts,
	)
	if clusterID != "" {
		env = append(env, "CLUSTER_ID="+clusterID)
	}
	if t.ProxyPort != 0 {
		// Other clusters' control planes (a remote secret's server) are
		// reached through the reachability proxy, which lets through what
		// GKE would; the own API server is on loopback, which Go never
		// proxies, and NO_PROXY says so too.
		env = append(env,
			fmt.Sprintf("HTTPS_PROXY=http://127.0.0.1:%d", t.ProxyPort),
			"NO_PROXY=127.0.0.1,localhost",
		)
	}
	return env, clusterID
}

// istiodEnv resolves the istiod container's environment from the rendered
// Deployment, filling in what the kubelet would (the downward API).
func istiodEnv(d *appsv1.Deployment, podName string) []string {
	var c *corev1.Container
	for i := range d.Spec.Template.Spec.Containers {
		if d.Spec.Template.Spec.Containers[i].Name == "discovery" {
			c = &d.Spec.Template.Spec.Containers[i]
		}
	}
	if c == nil {
		return nil
	}
	var env []string
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			switch {
			case e.ValueFrom.FieldRef != nil:
				switch e.ValueFrom.FieldRef.FieldPath {
				case "metadata.name":
					v = podName + "-local"
				case "metadata.namespace":
					v = d.Namespace
				case "spec.serviceAccountName":
					v = d.Spec.Template.Spec.ServiceAccountName
				default:
					continue
				}
			case e.ValueFrom.ResourceFieldRef != nil:
				// GOMEMLIMIT and GOMAXPROCS: leave the Go runtime's defaults.
				continue
			default:
				continue
			}
		}
		env = append(env, e.Name+"="+v)
	}
	return env
}

// StopIstiod stops an istiod process, by key (the revision in a
// one-cluster simulator), and forgets it.
func StopIstiod(dir state.Dir, key string) error {
	if err := dir.Pids().Stop("istiod-"+key, 5*time.Second); err != nil {
		return err
	}
	return dir.RemoveIstiod(key)
}

func mustIstiods(dir state.Dir) []state.Istiod {
	l, _ := dir.Istiods()
	return l
}

func waitReady(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = "status " + strconv.Itoa(resp.StatusCode)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %s", url, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
