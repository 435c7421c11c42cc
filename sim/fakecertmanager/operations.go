package fakecertmanager

import (
	"fmt"
	"hash/fnv"
	"time"

	"github.com/meshctl/meshctl/sim/fakeapi"
)

const typePrefix = "type.googleapis.com/google.cloud.certificatemanager.v1."

// operation is a long-running operation: the change is already made; the
// operation is done after the operation duration.
type operation struct {
	name     string
	verb     string // create, update, delete
	target   *resource
	snapshot map[string]any // the object as the change left it, for a response once it is gone
	created  time.Time
	doneAt   time.Time
	// endedAtStart: the change was complete when answered (a certificate
	// map's create): endTime from the first answer on.
	endedAtStart bool
}

// startOperation records a change to r. Called with s.mu held.
func (s *Server) startOperation(c *call, verb string, r *resource) map[string]any {
	now := time.Now()
	op := &operation{
		name: c.location + "/operations/" + operationID(now, s.nextSeq()),
		verb: verb, target: r, snapshot: copyObject(r.obj), created: now,
		doneAt:       now.Add(time.Duration(s.knobs.OperationDuration)),
		endedAtStart: verb == "create" && r.kind.createdInRequest,
	}
	s.ops[op.name] = op
	return s.renderOperation(c, op, now)
}

// operationID follows Google's pattern: operation-MILLIS-13HEX-8HEX-8HEX.
func operationID(t time.Time, seq uint64) string {
	h := fnv.New64a()
	fmt.Fprint(h, t.UnixNano(), seq)
	v := h.Sum64()
	return fmt.Sprintf("operation-%d-%013x-%08x-%08x", t.UnixMilli(), v>>12, uint32(v), uint32(v>>17)^uint32(seq))
}

// renderOperation shows an operation as recorded: metadata always; once
// done, done and the response (the object, without labels, or Empty after
// a delete). Called with s.mu held.
func (s *Server) renderOperation(c *call, op *operation, now time.Time) map[string]any {
	md := map[string]any{
		"@type": typePrefix + "OperationMetadata", "apiVersion": "v1",
		"createTime": googleTime(op.created), "target": op.target.name, "verb": op.verb,
	}
	out := map[string]any{"name": op.name, "metadata": md}
	if op.endedAtStart {
		md["endTime"] = googleTime(op.created)
	}
	if !now.After(op.doneAt) { // the answer that starts an operation shows it running
		return out
	}
	if !op.endedAtStart {
		md["endTime"] = googleTime(op.doneAt)
	}
	out["done"] = true
	if op.verb == "delete" {
		out["response"] = map[string]any{"@type": "type.googleapis.com/google.protobuf.Empty"}
		return out
	}
	r := s.resources[op.target.name]
	if r == nil || r != op.target {
		r = &resource{kind: op.target.kind, name: op.target.name, obj: op.snapshot, created: op.target.created}
	}
	resp := s.render(c, r, false)
	resp["@type"] = typePrefix + r.kind.typeName
	out["response"] = resp
	return out
}

func (s *Server) getOperation(c *call) (any, *fakeapi.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	op := s.ops[s.canonical(c.name)]
	if op == nil {
		return nil, errNotFound("operation", c.name)
	}
	return s.renderOperation(c, op, time.Now()), nil
}

func (s *Server) listOperations(c *call) (any, *fakeapi.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var items []any
	for _, name := range fakeapi.SortedKeys(s.ops) {
		items = append(items, s.renderOperation(c, s.ops[name], now))
	}
	out := map[string]any{}
	if len(items) > 0 {
		out["operations"] = items
	}
	return out, nil
}
