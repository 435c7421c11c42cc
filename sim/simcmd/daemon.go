package simcmd

import (
	"fmt"
	"log"
	"net/http"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/sim"
	"github.com/meshctl/meshctl/sim/fakeapi"
	"github.com/meshctl/meshctl/sim/fakecertmanager"
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
			opts := gkeOptions(d, s)
			policy, resourceManager, err := newIAM(d, s.Scenario)
			if err != nil {
				return err
			}
			opts.IAM = policy
			if opts.Knobs, err = computeKnobs(); err != nil {
				return err
			}
			server := fakegcp.New(s.Scenario, opts)
			kc, err := sim.KubeClient(d)
			if err != nil {
				return err
			}
			// The fleet API and Resource Manager share the port: each answers
			// its own paths; the fleet reads the cluster's shape from the fake
			// GKE, and one permission model holds for all.
			hub, err := newHub(d, s, server, policy)
			if err != nil {
				return err
			}
			defer hub.Close()
			// Certificate Manager shares it too, under /certificatemanager/,
			// asks Compute which maps its proxies name and serve, and holds
			// to the same permissions.
			cm := fakecertmanager.New(s.Scenario.Project, strconv.FormatInt(s.Scenario.ProjectNumber, 10),
				fakecertmanager.Options{Compute: server, IAM: policy})
			server.SetCertificateMaps(cm)
			mux := http.NewServeMux()
			mux.Handle(fakecertmanager.Prefix, cm.Handler())
			mux.Handle(fakecertmanager.ControlPrefix, cm.Handler())
			mux.Handle("/", fakehub.Compose(hub, server.Handler()))
			router, err := newGatewayRouter(d, s)
			if err != nil {
				return err
			}
			reach, err := serveReach(cmd.Context(), s, server, router.Route)
			if err != nil {
				return err
			}
			gateway, err := newGatewaySim(cmd.Context(), d)
			if err != nil {
				return err
			}
			listening, err := fakeapi.Serve(cmd.Context(), addr, withIstiods(d, withReach(reach, gateway.handler(resourceManager.Wrap(mux)))))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Google Cloud APIs on http://%s\n", listening)
			if err := startInternalLBs(cmd.Context(), d, s, "http://"+listening); err != nil {
				return err
			}

			uid, err := negcontroller.ClusterUID(cmd.Context(), kc)
			if err != nil {
				return fmt.Errorf("read the cluster's id: %w", err)
			}
			go func() {
				if err := gateway.run(cmd.Context(), s, "http://"+listening, uid); err != nil {
					log.Printf("gke gateway controller: %v", err)
				}
			}()
			if err := runKubelets(cmd.Context(), d, s); err != nil {
				return err
			}
			if err := followIstiods(cmd.Context(), d, s); err != nil {
				return err
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
