package gcp

import (
	"context"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
)

// GKE reads GKE clusters by resource name. It is the one adapter over the
// GKE API client that `meshctl check` and the managed install share; each
// accepts it through the one-method interface it declares.
type GKE struct {
	Client *container.ClusterManagerClient
}

// NewGKE adapts the GKE API client (NewClusterManager).
func NewGKE(c *container.ClusterManagerClient) GKE { return GKE{Client: c} }

// GetCluster returns projects/P/locations/L/clusters/C, node pools
// included.
func (g GKE) GetCluster(ctx context.Context, name string) (*containerpb.Cluster, error) {
	return g.Client.GetCluster(ctx, &containerpb.GetClusterRequest{Name: name})
}

// ListClusters returns the clusters of parent (projects/P/locations/L,
// L "-" for every location).
func (g GKE) ListClusters(ctx context.Context, parent string) ([]*containerpb.Cluster, error) {
	resp, err := g.Client.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: parent})
	if err != nil {
		return nil, err
	}
	return resp.GetClusters(), nil
}
