package lb

import (
	"context"
	"fmt"
	"slices"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/googleapis/gax-go/v2"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/pkg/gkecluster"
)

// GKE is what pkg/lb needs of the GKE API: the cluster's network and node
// pools. *container.ClusterManagerClient implements it.
type GKE interface {
	GetCluster(ctx context.Context, req *containerpb.GetClusterRequest, opts ...gax.CallOption) (*containerpb.Cluster, error)
}

// clusterNodes finds the cluster's VPC network (from GKE), the project
// that holds it (a Shared VPC's host project, else spec's) and the network
// tags every one of its nodes carries. GKE puts its own tag
// (gke-CLUSTER-HASH-node) on the node VMs, not in nodePools[].config.tags
// (which holds only the tags a user asked for), so the tags come from the
// node instances, found by the label GKE gives them; the pools' own tags
// are the fallback when no instance is found.
func clusterNodes(ctx context.Context, c *caller, gke GKE, spec Spec) (project, network string, tags []string, err error) {
	name := fmt.Sprintf("projects/%s/locations/%s/clusters/%s", spec.Project, spec.Location, spec.Cluster)
	type clusterResult struct {
		cl  *containerpb.Cluster
		err error
	}
	done := make(chan clusterResult, 1)
	go func() {
		if gke == nil {
			done <- clusterResult{err: fmt.Errorf("no GKE client to read cluster %s", spec.Cluster)}
			return
		}
		cl, err := read(ctx, c, func() (*containerpb.Cluster, error) {
			return gke.GetCluster(ctx, &containerpb.GetClusterRequest{Name: name})
		})
		done <- clusterResult{cl, err}
	}()
	instances, ierr := read(ctx, c, func() ([]*instance, error) {
		list, err := c.c.Instances(ctx, fmt.Sprintf("labels.goog-k8s-cluster-name = %q", spec.Cluster))
		var out []*instance
		for _, i := range list {
			out = append(out, &instance{tags: i.GetTags().GetItems(), location: i.GetLabels()["goog-k8s-cluster-location"]})
		}
		return out, err
	})
	res := <-done
	if res.err != nil {
		return "", "", nil, describe(res.err, spec.Project, "get", "GKE cluster", spec.Cluster, "container.clusters.get")
	}
	// networkConfig.network is the full link, naming the host project of
	// a Shared VPC; the top-level network is only the name.
	project, network = gkecluster.Network(res.cl, spec.Project)
	if ierr != nil {
		return "", "", nil, describe(ierr, spec.Project, "list", "instances", "", "compute.instances.list")
	}
	first := true
	for _, in := range instances {
		if in.location != "" && in.location != spec.Location {
			continue // a cluster of the same name elsewhere
		}
		if first {
			tags, first = slices.Clone(in.tags), false
			continue
		}
		tags = slices.DeleteFunc(tags, func(t string) bool { return !slices.Contains(in.tags, t) })
	}
	if len(tags) == 0 {
		for _, p := range res.cl.GetNodePools() {
			tags = append(tags, p.GetConfig().GetTags()...)
		}
	}
	slices.Sort(tags)
	tags = slices.Compact(tags)
	if len(tags) == 0 {
		return "", "", nil, failure.WithHint(fmt.Errorf("cannot find the network tags of cluster %s's nodes, so the firewall rule for Google's health checkers would match nothing", spec.Cluster),
			"check that the cluster has nodes (`gcloud compute instances list --filter labels.goog-k8s-cluster-name="+spec.Cluster+"`)")
	}
	return project, network, tags, nil
}

// specNetwork is the network the spec names (a name, or a link naming
// its project) and its project; empty when the spec names none.
func specNetwork(spec Spec) (project, network string) {
	if spec.Network == "" {
		return "", ""
	}
	if p, n, ok := gkecluster.ParseNetworkLink(spec.Network); ok {
		return p, n
	}
	return spec.Project, spec.Network
}

type instance struct {
	tags     []string
	location string
}
