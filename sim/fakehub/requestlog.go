package fakehub

import "github.com/meshctl/meshctl/sim/fakeapi"

// RequestRecord is one request as the fake served it.
type RequestRecord = fakeapi.Record

// RequestStats summarises the requests served since the last reset.
type RequestStats = fakeapi.Stats

// Requests returns the request log.
func (s *Server) Requests() RequestStats { return s.log.Stats() }

// ResetRequests clears the request log.
func (s *Server) ResetRequests() { s.log.Reset() }
