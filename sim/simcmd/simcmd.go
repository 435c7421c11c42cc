// Package simcmd is meshsim's command line.
package simcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/meshctl/meshctl/sim"
	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/scenario"
	"github.com/meshctl/meshctl/sim/state"
)

// Execute runs meshsim with args and returns the exit code.
func Execute(ctx context.Context, args []string) int {
	root := newRoot()
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "meshsim:", err)
		return 1
	}
	return 0
}

func newRoot() *cobra.Command {
	var stateDir string
	root := &cobra.Command{
		Use:           "meshsim",
		Short:         "A local GKE cluster with a real control plane, real istiod and fake Google Cloud APIs",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&stateDir, "state", "", "state directory (default $MESHSIM_STATE, else ~/.local/state/meshsim)")
	dir := func() state.Dir {
		if stateDir != "" {
			abs, err := filepath.Abs(stateDir)
			if err == nil {
				return state.Dir(abs)
			}
			return state.Dir(stateDir)
		}
		return state.Default()
	}
	root.AddCommand(newUp(dir), newEnv(dir), newStatus(dir), newDown(dir), newDaemon(dir), newVM(dir))
	return root
}

func newUp(dir func() state.Dir) *cobra.Command {
	sc := scenario.Default()
	var (
		binDir       string
		machineType  string
		nodesPerZone int
		noWI         bool
		clusters     int
		networks     int
		regions      []string
		fleetTime    time.Duration
		certDelay    time.Duration
		startup      *podDelayFlags
		shutdown     *podDelayFlags
		iam          *iamFlags
		gateway      *gatewayFlags
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the simulator in the background and wait until it is ready",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			if binDir == "" {
				binDir = defaultBinDir(self)
			}
			for i := range sc.NodePools {
				if machineType != "" {
					sc.NodePools[i].MachineType = machineType
				}
				if cmd.Flags().Changed("nodes-per-zone") {
					sc.NodePools[i].NodesPerZone = nodesPerZone
				}
				if noWI {
					sc.NodePools[i].WorkloadMetadata = "GCE_METADATA"
				}
			}
			if noWI {
				sc.WorkloadIdentity = false
			}
			sc.PodStartup, sc.PodShutdown = startup.value(cmd.Flags()), shutdown.value(cmd.Flags())
			if sc.Private && !cmd.Flags().Changed("private-endpoint") {
				sc.PrivateEndpoint = false
			}
			sc.ResourceLabels["mesh_id"] = fmt.Sprintf("proj-%d", sc.ProjectNumber)
			if cmd.Flags().Changed("fleet-provisioning-time") {
				// The daemon `up` starts inherits this environment.
				os.Setenv(ProvisioningTimeEnv, fleetTime.String())
			}
			if cmd.Flags().Changed("cert-provisioning-delay") {
				os.Setenv(CertProvisioningDelayEnv, certDelay.String())
			}
			gateway.export(cmd.Flags())
			shapes, err := sc.Clusters(clusters, regions)
			if err == nil {
				shapes, err = sc.OnNetworks(shapes, networks)
			}
			if err != nil {
				return err
			}
			d := dir()
			iamConfig, err := iam.config(sc)
			if err != nil {
				return err
			}
			if iam.set() {
				if err := writeIAMPolicy(d, iamConfig); err != nil {
					return err
				}
			}
			s, err := sim.Up(cmd.Context(), sim.UpOptions{Dir: d, BinDir: binDir, Meshsim: self, Scenario: shapes[0], More: shapes[1:], Log: cmd.ErrOrStderr()})
			if err != nil {
				return err
			}
			if iam.set() {
				// A daemon that was already running reads no file.
				if err := pushIAMPolicy(cmd.Context(), s.GCPEndpoint, iamConfig); err != nil {
					return err
				}
			}
			if len(shapes) > 1 {
				writeClusters(cmd.OutOrStdout(), s, d)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "meshsim is up: cluster %s (%s, %s) with %d nodes in %s\n",
					sc.Cluster, sc.Location, sc.MasterVersion, len(sc.Nodes()), strings.Join(sc.Zones(), ", "))
				fmt.Fprintf(cmd.OutOrStdout(), "  Kubernetes API    %s (kubeconfig %s)\n", s.KubeAPIServer, d.Kubeconfig())
			}
			fmt.Fprintf(cmd.OutOrStdout(), "  Google Cloud APIs %s\n", s.GCPEndpoint)
			fmt.Fprintf(cmd.OutOrStdout(), "  pods              start in %s to %s, stop in %s to %s (--pod-startup, --pod-shutdown)\n",
				sc.PodStartup.Min(), sc.PodStartup.Max(), sc.PodShutdown.Min(), sc.PodShutdown.Max())
			if len(iam.deny) > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "  permissions       meshctl and gcloud lack %s (--deny)\n", strings.Join(iam.deny, ", "))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "  Gateway API       %s\n", gateway.summary())
			fmt.Fprintf(cmd.OutOrStdout(), "  state and logs    %s\n", d)
			fmt.Fprintf(cmd.OutOrStdout(), "Point your shell at it with:  eval \"$(meshsim env --state %s)\"\n", d)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&binDir, "bin-dir", "", "where `make sim-deps` put the simulator's binaries (default: bin/sim next to this executable)")
	f.StringVar(&sc.Project, "project", sc.Project, "simulated project id")
	f.StringVar(&sc.Cluster, "cluster", sc.Cluster, "simulated cluster name")
	f.StringVar(&sc.SharedVPCHost, "shared-vpc", "", "the cluster's network is a Shared VPC owned by this host project: GKE names it there, and only the host project's firewall rules apply to the nodes")
	f.StringVar(&sc.MasterVersion, "k8s-version", sc.MasterVersion, "GKE version the cluster reports")
	f.StringVar(&sc.ReleaseChannel, "release-channel", sc.ReleaseChannel, "GKE release channel: RAPID, REGULAR, STABLE or UNSPECIFIED")
	f.BoolVar(&sc.Private, "private", false, "a private cluster (private nodes, master CIDR "+sc.MasterCIDR+"); with --clusters, each cluster's authorized networks hold its own subnet unless --authorized-network is given")
	f.BoolVar(&sc.PrivateEndpoint, "private-endpoint", false, "with --private: the control plane has only a private endpoint")
	f.StringSliceVar(&sc.AuthorizedNetworks, "authorized-network", nil, "master authorized network CIDR (repeatable)")
	f.StringVar(&machineType, "machine-type", "", "machine type of every node pool (default e2-standard-4)")
	f.IntVar(&nodesPerZone, "nodes-per-zone", 1, "nodes per zone in every node pool")
	f.BoolVar(&noWI, "no-workload-identity", false, "a cluster without workload identity")
	startup = addPodDelayFlags(f, "pod-startup", sc.PodStartup, "a scheduled pod takes to become Running and Ready")
	shutdown = addPodDelayFlags(f, "pod-shutdown", sc.PodShutdown, "a deleted pod stays Terminating")
	iam = addIAMFlags(f)
	f.IntVar(&clusters, "clusters", 1, "number of clusters, each with its own control plane, in one project and network (named CLUSTER-1 ... CLUSTER-N when more than one)")
	f.IntVar(&networks, "networks", 1, "VPC networks the clusters are spread over, in turn (each its own custom-mode network CLUSTER-net-I with a subnet per region): an Istio multi-network mesh")
	f.StringSliceVar(&regions, "regions", nil, "regions of the clusters, taken in turn (default: "+sc.Region+")")
	gateway = addGatewayFlags(f)
	f.DurationVar(&fleetTime, "fleet-provisioning-time", 3*time.Second, "how long the fake fleet takes to provision a managed control plane (also $"+ProvisioningTimeEnv+")")
	f.DurationVar(&certDelay, "cert-provisioning-delay", time.Duration(fakegcp.DefaultKnobs().CertProvisioningDelay),
		"how long a Google-managed certificate stays PROVISIONING once it serves (Google: minutes; also $"+CertProvisioningDelayEnv+")")
	return cmd
}

// podDelayFlags are the flags NAME and NAME-max, which set a PodDelay: each
// pod takes a random time between the two; NAME alone sets a fixed time.
type podDelayFlags struct {
	name     string
	min, max time.Duration
}

func addPodDelayFlags(f *pflag.FlagSet, name string, d scenario.PodDelay, what string) *podDelayFlags {
	p := &podDelayFlags{name: name, min: d.Min(), max: d.Max()}
	f.DurationVar(&p.min, name, p.min, "the least time "+what)
	f.DurationVar(&p.max, name+"-max", p.max, "the most time "+what+" (--"+name+" alone sets a fixed time)")
	return p
}

func (p *podDelayFlags) value(f *pflag.FlagSet) scenario.PodDelay {
	longest := p.max
	if f.Changed(p.name) && !f.Changed(p.name+"-max") {
		longest = p.min
	}
	return scenario.PodDelay{MinMillis: p.min.Milliseconds(), MaxMillis: longest.Milliseconds()}
}

// defaultBinDir is bin/sim beside the executable's bin/ directory, where
// `make sim-deps` links the cached binaries.
func defaultBinDir(self string) string {
	if real, err := filepath.EvalSymlinks(self); err == nil {
		self = real
	}
	return filepath.Join(filepath.Dir(self), "sim")
}

func newEnv(dir func() state.Dir) *cobra.Command {
	return &cobra.Command{
		Use:   "env",
		Short: "Print shell exports that point kubectl, meshctl, asmcli and gcloud at the simulator",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d := dir()
			s, err := d.Load()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, kv := range d.Env(s) {
				k, v, _ := strings.Cut(kv, "=")
				fmt.Fprintf(w, "export %s=%s\n", k, state.ShellQuote(v))
			}
			if s.Multi() {
				fmt.Fprintln(w, "# one kube context per cluster (the first is current):")
				for _, c := range s.Clusters {
					fmt.Fprintf(w, "#   %s\n", c.Context)
				}
			}
			writeGcloudHint(w, s)
			return nil
		},
	}
}

func writeGcloudHint(w io.Writer, s state.Sim) {
	if s.GCPEndpoint == "" {
		return
	}
	fmt.Fprintln(w, "# gcloud against the simulator (use a throw-away configuration directory):")
	fmt.Fprintln(w, "#   export CLOUDSDK_CONFIG=$(mktemp -d)")
	fmt.Fprintf(w, "#   gcloud config set api_endpoint_overrides/compute %s/compute/v1/\n", s.GCPEndpoint)
	fmt.Fprintf(w, "#   gcloud config set api_endpoint_overrides/container %s/\n", s.GCPEndpoint)
	fmt.Fprintf(w, "#   gcloud config set api_endpoint_overrides/gkehub %s/\n", s.GCPEndpoint)
	fmt.Fprintf(w, "#   gcloud config set api_endpoint_overrides/serviceusage %s/\n", s.GCPEndpoint)
	fmt.Fprintf(w, "#   gcloud config set api_endpoint_overrides/cloudresourcemanager %s/\n", s.GCPEndpoint)
	fmt.Fprintln(w, "#   (Certificate Manager's override is exported above: CLOUDSDK_API_ENDPOINT_OVERRIDES_CERTIFICATEMANAGER)")
	fmt.Fprintln(w, "#   gcloud config set auth/disable_credentials true")
	fmt.Fprintf(w, "#   gcloud config set core/project %s\n", s.Scenario.Project)
}

func newStatus(dir func() state.Dir) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what runs where; exits 1 when the simulator is not (fully) up",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st := sim.GetStatus(cmd.Context(), dir())
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				if err := enc.Encode(st); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(w, "state          %s\n", st.StateDir)
				fmt.Fprintf(w, "kubernetes     %s %s, %d/%d nodes ready\n", st.KubeAPIServer, st.KubeVersion, st.ReadyNodes, st.Nodes)
				fmt.Fprintf(w, "google cloud   %s\n", st.GCPEndpoint)
				names := make([]string, 0, len(st.Processes))
				for n := range st.Processes {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					fmt.Fprintf(w, "process        %s (pid %d)\n", n, st.Processes[n])
				}
				if len(st.Clusters) > 1 {
					writeClusterStatus(w, st)
				} else {
					for _, i := range st.Istiods {
						fmt.Fprintf(w, "istiod         revision %s, webhook https://localhost:%d\n", i.Revision, i.WebhookPort)
					}
				}
				for _, p := range st.Problems {
					fmt.Fprintf(w, "problem        %s\n", p)
				}
			}
			if !st.Up {
				return fmt.Errorf("meshsim is not up")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newDown(dir func() state.Dir) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop every process meshsim started and remove its state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d := dir()
			if err := sim.Down(context.WithoutCancel(cmd.Context()), d, cmd.ErrOrStderr()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "meshsim is down (%s removed)\n", d)
			return nil
		},
	}
}
