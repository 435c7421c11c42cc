package simcmd

import (
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/sim/state"
	"github.com/meshctl/meshctl/sim/vmagent"
)

// newVM runs a simulated VM proxy: pilot-agent's xDS stream to istiod from
// a VM bootstrap bundle, until interrupted.
func newVM(dir func() state.Dir) *cobra.Command {
	var bundleDir, ip, instance, network, region, name string
	cmd := &cobra.Command{
		Use:   "vm --bundle DIR (--instance zones/ZONE/instances/NAME | --network NET --region REGION) [--ip IP]",
		Short: "Run a simulated VM's proxy from the bundle `istioctl x workload entry configure` wrote, until stopped",
		Long: `Connects to istiod as a VM's pilot-agent would, with only the bundle's files
(cluster.env, mesh.yaml, root-cert.pem, istio-token, hosts), through meshsim's
VM proxy: the network model admits the connection to the east-west gateway's
internal load balancer, which ends at the cluster's istiod as the gateway's
PASSTHROUGH route would. istiod registers the VM (WorkloadEntry
auto-registration) while it runs; stop it (SIGINT/SIGTERM) and istiod removes
the entry after its grace period. It stays in the foreground.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := dir().Load()
			if err != nil {
				return err
			}
			if s.VMProxyPort == 0 {
				return errors.New("this simulator has no VM proxy: start it again with this meshsim (`meshsim down; meshsim up ...`)")
			}
			b, err := vmagent.ReadBundle(bundleDir)
			if err != nil {
				return err
			}
			caller, addr, err := vmCaller(b, instance, network, region, ip)
			if err != nil {
				return err
			}
			if name == "" {
				name = strings.ReplaceAll(addr.String(), ".", "-")
				if _, n, ok := strings.Cut(instance, "/instances/"); ok {
					name = n
				}
			}
			node, err := b.NodeFor(addr, name)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return vmagent.Run(ctx, vmagent.Options{Bundle: b, Node: node, Proxy: fmt.Sprintf("127.0.0.1:%d", s.VMProxyPort),
				Caller: caller, Logf: log.Printf})
		},
	}
	f := cmd.Flags()
	f.StringVar(&bundleDir, "bundle", "", "the `DIR` that istioctl x workload entry configure -o DIR wrote")
	f.StringVar(&ip, "ip", "", "the VM's internal address (pilot-agent's INSTANCE_IP; default: cluster.env's INSTANCE_IP)")
	f.StringVar(&instance, "instance", "", "the VM as an instance of the fake Compute API: zones/ZONE/instances/NAME")
	f.StringVar(&network, "network", "", "the VM's VPC network, for a VM the fake Compute API does not know")
	f.StringVar(&region, "region", "", "the VM's region, with --network")
	f.StringVar(&name, "name", "", "the VM's host name in its node ID (default: the instance's name, else its address)")
	_ = cmd.MarkFlagRequired("bundle")
	return cmd
}

// vmCaller is the VM as the VM proxy knows it (sim/reach CallerHeader)
// and its address.
func vmCaller(b *vmagent.Bundle, instance, network, region, ip string) (string, netip.Addr, error) {
	if ip == "" {
		ip = b.Env["INSTANCE_IP"]
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return "", netip.Addr{}, fmt.Errorf("--ip %q: the VM's internal address is needed (the bundle's cluster.env sets no INSTANCE_IP)", ip)
	}
	switch {
	case instance != "" && network == "":
		if !strings.HasPrefix(instance, "zones/") || !strings.Contains(instance, "/instances/") {
			return "", netip.Addr{}, fmt.Errorf("--instance %q: want zones/ZONE/instances/NAME", instance)
		}
		return instance, addr, nil
	case instance == "" && network != "" && region != "":
		return fmt.Sprintf("network=%s,region=%s,ip=%s", network, region, addr), addr, nil
	}
	return "", netip.Addr{}, errors.New("say which VM this is: --instance zones/ZONE/instances/NAME, or --network and --region")
}
