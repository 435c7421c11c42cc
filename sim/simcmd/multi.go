package simcmd

import (
	"fmt"
	"io"

	"github.com/meshctl/meshctl/sim"
	"github.com/meshctl/meshctl/sim/state"
)

// writeClusters is `up`'s summary of several clusters.
func writeClusters(w io.Writer, s state.Sim, d state.Dir) {
	fmt.Fprintf(w, "meshsim is up: %d clusters in project %s\n", len(s.Clusters), s.Scenario.Project)
	for _, c := range s.Clusters {
		sc := c.Scenario
		fmt.Fprintf(w, "  %-12s %s (%s), %d nodes, network %s subnet %s, pods %s, private endpoint %s, API %s\n",
			sc.Cluster, sc.Location, sc.MasterVersion, len(sc.Nodes()), sc.Network, sc.SubnetRange(), sc.PodRange(), sc.PrivateEndpointIP(), c.KubeAPIServer)
	}
	fmt.Fprintf(w, "  kubeconfig        %s (one context per cluster, gke_PROJECT_LOCATION_NAME)\n", d.Kubeconfig())
}

// writeClusterStatus is `status`'s line per cluster and per istiod.
func writeClusterStatus(w io.Writer, st sim.Status) {
	for _, c := range st.Clusters {
		fmt.Fprintf(w, "cluster        %s %s %s, %d/%d nodes ready, network %s, private endpoint %s, context %s\n",
			c.Name, c.Location, c.KubeAPIServer, c.ReadyNodes, c.Nodes, c.Network, c.PrivateEndpoint, c.Context)
		for _, i := range c.Istiods {
			fmt.Fprintf(w, "istiod         %s revision %s (cluster id %s), webhook https://localhost:%d, debug %s\n",
				c.Name, i.Revision, i.ClusterID, i.WebhookPort, i.DebugURL)
		}
	}
}
