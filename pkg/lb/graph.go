package lb

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/meshctl/meshctl/internal/ui"
)

// node is one step of an apply: a change to one object, waiting for its own
// operation. It starts as soon as every node it depends on is done.
type node struct {
	id    string
	title string // what the reporter shows: "create backend service mc-..."
	deps  []string
	run   func(ctx context.Context, step ui.Step) error

	// weight is how long the node's operation is expected to take, in
	// ordinary operations (0 counts as 1): Cloud Armor policy inserts are
	// Google's slow outlier, so they start before others when nodes queue.
	weight int

	// Filled in by execute.
	rank       int // expected length of the longest chain from here to the end
	state      NodeState
	err        error
	start, end time.Time
}

// NodeState is how a node of the graph ended.
type NodeState string

// Node states.
const (
	NodeDone    NodeState = "done"
	NodeFailed  NodeState = "failed"
	NodeSkipped NodeState = "skipped" // a node it needs failed, or the run was cancelled
)

// NodeTiming is when one node of an apply ran, for reports and benchmarks.
type NodeTiming struct {
	ID    string        `json:"id"`
	Deps  []string      `json:"deps,omitempty"`
	State NodeState     `json:"state"`
	Start time.Duration `json:"start"` // since the apply began
	End   time.Duration `json:"end"`
}

// execute runs the nodes as a dependency graph: every node whose
// dependencies are done starts at once (not level by level), at most
// parallel at a time, those heading the longest remaining chains first. A
// failed node's dependents are skipped; independent nodes carry on, and
// every failure is returned at the end.
func execute(ctx context.Context, nodes []*node, parallel int, rep ui.Reporter) error {
	if len(nodes) == 0 {
		return nil
	}
	g, err := newGraphRun(ctx, nodes, rep)
	if err != nil {
		return err
	}
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	for g.left > 0 {
		g.startReady(parallel)
		if g.running == 0 {
			// Cancelled, with nothing left in flight.
			for _, n := range nodes {
				g.skip(n, "the run was interrupted")
			}
			break
		}
		g.finish(<-g.finished)
	}
	var errs []error
	for _, n := range nodes {
		if n.state == NodeFailed {
			errs = append(errs, n.err)
		}
	}
	if len(errs) == 0 && ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.Join(errs...)
}

// graphRun is one execution of a graph.
type graphRun struct {
	ctx        context.Context
	rep        ui.Reporter
	dependents map[string][]*node
	waiting    map[*node]int // dependencies not done yet
	ready      *nodeHeap
	finished   chan *node
	running    int
	left       int
	mu         sync.Mutex // guards node fields read by reports while running
}

// newGraphRun links the nodes to their dependents (dependencies with
// nothing to do are not waited for), ranks them and queues the roots.
func newGraphRun(ctx context.Context, nodes []*node, rep ui.Reporter) (*graphRun, error) {
	g := &graphRun{ctx: ctx, rep: rep, dependents: map[string][]*node{}, waiting: map[*node]int{},
		ready: &nodeHeap{}, finished: make(chan *node), left: len(nodes)}
	byID := map[string]*node{}
	for _, n := range nodes {
		byID[n.id] = n
	}
	for _, n := range nodes {
		for _, d := range n.deps {
			if _, ok := byID[d]; !ok {
				continue // a dependency with nothing to do
			}
			g.dependents[d] = append(g.dependents[d], n)
			g.waiting[n]++
		}
	}
	if err := rankNodes(nodes, byID, g.dependents); err != nil {
		return nil, err
	}
	for _, n := range nodes {
		if g.waiting[n] == 0 {
			heap.Push(g.ready, n)
		}
	}
	return g, nil
}

// startReady starts ready nodes, up to parallel running at once, unless
// the run is cancelled.
func (g *graphRun) startReady(parallel int) {
	for g.running < parallel && g.ready.Len() > 0 && g.ctx.Err() == nil {
		n := heap.Pop(g.ready).(*node)
		g.running++
		go func() {
			step := g.rep.Step(n.title)
			g.mu.Lock()
			n.start = time.Now()
			g.mu.Unlock()
			err := n.run(g.ctx, step)
			g.mu.Lock()
			n.end, n.err = time.Now(), err
			g.mu.Unlock()
			if err != nil {
				step.Fail(err)
			} else {
				step.Done()
			}
			g.finished <- n
		}()
	}
}

// finish records a node's end: a failure skips its dependents, a success
// readies those it was the last dependency of.
func (g *graphRun) finish(n *node) {
	g.running--
	g.left--
	if n.err != nil {
		n.state = NodeFailed
		for _, d := range g.dependents[n.id] {
			g.skip(d, "it needs "+n.title)
		}
		return
	}
	n.state = NodeDone
	for _, d := range g.dependents[n.id] {
		if g.waiting[d]--; g.waiting[d] == 0 && d.state == "" {
			heap.Push(g.ready, d)
		}
	}
}

// skip marks n and its dependents skipped, saying why.
func (g *graphRun) skip(n *node, why string) {
	if n.state != "" {
		return
	}
	n.state, g.left = NodeSkipped, g.left-1
	g.rep.Warnf("skipped %s: %s", n.title, why)
	for _, d := range g.dependents[n.id] {
		g.skip(d, "it needs "+n.title)
	}
}

// rankNodes sets each node's rank (the longest chain from it to a sink)
// and rejects cycles.
func rankNodes(nodes []*node, byID map[string]*node, dependents map[string][]*node) error {
	const (
		unseen = iota
		visiting
		seen
	)
	mark := map[*node]int{}
	var visit func(n *node) error
	visit = func(n *node) error {
		switch mark[n] {
		case visiting:
			return fmt.Errorf("pkg/lb: dependency cycle through %s", n.id)
		case seen:
			return nil
		}
		mark[n] = visiting
		w := max(n.weight, 1)
		n.rank = w
		for _, d := range dependents[n.id] {
			if err := visit(d); err != nil {
				return err
			}
			n.rank = max(n.rank, d.rank+w)
		}
		mark[n] = seen
		return nil
	}
	for _, n := range nodes {
		if err := visit(n); err != nil {
			return err
		}
	}
	return nil
}

type nodeHeap []*node

func (h nodeHeap) Len() int { return len(h) }
func (h nodeHeap) Less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank > h[j].rank
	}
	return h[i].id < h[j].id
}
func (h nodeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *nodeHeap) Push(x any)   { *h = append(*h, x.(*node)) }
func (h *nodeHeap) Pop() any {
	old := *h
	n := old[len(old)-1]
	*h = old[:len(old)-1]
	return n
}

// timings reports when each node ran, relative to t0, in start order.
func timings(nodes []*node, t0 time.Time) []NodeTiming {
	var out []NodeTiming
	for _, n := range nodes {
		t := NodeTiming{ID: n.id, Deps: n.deps, State: n.state}
		if !n.start.IsZero() {
			t.Start, t.End = n.start.Sub(t0), n.end.Sub(t0)
		}
		out = append(out, t)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

// CriticalPath is the longest chain of dependent nodes by the time each
// node itself took: no schedule can finish sooner than its length.
func CriticalPath(ts []NodeTiming) (time.Duration, []string) {
	byID := map[string]NodeTiming{}
	for _, t := range ts {
		byID[t.ID] = t
	}
	memo := map[string]time.Duration{}
	via := map[string]string{}
	var longest func(id string) time.Duration
	longest = func(id string) time.Duration {
		if d, ok := memo[id]; ok {
			return d
		}
		t := byID[id]
		best := time.Duration(0)
		for _, d := range t.Deps {
			if _, ok := byID[d]; !ok {
				continue
			}
			if l := longest(d); l > best {
				best, via[id] = l, d
			}
		}
		memo[id] = best + (t.End - t.Start)
		return memo[id]
	}
	var total time.Duration
	end := ""
	for _, t := range ts {
		if l := longest(t.ID); l > total {
			total, end = l, t.ID
		}
	}
	var path []string
	for id := end; id != ""; id = via[id] {
		path = append([]string{id}, path...)
	}
	return total, path
}
