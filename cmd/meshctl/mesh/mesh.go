// Package mesh is `meshctl mesh connect` and `meshctl mesh disconnect`:
// GKE clusters with the mesh installed joined into one mesh, and parted
// again (the work is pkg/multicluster's).
package mesh

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/config"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/meshca"
	"github.com/meshctl/meshctl/pkg/multicluster"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// NewCmdMesh returns `meshctl mesh` with its subcommands.
func NewCmdMesh(f *factory.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "mesh", Short: "Join GKE clusters into one mesh, or part them", Args: cobra.NoArgs}
	cmd.AddCommand(NewCmdConnect(f, nil), NewCmdDisconnect(f, nil))
	return cmd
}

// ConnectOptions are what `meshctl mesh connect` runs with.
type ConnectOptions struct {
	// Args are the clusters as given; Connect.Clusters as resolved.
	Args    []string
	Connect multicluster.Options
	// CA is --ca: "" or "shared".
	CA      string
	KeyType string
	// SkipPermissionCheck is --skip-permission-check; Preflight builds the
	// check of the plan's permissions.
	SkipPermissionCheck bool
	Preflight           func(context.Context) *preflight.Checker
	Clients             func(context.Context) (multicluster.Clients, error)
	Printer             *ui.Printer
	Reporter            ui.Reporter
}

// NewCmdConnect returns `meshctl mesh connect`; runF replaces its run in
// tests.
func NewCmdConnect(f *factory.Factory, runF func(*ConnectOptions) error) *cobra.Command {
	opts := &ConnectOptions{Connect: multicluster.Options{FailOn: findings.Error}}
	cmd := &cobra.Command{
		Use:   "connect CLUSTER CLUSTER [CLUSTER...]",
		Short: "Join GKE clusters with the mesh installed into one mesh, and prove it from each istiod",
		Long:  connectLong,
		Example: `  meshctl mesh connect my-project/us-central1/east my-project/europe-west1/west
  meshctl mesh connect gke_my-project_us-central1_east gke_my-project_europe-west1_west --fix
  meshctl mesh connect east west --project my-project --location us-central1 --dry-run -o yaml
  meshctl mesh connect A B C --fix --ca shared
  meshctl mesh connect p/us-central1/east p/europe-west1/west --multi-network --fix`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := completeConnect(f, opts, args); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runConnect(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	o := &opts.Connect
	fl.BoolVar(&o.Fix, "fix", false, "make the GKE and firewall changes the clusters need (firewall rule, master global access, authorized networks); without it connect refuses and lists them")
	fl.BoolVar(&o.DryRun, "dry-run", false, "print the findings and the plan; change nothing")
	fl.BoolVar(&o.NoVerify, "no-verify", false, "skip the proof from each istiod's debug endpoints")
	fl.DurationVar(&o.VerifyTimeout, "verify-timeout", 3*time.Minute, "how long to wait for every istiod to hold every cluster")
	fl.StringVar(&opts.CA, "ca", "", `"shared": one root of trust for the clusters, an intermediate CA per cluster in its cacerts Secret`)
	fl.StringVar(&o.CA.Dir, "ca-dir", "", "where the shared root and the intermediates are kept (default: $XDG_CONFIG_HOME/meshctl/ca)")
	fl.StringVar(&o.CA.RootCert, "root-cert", "", "your root CA certificate (PEM) for --ca shared, instead of a generated one")
	fl.StringVar(&o.CA.RootKey, "root-key", "", "your root CA key (PEM), with --root-cert; it never leaves this machine")
	fl.StringVar(&opts.KeyType, "ca-key-type", string(meshca.RSA), "keys of the CAs made: rsa (4096 bits, as Istio's tools/certs) or ecdsa (P-256)")
	fl.BoolVar(&o.MultiNetwork.Enabled, "multi-network", false, "clusters on different VPC networks: an east-west gateway per cluster on an internal load balancer with global access, the network label on istio-system, a firewall rule per gateway")
	fl.BoolVar(&o.MultiNetwork.PerCluster, "network-per-cluster", false, "with --multi-network: a mesh network per cluster (its installed name) instead of one per VPC (PROJECT-VPC)")
	fl.BoolVar(&o.MultiNetwork.ExposeIstiod, "expose-istiod", false, "with --multi-network: expose istiod through the gateway on 15012 and 15017 (Istio's expose-istiod.yaml, for VMs)")
	fl.DurationVar(&o.MultiNetwork.GatewayTimeout, "gateway-timeout", 3*time.Minute, "with --multi-network: how long to wait for the gateways' addresses and every istiod's view of them")
	fl.Var(&o.FailOn, "fail-on", findings.FailOnUsage)
	factory.AddSkipPermissionCheck(cmd, &opts.SkipPermissionCheck)
	_ = cmd.RegisterFlagCompletionFunc("ca", cobra.FixedCompletions([]string{"shared"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("ca-key-type", cobra.FixedCompletions([]string{"rsa", "ecdsa"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func completeConnect(f *factory.Factory, opts *ConnectOptions, args []string) error {
	o := &opts.Connect
	switch opts.CA {
	case "":
		if o.CA.RootCert != "" || o.CA.RootKey != "" || o.CA.Dir != "" {
			return failure.Usagef("--ca-dir, --root-cert and --root-key go with --ca shared")
		}
	case "shared":
		o.CA.Shared = true
		if (o.CA.RootCert == "") != (o.CA.RootKey == "") {
			return failure.Usagef("--root-cert and --root-key go together")
		}
		if o.CA.Dir == "" {
			o.CA.Dir = config.DefaultCADir(f.Env.LookupEnv)
		}
		if o.CA.Dir == "" {
			return failure.Usage(fmt.Errorf("no directory for the shared CA"), "pass --ca-dir")
		}
	default:
		return failure.Usagef("--ca %q: the one choice is shared", opts.CA)
	}
	switch meshca.KeyType(opts.KeyType) {
	case meshca.RSA, meshca.ECDSA:
		o.CA.KeyType = meshca.KeyType(opts.KeyType)
	default:
		return failure.Usagef("--ca-key-type %q: rsa or ecdsa", opts.KeyType)
	}
	if o.VerifyTimeout <= 0 {
		return failure.Usagef("--verify-timeout must be positive")
	}
	if !o.MultiNetwork.Enabled && (o.MultiNetwork.PerCluster || o.MultiNetwork.ExposeIstiod) {
		return failure.Usagef("--network-per-cluster and --expose-istiod go with --multi-network")
	}
	if o.MultiNetwork.GatewayTimeout <= 0 {
		return failure.Usagef("--gateway-timeout must be positive")
	}
	refs, err := f.Refs(args)
	if err != nil {
		return err
	}
	opts.Args, o.Clusters = args, refs
	opts.Clients, opts.Printer, opts.Reporter = f.MultiClusterClients, f.Printer, f.Reporter
	opts.Preflight = f.PreflightClusters(&opts.SkipPermissionCheck)
	return nil
}

func runConnect(ctx context.Context, opts *ConnectOptions) error {
	c, err := opts.Clients(ctx)
	if err != nil {
		return err
	}
	opts.Connect.Preflight = opts.Preflight(ctx)
	res, err := multicluster.Connect(ctx, c, opts.Reporter, opts.Connect)
	if res != nil {
		if perr := opts.Printer.Print(res); perr != nil && err == nil {
			err = perr
		}
	}
	if err != nil {
		return err
	}
	if res.HasProblems() {
		return failure.Problems()
	}
	return nil
}

// DisconnectOptions are what `meshctl mesh disconnect` runs with.
type DisconnectOptions struct {
	Disconnect multicluster.DisconnectOptions
	// SkipPermissionCheck is --skip-permission-check; Preflight builds the
	// check of the plan's permissions.
	SkipPermissionCheck bool
	Preflight           func(context.Context) *preflight.Checker
	Clients             func(context.Context) (multicluster.Clients, error)
	Printer             *ui.Printer
	Reporter            ui.Reporter
}

// NewCmdDisconnect returns `meshctl mesh disconnect`; runF replaces its run
// in tests.
func NewCmdDisconnect(f *factory.Factory, runF func(*DisconnectOptions) error) *cobra.Command {
	opts := &DisconnectOptions{}
	cmd := &cobra.Command{
		Use:   "disconnect CLUSTER CLUSTER [CLUSTER...]",
		Short: "Remove exactly what mesh connect added between clusters",
		Long: `Disconnect removes what meshctl mesh connect made among the clusters, and nothing else:
the remote secrets, the readers' token Secrets no other cluster uses (revoking the tokens), the
authorized-network blocks it added (named "meshctl cn-..."), its firewall rule (or these clusters'
part of it), the trust domain aliases it added, a managed cluster's multicluster_mode, and a probe an
interrupted connect left behind.

It leaves master global access on and the shared CA's cacerts Secrets in place, and says so: other
clients may use the one, and the workloads' certificates come from the other.`,
		Example: `  meshctl mesh disconnect my-project/us-central1/east my-project/europe-west1/west
  meshctl mesh disconnect gke_p_us-central1_east gke_p_europe-west1_west --dry-run`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			refs, err := f.Refs(args)
			if err != nil {
				return err
			}
			opts.Disconnect.Clusters = refs
			opts.Clients, opts.Printer, opts.Reporter = f.MultiClusterClients, f.Printer, f.Reporter
			opts.Preflight = f.PreflightClusters(&opts.SkipPermissionCheck)
			if runF != nil {
				return runF(opts)
			}
			return runDisconnect(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Disconnect.DryRun, "dry-run", false, "print what would be removed; change nothing")
	factory.AddSkipPermissionCheck(cmd, &opts.SkipPermissionCheck)
	return cmd
}

func runDisconnect(ctx context.Context, opts *DisconnectOptions) error {
	c, err := opts.Clients(ctx)
	if err != nil {
		return err
	}
	opts.Disconnect.Preflight = opts.Preflight(ctx)
	res, err := multicluster.Disconnect(ctx, c, opts.Reporter, opts.Disconnect)
	if res != nil {
		if perr := opts.Printer.Print(res); perr != nil && err == nil {
			err = perr
		}
	}
	if err != nil {
		return err
	}
	if res.HasProblems() {
		return failure.Problems()
	}
	return nil
}

const connectLong = `Connect joins GKE clusters that have the mesh installed (asmcli's in-cluster control plane, or
Google's managed one) into one multi-primary mesh on one VPC network. Each cluster is given as
PROJECT/LOCATION/NAME, as its kube context (gke_PROJECT_LOCATION_NAME), or as a bare NAME in
--project and --location; each needs its context in the kubeconfig.

It reads every cluster at once and checks that they fit (findings MC0300-MC0322, see
docs/findings.md): a control plane in each, one fleet, one VPC network, one mesh release and a
revision in common, workload identity, unique installed cluster names, Pod ranges that do not
overlap, trust domains each accepts.

Then it plans, and with --fix makes, what the network lacks:
  firewall       a VPC rule letting every cluster's Pod range reach the other clusters' nodes
                 (tcp, udp, icmp, esp, ah, sctp; priority 900; to the nodes' network tags; in the
                 network's project), as Istio's istio-multicluster-pods rule
  private        each remote private endpoint reachable by each istiod: master global access when
                 the regions differ, and the callers' Pod ranges added to its authorized networks
                 (added only, never replacing a block; each named "meshctl cn-...")
Without --fix, connect refuses and lists those changes exactly.

And what the mesh lacks:
  in-cluster     the remote secrets, every cluster's in every other (N×(N-1)), named with the
                 installed cluster names (cn-PROJECT-LOCATION-NAME), server = the private
                 endpoint, as istioctl create-remote-secret makes them; the reader service account
                 and its access where no install made them; trust domain aliases
  managed        multicluster_mode: connected in each cluster's asm-options ConfigMap
  --ca shared    one root CA (generated in --ca-dir, or --root-cert/--root-key) and an
                 intermediate per cluster in its istio-system/cacerts Secret, istiod restarted onto
                 it, then every namespace's istio-ca-root-cert and istiod's serving chain verified

With --multi-network (clusters on different VPC networks, Istio's multi-primary on different
networks), the pod-to-pod firewall rule gives way to, per cluster:
  network        the topology.istio.io/network label on istio-system (PROJECT-VPC, asmcli's name;
                 the installed cluster name with --network-per-cluster); an existing label is kept
  gateway        istio-eastwestgateway for the installed revision, as Istio's gen-eastwest-gateway.sh
                 makes it: an injected gateway Deployment (ISTIO_META_REQUESTED_NETWORK_VIEW), a
                 LoadBalancer Service on GKE's internal load balancer with global access when the
                 clusters span regions (ports 15021, 15443, 15012, 15017), a PDB, an HPA, and the
                 cross-network Gateway (AUTO_PASSTHROUGH on 15443 for *.local); --expose-istiod adds
                 expose-istiod.yaml's Gateway and VirtualService
  firewall       a rule in the gateway's network (and its project) admitting the other clusters' Pod
                 ranges to the gateway nodes on tcp:15443 only (and 15012, 15017 with --expose-istiod)
It waits until each gateway has an internal address and each istiod lists every other network's
gateway (/debug/networkz).

Finally it proves the result: a probe Service in each cluster (selectorless, one endpoint, removed
afterwards), and each istiod's /debug/clusterz and /debug/endpointShardz read until every istiod
shows every other cluster synced and holds its probe endpoint; a matrix shows the result. istiod
is reached by port-forwarding to its pod, as istioctl does ($MESHCTL_ISTIOD_ENDPOINTS overrides).

Running it again changes nothing. Exit codes: 0 connected, 3 refused or not connected.`
