package fakecertmanager

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/meshctl/meshctl/sim/fakeapi"
)

// resource is one stored object.
type resource struct {
	kind    *kind
	name    string
	obj     map[string]any // as given, with defaults and the server's fields
	created time.Time
	issued  time.Time // managed certificates: when they became ACTIVE
}

// kind describes one collection and Google's rules for it.
type kind struct {
	collection string // URL segment: "certificates"
	methodPath string // in method ids: "certificates", "certificateMaps.certificateMapEntries"
	noun       string // as 404s name it: "certificate"
	typeName   string // the message in an operation's response
	idParam    string // the create query parameter naming the object
	// updatable are the fields an updateMask may name.
	updatable []string
	// updateTime: the object shows updateTime (recorded: maps and DNS
	// authorizations do; certificates and map entries do not).
	updateTime bool
	// createdInRequest: the create is done when it is answered, so the
	// answer's metadata already shows endTime, though not done (recorded
	// for certificate maps, in both map recordings; the other kinds answer
	// without endTime).
	createdInRequest bool
	// enums are the enum fields by path ("[]" iterates a list), with their values.
	enums map[string][]string
	// prepare checks a new state and fills defaults; prev is nil on create.
	prepare func(s *Server, c *call, next, prev map[string]any) *fakeapi.Error
	// render adds computed fields to a copy of the object.
	render func(s *Server, c *call, r *resource, out map[string]any)
	// user names an object keeping this one from being deleted, or "".
	user func(s *Server, c *call, r *resource) (what, user string)
}

// idRE: resource ids are 1 to 63 lower-case letters, digits and dashes,
// starting with a letter.
var idRE = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// create validates a new object, stores it and answers the operation.
func (s *Server) create(c *call, k *kind) (any, *fakeapi.Error) {
	id := c.query.Get(k.idParam)
	if !idRE.MatchString(id) {
		return nil, errInvalid("Invalid " + k.idParam + " '" + id + "': it must be 1 to 63 lower-case letters, digits and dashes, starting with a letter.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.parentExists(c); err != nil {
		return nil, err
	}
	name := c.parent + "/" + k.collection + "/" + id
	if s.resources[name] != nil {
		return nil, &fakeapi.Error{Code: http.StatusConflict, Status: "ALREADY_EXISTS", Message: k.noun + " \"" + name + "\" already exists"}
	}
	next, err := k.input(c.body)
	if err != nil {
		return nil, err
	}
	if err := s.validate(c, k, next, nil); err != nil {
		return nil, err
	}
	now := time.Now()
	next["name"] = name
	next["createTime"] = googleTime(now)
	if k.updateTime {
		next["updateTime"] = googleTime(now)
	}
	r := &resource{kind: k, name: name, obj: next, created: now}
	s.resources[name] = r
	return s.startOperation(c, "create", r), nil
}

// input reads a request body as the object's fields, enums as names.
func (k *kind) input(body map[string]any) (map[string]any, *fakeapi.Error) {
	in := copyObject(body)
	for _, f := range []string{"name", "createTime", "updateTime"} {
		delete(in, f)
	}
	if err := k.enumsToNames(in); err != nil {
		return nil, err
	}
	return in, nil
}

// validate checks an object's next state (prev is nil on create) and fills
// its defaults.
func (s *Server) validate(c *call, k *kind, next, prev map[string]any) *fakeapi.Error {
	if field, value, why := fakeapi.LabelProblem(obj(next, "labels")); why != "" {
		return errInvalid("Invalid value for " + field + " '" + strings.TrimSpace(toString(value)) + "': " + why)
	}
	return k.prepare(s, c, next, prev)
}

// parentExists: a map entry lives in a map that must exist. Called with s.mu held.
func (s *Server) parentExists(c *call) *fakeapi.Error {
	if !strings.Contains(c.parent, "/certificateMaps/") {
		return nil
	}
	if s.resources[c.parent] == nil {
		return errNotFound("certificateMap", c.parent)
	}
	return nil
}

func (s *Server) find(c *call, k *kind) (*resource, *fakeapi.Error) {
	if err := s.parentExists(c); err != nil {
		return nil, err
	}
	r := s.resources[s.canonical(c.name)]
	if r == nil || r.kind != k {
		return nil, errNotFound(k.noun, c.name)
	}
	return r, nil
}

func (s *Server) get(c *call, k *kind) (any, *fakeapi.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.find(c, k)
	if err != nil {
		return nil, err
	}
	return s.render(c, r, true), nil
}

// list answers every object of the kind under the parent, by name.
func (s *Server) list(c *call, k *kind) (any, *fakeapi.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.parentExists(c); err != nil {
		return nil, err
	}
	var items []any
	for _, name := range fakeapi.SortedKeys(s.resources) {
		r := s.resources[name]
		if r.kind == k && strings.HasPrefix(name, c.parent+"/"+k.collection+"/") {
			items = append(items, s.render(c, r, true))
		}
	}
	out := map[string]any{}
	if len(items) > 0 {
		out[k.collection] = items
	}
	return out, nil
}

// patch changes the fields the updateMask names (required, as Google
// requires it) and answers the operation.
func (s *Server) patch(c *call, k *kind) (any, *fakeapi.Error) {
	mask := c.query.Get("updateMask")
	if mask == "" {
		return nil, errInvalid("update_mask is required.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.find(c, k)
	if err != nil {
		return nil, err
	}
	in, err := k.input(c.body)
	if err != nil {
		return nil, err
	}
	next := copyObject(r.obj)
	for _, f := range strings.Split(mask, ",") {
		f = snakeToCamel(strings.TrimSpace(f))
		if !slices.Contains(k.updatable, f) {
			return nil, errInvalid("Invalid update mask path '" + f + "': the field cannot be updated.")
		}
		if v, ok := in[f]; ok {
			next[f] = v
		} else {
			delete(next, f)
		}
	}
	if err := s.validate(c, k, next, r.obj); err != nil {
		return nil, err
	}
	if k.updateTime {
		next["updateTime"] = googleTime(time.Now())
	}
	r.obj = next
	return s.startOperation(c, "update", r), nil
}

// delete removes an object nothing depends on and answers the operation.
func (s *Server) delete(c *call, k *kind) (any, *fakeapi.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.find(c, k)
	if err != nil {
		return nil, err
	}
	if k.user != nil {
		if what, user := k.user(s, c, r); user != "" {
			return nil, errInUse(what, r.name, user)
		}
	}
	delete(s.resources, r.name)
	return s.startOperation(c, "delete", r), nil
}

// render is the object as Google answers it; withLabels is false inside an
// operation's response, which (recorded) carries no labels.
func (s *Server) render(c *call, r *resource, withLabels bool) map[string]any {
	out := copyObject(r.obj)
	if !withLabels {
		delete(out, "labels")
	}
	if r.kind.render != nil {
		r.kind.render(s, c, r, out)
	}
	r.kind.dropDefaultEnums(out)
	if c.intEnums {
		r.kind.enumsToNumbers(out)
	}
	return out
}

func snakeToCamel(f string) string {
	parts := strings.Split(f, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// StateDump is the fake's state as JSON: objects as the API shows them,
// and operations.
type StateDump struct {
	Objects    []map[string]any `json:"objects"`
	Operations []map[string]any `json:"operations"`
}

// State dumps every object and operation.
func (s *Server) State() StateDump {
	c := &call{view: s.viewCompute()}
	s.mu.Lock()
	defer s.mu.Unlock()
	var d StateDump
	for _, name := range fakeapi.SortedKeys(s.resources) {
		d.Objects = append(d.Objects, s.render(c, s.resources[name], true))
	}
	now := time.Now()
	for _, name := range fakeapi.SortedKeys(s.ops) {
		d.Operations = append(d.Operations, s.renderOperation(c, s.ops[name], now))
	}
	return d
}

// CertificateMapExists reports whether a certificate map exists, for
// Compute: a target HTTPS proxy may only name one that does. It takes only
// this fake's lock, so Compute may call it holding its own.
func (s *Server) CertificateMapExists(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.resources[s.canonical(name)]
	return r != nil && r.kind.collection == "certificateMaps"
}
