package scenario

import (
	"strconv"
	"strings"
)

// MachineShape is what a Compute machine type gives a node.
type MachineShape struct {
	Name     string
	GuestCPU int
	MemoryMB int
	// SharedCPU is true for shared-core types (e2-micro/small/medium, f1, g1).
	SharedCPU bool
}

// memPerCPU is the memory per vCPU, in MB, of predefined machine families,
// as Compute Engine documents them.
var memPerCPU = map[string]int{
	"e2-standard": 4096, "e2-highmem": 8192, "e2-highcpu": 1024,
	"n1-standard": 3840, "n1-highmem": 6656, "n1-highcpu": 922,
	"n2-standard": 4096, "n2-highmem": 8192, "n2-highcpu": 1024,
	"n2d-standard": 4096, "n2d-highmem": 8192, "n2d-highcpu": 1024,
	"c2-standard": 4096, "c2d-standard": 4096, "c3-standard": 4096, "c3d-standard": 4096,
	"t2d-standard": 4096, "n4-standard": 4096,
}

var sharedCore = map[string]MachineShape{
	"e2-micro":  {Name: "e2-micro", GuestCPU: 2, MemoryMB: 1024, SharedCPU: true},
	"e2-small":  {Name: "e2-small", GuestCPU: 2, MemoryMB: 2048, SharedCPU: true},
	"e2-medium": {Name: "e2-medium", GuestCPU: 2, MemoryMB: 4096, SharedCPU: true},
	"f1-micro":  {Name: "f1-micro", GuestCPU: 1, MemoryMB: 614, SharedCPU: true},
	"g1-small":  {Name: "g1-small", GuestCPU: 1, MemoryMB: 1740, SharedCPU: true},
}

// LookupMachineType returns the shape of a predefined machine type
// ("e2-standard-4") or a custom one ("e2-custom-4-8192", "custom-4-16384").
func LookupMachineType(name string) (MachineShape, bool) {
	if s, ok := sharedCore[name]; ok {
		return s, true
	}
	parts := strings.Split(name, "-")
	if i := indexOf(parts, "custom"); i >= 0 && len(parts) == i+3 {
		cpu, err1 := strconv.Atoi(parts[i+1])
		mem, err2 := strconv.Atoi(parts[i+2])
		if err1 != nil || err2 != nil || cpu <= 0 || mem <= 0 {
			return MachineShape{}, false
		}
		return MachineShape{Name: name, GuestCPU: cpu, MemoryMB: mem}, true
	}
	if len(parts) != 3 {
		return MachineShape{}, false
	}
	per, ok := memPerCPU[parts[0]+"-"+parts[1]]
	cpu, err := strconv.Atoi(parts[2])
	if !ok || err != nil || cpu <= 0 || cpu > 416 {
		return MachineShape{}, false
	}
	return MachineShape{Name: name, GuestCPU: cpu, MemoryMB: per * cpu}, true
}

// MachineFamily is the family label GKE puts on nodes: "e2" for e2-standard-4,
// "n1" for custom-4-16384.
func MachineFamily(name string) string {
	if strings.HasPrefix(name, "custom-") {
		return "n1"
	}
	family, _, _ := strings.Cut(name, "-")
	return family
}

func indexOf(parts []string, s string) int {
	for i, p := range parts {
		if p == s {
			return i
		}
	}
	return -1
}
