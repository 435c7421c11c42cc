package simcmd

import (
	"context"
	"log"

	"github.com/meshctl/meshctl/sim"
	"github.com/meshctl/meshctl/sim/mesh"
	"github.com/meshctl/meshctl/sim/state"
)

// followIstiods makes every cluster's local istiods follow their
// Deployments (mesh.FollowIstiodDeployments) until ctx ends.
func followIstiods(ctx context.Context, d state.Dir, s state.Sim) error {
	for _, c := range s.AllClusters() {
		kc, err := sim.KubeClient(d)
		if s.Multi() {
			kc, err = sim.KubeClientFor(d, c)
		}
		if err != nil {
			return err
		}
		go func() {
			if err := mesh.FollowIstiodDeployments(ctx, d, kc, c.Name(), log.Printf); err != nil {
				log.Printf("istiod follower for %s: %v", c.Name(), err)
			}
		}()
	}
	return nil
}
