// Package fakeapi holds what meshsim's fake Google APIs (fakegcp, fakehub,
// fakecertmanager, fakeiam) share: Google's JSON error shape, how answers are
// written, the request log behind their /meshsim/.../requests endpoints,
// the control endpoints (knobs, requests, state) and the duration type of
// their knobs.
package fakeapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"time"
)

// Duration is a time.Duration that reads and writes JSON as text ("150ms",
// "2s"), so knobs can be set by hand over HTTP; a number is read as
// nanoseconds.
type Duration time.Duration

// MarshalJSON writes the duration as Go's duration text.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads duration text such as "50ms", or nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("a duration such as \"50ms\": %w", err)
	}
	*d = Duration(n)
	return nil
}

// Record is one API request as a fake served it.
type Record struct {
	Time       time.Time `json:"time"`
	Method     string    `json:"method"` // Google's method id, e.g. "compute.healthChecks.insert"
	HTTPMethod string    `json:"httpMethod"`
	Path       string    `json:"path"`
	Query      string    `json:"query,omitempty"`
	Status     int       `json:"status"`
	Latency    Duration  `json:"latency"`
	// Mutation is true for an accepted change (an operation was started).
	Mutation bool `json:"mutation,omitempty"`
	// Injected is true when fault injection answered instead of the API.
	Injected bool `json:"injected,omitempty"`
	// Denied is the permission the caller lacked when the request was
	// refused before reaching the API (sim/fakeiam).
	Denied string `json:"denied,omitempty"`
}

// Route is one method a fake serves: an HTTP method, an example path and
// Google's method id as the request log records it.
type Route struct {
	HTTPMethod string
	Path       string
	Method     string
}

// Stats summarises the requests served since the last reset.
type Stats struct {
	Total int `json:"total"`
	// Mutations counts accepted changes; a request repeated with the same
	// requestId is not counted twice.
	Mutations int            `json:"mutations"`
	Errors    int            `json:"errors"`
	ByMethod  map[string]int `json:"byMethod"`
	Requests  []Record       `json:"requests"`
}

// Log is a request log: counters that are never truncated and the most
// recent Max requests. The zero value keeps DefaultMax requests.
type Log struct {
	Max int

	mu    sync.Mutex
	stats Stats
}

// DefaultMax is how many requests a Log keeps unless told otherwise.
const DefaultMax = 10000

// Add records one request.
func (l *Log) Add(rec Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stats.ByMethod == nil {
		l.stats.ByMethod = map[string]int{}
	}
	l.stats.Total++
	l.stats.ByMethod[rec.Method]++
	if rec.Mutation {
		l.stats.Mutations++
	}
	if rec.Status >= 400 {
		l.stats.Errors++
	}
	max := l.Max
	if max <= 0 {
		max = DefaultMax
	}
	if len(l.stats.Requests) >= max {
		l.stats.Requests = l.stats.Requests[1:]
	}
	l.stats.Requests = append(l.stats.Requests, rec)
}

// Stats returns a copy of the counters and the kept requests.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.stats
	out.ByMethod = maps.Clone(out.ByMethod)
	if out.ByMethod == nil {
		out.ByMethod = map[string]int{}
	}
	out.Requests = append([]Record{}, out.Requests...)
	return out
}

// Reset clears the log.
func (l *Log) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stats = Stats{}
}
