package mesh

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshctl/meshctl/sim/state"
)

// A real istiod runs in a pod of its Deployment: the pod mounts the
// cacerts Secret at /etc/cacerts (the chart's volume, optional), the
// kubelet keeps the mounted files in step with the Secret, and a rollout
// (`kubectl rollout restart`, a new template) replaces the pod, so a new
// istiod starts and reads whatever the Secret holds then. istiod loads
// plug-in CA certificates only when it starts; it watches the files only
// when it started with them. meshsim's istiods are local processes: the
// Kubelet below plays that part for them, with ROOT_CA_DIR as the mount.

// cacertsSecret is the Secret the istiod Deployment mounts at /etc/cacerts.
const cacertsSecret = "cacerts"

// MountCACerts makes dir hold what the cacerts Secret holds, as the
// kubelet's secret volume does: one file per key; none when there is no
// Secret (the volume is optional).
func MountCACerts(ctx context.Context, kc kubernetes.Interface, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	s, err := kc.CoreV1().Secrets("istio-system").Get(ctx, cacertsSecret, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("read Secret istio-system/%s: %w", cacertsSecret, err)
	}
	want := map[string][]byte{}
	if err == nil {
		want = s.Data
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if _, keep := want[e.Name()]; !keep {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	for name, data := range want {
		path := filepath.Join(dir, name)
		if cur, err := os.ReadFile(path); err == nil && string(cur) == string(data) {
			continue
		}
		// 0600 rather than the volume's 0644: the state directory is on a
		// shared machine and ca-key.pem is a CA's key.
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func templateHash(d *appsv1.Deployment) string {
	b, _ := json.Marshal(d.Spec.Template)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Kubelet keeps one cluster's local istiods as their Deployments say:
// the cacerts mount current, and a process restarted (on its ports, so
// the webhooks still reach it) when the pod template changes.
type Kubelet struct {
	Dir     state.Dir
	Sim     state.Sim
	Cluster state.Cluster
	Kube    kubernetes.Interface
	// Pilot is the pilot-discovery binary.
	Pilot string
	Logf  func(format string, a ...any)
	// Every is the time between two looks; 0 means one second.
	Every time.Duration
}

// Run watches until ctx ends.
func (k *Kubelet) Run(ctx context.Context) {
	every := k.Every
	if every == 0 {
		every = time.Second
	}
	for {
		if err := k.sync(ctx); err != nil && ctx.Err() == nil {
			k.Logf("istiod kubelet for %s: %v", k.Cluster.Name(), err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func (k *Kubelet) sync(ctx context.Context) error {
	istiods, err := k.Dir.Istiods()
	if err != nil {
		return err
	}
	for _, ist := range istiods {
		if ist.Cluster != k.Cluster.Name() && (ist.Cluster != "" || k.Sim.Multi()) {
			continue
		}
		t, err := TargetFor(k.Dir, k.Sim, k.Cluster.Context, "", "", ist.Revision)
		if err != nil {
			return err
		}
		if _, running := k.Dir.Pids().Running("istiod-" + t.Key); !running {
			continue // stopped on purpose (uninstall), or not started yet
		}
		deploy, err := k.Kube.AppsV1().Deployments("istio-system").Get(ctx, IstiodName(ist.Revision), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue // a managed revision: Google runs its istiod
		}
		if err != nil {
			return err
		}
		if err := MountCACerts(ctx, k.Kube, t.CACerts); err != nil {
			return err
		}
		if ist.Template == "" || ist.Template == templateHash(deploy) {
			continue
		}
		k.Logf("istiod kubelet: %s's %s Deployment rolled out: restarting its istiod", k.Cluster.Name(), deploy.Name)
		if err := k.Dir.Pids().Stop("istiod-"+t.Key, 10*time.Second); err != nil {
			return err
		}
		if _, err := launch(ctx, k.Dir, t, k.Kube, k.Pilot, deploy, ist); err != nil {
			return err
		}
	}
	return nil
}
