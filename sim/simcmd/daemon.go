package simcmd

import (
	"fmt"
	"log"

	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/sim"
	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/fakehub"
	"github.com/meshctl/meshctl/sim/negcontroller"
	"github.com/meshctl/meshctl/sim/state"
)

// newDaemon is the background process `meshsim up` starts: it serves the
// Google Cloud half of the simulator until `meshsim down` stops it.
func newDaemon(dir func() state.Dir) *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:    "daemon",
		Short:  "Serve the fake Google Cloud APIs (started by `meshsim up`)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d := dir()
			s, err := d.Load()
			if err != nil {
				return err
			}
			server := fakegcp.New(s.Scenario, gkeOptions(d, s))
			kc, err := sim.KubeClient(d)
			if err != nil {
				return err
			}
			// The fleet API shares the port: it answers its own paths and
			// reads the cluster's shape from the fake GKE.
			hub, err := newHub(d, s, server, kc)
			if err != nil {
				return err
			}
			defer hub.Close()
			reach, err := serveReach(cmd.Context(), s, server)
			if err != nil {
				return err
			}
			listening, err := serve(cmd.Context(), addr, withReach(reach, fakehub.Compose(hub, server.Handler())))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Google Cloud APIs on http://%s\n", listening)

			uid, err := negcontroller.ClusterUID(cmd.Context(), kc)
			if err != nil {
				return fmt.Errorf("read the cluster's id: %w", err)
			}
			negs := negcontroller.New(kc, server, uid)
			negs.Errors = func(err error) { log.Printf("neg controller: %v", err) }
			negs.Run(cmd.Context())
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:0", "listen address")
	return cmd
}
