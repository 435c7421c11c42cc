package scenario

import (
	"strings"
	"testing"
)

func TestLookupMachineType(t *testing.T) {
	tests := []struct {
		name     string
		cpu, mem int
		ok       bool
	}{
		{"e2-standard-4", 4, 16384, true},
		{"e2-small", 2, 2048, true},
		{"n1-standard-8", 8, 30720, true},
		{"e2-custom-4-8192", 4, 8192, true},
		{"custom-6-23040", 6, 23040, true},
		{"n2-custom-8-32768", 8, 32768, true},
		{"e2-standard-x", 0, 0, false},
		{"z9-standard-4", 0, 0, false},
	}
	for _, tt := range tests {
		got, ok := LookupMachineType(tt.name)
		if ok != tt.ok || got.GuestCPU != tt.cpu || got.MemoryMB != tt.mem {
			t.Errorf("LookupMachineType(%q) = %+v, %v; want %d vCPU %d MB, %v", tt.name, got, ok, tt.cpu, tt.mem, tt.ok)
		}
	}
}

func TestDefaultNodesSpreadOverZones(t *testing.T) {
	s := Default()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	nodes := s.Nodes()
	if len(nodes) != 6 {
		t.Fatalf("default scenario has %d nodes, want 6 (2 pools x 3 zones)", len(nodes))
	}
	seen := map[string]bool{}
	for _, n := range nodes {
		if seen[n.Name] {
			t.Errorf("duplicate node name %s", n.Name)
		}
		seen[n.Name] = true
		if !strings.HasPrefix(n.Name, "gke-meshsim-"+n.Pool+"-") || len(n.Name) > 63 {
			t.Errorf("node name %s does not follow GKE's scheme", n.Name)
		}
	}
	if got := strings.Join(s.Zones(), ","); got != "us-central1-a,us-central1-b,us-central1-c" {
		t.Errorf("zones = %s", got)
	}
}

func TestValidateRejectsZoneOutsideRegion(t *testing.T) {
	s := Default()
	s.NodePools[0].Zones = []string{"europe-west1-b"}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "not in region") {
		t.Fatalf("Validate() = %v, want a zone error", err)
	}
}

func TestValidateRejectsPodDelaysOutOfOrder(t *testing.T) {
	for _, d := range []PodDelay{{MinMillis: -1, MaxMillis: 10}, {MinMillis: 2000, MaxMillis: 1000}} {
		s := Default()
		s.PodStartup = d
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "pod start-up time") {
			t.Errorf("Validate() with start-up %+v = %v, want a pod start-up error", d, err)
		}
		s = Default()
		s.PodShutdown = d
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "pod shutdown time") {
			t.Errorf("Validate() with shutdown %+v = %v, want a pod shutdown error", d, err)
		}
	}
}
