package fakegcp

import (
	"sync"
	"time"
)

// maxLoggedRequests bounds the request list kept for GET /meshsim/requests;
// the counters are never truncated.
const maxLoggedRequests = 10000

// RequestRecord is one API request as the fake served it.
type RequestRecord struct {
	Time       time.Time `json:"time"`
	Method     string    `json:"method"` // Google's method id, e.g. "compute.healthChecks.insert"
	HTTPMethod string    `json:"httpMethod"`
	Path       string    `json:"path"`
	Status     int       `json:"status"`
	Latency    Duration  `json:"latency"`
	// Mutation is true for an accepted change (an operation was started).
	Mutation bool `json:"mutation,omitempty"`
	// Injected is true when fault injection answered instead of the API.
	Injected bool `json:"injected,omitempty"`
}

// RequestStats summarises the requests served since the last reset.
type RequestStats struct {
	Total int `json:"total"`
	// Mutations counts accepted changes; a request repeated with the same
	// requestId is not counted twice.
	Mutations int             `json:"mutations"`
	Errors    int             `json:"errors"`
	ByMethod  map[string]int  `json:"byMethod"`
	Requests  []RequestRecord `json:"requests"`
}

type requestLog struct {
	mu    sync.Mutex
	stats RequestStats
}

func (l *requestLog) add(rec RequestRecord) {
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
	if len(l.stats.Requests) >= maxLoggedRequests {
		l.stats.Requests = l.stats.Requests[1:]
	}
	l.stats.Requests = append(l.stats.Requests, rec)
}

// Requests returns the request log: counts per method, the mutation count
// and the most recent requests.
func (s *Server) Requests() RequestStats {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	out := s.log.stats
	out.ByMethod = copyMap(out.ByMethod)
	if out.ByMethod == nil {
		out.ByMethod = map[string]int{}
	}
	out.Requests = append([]RequestRecord{}, out.Requests...)
	return out
}

// ResetRequests clears the request log.
func (s *Server) ResetRequests() {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	s.log.stats = RequestStats{}
}
