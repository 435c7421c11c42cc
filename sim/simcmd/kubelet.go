package simcmd

import (
	"context"
	"log"
	"path/filepath"

	"github.com/meshctl/meshctl/sim"
	"github.com/meshctl/meshctl/sim/mesh"
	"github.com/meshctl/meshctl/sim/state"
)

// runKubelets starts, for every cluster, the stand-in for the kubelet of
// its istiod pods (sim/mesh.Kubelet): the cacerts Secret mounted where the
// local istiod reads it, and a rollout restarting it.
func runKubelets(ctx context.Context, d state.Dir, s state.Sim) error {
	for _, c := range s.AllClusters() {
		kc, err := sim.KubeClientFor(d, c)
		if !s.Multi() {
			kc, err = sim.KubeClient(d)
		}
		if err != nil {
			return err
		}
		k := &mesh.Kubelet{Dir: d, Sim: s, Cluster: c, Kube: kc, Pilot: filepath.Join(s.BinDir, "pilot-discovery"), Logf: log.Printf}
		go k.Run(ctx)
	}
	return nil
}
