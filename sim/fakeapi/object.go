package fakeapi

// The fakes keep Google's objects as decoded JSON rather than Go structs,
// so they echo every field a client sends in the API's own spelling; these
// read and copy such objects.

// DeepCopy copies decoded JSON (maps, slices and scalars).
func DeepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = DeepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = DeepCopy(e)
		}
		return out
	case []string:
		return append([]string(nil), t...)
	case map[string]string:
		out := make(map[string]string, len(t))
		for k, e := range t {
			out[k] = e
		}
		return out
	default:
		return v
	}
}

// CopyObject copies a decoded JSON object; nil stays nil.
func CopyObject(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return DeepCopy(m).(map[string]any)
}

// Str reads a string field ("" when absent or not a string).
func Str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// Obj reads an object field (nil when absent).
func Obj(m map[string]any, key string) map[string]any {
	o, _ := m[key].(map[string]any)
	return o
}

// List reads a list field (nil when absent).
func List(m map[string]any, key string) []any {
	l, _ := m[key].([]any)
	return l
}

// StrList reads the strings of a list field.
func StrList(m map[string]any, key string) []string {
	var out []string
	for _, v := range List(m, key) {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Bool reads a boolean field (false when absent).
func Bool(m map[string]any, key string) bool {
	b, _ := m[key].(bool)
	return b
}

// SetDefault sets a field the object does not have.
func SetDefault(m map[string]any, key string, v any) {
	if _, ok := m[key]; !ok {
		m[key] = v
	}
}

// EnsureObj returns m[key] as an object, creating it when absent.
func EnsureObj(m map[string]any, key string) map[string]any {
	if o, ok := m[key].(map[string]any); ok {
		return o
	}
	o := map[string]any{}
	m[key] = o
	return o
}
