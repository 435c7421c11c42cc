package simcmd

import (
	"encoding/base64"
	"fmt"
	"log"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

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
			opts := fakegcp.Options{}
			// GKE's cluster endpoint and CA are the simulated cluster's, so
			// `gcloud container clusters get-credentials` reaches it.
			if cfg, err := clientcmd.LoadFromFile(d.Kubeconfig()); err == nil {
				if c := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster]; c != nil {
					opts.ClusterEndpoint = c.Server
					ca := c.CertificateAuthorityData
					if len(ca) == 0 && c.CertificateAuthority != "" {
						ca, _ = os.ReadFile(c.CertificateAuthority)
					}
					opts.ClusterCACertificate = base64.StdEncoding.EncodeToString(ca)
				}
			}
			server := fakegcp.New(s.Scenario, opts)
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
			gateway, err := newGatewaySim(cmd.Context(), d)
			if err != nil {
				return err
			}
			listening, err := serve(cmd.Context(), addr, gateway.handler(fakehub.Compose(hub, server.Handler())))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Google Cloud APIs on http://%s\n", listening)

			uid, err := negcontroller.ClusterUID(cmd.Context(), kc)
			if err != nil {
				return fmt.Errorf("read the cluster's id: %w", err)
			}
			go func() {
				if err := gateway.run(cmd.Context(), s, "http://"+listening, uid); err != nil {
					log.Printf("gke gateway controller: %v", err)
				}
			}()
			negs := negcontroller.New(kc, server, uid)
			negs.Errors = func(err error) { log.Printf("neg controller: %v", err) }
			negs.Run(cmd.Context())
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:0", "listen address")
	return cmd
}
