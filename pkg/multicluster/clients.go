package multicluster

import (
	"context"
	"errors"
	"fmt"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/uuid"
	"google.golang.org/api/iterator"
	"k8s.io/client-go/kubernetes"

	"github.com/meshctl/meshctl/internal/kube"
)

// GKE is what connecting clusters needs of the GKE API; internal/gcp's GKE
// has it.
type GKE interface {
	GetCluster(ctx context.Context, name string) (*containerpb.Cluster, error)
	// UpdateCluster applies one update and waits for its operation.
	UpdateCluster(ctx context.Context, name string, update *containerpb.ClusterUpdate) error
}

// Firewalls is what it needs of Compute: the VPC's firewall rules, in the
// network's project (the host project of a Shared VPC). Writes wait for
// their operation.
type Firewalls interface {
	ListFirewalls(ctx context.Context, project string) ([]*computepb.Firewall, error)
	InsertFirewall(ctx context.Context, project string, rule *computepb.Firewall) error
	UpdateFirewall(ctx context.Context, project string, rule *computepb.Firewall) error
	DeleteFirewall(ctx context.Context, project, name string) error
}

// IstiodEndpoint is one running istiod as meshctl reaches it: its debug
// endpoints (the monitoring port's /debug/...) and its secure xDS port,
// whose TLS certificate is istiod's serving chain.
type IstiodEndpoint struct {
	Revision string
	// DebugURL is the base of /debug/clusterz and the like, e.g.
	// http://127.0.0.1:PORT/debug.
	DebugURL string
	// SecureXDS is host:port of istiod's port 15012.
	SecureXDS string
	// Close releases what reaching it took (a port-forward).
	Close func()
}

// IstiodLocator reaches the istiods of a cluster: through the Kubernetes
// API's port-forwarding, as istioctl does, or as an override says.
type IstiodLocator interface {
	Istiods(ctx context.Context, c Ref, revisions []string) ([]IstiodEndpoint, error)
}

// Clients are what the multi-cluster commands use. Kube builds a cluster's
// Kubernetes client from its context.
type Clients struct {
	GKE       GKE
	Firewalls Firewalls
	Kube      func(Ref) (kubernetes.Interface, error)
	// Objects reads and server-side applies objects of any kind in a
	// cluster (the east-west gateway's, Istio's Gateway among them).
	Objects func(Ref) (kube.Objects, error)
	Istiods IstiodLocator
}

// FirewallClient adapts Compute's firewalls client.
type FirewallClient struct {
	Client *compute.FirewallsClient
}

var _ Firewalls = FirewallClient{}

// ListFirewalls reads every page of the project's rules.
func (c FirewallClient) ListFirewalls(ctx context.Context, project string) ([]*computepb.Firewall, error) {
	var out []*computepb.Firewall
	it := c.Client.List(ctx, &computepb.ListFirewallsRequest{Project: project})
	for {
		fw, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, fw)
	}
}

// InsertFirewall creates a rule, with a request id so a retry cannot make
// it twice, and waits for it.
func (c FirewallClient) InsertFirewall(ctx context.Context, project string, rule *computepb.Firewall) error {
	op, err := c.Client.Insert(ctx, &computepb.InsertFirewallRequest{Project: project, FirewallResource: rule, RequestId: ptr(uuid.NewString())})
	if err != nil {
		return err
	}
	return waitOp(ctx, op)
}

// UpdateFirewall replaces a rule (PUT: every field as given).
func (c FirewallClient) UpdateFirewall(ctx context.Context, project string, rule *computepb.Firewall) error {
	op, err := c.Client.Update(ctx, &computepb.UpdateFirewallRequest{Project: project, Firewall: rule.GetName(), FirewallResource: rule, RequestId: ptr(uuid.NewString())})
	if err != nil {
		return err
	}
	return waitOp(ctx, op)
}

// DeleteFirewall deletes a rule.
func (c FirewallClient) DeleteFirewall(ctx context.Context, project, name string) error {
	op, err := c.Client.Delete(ctx, &computepb.DeleteFirewallRequest{Project: project, Firewall: name, RequestId: ptr(uuid.NewString())})
	if err != nil {
		return err
	}
	return waitOp(ctx, op)
}

func waitOp(ctx context.Context, op *compute.Operation) error {
	if err := op.Wait(ctx); err != nil {
		return fmt.Errorf("wait for operation %s: %w", op.Name(), err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
