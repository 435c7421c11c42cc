package trace

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Serving reports whether requests get through: no hop broken, converging
// or unreadable (warnings allowed).
func (r *Result) Serving() bool { return r.State == OK || r.State == Warning }

// WatchOptions say how often to trace again and for how long.
type WatchOptions struct {
	Interval time.Duration
	Timeout  time.Duration
	// Changed is told what changed between two traces (nil: nothing).
	Changed func(changes []string)
}

// ErrWatchTimeout is returned with the last result when the target was
// not serving before the watch's timeout.
var ErrWatchTimeout = errors.New("not serving before the watch timed out")

// Watch traces until the target is serving, or until the timeout (then
// it returns the last result with ErrWatchTimeout). Each new trace starts
// afresh: every read is made again.
func Watch(ctx context.Context, c Clients, opts Options, w WatchOptions) (*Result, error) {
	deadline := time.Now().Add(w.Timeout)
	var prev *Result
	for {
		res, err := Run(ctx, c, opts)
		if err != nil {
			return prev, err
		}
		if w.Changed != nil {
			if changes := Changes(prev, res); len(changes) > 0 {
				w.Changed(changes)
			}
		}
		prev = res
		if res.Serving() {
			return res, nil
		}
		wait := min(w.Interval, time.Until(deadline))
		if wait <= 0 {
			return res, ErrWatchTimeout
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// Changes lists what differs between two traces: the overall state, and
// every hop that appeared, went or changed state (with its new cause).
func Changes(prev, cur *Result) []string {
	if cur == nil {
		return nil
	}
	if prev == nil {
		return []string{fmt.Sprintf("traced: %s%s", cur.State, answerText(cur))}
	}
	was := hopStates(prev)
	is := hopStates(cur)
	var out []string
	for _, k := range is.order {
		h, old := is.hops[k], was.hops[k]
		switch {
		case old == nil:
			out = append(out, fmt.Sprintf("%s: new hop, %s%s", k, h.State, causeText(*h)))
		case old.State != h.State:
			out = append(out, fmt.Sprintf("%s: %s → %s%s", k, old.State, h.State, causeText(*h)))
		}
	}
	for _, k := range was.order {
		if is.hops[k] == nil {
			out = append(out, k+": gone")
		}
	}
	if prev.State != cur.State {
		out = append(out, fmt.Sprintf("overall: %s → %s%s", prev.State, cur.State, answerText(cur)))
	}
	return out
}

type hopIndex struct {
	hops  map[string]*Hop
	order []string
}

func hopStates(r *Result) hopIndex {
	idx := hopIndex{hops: map[string]*Hop{}}
	for i := range r.Paths {
		for j := range r.Paths[i].Hops {
			h := &r.Paths[i].Hops[j]
			k := string(h.Kind) + " " + h.Name
			if h.Zone != "" {
				k += " (" + h.Zone + ")"
			}
			if _, dup := idx.hops[k]; !dup {
				idx.order = append(idx.order, k)
				idx.hops[k] = h
			}
		}
	}
	return idx
}

func causeText(h Hop) string {
	if h.State == OK || h.cause >= len(h.Findings) {
		return ""
	}
	return ": " + h.Findings[h.cause].Message
}

func answerText(r *Result) string {
	if r.Answer == nil {
		return ""
	}
	return fmt.Sprintf(" (%s %s: %s)", r.Answer.Kind, r.Answer.Name, r.Answer.Message)
}
