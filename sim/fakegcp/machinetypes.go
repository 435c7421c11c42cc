package fakegcp

import (
	"fmt"
	"regexp"
	"strconv"
)

// machineType is the sizing Compute reports for a machine type.
type machineType struct {
	name     string
	cpus     int
	memoryMB int
	shared   bool
}

// machineFamilies lists the predefined types meshctl's sizing checks meet,
// with Google's vCPU counts and memory per vCPU.
var machineFamilies = []struct {
	prefix    string
	sizes     []int
	mbPerVCPU int
}{
	{"e2-standard", []int{2, 4, 8, 16, 32}, 4096},
	{"e2-highmem", []int{2, 4, 8, 16}, 8192},
	{"e2-highcpu", []int{2, 4, 8, 16, 32}, 1024},
	{"n1-standard", []int{1, 2, 4, 8, 16, 32, 64, 96}, 3840},
	{"n1-highmem", []int{2, 4, 8, 16, 32, 64, 96}, 6656},
	{"n2-standard", []int{2, 4, 8, 16, 32, 48, 64, 80, 96, 128}, 4096},
	{"n2-highmem", []int{2, 4, 8, 16, 32, 48, 64, 80, 96, 128}, 8192},
	{"n2-highcpu", []int{2, 4, 8, 16, 32, 48, 64, 80, 96}, 1024},
	{"n2d-standard", []int{2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224}, 4096},
	{"n2d-highmem", []int{2, 4, 8, 16, 32, 48, 64, 80, 96}, 8192},
	{"n2d-highcpu", []int{2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224}, 1024},
	{"c2-standard", []int{4, 8, 16, 30, 60}, 4096},
	{"c3-standard", []int{4, 8, 22, 44, 88, 176}, 4096},
	{"c3-highmem", []int{4, 8, 22, 44, 88, 176}, 8192},
	{"c3-highcpu", []int{4, 8, 22, 44, 88, 176}, 2048},
	{"t2d-standard", []int{1, 2, 4, 8, 16, 32, 48, 60}, 4096},
}

// sharedCoreTypes are the shared-core types: e2-small has 2 vCPUs (shared)
// and 2 GB.
var sharedCoreTypes = []machineType{
	{"e2-micro", 2, 1024, true}, {"e2-small", 2, 2048, true}, {"e2-medium", 2, 4096, true},
	{"f1-micro", 1, 614, true}, {"g1-small", 1, 1740, true},
}

var predefinedMachineTypes = func() map[string]machineType {
	out := map[string]machineType{}
	for _, f := range machineFamilies {
		for _, n := range f.sizes {
			name := f.prefix + "-" + strconv.Itoa(n)
			out[name] = machineType{name: name, cpus: n, memoryMB: n * f.mbPerVCPU}
		}
	}
	for _, t := range sharedCoreTypes {
		out[t.name] = t
	}
	return out
}()

var customTypeRE = regexp.MustCompile(`^(?:(e2|n2|n2d)-)?custom-(\d+)-(\d+)(-ext)?$`)

// lookupMachineType resolves predefined and custom types
// (custom-4-16384 is N1, e2-custom-4-8192, n2-custom-8-32768, with -ext for
// extended memory), applying Google's custom-shape rules.
func lookupMachineType(name string) (machineType, bool) {
	if t, ok := predefinedMachineTypes[name]; ok {
		return t, true
	}
	m := customTypeRE.FindStringSubmatch(name)
	if m == nil {
		return machineType{}, false
	}
	family, ext := m[1], m[4] != ""
	cpus, _ := strconv.Atoi(m[2])
	mem, _ := strconv.Atoi(m[3])
	if cpus < 1 || mem%256 != 0 {
		return machineType{}, false
	}
	minPer, maxPer := 512, 8192
	switch family {
	case "": // N1: 1 or an even count up to 96, 0.9 to 6.5 GB per vCPU
		minPer, maxPer = 922, 6656
		if cpus > 96 || (cpus != 1 && cpus%2 != 0) {
			return machineType{}, false
		}
	case "e2":
		if ext || cpus < 2 || cpus > 32 || cpus%2 != 0 {
			return machineType{}, false
		}
	case "n2": // multiples of 2 up to 32, of 4 up to 80, of 8 up to 128
		if cpus < 2 || cpus > 128 || cpus%2 != 0 || (cpus > 32 && cpus%4 != 0) || (cpus > 80 && cpus%8 != 0) {
			return machineType{}, false
		}
	case "n2d":
		if cpus < 2 || cpus > 96 || cpus%2 != 0 || (cpus > 16 && cpus%16 != 0) {
			return machineType{}, false
		}
	}
	if mem < cpus*minPer || (!ext && mem > cpus*maxPer) {
		return machineType{}, false
	}
	return machineType{name: name, cpus: cpus, memoryMB: mem}, true
}

func (s *Server) renderMachineType(scope string, t machineType) map[string]any {
	gb := strconv.FormatFloat(float64(t.memoryMB)/1024, 'f', -1, 64)
	cpus := fmt.Sprintf("%d vCPUs", t.cpus)
	if t.cpus == 1 {
		cpus = "1 vCPU"
	}
	maxDisks, maxDiskGB := 128, "263168"
	if t.shared {
		maxDisks, maxDiskGB = 16, "3072"
	}
	return map[string]any{
		"kind":                         "compute#machineType",
		"id":                           fmt.Sprint(nameID(t.name)),
		"creationTimestamp":            "1969-12-31T16:00:00.000-08:00",
		"name":                         t.name,
		"description":                  cpus + ", " + gb + " GB RAM",
		"guestCpus":                    t.cpus,
		"memoryMb":                     t.memoryMB,
		"imageSpaceGb":                 0,
		"maximumPersistentDisks":       maxDisks,
		"maximumPersistentDisksSizeGb": maxDiskGB,
		"isSharedCpu":                  t.shared,
		"zone":                         zoneOf(scope),
		"selfLink":                     computeBase + "projects/" + s.project + "/" + scope + "/machineTypes/" + t.name,
	}
}

func (s *Server) getMachineType(c *apiCall) (any, *APIError) {
	t, ok := lookupMachineType(c.name)
	if !ok {
		return nil, errNotFound("projects/" + s.project + "/" + c.scope + "/machineTypes/" + c.name)
	}
	return s.renderMachineType(c.scope, t), nil
}

func (s *Server) listMachineTypes(c *apiCall) (any, *APIError) {
	names := sortedKeys(predefinedMachineTypes)
	var items []map[string]any
	for _, n := range names {
		items = append(items, s.renderMachineType(c.scope, predefinedMachineTypes[n]))
	}
	return s.listResponse(c, "compute#machineTypeList", "projects/"+s.project+"/"+c.scope+"/machineTypes", items, true)
}
