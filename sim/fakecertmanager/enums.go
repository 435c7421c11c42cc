package fakecertmanager

import (
	"fmt"
	"strings"

	"github.com/meshctl/meshctl/sim/fakeapi"
)

// Enums arrive as names (gcloud) or numbers (the Go client, which asks for
// $alt=json;enum-encoding=int) and are kept as names. An enum at its
// default (number 0) is left out of answers, as protocol buffers' JSON
// leaves it out.

// enumsToNames rewrites the enum fields of a request to names, refusing
// values the enum does not have.
func (k *kind) enumsToNames(m map[string]any) *fakeapi.Error {
	for path, values := range k.enums {
		var bad *fakeapi.Error
		visitEnum(m, strings.Split(path, "."), func(parent map[string]any, key string) {
			name, ok := enumName(parent[key], values)
			if !ok && bad == nil {
				bad = errInvalid(fmt.Sprintf("Invalid value at '%s' (%s), %v", path, k.typeName+"."+path, parent[key]))
			}
			parent[key] = name
		})
		if bad != nil {
			return bad
		}
	}
	return nil
}

// enumsToNumbers rewrites an answer's enum fields to numbers.
func (k *kind) enumsToNumbers(m map[string]any) {
	for path, values := range k.enums {
		visitEnum(m, strings.Split(path, "."), func(parent map[string]any, key string) {
			for i, v := range values {
				if v != "" && v == parent[key] {
					parent[key] = i
				}
			}
		})
	}
}

func enumName(v any, values []string) (string, bool) {
	switch t := v.(type) {
	case string:
		for _, name := range values {
			if name != "" && name == t {
				return t, true
			}
		}
	case float64:
		if i := int(t); float64(i) == t && i >= 0 && i < len(values) && values[i] != "" {
			return values[i], true
		}
	}
	return "", false
}

// visitEnum calls visit for each field at path ("[]" iterates a list).
func visitEnum(m map[string]any, path []string, visit func(parent map[string]any, key string)) {
	if m == nil || len(path) == 0 {
		return
	}
	key := strings.TrimSuffix(path[0], "[]")
	v, ok := m[key]
	if !ok {
		return
	}
	if len(path) == 1 {
		visit(m, key)
		return
	}
	if strings.HasSuffix(path[0], "[]") {
		for _, e := range list(m, key) {
			if o, isObj := e.(map[string]any); isObj {
				visitEnum(o, path[1:], visit)
			}
		}
		return
	}
	if o, isObj := v.(map[string]any); isObj {
		visitEnum(o, path[1:], visit)
	}
}

// dropDefaultEnums leaves out enums at their default value.
func (k *kind) dropDefaultEnums(m map[string]any) {
	for path, values := range k.enums {
		visitEnum(m, strings.Split(path, "."), func(parent map[string]any, key string) {
			if parent[key] == values[0] {
				delete(parent, key)
			}
		})
	}
}

func toString(v any) string { return fmt.Sprint(v) }
