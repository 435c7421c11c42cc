package check

import (
	"slices"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
)

// The managed control plane's checks read only the cluster already read.
func TestManagedChecks(t *testing.T) {
	tests := []struct {
		name   string
		change func(cl *containerpb.Cluster)
		want   []string // "CODE object"
	}{
		{"ready", func(*containerpb.Cluster) {}, nil},
		{"no workload identity, pools on the GCE metadata server", func(cl *containerpb.Cluster) {
			cl.WorkloadIdentityConfig = nil
			for _, p := range cl.NodePools {
				p.Config.WorkloadMetadataConfig = nil
			}
		}, []string{"MC0140 cluster mesh-1", "MC0160 node pool default-pool", "MC0160 node pool pool-2"}},
		{"no nodes, but a pool autoscales from one", func(cl *containerpb.Cluster) { cl.CurrentNodeCount = 0 }, //nolint:staticcheck // GKE still reports it
			nil},
		{"no nodes, and no pool autoscales from one", func(cl *containerpb.Cluster) {
			cl.CurrentNodeCount = 0 //nolint:staticcheck // GKE still reports it
			cl.NodePools[1].Autoscaling.MinNodeCount = 0
		}, []string{"MC0161 cluster mesh-1"}},
		{"Autopilot: nodes and metadata server are Google's", func(cl *containerpb.Cluster) {
			cl.Autopilot = &containerpb.Autopilot{Enabled: true}
			cl.CurrentNodeCount = 0 //nolint:staticcheck // GKE still reports it
			cl.NodePools[0].Config.WorkloadMetadataConfig = nil
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := healthyCluster()
			tt.change(cl)
			var got []string
			for _, f := range Managed(cl, testOptions()) {
				got = append(got, f.Code+" "+f.Object)
				if f.Hint == "" {
					t.Errorf("%s has no fix", f)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("findings %v, want %v", got, tt.want)
			}
		})
	}
}
