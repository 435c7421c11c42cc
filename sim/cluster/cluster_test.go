package cluster

import (
	"errors"
	"io"
	"strings"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/meshctl/meshctl/sim/scenario"
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

func TestStagesConfigCarriesThePodDelays(t *testing.T) {
	cfg := stagesConfig(scenario.PodDelay{MinMillis: 1200, MaxMillis: 3400}, scenario.PodDelay{MinMillis: 5600, MaxMillis: 7800})
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
	if d := stages["pod-delete"].Spec.Delay; d == nil || d.DurationMilliseconds != 5600 || d.JitterDurationMilliseconds != 7800 {
		t.Errorf("pod-delete delay = %+v, want 5600ms up to 7800ms", d)
	}
	if d := stages["pod-complete"].Spec.Delay; d != nil {
		t.Errorf("pod-complete delay = %+v, want none", d)
	}
}
