package check

import (
	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/meshctl/meshctl/pkg/gkecluster"
)

// The cluster's settings, read as pkg/gkecluster reads them for every
// capability (new fields first, the deprecated ones as a fallback).
var (
	privateNodes        = gkecluster.PrivateNodes
	privateEndpointOnly = gkecluster.PrivateEndpointOnly
	privateEndpoint     = gkecluster.PrivateEndpoint
	authorizedNetworks  = gkecluster.AuthorizedNetworks
	masterCIDR          = gkecluster.MasterCIDR
	parseNetworkLink    = gkecluster.ParseNetworkLink
	sameNetwork         = gkecluster.SameNetwork
)

// clusterNetwork returns the project holding the cluster's VPC (the host
// project for a Shared VPC) and the network's name.
func clusterNetwork(cl *containerpb.Cluster, project string) (string, string) {
	return gkecluster.Network(cl, project)
}
