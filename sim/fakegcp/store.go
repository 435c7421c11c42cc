package fakegcp

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// A resource is one stored Compute object.
//
// Visibility follows Google's long-running operations: an insert, update or
// delete is validated when it is requested (bad names, missing references,
// stale fingerprints and in-use deletes fail at once, as they do at Google),
// then the change is carried by an operation and becomes visible only when
// that operation is DONE. Until then GET answers the old state (404 for an
// insert), and further writes to the same object answer resourceNotReady.
type resource struct {
	kind    *kind
	ref     resourceRef
	id      uint64
	obj     map[string]any // the visible state; nil until the insert is DONE
	pending *operation     // the operation changing this object, if any

	// issued holds every fingerprint and labelFingerprint the object has had.
	issued map[string]bool

	// ownedBy is the path of the object this one comes and goes with (a
	// network's default route, an auto-mode network's subnetworks): it does
	// not keep its owner from being deleted, and is deleted with it.
	ownedBy string

	// Facts the API does not show but the simulation needs.
	endpoints    []Endpoint // networkEndpointGroups: endpoints with their pods' readiness
	members      []string   // instanceGroups: the instances' paths
	servingSince time.Time  // managed sslCertificates: when it began to serve behind a forwarding rule
}

// kind describes one Compute collection and the rules Google applies to it.
type kind struct {
	collection string // URL segment: "healthChecks"
	method     string // resource name in method ids: "compute.<method>.insert"
	apiKind    string // "compute#healthCheck"
	typeName   string // snake_case name Google uses in in-use errors: "health_check"
	scope      scopeType
	// update and patch say whether the collection has those methods (PUT, PATCH).
	update, patch bool
	// fingerprint: the object carries a fingerprint that changes on every
	// write; a write that sends a stale one fails with 412.
	fingerprint bool
	// labels: the object has labels and a labelFingerprint, changed through setLabels.
	labels bool
	// insertDropsLabels: labels sent on insert are ignored (global forwarding
	// rules, as recorded: their labels are set with setLabels afterwards).
	insertDropsLabels bool
	quota             string
	// outputOnly lists fields clients may send back but never set.
	outputOnly []string
	refs       []refField
	// prepare fills defaults and validates a new state before references are
	// resolved; it may read c.prev (nil on insert).
	prepare func(s *Server, c *change) *APIError
	// render adds computed fields to a copy of the stored state.
	render func(s *Server, r *resource, out map[string]any)
	// users lists objects using this one that no reference field shows
	// (a forwarding rule using an address by its IP).
	users func(s *Server, r *resource) []string
	verbs map[string]verb
	// notFound words the 404 for the collection when Google words it
	// differently from "The resource '%s' was not found".
	notFound string
	// reportedAs is the collection Google names instead of this one in 404s
	// and finished operations (legacy httpHealthChecks as healthChecks).
	reportedAs string
	// deletable refuses a delete the object itself forbids (an instance
	// protected against deletion).
	deletable func(s *Server, r *resource) *APIError
	// created runs when an insert is DONE (and for seeded objects), to make
	// the objects Google makes along with this one.
	created func(s *Server, r *resource, at time.Time)
	// computed lists objects of the collection in a scope that the
	// simulation derives rather than stores (the cluster's nodes among
	// instances), by name: get and list show them, nothing changes them.
	computed func(s *Server, scope string) map[string]map[string]any
}

// refField is a field holding links to other objects.
type refField struct {
	path        string // dotted, "[]" iterates a list: "backends[].group"
	collections []string
	// keepRelative keeps a relative "projects/..." link as it was sent
	// instead of expanding it; the recordings show this for network links.
	keepRelative bool
	// sameScope: the referenced object must live where the referring one
	// does (a regional URL map's backend services are in its region).
	sameScope bool
}

// verb is a custom method such as setUrlMap or getHealth.
type verb struct {
	get bool // answered to GET rather than POST
	// unscoped: the verb lives at projects/p/<collection>/<name>/<verb>,
	// without "global/", as a few older methods do.
	unscoped bool
	opType   string // operationType of the operation a mutating verb starts
	edit     func(s *Server, c *change) *APIError
	read     func(s *Server, c *apiCall, r *resource) (any, *APIError)
}

// change is a write being validated: the current state and the next one.
type change struct {
	call *apiCall
	r    *resource
	prev map[string]any // nil on insert
	next map[string]any
	// endpoints, when set, replace the NEG's endpoints with the change.
	endpoints *[]Endpoint
	// members, when set, replace the instance group's instances with the change.
	members *[]string
}

// commonOutputOnly are fields the server always sets; a region or zone in a
// body is ignored, the URL says where the object lives.
var commonOutputOnly = []string{"kind", "id", "selfLink", "selfLinkWithId", "creationTimestamp", "fingerprint", "labelFingerprint", "region", "zone"}

// inputOf copies a request body without the fields a client cannot set.
func (k *kind) inputOf(body map[string]any) map[string]any {
	return k.outputFree(withoutEmpty(copyObject(body)))
}

// outputFree removes the fields a client cannot set, keeping the rest as sent.
func (k *kind) outputFree(body map[string]any) map[string]any {
	for _, f := range commonOutputOnly {
		delete(body, f)
	}
	for _, f := range k.outputOnly {
		delete(body, f)
	}
	return body
}

// withoutEmpty drops nulls and empty lists, which Google neither keeps nor
// shows (protocol buffers cannot tell them from absent fields); empty
// objects stay, as the recordings show ("logConfig": {}).
func withoutEmpty(m map[string]any) map[string]any {
	for k, v := range m {
		switch t := v.(type) {
		case nil:
			delete(m, k)
		case []any:
			if len(t) == 0 {
				delete(m, k)
			}
			for _, e := range t {
				if o, ok := e.(map[string]any); ok {
					withoutEmpty(o)
				}
			}
		case map[string]any:
			withoutEmpty(t)
		}
	}
	return m
}

func (s *Server) newID() uint64 {
	return 5100000000000000000 + s.nextSeq()*7919
}

// newFingerprint returns a value that differs on every call, in the shape
// Google uses (8 bytes in URL-safe base64).
func (s *Server) newFingerprint() string {
	sum := sha256.Sum256([]byte("fingerprint/" + strconv.FormatUint(s.nextSeq(), 10)))
	return base64.URLEncoding.EncodeToString(sum[:8])
}

// sameFingerprint compares fingerprints as Google does: they are bytes
// fields, so either base64 alphabet carries the same value. gcloud decodes
// the fingerprint it reads and sends it back re-encoded URL-safe (a "/"
// comes back as "_"), which a comparison of the text would refuse.
func sameFingerprint(a, b string) bool {
	return a == b || decodeFingerprint(a) == decodeFingerprint(b) && decodeFingerprint(a) != ""
}

func decodeFingerprint(f string) string {
	for _, enc := range []*base64.Encoding{base64.URLEncoding, base64.StdEncoding} {
		if b, err := enc.DecodeString(f); err == nil {
			return string(b)
		}
	}
	return ""
}

// fingerprintAccepted: a write must carry the object's current fingerprint;
// one the object had before is stale (412). With
// Knobs.AcceptUnissuedFingerprints, a value this server never issued for the
// object is let through, for replays of recordings whose fingerprints were
// normalised away.
func (s *Server) fingerprintAccepted(r *resource, field, given string) bool {
	if sameFingerprint(given, str(r.obj, field)) {
		return true
	}
	return s.knobs.AcceptUnissuedFingerprints && !r.issued[given] && !r.issued[base64.URLEncoding.EncodeToString([]byte(decodeFingerprint(given)))]
}

func labelFingerprint(labels map[string]any) string {
	h := sha256.New()
	for _, k := range sortedKeys(labels) {
		fmt.Fprintf(h, "%s=%v;", k, labels[k])
	}
	return base64.URLEncoding.EncodeToString(h.Sum(nil)[:8])
}

// canonicalRef names an object as the store does: a project number becomes
// the project id, and a numeric id the object's name, since Compute takes
// either in paths and links (selfLinkWithId uses the id). Called with s.mu
// held.
func (s *Server) canonicalRef(ref resourceRef) resourceRef {
	if s.projectMatches(ref.Project) {
		ref.Project = s.project
	} else if s.isHost(ref.Project) {
		ref.Project = s.host
	}
	if ref.Name == "" || strings.Trim(ref.Name, "0123456789") != "" || s.resources[ref.Path()] != nil {
		return ref
	}
	id, err := strconv.ParseUint(ref.Name, 10, 64)
	if err != nil {
		return ref
	}
	for _, r := range s.resources {
		if r.id == id && r.ref.Scope == ref.Scope && r.ref.Collection == ref.Collection && r.ref.Project == ref.Project {
			return r.ref
		}
	}
	return ref
}

func (s *Server) refFor(c *apiCall, k *kind) resourceRef {
	return s.canonicalRef(resourceRef{Project: c.projectOr(s.project), Scope: c.scope, Collection: k.collection, Name: c.name})
}

// visible finds an object whose insert is DONE.
func (s *Server) visible(ref resourceRef) (*resource, *APIError) {
	r := s.resources[ref.Path()]
	if r == nil || r.obj == nil {
		return nil, notFoundFor(ref)
	}
	return r, nil
}

func notFoundFor(ref resourceRef) *APIError {
	k := kindAt(ref.Scope, ref.Collection)
	if k != nil && k.reportedAs != "" {
		ref.Collection = k.reportedAs
	}
	if k != nil && k.notFound != "" {
		return &APIError{Code: http.StatusNotFound, Reason: "notFound", Message: fmt.Sprintf(k.notFound, ref.Path())}
	}
	return errNotFound(ref.Path())
}

// writable finds a visible object no other operation is changing.
func (s *Server) writable(ref resourceRef) (*resource, *APIError) {
	if k := kindAt(ref.Scope, ref.Collection); k != nil && s.computedObject(k, ref.Scope, ref.Name) != nil {
		return nil, errInvalid("The resource '%s' belongs to the simulated cluster; meshsim does not change it through the API.", ref.Path())
	}
	r, err := s.visible(ref)
	if err != nil {
		return nil, err
	}
	if r.pending != nil {
		return nil, errNotReady(ref.Path())
	}
	return r, nil
}

// render is the object as GET answers it.
func (s *Server) render(r *resource) map[string]any {
	out := copyObject(r.obj)
	if r.kind.render != nil {
		r.kind.render(s, r, out)
	}
	return out
}

// replayed answers a mutation that repeats an earlier requestId with the
// operation that request started, changing nothing.
func (s *Server) replayed(c *apiCall) (map[string]any, bool) {
	if c.requestID == "" {
		return nil, false
	}
	op := s.requestIDs[c.projectOr(s.project)+"/"+c.requestID]
	if op == nil {
		return nil, false
	}
	c.deduped = true
	return s.renderOp(op), true
}

func validRequestID(id string) *APIError {
	const hex = "0123456789abcdefABCDEF"
	ok := len(id) == 36 && id != "00000000-0000-0000-0000-000000000000"
	for i := 0; ok && i < len(id); i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			ok = id[i] == '-'
		} else {
			ok = strings.IndexByte(hex, id[i]) >= 0
		}
	}
	if !ok {
		return errInvalidField("requestId", id, "The request ID must be a valid UUID with the exception that zero UUID is not supported.")
	}
	return nil
}

func (s *Server) insertResource(c *apiCall, k *kind) (any, *APIError) {
	if op, ok := s.replayed(c); ok {
		return op, nil
	}
	name := str(c.body, "name")
	if err := validateName(name); err != nil {
		return nil, err
	}
	c.name = name
	ref := s.refFor(c, k)
	if s.resources[ref.Path()] != nil || s.computedObject(k, c.scope, name) != nil {
		return nil, errAlreadyExists(ref.Path())
	}
	if err := s.checkQuota(k); err != nil {
		return nil, err
	}
	next := k.inputOf(c.body)
	if k.insertDropsLabels {
		delete(next, "labels")
	}
	r := &resource{kind: k, ref: ref, id: s.newID()}
	ch := &change{call: c, r: r, next: next}
	if err := s.completeChange(ch); err != nil {
		return nil, err
	}
	s.resources[ref.Path()] = r
	op := s.startOperation(c, r, "insert", next, func(at time.Time) {
		r.obj = next
		if k.created != nil {
			k.created(s, r, at)
		}
	}, func() { delete(s.resources, ref.Path()) })
	return s.renderOp(op), nil
}

// writeResource answers update (PUT: the body replaces the object) and patch
// (PATCH: the body is a JSON merge patch).
func (s *Server) writeResource(c *apiCall, k *kind, patch bool) (any, *APIError) {
	if op, ok := s.replayed(c); ok {
		return op, nil
	}
	r, err := s.writable(s.refFor(c, k))
	if err != nil {
		return nil, err
	}
	if fp := str(c.body, "fingerprint"); k.fingerprint && fp != "" && !s.fingerprintAccepted(r, "fingerprint", fp) {
		return nil, errFingerprint()
	}
	if name := str(c.body, "name"); name != "" && name != r.ref.Name {
		return nil, errInvalidField("resource.name", name, "The name of a resource cannot be changed.")
	}
	var next map[string]any
	if patch {
		// In a merge patch an empty list replaces the list: the field goes.
		in := copyObject(c.body)
		for f, v := range in {
			if l, ok := v.([]any); ok && len(l) == 0 {
				in[f] = nil
			}
		}
		next = withoutEmpty(mergePatch(copyObject(r.obj), k.outputFree(in)))
	} else {
		next = k.inputOf(c.body)
	}
	for _, f := range k.outputOnly { // the server's fields survive a client's write
		if v, ok := r.obj[f]; ok {
			next[f] = deepCopy(v)
		}
	}
	if k.labels { // labels change only through setLabels
		delete(next, "labels")
		if l, ok := r.obj["labels"]; ok {
			next["labels"] = deepCopy(l)
		}
	}
	opType := "update"
	if patch {
		opType = patchOperationType(k)
	}
	return s.commitChange(&change{call: c, r: r, prev: r.obj, next: next}, opType)
}

// patchOperationType is the operationType Google reports for a patch; the
// recordings show "compute.<collection>.patch" for SSL policies and
// firewalls and plain "patch" elsewhere.
func patchOperationType(k *kind) string {
	switch k.collection {
	case "sslPolicies", "firewalls":
		return "compute." + k.collection + ".patch"
	}
	return "patch"
}

func (s *Server) deleteResource(c *apiCall, k *kind) (any, *APIError) {
	if op, ok := s.replayed(c); ok {
		return op, nil
	}
	r, err := s.writable(s.refFor(c, k))
	if err != nil {
		return nil, err
	}
	if users := s.usersOf(r); len(users) > 0 {
		return nil, errInUse(k.typeName, r.ref.Path(), users[0])
	}
	if k.deletable != nil {
		if err := k.deletable(s, r); err != nil {
			return nil, err
		}
	}
	op := s.startOperation(c, r, "delete", nil, func(time.Time) { s.remove(r) }, nil)
	return s.renderOp(op), nil
}

// remove deletes an object and what is owned by it. Called with s.mu held.
func (s *Server) remove(r *resource) {
	delete(s.resources, r.ref.Path())
	for _, path := range sortedKeys(s.resources) {
		if other := s.resources[path]; other != nil && other.ownedBy == r.ref.Path() {
			s.remove(other)
		}
	}
}

// runVerb answers a custom method: a read, or a change built by the verb.
func (s *Server) runVerb(c *apiCall, k *kind, v verb) (any, *APIError) {
	ref := s.refFor(c, k)
	if v.read != nil {
		r, err := s.visible(ref)
		if err != nil {
			return nil, err
		}
		return v.read(s, c, r)
	}
	if op, ok := s.replayed(c); ok {
		return op, nil
	}
	r, err := s.writable(ref)
	if err != nil {
		return nil, err
	}
	ch := &change{call: c, r: r, prev: r.obj, next: copyObject(r.obj)}
	if err := v.edit(s, ch); err != nil {
		return nil, err
	}
	return s.commitChange(ch, v.opType)
}

// commitChange validates a change to an existing object and schedules it.
func (s *Server) commitChange(ch *change, opType string) (any, *APIError) {
	if err := s.completeChange(ch); err != nil {
		return nil, err
	}
	r, next, endpoints, members := ch.r, ch.next, ch.endpoints, ch.members
	op := s.startOperation(ch.call, r, opType, next, func(time.Time) {
		r.obj = next
		if endpoints != nil {
			r.endpoints = *endpoints
		}
		if members != nil {
			r.members = *members
		}
	}, nil)
	return s.renderOp(op), nil
}

// completeChange fills defaults, validates and resolves references, and sets
// the fields the server owns.
func (s *Server) completeChange(ch *change) *APIError {
	k, next := ch.r.kind, ch.next
	next["name"] = ch.r.ref.Name
	if k.prepare != nil {
		if err := k.prepare(s, ch); err != nil {
			return err
		}
	}
	if err := s.resolveRefs(k, ch.r.ref.Scope, next); err != nil {
		return err
	}
	next["kind"] = k.apiKind
	next["id"] = strconv.FormatUint(ch.r.id, 10)
	next["selfLink"] = ch.r.ref.Link()
	if ch.prev != nil {
		next["creationTimestamp"] = ch.prev["creationTimestamp"]
	} else {
		next["creationTimestamp"] = googleTime(time.Now())
	}
	switch k.scope {
	case zonalScope:
		next["zone"] = scopeLink(ch.r.ref.Project, ch.r.ref.Scope)
	case regionalScope:
		next["region"] = scopeLink(ch.r.ref.Project, ch.r.ref.Scope)
	}
	if ch.r.issued == nil {
		ch.r.issued = map[string]bool{}
	}
	if k.fingerprint {
		next["fingerprint"] = s.newFingerprint()
		ch.r.issued[str(next, "fingerprint")] = true
	}
	if k.labels {
		labels := obj(next, "labels")
		if err := validateLabels(labels); err != nil {
			return err
		}
		if len(labels) == 0 {
			delete(next, "labels")
		}
		next["labelFingerprint"] = labelFingerprint(labels)
		ch.r.issued[str(next, "labelFingerprint")] = true
	}
	return nil
}

// inScope lists the visible objects of a kind in one scope, by name.
func (s *Server) inScope(k *kind, scope string) []*resource {
	var out []*resource
	for _, path := range sortedKeys(s.resources) {
		r := s.resources[path]
		if r.kind == k && r.ref.Scope == scope && r.obj != nil {
			out = append(out, r)
		}
	}
	return out
}

// allOf lists the visible objects of a kind in every scope.
func (s *Server) allOf(k *kind) []*resource {
	var out []*resource
	for _, path := range sortedKeys(s.resources) {
		if r := s.resources[path]; r.kind == k && r.obj != nil {
			out = append(out, r)
		}
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
