package fakegcp

import (
	"fmt"
	"strings"
)

// resolveRefs checks every link a new state of an object in scope holds
// (malformed: 400; to an object that does not exist: 404, as Compute
// answers; to another region than a regional reference must stay in: 400)
// and rewrites it in Google's form. A bare name is taken to be in the
// object's own scope when the collection lives there, else global.
func (s *Server) resolveRefs(k *kind, scope string, next map[string]any) *APIError {
	for _, rf := range k.refs {
		defaultScope := "global"
		if kindAt(scope, rf.collections[0]) != nil {
			defaultScope = scope
		}
		err := walkStrings(next, strings.Split(rf.path, "."), "resource", func(field, value string) (string, *APIError) {
			ref, ok := parseRef(value, s.project, defaultScope, rf.collections...)
			if !ok || kindAt(ref.Scope, ref.Collection) == nil {
				return "", errInvalidField(field, value, "The URL is malformed.")
			}
			ref = s.canonicalRef(ref)
			if rf.sameScope && ref.Scope != scope {
				return "", errInvalidField(field, value, "The referenced resource must be in "+scopeWords(scope)+".")
			}
			if scopeTypeOf(ref.Scope) == regionalScope && scopeTypeOf(scope) == regionalScope && ref.Scope != scope {
				return "", errInvalidField(field, value, "The referenced resource must be in "+scopeWords(scope)+" or global.")
			}
			if err := s.referable(ref); err != nil {
				return "", err
			}
			if rf.keepRelative && strings.HasPrefix(value, "projects/") {
				return value, nil
			}
			return ref.Link(), nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// referable: a reference may name an object that exists and is not being
// deleted.
func (s *Server) referable(ref resourceRef) *APIError {
	if k := kindAt(ref.Scope, ref.Collection); k != nil && s.computedObject(k, ref.Scope, ref.Name) != nil {
		return nil
	}
	target := s.resources[ref.Path()]
	if target == nil || target.obj == nil {
		return notFoundFor(ref)
	}
	if target.pending != nil && target.pending.opType == "delete" {
		return errNotReady(ref.Path())
	}
	return nil
}

// scopeWords names a scope in an error: "region us-central1".
func scopeWords(scope string) string {
	t, name, _ := strings.Cut(scope, "/")
	return strings.TrimSuffix(t, "s") + " " + name
}

// walkStrings visits each string at a dotted path ("[]" iterates a list)
// and replaces it with what visit returns; field names the value for errors
// as Google does ("resource.healthChecks[0]").
func walkStrings(v any, segs []string, field string, visit func(field, value string) (string, *APIError)) *APIError {
	m, ok := v.(map[string]any)
	if !ok || len(segs) == 0 {
		return nil
	}
	key := strings.TrimSuffix(segs[0], "[]")
	val, ok := m[key]
	if !ok {
		return nil
	}
	if strings.HasSuffix(segs[0], "[]") {
		items, _ := val.([]any)
		for i, item := range items {
			f := fmt.Sprintf("%s.%s[%d]", field, key, i)
			if len(segs) > 1 {
				if err := walkStrings(item, segs[1:], f, visit); err != nil {
					return err
				}
				continue
			}
			if sv, ok := item.(string); ok {
				nv, err := visit(f, sv)
				if err != nil {
					return err
				}
				items[i] = nv
			}
		}
		return nil
	}
	f := field + "." + key
	if len(segs) > 1 {
		return walkStrings(val, segs[1:], f, visit)
	}
	if sv, ok := val.(string); ok && sv != "" {
		nv, err := visit(f, sv)
		if err != nil {
			return err
		}
		m[key] = nv
	}
	return nil
}

// refsIn lists the paths of the objects a state links to.
func (s *Server) refsIn(k *kind, state map[string]any) []string {
	var out []string
	for _, rf := range k.refs {
		_ = walkStrings(copyObject(state), strings.Split(rf.path, "."), "resource", func(_, value string) (string, *APIError) {
			if ref, ok := parseRef(value, s.project, "global", rf.collections...); ok {
				out = append(out, s.canonicalRef(ref).Path())
			}
			return value, nil
		})
	}
	return out
}

// usersOf lists the objects (by path) that use r, counting changes still in
// flight, so a delete cannot race an insert that will reference r.
func (s *Server) usersOf(r *resource) []string {
	target := r.ref.Path()
	seen := map[string]bool{}
	for _, path := range sortedKeys(s.resources) {
		other := s.resources[path]
		if other == r || other.ownedBy != "" {
			continue // what an object owns uses only what its owner uses
		}
		states := []map[string]any{other.obj}
		if other.pending != nil && other.pending.next != nil {
			states = append(states, other.pending.next)
		}
		for _, st := range states {
			if st == nil {
				continue
			}
			for _, ref := range s.refsIn(other.kind, st) {
				if ref == target {
					seen[path] = true
				}
			}
		}
	}
	if r.kind.users != nil {
		for _, u := range r.kind.users(s, r) {
			seen[u] = true
		}
	}
	return sortedKeys(seen)
}
