package sim

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/meshctl/meshctl/sim/cluster"
	"github.com/meshctl/meshctl/sim/scenario"
	"github.com/meshctl/meshctl/sim/state"
)

// reservedNames are the state directory's own entries, which a cluster's
// directory (<state>/<cluster>/...) must not shadow.
var reservedNames = map[string]bool{"bin": true, "kwok": true, "logs": true, "pids": true, "istiod": true}

// validateShapes rejects clusters the simulator cannot build side by side.
func validateShapes(scenarios []scenario.Scenario) error {
	seen := map[string]bool{}
	for _, sc := range scenarios {
		if err := sc.Validate(); err != nil {
			return err
		}
		if reservedNames[sc.Cluster] {
			return fmt.Errorf("cluster name %q is taken by meshsim's state directory; choose another --cluster", sc.Cluster)
		}
		if seen[sc.Cluster] {
			return fmt.Errorf("two clusters named %q: each simulated cluster needs its own name", sc.Cluster)
		}
		seen[sc.Cluster] = true
	}
	return nil
}

// sameShape reports whether a recorded simulator has the clusters asked for.
func sameShape(prev state.Sim, o UpOptions) bool {
	var had []scenario.Scenario
	for _, c := range prev.AllClusters() {
		had = append(had, c.Scenario)
	}
	return reflect.DeepEqual(prev.Scenario, o.Scenario) && reflect.DeepEqual(had, o.scenarios())
}

func nodeCount(scenarios []scenario.Scenario) int {
	n := 0
	for _, sc := range scenarios {
		n += len(sc.Nodes())
	}
	return n
}

// startControlPlanes creates (or restarts) every cluster's control plane
// side by side, and writes the kubeconfigs: one with every cluster, the
// first current, and one per cluster for the processes serving it.
func startControlPlanes(ctx context.Context, dir state.Dir, bins cluster.Binaries, scenarios []scenario.Scenario) ([]state.Cluster, error) {
	creds := make([]cluster.Credentials, len(scenarios))
	g, gctx := errgroup.WithContext(ctx)
	for i, sc := range scenarios {
		g.Go(func() error {
			cp := ControlPlane(dir, bins, sc.Cluster)
			err := cp.Create(gctx, cluster.CreateOptions{
				PodStartup: sc.PodStartup, PodShutdown: sc.PodShutdown,
				// GKE's serving certificate names both endpoints: a remote
				// secret's server is the private one, and TLS verifies.
				CertSANs: []string{sc.PrivateEndpointIP(), sc.PublicEndpointIP()},
				PodCIDR:  sc.PodRange().String(),
			})
			if err != nil {
				if len(scenarios) > 1 {
					return fmt.Errorf("cluster %s: %w", sc.Cluster, err)
				}
				return err
			}
			if creds[i], err = cp.Credentials(sc.KubeContext()); err != nil {
				return err
			}
			return cluster.WriteKubeconfig(dir.ClusterKubeconfig(sc.Cluster), creds[i])
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := cluster.WriteKubeconfig(dir.Kubeconfig(), creds...); err != nil {
		return nil, err
	}
	out := make([]state.Cluster, len(scenarios))
	for i, sc := range scenarios {
		out[i] = state.Cluster{Scenario: sc, Context: creds[i].Context, KubeAPIServer: creds[i].Server()}
	}
	return out, nil
}

// registerNodes registers every cluster's GKE-like nodes.
func registerNodes(ctx context.Context, dir state.Dir, clusters []state.Cluster) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range clusters {
		g.Go(func() error {
			kc, err := KubeClientFor(dir, c)
			if err != nil {
				return err
			}
			return cluster.EnsureNodes(gctx, kc, c.Scenario)
		})
	}
	return g.Wait()
}

// waitClustersReady waits until every cluster's nodes are Ready.
func waitClustersReady(ctx context.Context, dir state.Dir, sim state.Sim, timeout time.Duration) error {
	for _, c := range sim.AllClusters() {
		kc, err := KubeClientFor(dir, c)
		if err != nil {
			return err
		}
		if err := waitNodesReady(ctx, kc, len(c.Scenario.Nodes()), timeout); err != nil {
			if sim.Multi() {
				return fmt.Errorf("cluster %s: %w", c.Name(), err)
			}
			return err
		}
	}
	return nil
}
