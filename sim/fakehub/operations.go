package fakehub

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"
)

// operation is a long-running operation. The change it stands for is made
// when it starts; the resource shows its transitional state (CREATING,
// ENABLING) until the operation is done.
type operation struct {
	name     string // projects/P/locations/L/operations/operation-... or operations/acat.p2-...
	api      string // v1, v2 or serviceusage
	verb     string // create, update, delete
	target   string
	created  time.Time
	doneAt   time.Time
	respType string
	// response renders the finished operation's response (nil: Empty).
	response func() map[string]any
	err      *apiError
}

// hubOperationID is how the fleet names operations:
// operation-MILLIS-13HEX-8HEX-8HEX (GKE's have one hex group).
func hubOperationID(t time.Time, seq uint64) string {
	h := fnv.New64a()
	fmt.Fprint(h, t.UnixNano(), seq)
	v := h.Sum64()
	return fmt.Sprintf("operation-%d-%013x-%08x-%08x", t.UnixMilli(), v>>12, uint32(v), uint32(v>>17)^uint32(seq))
}

// newHubOperation starts a fleet operation. Called with s.mu held.
func (s *Server) newHubOperation(api, location, verb, target, respType string, response func() map[string]any) *operation {
	now := time.Now()
	op := &operation{
		name: "projects/" + s.project + "/locations/" + location + "/operations/" + hubOperationID(now, s.nextSeq()),
		api:  api, verb: verb, target: target, created: now, doneAt: now.Add(time.Duration(s.knobs.OperationTime)),
		respType: respType, response: response,
	}
	s.ops[op.name] = op
	return op
}

func (op *operation) done(now time.Time) bool { return !now.Before(op.doneAt) }

// render shows the operation as the fleet does. Called with s.mu held.
func (s *Server) renderOperation(op *operation) map[string]any {
	now := time.Now()
	out := map[string]any{"name": op.name, "done": op.done(now)}
	if op.api == "serviceusage" {
		out["metadata"] = map[string]any{"@type": "type.googleapis.com/google.protobuf.Empty"}
	} else {
		pkg := "google.cloud.gkehub." + op.api
		md := map[string]any{
			"@type": "type.googleapis.com/" + pkg + ".OperationMetadata", "createTime": googleTime(op.created),
			"target": op.target, "verb": op.verb, "apiVersion": op.api, "cancelRequested": false,
		}
		if op.done(now) {
			md["endTime"] = googleTime(op.doneAt)
		}
		out["metadata"] = md
	}
	if !op.done(now) {
		return out
	}
	if op.err != nil {
		out["error"] = map[string]any{"code": grpcCode(op.err.Status), "message": op.err.Message}
		return out
	}
	resp := map[string]any{}
	if op.response != nil {
		resp = op.response()
	}
	if op.respType != "" {
		resp["@type"] = op.respType
	}
	out["response"] = resp
	return out
}

func grpcCode(status string) int {
	codes := map[string]int{"INVALID_ARGUMENT": 3, "NOT_FOUND": 5, "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "FAILED_PRECONDITION": 9, "INTERNAL": 13}
	if c, ok := codes[status]; ok {
		return c
	}
	return 2
}

// getOperation answers operations.get for v1 and v2. The project may be
// the id or the number.
func (s *Server) getOperation(c *call, location, id, api string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := "projects/" + s.project + "/locations/" + location + "/operations/" + id
	op, ok := s.ops[name]
	if !ok {
		return nil, errNotFound(strings.Replace(name, "projects/"+s.project, "projects/"+c.project, 1))
	}
	return s.renderOperation(op), nil
}
