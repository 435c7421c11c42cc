// Package vm is `meshctl vm`: VMs joining the mesh through WorkloadGroups
// and auto-registration (the work is pkg/vm's).
package vm

import (
	"context"

	compute "cloud.google.com/go/compute/apiv1"
	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/gcp"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/multicluster"
	"github.com/meshctl/meshctl/pkg/preflight"
	"github.com/meshctl/meshctl/pkg/vm"
)

// NewCmdVM returns `meshctl vm` and its subcommands.
func NewCmdVM(f *factory.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vm",
		Short: "VMs in the mesh: WorkloadGroups, bootstrap bundles and auto-registered WorkloadEntries",
		Long: `A VM joins the mesh as Istio's virtual machine installation has it: a WorkloadGroup
with auto-registration, the namespace's service account, and a bootstrap bundle the VM's
sidecar starts from. When the VM's proxy connects to istiod (through the east-west gateway),
istiod itself creates the VM's WorkloadEntry; Services selecting the group's labels then
send traffic to the VM. meshctl never needs SSH to the VM: copy the bundle and run its
install.sh there. In-cluster control planes only (Google's managed one has no VM support).`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdAdd(f, nil), NewCmdList(f, nil), NewCmdRemove(f, nil), NewCmdTokenRefresh(f, nil))
	return cmd
}

// AddOptions are what `meshctl vm add` runs with.
type AddOptions struct {
	Add       vm.AddOptions
	SkipCheck bool
	Clients   func() (vm.Clients, error)
	Preflight func(context.Context) *preflight.Checker
	Printer   *ui.Printer
	Reporter  ui.Reporter
}

// clients builds pkg/vm's clients from the factory.
func clients(f *factory.Factory) func() (vm.Clients, error) {
	return func() (vm.Clients, error) {
		kc, err := f.Kube()
		if err != nil {
			return vm.Clients{}, err
		}
		objs, err := f.Objects()
		if err != nil {
			return vm.Clients{}, err
		}
		return vm.Clients{Kube: kc, Objects: objs, Cloud: cloud(f)}, nil
	}
}

// cloud builds the Google side of the context's cluster, for the VM's
// firewall rules: only when a run needs it, so a VM without rules needs no
// Google credentials.
func cloud(f *factory.Factory) func(context.Context) (vm.Cloud, error) {
	return func(ctx context.Context) (vm.Cloud, error) {
		var c vm.Cloud
		if s := f.Settings; s != nil {
			c.Project, c.Location, c.Cluster = s.Project, s.Location, s.Cluster
		}
		gke, err := f.ClusterManager(ctx)
		if err != nil {
			return c, err
		}
		fw, err := factory.NewCompute(ctx, f, compute.NewFirewallsRESTClient)
		if err != nil {
			return c, err
		}
		inst, err := factory.NewCompute(ctx, f, compute.NewInstancesRESTClient)
		if err != nil {
			return c, err
		}
		nets, err := factory.NewCompute(ctx, f, compute.NewNetworksRESTClient)
		if err != nil {
			return c, err
		}
		c.GKE, c.Firewalls, c.Instances, c.Networks = gcp.NewGKE(gke), multicluster.FirewallClient{Client: fw}, vm.InstanceClient{Client: inst}, vm.NetworkClient{Client: nets}
		return c, nil
	}
}

// NewCmdAdd returns `meshctl vm add`; runF replaces its run in tests.
func NewCmdAdd(f *factory.Factory, runF func(*AddOptions) error) *cobra.Command {
	opts := &AddOptions{}
	var ports []string
	var labels map[string]string
	cmd := &cobra.Command{
		Use:   "add NAME --namespace NS --port NAME:NUMBER",
		Short: "Make a VM group (service account, WorkloadGroup) and write the VM's bootstrap bundle",
		Long: `Make the WorkloadGroup NAME (auto-registration, a readiness probe on the first port) and its
service account (--service-account, default NAME) in a namespace of the mesh, and write the
bundle the VM's sidecar starts from into --bundle (default ./NAME-bundle): cluster.env,
mesh.yaml, root-cert.pem, istio-token (0600: a token for the service account, audience
istio-ca, valid --token-duration), hosts (istiod's name at the east-west gateway) and
install.sh. The files are those ` + "`istioctl x workload entry configure --autoregister`" + ` writes.

With --instance NAME --zone ZONE it reads the VM's Compute instance (its internal address,
which goes into the bundle as ISTIO_SVC_IP, its VPC network and network tags) and makes two
VPC firewall rules: the VM to istiod (tcp:15012 to the east-west gateway's address, on the
cluster's nodes, in the project of the cluster's network: a Shared VPC's host project) and
the mesh's Pods to the VM (tcp on the --ports from the Pod ranges of the cluster and of the
clusters its remote secrets name, to the VM's address and tags, in the VM's network).
--vm-range CIDR does the same for VMs add cannot read. Without either it makes no rule and
says which two the VM needs. remove deletes exactly these rules.

A VM on another mesh network (--network NAME, or an instance on another VPC network, which
is then network PROJECT-VPC as asmcli names networks) joins through the east-west gateway
of ` + "`meshctl mesh connect --multi-network --expose-istiod`" + `: the group and the bundle carry
the VM's network, the bundle sends istiod's name to the gateway, and the rule to the gateway
opens 15012, 15017 and 15443 (the mesh's services, mTLS). The VM's VPC network must be
peered with the cluster's, and in another region the gateway needs global access.

It refuses, before changing anything: a namespace not in the mesh, a revision without an
in-cluster istiod, an istiod with auto-registration turned off (and says how to turn it on),
istiod not exposed through an east-west gateway, a VM on another network the gateway cannot
carry (no 15443, 15017, network label or expose-istiod Gateway), an instance on a VPC
network with no active peering to the cluster's (or in another region without global
access), a missing instance, and missing permissions (Kubernetes RBAC,
serviceaccounts/token, compute.instances.get, compute.firewalls.create in the network's
project). Running it again keeps what is there and issues a new token.`,
		Example: `  meshctl vm add mysql --namespace db --port mysql:3306 --dry-run
  meshctl vm add mysql --namespace db --port mysql:3306 --labels app=mysql,version=v8
  meshctl vm add mysql --namespace db --port mysql:3306 --instance mysql-1 --zone us-central1-a`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Add.Name = args[0]
			for _, p := range ports {
				port, err := vm.ParsePort(p)
				if err != nil {
					return failure.Usage(err, "")
				}
				opts.Add.Ports = append(opts.Add.Ports, port)
			}
			opts.Add.Labels = labels
			ns, err := f.Namespace(opts.Add.Namespace)
			if err != nil {
				return err
			}
			opts.Add.Namespace = ns
			opts.Clients, opts.Preflight, opts.Printer, opts.Reporter = clients(f), f.Preflight(&opts.SkipCheck), f.Printer, f.Reporter
			if runF != nil {
				return runF(opts)
			}
			c, err := opts.Clients()
			if err != nil {
				return err
			}
			res, err := vm.Add(cmd.Context(), c, opts.Reporter, opts.Preflight(cmd.Context()), opts.Add)
			if err != nil {
				return err
			}
			return opts.Printer.Print(res)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Add.Namespace, "namespace", "n", "", "the VM's namespace, in the mesh (default: the context's)")
	fl.StringVar(&opts.Add.ServiceAccount, "service-account", "", "the VM's service account, its identity in the mesh (default: NAME; made when missing)")
	fl.StringSliceVar(&ports, "port", nil, "a port the VM serves, NAME:NUMBER (repeatable; the name's prefix is the protocol, e.g. http:8080, mysql:3306)")
	fl.StringToStringVar(&labels, "labels", nil, "labels of the VM's WorkloadEntry, which Services select (default app=NAME)")
	fl.StringVar(&opts.Add.Network, "network", "", "the VM's mesh network (default: the cluster's, or PROJECT-VPC for an --instance on another VPC network); another one joins through the east-west gateway")
	fl.StringVar(&opts.Add.Revision, "revision", "", "control-plane revision or tag (default: the namespace's)")
	fl.StringVar(&opts.Add.Instance, "instance", "", "the VM's Compute instance: its address, network and tags decide the firewall rules add makes (with --zone)")
	fl.StringVar(&opts.Add.Zone, "zone", "", "the zone of --instance")
	fl.StringVar(&opts.Add.InstanceProject, "instance-project", "", "the project of --instance (default: the cluster's)")
	fl.StringVar(&opts.Add.VMRange, "vm-range", "", "the VMs' addresses as a CIDR, for the firewall rules, when there is no --instance to read")
	fl.StringVar(&opts.Add.Bundle, "bundle", "", "where to write the bundle (default ./NAME-bundle)")
	fl.DurationVar(&opts.Add.TokenDuration, "token-duration", vm.DefaultTokenDuration, "lifetime of the bundle's token (10m to 24h)")
	fl.DurationVar(&opts.Add.Wait, "wait", vm.DefaultWait, "how long to wait for istiod's root certificate in the namespace")
	fl.BoolVar(&opts.Add.DryRun, "dry-run", false, "show what would change; change nothing and write no bundle")
	factory.AddSkipPermissionCheck(cmd, &opts.SkipCheck)
	_ = cmd.MarkFlagRequired("port")
	return cmd
}

// ListOptions are what `meshctl vm list` runs with.
type ListOptions struct {
	Namespace     string
	AllNamespaces bool
	Clients       func() (vm.Clients, error)
	Printer       *ui.Printer
}

// NewCmdList returns `meshctl vm list`.
func NewCmdList(f *factory.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the WorkloadGroups and their VMs' WorkloadEntries (address, network, health)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !opts.AllNamespaces {
				ns, err := f.Namespace(opts.Namespace)
				if err != nil {
					return err
				}
				opts.Namespace = ns
			}
			opts.Clients, opts.Printer = clients(f), f.Printer
			if runF != nil {
				return runF(opts)
			}
			c, err := opts.Clients()
			if err != nil {
				return err
			}
			gs, err := vm.List(cmd.Context(), c.Objects, opts.Namespace)
			if err != nil {
				return err
			}
			return opts.Printer.Print(gs)
		},
	}
	cmd.Flags().StringVarP(&opts.Namespace, "namespace", "n", "", "namespace (default: the context's)")
	cmd.Flags().BoolVarP(&opts.AllNamespaces, "all-namespaces", "A", false, "every namespace")
	return cmd
}

// RemoveOptions are what `meshctl vm remove` runs with.
type RemoveOptions struct {
	Remove    vm.RemoveOptions
	SkipCheck bool
	Preflight func(context.Context) *preflight.Checker
	Clients   func() (vm.Clients, error)
	Printer   *ui.Printer
	Reporter  ui.Reporter
}

// NewCmdRemove returns `meshctl vm remove`.
func NewCmdRemove(f *factory.Factory, runF func(*RemoveOptions) error) *cobra.Command {
	opts := &RemoveOptions{}
	cmd := &cobra.Command{
		Use:   "remove NAME --namespace NS",
		Short: "Delete what vm add made: its firewall rules, the WorkloadGroup (and istiod's entries for it) and the service account it made",
		Long: `Delete the firewall rules meshctl vm add made for the group (those whose owner marker names
this cluster and group, in the project the group records), the WorkloadGroup NAME, wait until
istiod's WorkloadEntries for it are gone, and delete the service account add made for it
(which revokes the bundle's token). A service account or rule add did not make stays. The
bundle on disk is left to you.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Remove.Name = args[0]
			ns, err := f.Namespace(opts.Remove.Namespace)
			if err != nil {
				return err
			}
			opts.Remove.Namespace = ns
			opts.Clients, opts.Preflight, opts.Printer, opts.Reporter = clients(f), f.Preflight(&opts.SkipCheck), f.Printer, f.Reporter
			if runF != nil {
				return runF(opts)
			}
			c, err := opts.Clients()
			if err != nil {
				return err
			}
			res, err := vm.Remove(cmd.Context(), c, opts.Reporter, opts.Preflight(cmd.Context()), opts.Remove)
			if err != nil {
				return err
			}
			return opts.Printer.Print(res)
		},
	}
	cmd.Flags().StringVarP(&opts.Remove.Namespace, "namespace", "n", "", "the group's namespace (default: the context's)")
	cmd.Flags().BoolVar(&opts.Remove.DryRun, "dry-run", false, "show what would be deleted; delete nothing")
	cmd.Flags().DurationVar(&opts.Remove.Wait, "wait", vm.DefaultWait, "how long to wait for the group's WorkloadEntries to go")
	factory.AddSkipPermissionCheck(cmd, &opts.SkipCheck)
	return cmd
}

// RefreshOptions are what `meshctl vm token-refresh` runs with.
type RefreshOptions struct {
	Refresh   vm.RefreshOptions
	SkipCheck bool
	Preflight func(context.Context) *preflight.Checker
	Clients   func() (vm.Clients, error)
	Printer   *ui.Printer
	Reporter  ui.Reporter
}

// NewCmdTokenRefresh returns `meshctl vm token-refresh`.
func NewCmdTokenRefresh(f *factory.Factory, runF func(*RefreshOptions) error) *cobra.Command {
	opts := &RefreshOptions{}
	cmd := &cobra.Command{
		Use:   "token-refresh NAME --namespace NS [--bundle DIR]",
		Short: "Write a new token for the group's service account into its bundle",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Refresh.Name = args[0]
			ns, err := f.Namespace(opts.Refresh.Namespace)
			if err != nil {
				return err
			}
			opts.Refresh.Namespace = ns
			opts.Clients, opts.Preflight, opts.Printer, opts.Reporter = clients(f), f.Preflight(&opts.SkipCheck), f.Printer, f.Reporter
			if runF != nil {
				return runF(opts)
			}
			c, err := opts.Clients()
			if err != nil {
				return err
			}
			res, err := vm.TokenRefresh(cmd.Context(), c, opts.Reporter, opts.Preflight(cmd.Context()), opts.Refresh)
			if err != nil {
				return err
			}
			return opts.Printer.Print(res)
		},
	}
	cmd.Flags().StringVarP(&opts.Refresh.Namespace, "namespace", "n", "", "the group's namespace (default: the context's)")
	cmd.Flags().StringVar(&opts.Refresh.Bundle, "bundle", "", "the bundle vm add wrote (default ./NAME-bundle)")
	cmd.Flags().DurationVar(&opts.Refresh.TokenDuration, "token-duration", vm.DefaultTokenDuration, "lifetime of the new token (10m to 24h)")
	factory.AddSkipPermissionCheck(cmd, &opts.SkipCheck)
	return cmd
}
