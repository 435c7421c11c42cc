package check

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/meshctl/meshctl/pkg/findings"
)

// asmcli's sizing rule: the control plane needs a pool of nodes with at
// least minNodeVCPUs each, holding at least minPoolVCPUs together.
const (
	minNodeVCPUs  = 4
	minPoolVCPUs  = 8
	nodePoolLabel = "cloud.google.com/gke-nodepool"
)

// poolCapacity is a node pool's real size: vCPUs and memory from Compute's
// machineTypes (custom types included), node counts from Kubernetes when it
// answers, and the autoscaling ceiling.
type poolCapacity struct {
	Name        string
	MachineType string
	VCPUs       int
	MemoryMB    int
	Shared      bool
	Zones       int
	// Nodes is the current node count (Kubernetes), or GKE's initial count
	// times the zones when Kubernetes did not answer (NodesKnown false).
	Nodes      int
	NodesKnown bool
	// MaxNodes is the autoscaling ceiling over all zones; 0 without
	// autoscaling.
	MaxNodes int
}

// countedNodes is the node count the sizing rule uses: what the pool can
// grow to with autoscaling, what it has otherwise.
func (p poolCapacity) countedNodes() int { return max(p.Nodes, p.MaxNodes) }

func (p poolCapacity) totalVCPUs() int { return p.countedNodes() * p.VCPUs }

// shape is "e2-standard-4 (4 vCPUs, 16 GB)".
func (p poolCapacity) shape() string {
	s := fmt.Sprintf("%s (%d vCPUs", p.MachineType, p.VCPUs)
	if p.Shared {
		s += " shared"
	}
	return s + ", " + formatGB(p.MemoryMB) + ")"
}

// describe is "pool-2: 3 × e2-standard-4 (4 vCPUs, 16 GB), autoscaling up to 9 = 36 vCPUs".
func (p poolCapacity) describe() string {
	s := fmt.Sprintf("%s: %d × %s", p.Name, p.Nodes, p.shape())
	if !p.NodesKnown {
		s = fmt.Sprintf("%s: %d (initial) × %s", p.Name, p.Nodes, p.shape())
	}
	if p.MaxNodes > 0 {
		s += fmt.Sprintf(", autoscaling up to %d", p.MaxNodes)
	}
	return s + fmt.Sprintf(" = %d vCPUs", p.totalVCPUs())
}

func formatGB(mb int) string {
	gb := float64(mb) / 1024
	if gb == float64(int(gb)) {
		return fmt.Sprintf("%d GB", int(gb))
	}
	return fmt.Sprintf("%.1f GB", gb)
}

// poolZones are the zones a pool's nodes live in.
func poolZones(cl *containerpb.Cluster, p *containerpb.NodePool) []string {
	if z := p.GetLocations(); len(z) > 0 {
		return z
	}
	if z := cl.GetLocations(); len(z) > 0 {
		return z
	}
	return []string{cl.GetLocation()}
}

func poolMachineType(p *containerpb.NodePool) string {
	if mt := p.GetConfig().GetMachineType(); mt != "" {
		return mt
	}
	return "e2-medium" // GKE's default
}

// loadPools reads the node pools with their real machine shapes; machine
// types are read concurrently, once each, and the node list alongside.
func (f *facts) loadPools() ([]poolCapacity, error) {
	type nodeList struct {
		counts map[string]int
		ok     bool
	}
	nodesCh := make(chan nodeList, 1)
	go func() {
		nodes, err := f.nodes()
		counts := map[string]int{}
		for _, n := range nodes {
			counts[n.Labels[nodePoolLabel]]++
		}
		nodesCh <- nodeList{counts, err == nil}
	}()
	cl, err := f.cluster()
	if err != nil {
		return nil, err
	}
	pools := cl.GetNodePools()
	out := make([]poolCapacity, len(pools))
	errs := make([]error, len(pools))
	var wg sync.WaitGroup
	for i, p := range pools {
		zones := poolZones(cl, p)
		out[i] = poolCapacity{Name: p.GetName(), MachineType: poolMachineType(p), Zones: len(zones)}
		if a := p.GetAutoscaling(); a.GetEnabled() {
			out[i].MaxNodes = int(a.GetTotalMaxNodeCount())
			if out[i].MaxNodes == 0 {
				out[i].MaxNodes = int(a.GetMaxNodeCount()) * len(zones)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			mt, err := f.machineType(zones[0], out[i].MachineType)
			if err != nil {
				errs[i] = err
				return
			}
			out[i].VCPUs, out[i].MemoryMB, out[i].Shared = int(mt.GetGuestCpus()), int(mt.GetMemoryMb()), mt.GetIsSharedCpu()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	nl := <-nodesCh
	for i, p := range pools {
		if nl.ok {
			out[i].Nodes, out[i].NodesKnown = nl.counts[p.GetName()], true
		} else {
			out[i].Nodes = int(p.GetInitialNodeCount()) * out[i].Zones
		}
	}
	return out, nil
}

func checkAutopilot(f *facts) outcome {
	cl, err := f.cluster()
	if err != nil {
		return unavailable(err)
	}
	if cl.GetAutopilot().GetEnabled() {
		return outcome{findings: []findings.Finding{findings.Autopilot.New(f.clusterObject(),
			"Autopilot cluster: Google supports only the managed control plane here",
			"install the managed control plane: meshctl install --managed (asmcli install --managed)")}}
	}
	return outcome{message: "not Autopilot: the in-cluster control plane is supported"}
}

func (f *facts) standardPools() ([]poolCapacity, *outcome) {
	cl, err := f.cluster()
	if err != nil {
		o := unavailable(err)
		return nil, &o
	}
	if cl.GetAutopilot().GetEnabled() {
		return nil, &outcome{status: StatusSkipped, message: "Autopilot manages the nodes (" + findings.Autopilot.Code + ")"}
	}
	pools, err := f.pools()
	if err != nil {
		o := unavailable(err)
		return nil, &o
	}
	return pools, nil
}

func checkNodeSize(f *facts) outcome {
	pools, skip := f.standardPools()
	if skip != nil {
		return *skip
	}
	var big, small []string
	for _, p := range pools {
		if p.VCPUs >= minNodeVCPUs {
			big = append(big, p.Name+" "+p.shape())
		} else {
			small = append(small, p.Name+" "+p.shape())
		}
	}
	if len(big) > 0 {
		return outcome{message: fmt.Sprintf("%d of %d node pools have nodes of %d+ vCPUs: %s", len(big), len(pools), minNodeVCPUs, strings.Join(big, ", "))}
	}
	cl, _ := f.cluster()
	zones := len(cl.GetLocations())
	if zones == 0 {
		zones = 1
	}
	perZone := ceilDiv(minPoolVCPUs, minNodeVCPUs*zones)
	hint := fmt.Sprintf("gcloud container node-pools create mesh-pool --cluster %s --machine-type e2-standard-4 --num-nodes %d %s",
		f.opts.Cluster, perZone, f.gcloudScope())
	return outcome{findings: []findings.Finding{findings.NodeSize.New(f.clusterObject(),
		fmt.Sprintf("no node pool has nodes of %d+ vCPUs (%s)", minNodeVCPUs, strings.Join(small, "; ")), hint)}}
}

func checkPoolCapacity(f *facts) outcome {
	pools, skip := f.standardPools()
	if skip != nil {
		return *skip
	}
	var qualifying []poolCapacity
	for _, p := range pools {
		if p.VCPUs >= minNodeVCPUs {
			qualifying = append(qualifying, p)
		}
	}
	if len(qualifying) == 0 {
		return outcome{status: StatusSkipped, message: fmt.Sprintf("no pool of %d+ vCPU nodes (%s)", minNodeVCPUs, findings.NodeSize.Code)}
	}
	sort.SliceStable(qualifying, func(i, j int) bool { return qualifying[i].totalVCPUs() > qualifying[j].totalVCPUs() })
	best := qualifying[0]
	if best.totalVCPUs() >= minPoolVCPUs {
		return outcome{message: best.describe()}
	}
	perZone := ceilDiv(minPoolVCPUs, best.VCPUs*max(best.Zones, 1))
	hint := fmt.Sprintf("gcloud container clusters resize %s --node-pool %s --num-nodes %d %s", f.opts.Cluster, best.Name, perZone, f.gcloudScope())
	if best.MaxNodes > 0 {
		hint = fmt.Sprintf("gcloud container node-pools update %s --cluster %s --enable-autoscaling --max-nodes %d %s", best.Name, f.opts.Cluster, perZone, f.gcloudScope())
	}
	return outcome{findings: []findings.Finding{findings.PoolCapacity.New("node pool "+best.Name,
		fmt.Sprintf("the largest pool of %d+ vCPU nodes is too small: %s; asmcli requires %d", minNodeVCPUs, best.describe(), minPoolVCPUs), hint)}}
}

func ceilDiv(a, b int) int {
	if b <= 0 {
		return a
	}
	return (a + b - 1) / b
}
