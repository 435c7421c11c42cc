package simcmd

import (
	"context"
	"log"
	"path/filepath"

	"k8s.io/client-go/kubernetes"

	"github.com/meshctl/meshctl/sim"
	"github.com/meshctl/meshctl/sim/mesh"
	"github.com/meshctl/meshctl/sim/state"
)

// runKubelets starts, for every cluster, the stand-in for the kubelet of
// its istiod pods (sim/mesh.Kubelet): the cacerts Secret mounted where the
// local istiod reads it, and a rollout restarting it.
func runKubelets(ctx context.Context, d state.Dir, s state.Sim) error {
	return eachCluster(d, s, func(c state.Cluster, kc kubernetes.Interface) {
		k := &mesh.Kubelet{Dir: d, Sim: s, Cluster: c, Kube: kc, Pilot: filepath.Join(s.BinDir, "pilot-discovery"), Logf: log.Printf}
		go k.Run(ctx)
	})
}

// followIstiods makes every cluster's local istiods follow their
// Deployments (mesh.FollowIstiodDeployments) until ctx ends.
func followIstiods(ctx context.Context, d state.Dir, s state.Sim) error {
	return eachCluster(d, s, func(c state.Cluster, kc kubernetes.Interface) {
		go func() {
			if err := mesh.FollowIstiodDeployments(ctx, d, kc, c.Name(), log.Printf); err != nil {
				log.Printf("istiod follower for %s: %v", c.Name(), err)
			}
		}()
	})
}

// eachCluster calls start with every cluster and its Kubernetes client
// (a single-cluster simulator's is the default kubeconfig's).
func eachCluster(d state.Dir, s state.Sim, start func(state.Cluster, kubernetes.Interface)) error {
	for _, c := range s.AllClusters() {
		kc, err := sim.KubeClientFor(d, c)
		if !s.Multi() {
			kc, err = sim.KubeClient(d)
		}
		if err != nil {
			return err
		}
		start(c, kc)
	}
	return nil
}
