package fakegcp

import (
	"fmt"
	"slices"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
)

func TestMachineTypes(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name     string
		cpus     int32
		memoryMB int32
		shared   bool
	}{
		{"e2-micro", 2, 1024, true},
		{"e2-small", 2, 2048, true},
		{"e2-medium", 2, 4096, true},
		{"e2-standard-4", 4, 16384, false},
		{"e2-highmem-8", 8, 65536, false},
		{"e2-highcpu-16", 16, 16384, false},
		{"n1-standard-1", 1, 3840, false},
		{"n1-standard-96", 96, 368640, false},
		{"n2-standard-128", 128, 524288, false},
		{"n2d-standard-224", 224, 917504, false},
		{"c2-standard-60", 60, 245760, false},
		{"c3-standard-22", 22, 90112, false},
		{"t2d-standard-1", 1, 4096, false},
		{"custom-4-16384", 4, 16384, false},
		{"e2-custom-4-8192", 4, 8192, false},
		{"n2-custom-8-32768", 8, 32768, false},
		{"n2-custom-2-20480-ext", 2, 20480, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mt, err := e.mt.Get(e.ctx, &computepb.GetMachineTypeRequest{Project: project, Zone: negZone, MachineType: tc.name})
			if err != nil {
				t.Fatal(err)
			}
			if mt.GetGuestCpus() != tc.cpus || mt.GetMemoryMb() != tc.memoryMB || mt.GetIsSharedCpu() != tc.shared || mt.GetZone() != negZone {
				t.Errorf("%s: %d vCPU %d MB shared=%v zone %s", tc.name, mt.GetGuestCpus(), mt.GetMemoryMb(), mt.GetIsSharedCpu(), mt.GetZone())
			}
		})
	}
	for _, bad := range []string{"e2-standard-3", "custom-3-3072", "e2-custom-4-40960", "custom-4-1000", "n2-custom-34-34816", "m9-ultra-1"} {
		t.Run(bad, func(t *testing.T) {
			_, err := e.mt.Get(e.ctx, &computepb.GetMachineTypeRequest{Project: project, Zone: negZone, MachineType: bad})
			wantAPIError(t, err, 404, "notFound")
		})
	}
}

// TestScenarioAsCompute: zones, the nodes as instances carrying the node
// tag, GKE's firewall rules for that tag, and the project with its quotas.
func TestScenarioAsCompute(t *testing.T) {
	e := newEnv(t)
	sc := e.srv.Scenario()
	var zones []string
	for it := e.zones.List(e.ctx, &computepb.ListZonesRequest{Project: project}); ; {
		z, err := it.Next()
		if err != nil {
			break
		}
		zones = append(zones, z.GetName())
	}
	if fmt.Sprint(zones) != fmt.Sprint(sc.Zones()) {
		t.Errorf("zones %v, want %v", zones, sc.Zones())
	}
	node := sc.Nodes()[0]
	inst, err := e.inst.Get(e.ctx, &computepb.GetInstanceRequest{Project: project, Zone: node.Zone, Instance: node.Name})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(inst.GetTags().GetItems(), sc.NodeTag()) || inst.GetMachineType() != zonalLink(node.Zone, "machineTypes", node.MachineType) ||
		inst.GetNetworkInterfaces()[0].GetNetwork() != globalLink("networks", sc.Network) {
		t.Errorf("instance: %v", inst)
	}
	fw, err := e.fw.Get(e.ctx, &computepb.GetFirewallRequest{Project: project, Firewall: sc.NodeTag()[:len(sc.NodeTag())-len("-node")] + "-all"})
	if err != nil || !slices.Contains(fw.GetTargetTags(), sc.NodeTag()) {
		t.Errorf("GKE's -all rule: %v %v", fw, err)
	}
	p, err := e.proj.Get(e.ctx, &computepb.GetProjectRequest{Project: project})
	if err != nil {
		t.Fatal(err)
	}
	quotas := map[string]float64{}
	for _, q := range p.GetQuotas() {
		quotas[q.GetMetric()] = q.GetLimit()
	}
	if p.GetName() != project || quotas["BACKEND_SERVICES"] != 75 || quotas["SECURITY_POLICIES"] != 10 {
		t.Errorf("project: %v", p)
	}
}
