// Package validate is `meshctl validate`: one report, with stable codes from
// the findings catalog, on whether the mesh and what is exposed through it
// is healthy. It reads the cluster once (each list made once, paginated),
// runs independent checks concurrently, and reports a check whose API call
// failed as MC0100 while the others still run.
package validate

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/install/managed"
)

// Groups of checks, in report order.
const (
	GroupControlPlane = "control plane"
	GroupDataPlane    = "data plane"
	GroupExposed      = "exposed services"
	GroupLB           = "load balancers"
)

// Clients are what validate reads. Asmcli is nil when asmcli is left out.
type Clients struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	// Asmcli runs `asmcli validate` and returns its stderr lines; err is
	// set when it could not run or exited non-zero.
	Asmcli func(ctx context.Context) (lines []string, err error)
	// Fleet reads the fleet's view of the cluster's managed mesh; on a
	// managed mesh it stands in for asmcli validate. Nil leaves it out.
	Fleet func(ctx context.Context) (managed.ClusterStatus, error)
	// Compute reads the exposed Services' load balancers; nil leaves them
	// out.
	Compute Compute
	// NetworkCompute lists the firewall rules of the cluster's network when
	// another project holds it (a Shared VPC's host project); nil: the
	// rules are in Compute's project.
	NetworkCompute Compute
	// ComputeErr is why there is no Compute client (credentials, bad
	// endpoint): the load balancer checks report it and the rest run.
	ComputeErr error
	// CertificateMaps reads the certificates of a GKE Gateway's map; nil
	// leaves them out.
	CertificateMaps CertificateMaps
}

// Options narrow and tune a run.
type Options struct {
	// Namespaces limits the data plane and exposed services to these
	// namespaces (an exposed Service matches by its own namespace or its
	// gateway's). Empty means all.
	Namespaces []string `json:"namespaces,omitempty"`
	// Services limits exposed services to these names ("name" or
	// "namespace/name"). Empty means all.
	Services []string `json:"services,omitempty"`
	// CertWarnDays: a certificate expiring sooner is a warning.
	CertWarnDays int `json:"certWarnDays"`
	// FailOn is the lowest level that fails the run.
	FailOn findings.Level `json:"failOn"`
	// Now is the clock (tests set it).
	Now func() time.Time `json:"-"`
}

// Case is one check about one object: a JUnit test case. It passed when it
// has no findings at FailOn or above.
type Case struct {
	Group    string             `json:"group"`
	Check    string             `json:"check"`
	Object   string             `json:"object"`
	Findings []findings.Finding `json:"findings,omitempty"`
}

// Result is the report.
type Result struct {
	Cases    []Case             `json:"cases"`
	Findings []findings.Finding `json:"findings"`
	Summary  findings.Summary   `json:"summary"`
	FailOn   findings.Level     `json:"failOn"`
	Duration time.Duration      `json:"-"`
}

// Failed reports whether any finding reaches FailOn (exit code 3).
func (r *Result) Failed() bool { return findings.Fails(r.Findings, r.FailOn) }

// collector gathers cases from concurrent checks.
type collector struct {
	mu    sync.Mutex
	cases []Case
}

func (c *collector) add(cs ...Case) {
	c.mu.Lock()
	c.cases = append(c.cases, cs...)
	c.mu.Unlock()
}

// apiFailed is the case for a check that could not run.
func apiFailed(group, check, object, call string, err error) Case {
	return Case{Group: group, Check: check, Object: object, Findings: []findings.Finding{
		findings.APIUnavailable.New(object, fmt.Sprintf("%s: %v; %s did not run", call, err, check), apiHint(err)),
	}}
}

// Run validates the mesh. It returns an error only when nothing could be
// checked (no Kubernetes client); API failures become findings.
func Run(ctx context.Context, c Clients, opts Options) (*Result, error) {
	start := time.Now()
	if c.Kube == nil {
		return nil, fmt.Errorf("validate: no Kubernetes client")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CertWarnDays == 0 {
		opts.CertWarnDays = 30
	}
	if opts.FailOn == "" {
		opts.FailOn = findings.Error
	}
	st := newState(c, opts)
	col := &collector{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	g.Go(func() error { col.add(checkInstallation(gctx, st)...); return nil })
	g.Go(func() error { col.add(checkControlPlane(gctx, st)...); return nil })
	g.Go(func() error { col.add(checkDataPlane(gctx, st)...); return nil })
	g.Go(func() error { col.add(checkRevisionLifecycle(gctx, st)...); return nil })
	g.Go(func() error { col.add(checkExposed(gctx, st)...); return nil })
	g.Go(func() error { col.add(checkVMs(gctx, st)...); return nil })
	_ = g.Wait() // checks report their errors as findings
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return assemble(col.cases, opts.FailOn, time.Since(start)), nil
}

func assemble(cases []Case, failOn findings.Level, d time.Duration) *Result {
	order := map[string]int{GroupControlPlane: 0, GroupDataPlane: 1, GroupExposed: 2, GroupLB: 3}
	sort.SliceStable(cases, func(i, j int) bool {
		a, b := cases[i], cases[j]
		if order[a.Group] != order[b.Group] {
			return order[a.Group] < order[b.Group]
		}
		if a.Check != b.Check {
			return a.Check < b.Check
		}
		return a.Object < b.Object
	})
	r := &Result{Cases: cases, FailOn: failOn, Duration: d, Findings: []findings.Finding{}}
	for _, c := range cases {
		r.Findings = append(r.Findings, c.Findings...)
	}
	findings.Sort(r.Findings)
	r.Summary = findings.Summarize(r.Findings)
	return r
}

// inScope reports whether namespace is among opts.Namespaces (or there are none).
func (o Options) inScope(namespaces ...string) bool {
	if len(o.Namespaces) == 0 {
		return true
	}
	for _, ns := range namespaces {
		if slices.Contains(o.Namespaces, ns) {
			return true
		}
	}
	return false
}

// serviceInScope reports whether the exposed Service namespace/name is
// among opts.Services (or there are none).
func (o Options) serviceInScope(namespace, name string) bool {
	if len(o.Services) == 0 {
		return true
	}
	for _, s := range o.Services {
		if ns, n, ok := strings.Cut(s, "/"); ok {
			if ns == namespace && n == name {
				return true
			}
		} else if s == name {
			return true
		}
	}
	return false
}
