package fakegcp

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// operation is a Compute long-running operation (global or zonal).
type operation struct {
	seq      uint64
	id       uint64
	name     string
	project  string
	scope    string // "global", "regions/r" or "zones/z", as the target's
	opType   string
	target   resourceRef
	targetID uint64
	inserted time.Time
	doneAt   time.Time // when it turns DONE
	done     bool
	// next is the state the change leads to (nil for a delete); it counts
	// for reference checks while the operation runs.
	next  map[string]any
	apply func(at time.Time) // the change, run once when DONE
	abort func()             // undoes what was reserved when the operation fails
	fail  *OperationFailure  // set when the operation is to end in error
}

func (op *operation) path() string {
	return "projects/" + op.project + "/" + op.scope + "/operations/" + op.name
}

// startOperation records an accepted change; it completes after the
// method's operation duration (Knobs.OperationDurations, else
// Knobs.OperationDuration), at once when that is zero. abort, if set, undoes
// what the request reserved should the operation fail. Called with s.mu held.
func (s *Server) startOperation(c *apiCall, r *resource, opType string, next map[string]any, apply func(time.Time), abort func()) *operation {
	now := time.Now()
	seq := s.nextSeq()
	duration := time.Duration(s.knobs.OperationDuration)
	if d, ok := s.knobs.OperationDurations[c.method]; ok {
		duration = time.Duration(d)
	}
	op := &operation{
		seq:      seq,
		id:       s.newID(),
		name:     operationName(now, seq),
		project:  r.ref.Project,
		scope:    r.ref.Scope,
		opType:   opType,
		target:   r.ref,
		targetID: r.id,
		inserted: now,
		doneAt:   now.Add(duration),
		next:     next,
		apply:    apply,
		abort:    abort,
		fail:     s.takeOperationFailure(c.method),
	}
	r.pending = op
	s.ops[op.path()] = op
	if c.requestID != "" {
		s.requestIDs[c.projectOr(s.project)+"/"+c.requestID] = op
	}
	if duration <= 0 { // born DONE, as the recordings show for URL maps and labels
		s.advance(now)
	}
	return op
}

// operationName follows Google's pattern:
// operation-1712000000000-6157c3b6e1d7a-1a2b3c4d-5e6f7a8b.
func operationName(t time.Time, seq uint64) string {
	h := splitmix64(seq)
	return fmt.Sprintf("operation-%d-%013x-%08x-%08x", t.UnixMilli(), h>>12, uint32(h), uint32(splitmix64(h)))
}

// advance completes every operation whose time has come, oldest first, so
// the state seen by a request is the state at its arrival. Called with s.mu held.
func (s *Server) advance(now time.Time) {
	var due []*operation
	for _, op := range s.ops {
		if !op.done && !op.doneAt.After(now) {
			due = append(due, op)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].doneAt.Equal(due[j].doneAt) {
			return due[i].doneAt.Before(due[j].doneAt)
		}
		return due[i].seq < due[j].seq
	})
	for _, op := range due {
		op.done = true
		if r := s.resources[op.target.Path()]; r != nil && r.pending == op {
			r.pending = nil
		}
		if op.fail != nil {
			if op.abort != nil {
				op.abort()
			}
		} else if op.apply != nil {
			op.apply(op.doneAt)
		}
		s.refreshCertificates(op.doneAt)
		s.refreshCertificateMaps(op.doneAt)
	}
	s.advanceGKE(now)
}

func (s *Server) renderOp(op *operation) map[string]any {
	m := map[string]any{
		"kind":          "compute#operation",
		"id":            strconv.FormatUint(op.id, 10),
		"name":          op.name,
		"operationType": op.opType,
		"targetLink":    op.target.Link(),
		"targetId":      strconv.FormatUint(op.targetID, 10),
		"status":        "RUNNING",
		"user":          s.operationUser(),
		"progress":      0,
		"insertTime":    googleTime(op.inserted),
		"startTime":     googleTime(op.inserted),
		"selfLink":      computeBase + op.path(),
	}
	switch scopeTypeOf(op.scope) {
	case zonalScope:
		m["zone"] = scopeLink(op.project, op.scope)
	case regionalScope:
		m["region"] = scopeLink(op.project, op.scope)
	}
	if op.done {
		if k := kindAt(op.target.Scope, op.target.Collection); k != nil && k.reportedAs != "" {
			target := op.target
			target.Collection = k.reportedAs
			m["targetLink"] = target.Link()
		}
		m["status"] = "DONE"
		m["progress"] = 100
		m["endTime"] = googleTime(op.doneAt)
		if op.fail != nil {
			m["error"] = map[string]any{"errors": []any{map[string]any{"code": op.fail.Code, "message": op.fail.Message}}}
			m["httpErrorStatusCode"] = op.fail.HTTPStatus
			m["httpErrorMessage"] = strings.ToUpper(http.StatusText(op.fail.HTTPStatus))
		}
	}
	return m
}

func (s *Server) operationUser() string {
	return "meshsim@" + s.project + ".iam.gserviceaccount.com"
}

func (s *Server) findOperation(c *apiCall) (*operation, *APIError) {
	path := "projects/" + c.projectOr(s.project) + "/" + c.scope + "/operations/" + c.name
	op := s.ops[path]
	if op == nil {
		return nil, errNotFound(path)
	}
	return op, nil
}

func (s *Server) getOperation(c *apiCall) (any, *APIError) {
	op, err := s.findOperation(c)
	if err != nil {
		return nil, err
	}
	return s.renderOp(op), nil
}

// waitOperation is operations.wait: it returns when the operation is DONE
// or when the wait cap (Google: about two minutes) has passed, whichever is
// first. It runs without s.mu held while it sleeps.
func (s *Server) waitOperation(c *apiCall) (any, *APIError) {
	s.mu.Lock()
	deadline := time.Now().Add(time.Duration(s.knobs.OperationWaitCap))
	s.mu.Unlock()
	for {
		s.mu.Lock()
		now := time.Now()
		s.advance(now)
		op, err := s.findOperation(c)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		if op.done || !now.Before(deadline) {
			out := s.renderOp(op)
			s.mu.Unlock()
			return out, nil
		}
		sleep := op.doneAt.Sub(now)
		if d := deadline.Sub(now); d < sleep {
			sleep = d
		}
		s.mu.Unlock()
		timer := time.NewTimer(sleep)
		select {
		case <-timer.C:
		case <-c.req.Context().Done():
			timer.Stop()
			return nil, &APIError{Code: 499, Reason: "canceled", Message: "The client canceled the request."}
		}
	}
}

func (s *Server) sortedOperations() []*operation {
	ops := make([]*operation, 0, len(s.ops))
	for _, op := range s.ops {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].seq < ops[j].seq })
	return ops
}

func (s *Server) listOperations(c *apiCall) (any, *APIError) {
	var items []map[string]any
	for _, op := range s.sortedOperations() {
		if op.scope == c.scope {
			items = append(items, s.renderOp(op))
		}
	}
	return s.listResponse(c, "compute#operationList", "projects/"+s.project+"/"+c.scope+"/operations", items, false)
}
