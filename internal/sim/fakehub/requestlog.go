package fakehub

import (
	"maps"
	"sync"
	"time"
)

// RequestRecord is one request as the fake served it.
type RequestRecord struct {
	Time       time.Time `json:"time"`
	Method     string    `json:"method"` // e.g. gkehub.projects.locations.memberships.create
	HTTPMethod string    `json:"httpMethod"`
	Path       string    `json:"path"`
	Query      string    `json:"query,omitempty"`
	Status     int       `json:"status"`
	Latency    Duration  `json:"latency"`
	// Mutation is true for an accepted change.
	Mutation bool `json:"mutation,omitempty"`
}

// RequestStats summarises the requests served since the last reset.
type RequestStats struct {
	Total     int             `json:"total"`
	Mutations int             `json:"mutations"`
	Errors    int             `json:"errors"`
	ByMethod  map[string]int  `json:"byMethod"`
	Requests  []RequestRecord `json:"requests"`
}

const maxLoggedRequests = 5000

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

// Requests returns the request log.
func (s *Server) Requests() RequestStats {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	out := s.log.stats
	out.ByMethod = maps.Clone(out.ByMethod)
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
