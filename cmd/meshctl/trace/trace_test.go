package trace

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/cmd/meshctl/cmdtest"
	"github.com/meshctl/meshctl/internal/config"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/trace"
)

func TestNewCmdTrace(t *testing.T) {
	f, _ := cmdtest.Factory(&config.Settings{Project: "p"}, nil)
	var got *TraceOptions
	err := cmdtest.Execute(NewCmdTrace(f, cmdtest.Capture(&got)), "https://shop.example.com/cart", "--address", "34.1.2.3", "--watch",
		"--watch-interval", "2s", "--watch-timeout", "1m", "--converge-window", "20m", "--fail-on", "warning")
	if err != nil {
		t.Fatal(err)
	}
	want := trace.Options{Target: "https://shop.example.com/cart", Address: "34.1.2.3", FailOn: findings.Warning, ConvergeWindow: 20 * time.Minute}
	if got.Trace.Target != want.Target || got.Trace.Address != want.Address || got.Trace.FailOn != want.FailOn || got.Trace.ConvergeWindow != want.ConvergeWindow ||
		!got.Watch || got.Interval != 2*time.Second || got.WatchTimeout != time.Minute {
		t.Errorf("options %+v", got)
	}
	if got.Clients == nil || got.Printer != f.Printer || got.Reporter != f.Reporter {
		t.Error("clients, printer or reporter not handed over")
	}

	got = nil
	if err := cmdtest.Execute(NewCmdTrace(f, cmdtest.Capture(&got)), "shop.example.com"); err != nil || got.Watch || got.Trace.FailOn != findings.Error ||
		got.Trace.ConvergeWindow != trace.DefaultConvergeWindow || got.WatchTimeout != 15*time.Minute {
		t.Errorf("defaults: %v, %+v", err, got)
	}

	noProject, _ := cmdtest.Factory(&config.Settings{}, nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "accepts 1 arg"},
		{[]string{"a.example.com", "b.example.com"}, "accepts 1 arg"},
		{[]string{"ftp://shop.example.com"}, "scheme ftp"},
		{[]string{"shop.example.com", "--address", "not-an-ip"}, "not an IP address"},
		{[]string{"shop.example.com", "--watch-interval", "0s"}, "must be positive"},
		{[]string{"shop.example.com", "--fail-on", "fatal"}, "error, warning or info"},
	} {
		got = nil
		err := cmdtest.Execute(NewCmdTrace(f, cmdtest.Capture(&got)), tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || got != nil {
			t.Errorf("%v: err %v, want %q", tc.args, err, tc.want)
		}
	}
	err = cmdtest.Execute(NewCmdTrace(noProject, cmdtest.Capture(&got)), "shop.example.com")
	if failure.ExitCode(err) != failure.ExitUsage || !strings.Contains(failure.HintOf(err), "--project") {
		t.Errorf("without a project: %v (hint %q)", err, failure.HintOf(err))
	}
}

// emptyProject is a Compute API with nothing in it.
type emptyProject struct {
	calls atomic.Int32
	mu    sync.Mutex
	kinds map[lb.Kind]int
}

func (e *emptyProject) List(_ context.Context, k lb.Kind, _ string) ([]proto.Message, error) {
	e.calls.Add(1)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.kinds == nil {
		e.kinds = map[lb.Kind]int{}
	}
	e.kinds[k]++
	return nil, nil
}
func (e *emptyProject) GetHealth(context.Context, string, string) (*computepb.BackendServiceGroupHealth, error) {
	panic("no backend to ask about")
}
func (e *emptyProject) NetworkEndpoints(context.Context, string, string) ([]*computepb.NetworkEndpointWithHealthStatus, error) {
	panic("no NEG to ask about")
}
func (e *emptyProject) Instances(context.Context, string) ([]*computepb.Instance, error) {
	panic("no endpoint to diagnose")
}

// run prints the trace once and exits 3 when a hop is broken; --watch
// traces again until its timeout, then says so and exits 3 too.
func TestRun(t *testing.T) {
	for _, watch := range []bool{false, true} {
		f, out := cmdtest.Factory(&config.Settings{Output: ui.FormatJSON, Project: "p"}, nil)
		compute := &emptyProject{}
		released := false
		opts := &TraceOptions{
			Trace:        trace.Options{Target: "shop.example.com", Address: "34.1.2.3", FailOn: findings.Error},
			Watch:        watch,
			Interval:     time.Millisecond,
			WatchTimeout: 20 * time.Millisecond,
			Printer:      f.Printer,
			Reporter:     ui.NewReporter(&out.Err, false, ui.Styles{}),
			Clients: func(context.Context) (trace.Clients, func(), error) {
				return trace.Clients{Compute: compute, KubeErr: context.Canceled}, func() { released = true }, nil
			},
		}
		err := run(context.Background(), opts)
		if failure.ExitCode(err) != failure.ExitProblems || !released {
			t.Errorf("watch %v: exit %d (%v), released %v", watch, failure.ExitCode(err), err, released)
		}
		var res trace.Result
		if err := json.Unmarshal(out.Out.Bytes(), &res); err != nil {
			t.Fatalf("watch %v: stdout is not one JSON result: %v\n%s", watch, err, out.Out.String())
		}
		if res.Answer == nil || res.Answer.Kind != trace.HopForwardingRule || res.State != trace.Broken {
			t.Errorf("watch %v: answer %+v", watch, res.Answer)
		}
		if watch {
			if compute.calls.Load() < 9 || !strings.Contains(out.Err.String(), "is not served after") || !strings.Contains(out.Err.String(), "traced: broken") {
				t.Errorf("watch: %d lists; stderr:\n%s", compute.calls.Load(), out.Err.String())
			}
		} else {
			// The lists start together; those the answer does not need
			// may be cut short when the trace ends, none is made twice.
			compute.mu.Lock()
			if compute.kinds[lb.KindForwardingRule] != 1 {
				t.Errorf("forwarding rules listed %d times, want once", compute.kinds[lb.KindForwardingRule])
			}
			for k, n := range compute.kinds {
				if n > 1 {
					t.Errorf("%s listed %d times", k, n)
				}
			}
			compute.mu.Unlock()
		}
	}
}
