package asmcli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// gkeCluster is the part of the GKE API's Cluster that asmcli reads with
// `gcloud container clusters describe`.
type gkeCluster struct {
	Name                   string            `json:"name"`
	CurrentMasterVersion   string            `json:"currentMasterVersion"`
	ResourceLabels         map[string]string `json:"resourceLabels"`
	LoggingService         string            `json:"loggingService"`
	MonitoringService      string            `json:"monitoringService"`
	WorkloadIdentityConfig *struct {
		WorkloadPool string `json:"workloadPool"`
	} `json:"workloadIdentityConfig"`
	Autopilot *struct {
		Enabled bool `json:"enabled"`
	} `json:"autopilot"`
	// Network is the cluster's VPC network; asmcli names the mesh network
	// PROJECT-NETWORK after it.
	Network   string        `json:"network"`
	Locations []string      `json:"locations"`
	NodePools []gkeNodePool `json:"nodePools"`
}

type gkeNodePool struct {
	Name   string `json:"name"`
	Config struct {
		MachineType string `json:"machineType"`
	} `json:"config"`
	InitialNodeCount int      `json:"initialNodeCount"`
	Locations        []string `json:"locations"`
	Autoscaling      *struct {
		Enabled      bool `json:"enabled"`
		MaxNodeCount int  `json:"maxNodeCount"`
	} `json:"autoscaling"`
}

// describeCluster asks the (simulated) GKE API for the cluster, as asmcli
// does through gcloud. A nil cluster with a nil error means not found.
func describeCluster(ctx context.Context, endpoint, project, location, name string) (*gkeCluster, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	url := fmt.Sprintf("%s/v1/projects/%s/locations/%s/clusters/%s", strings.TrimRight(endpoint, "/"), project, location, name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var c gkeCluster
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		return nil, fmt.Errorf("read cluster: %w", err)
	}
	return &c, nil
}

// poolVCPUs is asmcli's validate_node_pool arithmetic, kept with its flaw:
// the vCPU count is the last dash-separated field of the machine type name,
// so e2-custom-4-8192 reads as 8192 vCPUs.
func poolVCPUs(c *gkeCluster) (largest int) {
	for _, p := range c.NodePools {
		fields := strings.Split(p.Config.MachineType, "-")
		perNode, err := strconv.Atoi(fields[len(fields)-1])
		if err != nil || perNode < 4 {
			continue
		}
		count := p.InitialNodeCount
		if p.Autoscaling != nil && p.Autoscaling.Enabled && p.Autoscaling.MaxNodeCount > 0 {
			count = p.Autoscaling.MaxNodeCount
		}
		locations := len(p.Locations)
		if locations == 0 {
			locations = 1
		}
		if v := count * perNode * locations; v > largest {
			largest = v
		}
	}
	return largest
}
