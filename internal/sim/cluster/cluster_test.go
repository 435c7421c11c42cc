package cluster

import (
	"errors"
	"io"
	"strings"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/meshctl/meshctl/internal/sim/scenario"
)

// stage is the part of a kwok Stage these tests look at.
type stage struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Delay *struct {
			DurationMilliseconds       int64 `json:"durationMilliseconds"`
			JitterDurationMilliseconds int64 `json:"jitterDurationMilliseconds"`
		} `json:"delay"`
	} `json:"spec"`
}

func TestStagesConfigCarriesThePodStartupTime(t *testing.T) {
	cfg := stagesConfig(scenario.PodStartup{MinMillis: 1200, MaxMillis: 3400})
	if strings.Contains(cfg, "POD_READY_") {
		t.Fatal("a placeholder was left in the stages")
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(cfg), 4096)
	stages := map[string]stage{}
	for {
		var s stage
		err := dec.Decode(&s)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if s.Kind == "" {
			continue // the leading comment
		}
		if s.Kind != "Stage" {
			t.Errorf("document of kind %q, want Stage", s.Kind)
		}
		stages[s.Metadata.Name] = s
	}
	// kwokctl uses these instead of all of its defaults: every default must be there.
	for _, name := range []string{"node-initialize", "node-heartbeat-with-lease", "pod-ready", "pod-complete", "pod-delete"} {
		if _, ok := stages[name]; !ok {
			t.Errorf("stage %s is missing", name)
		}
	}
	d := stages["pod-ready"].Spec.Delay
	if d == nil || d.DurationMilliseconds != 1200 || d.JitterDurationMilliseconds != 3400 {
		t.Errorf("pod-ready delay = %+v, want 1200ms up to 3400ms", d)
	}
	if stages["pod-delete"].Spec.Delay != nil {
		t.Error("pod-delete has a delay; only start-up should take time")
	}
}
