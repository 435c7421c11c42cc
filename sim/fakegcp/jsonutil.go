package fakegcp

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"

	"github.com/meshctl/meshctl/sim/fakeapi"
)

// Resources are kept as decoded JSON objects rather than Go structs: the
// fake must echo back every field a client sends, in the exact spelling the
// API uses, including fields this package knows nothing about.

func decodeObject(r io.Reader) (map[string]any, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	if obj == nil {
		obj = map[string]any{}
	}
	return obj, nil
}

// mergePatch applies an RFC 7386 JSON merge patch, which is how Compute's
// PATCH methods are documented to behave: objects merge, lists and scalars
// replace, null removes.
func mergePatch(dst, patch map[string]any) map[string]any {
	if dst == nil {
		dst = map[string]any{}
	}
	for k, v := range patch {
		if v == nil {
			delete(dst, k)
			continue
		}
		if pm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = mergePatch(dm, pm)
				continue
			}
			dst[k] = mergePatch(map[string]any{}, pm)
			continue
		}
		dst[k] = deepCopy(v)
	}
	return dst
}

// num reads a JSON number (or a numeric string, as int64 fields arrive).
func num(m map[string]any, key string) (int64, bool) {
	switch v := m[key].(type) {
	case json.Number:
		n, err := v.Int64()
		if err != nil {
			f, ferr := v.Float64()
			return int64(f), ferr == nil
		}
		return n, true
	case float64:
		return int64(v), true
	case int:
		return int64(v), true
	case int64:
		return v, true
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return 0, false
}

func toAnyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// lookupPath reads a dotted path ("labels.env", "managed.status").
func lookupPath(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, part := range strings.Split(path, ".") {
		o, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = o[part]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

// stringMap reads an object of strings, such as labels.
func stringMap(m map[string]any, key string) map[string]string {
	out := map[string]string{}
	for k, v := range obj(m, key) {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// sortedKeys is fakeapi.SortedKeys under the short name its many callers use.
func sortedKeys[V any](m map[string]V) []string { return fakeapi.SortedKeys(m) }

// Short names for the JSON object helpers in fakeapi, which the whole
// package uses.

func deepCopy(v any) any                                    { return fakeapi.DeepCopy(v) }
func copyObject(m map[string]any) map[string]any            { return fakeapi.CopyObject(m) }
func str(m map[string]any, key string) string               { return fakeapi.Str(m, key) }
func obj(m map[string]any, key string) map[string]any       { return fakeapi.Obj(m, key) }
func list(m map[string]any, key string) []any               { return fakeapi.List(m, key) }
func strList(m map[string]any, key string) []string         { return fakeapi.StrList(m, key) }
func boolean(m map[string]any, key string) bool             { return fakeapi.Bool(m, key) }
func setDefault(m map[string]any, key string, v any)        { fakeapi.SetDefault(m, key, v) }
func ensureObj(m map[string]any, key string) map[string]any { return fakeapi.EnsureObj(m, key) }
