package fakegcp

import (
	"strings"
	"time"

	"github.com/meshctl/meshctl/sim/fakeapi"
)

// Duration is a time.Duration that reads and writes JSON as text ("2s").
type Duration = fakeapi.Duration

// Knobs tune the fake for tests and benchmarks. Set them with SetKnobs or
// UpdateKnobs from Go, or over HTTP with POST /meshsim/knobs (the JSON body is
// merged into the current knobs: fields left out keep their value).
type Knobs struct {
	// Latency is added to every API request before it is answered.
	Latency Duration `json:"latency"`
	// OperationDuration is how long a new operation stays RUNNING; the change
	// it carries becomes visible when it is DONE.
	OperationDuration Duration `json:"operationDuration"`
	// OperationDurations overrides OperationDuration per method id; zero
	// makes the method's operations DONE at once. DefaultKnobs sets zero for
	// the methods the recordings show completing at once (URL map writes and
	// setLabels).
	OperationDurations map[string]Duration `json:"operationDurations,omitempty"`
	// OperationWaitCap bounds how long operations.wait blocks (Google: about 2 minutes).
	OperationWaitCap Duration `json:"operationWaitCap"`
	// CertProvisioningDelay is how long a managed certificate stays
	// PROVISIONING once it serves behind a forwarding rule. Google takes
	// minutes (up to an hour); the default, 30 s, is long enough that a
	// test sees a host left without an ACTIVE certificate by a careless
	// swap, and short enough to wait for.
	CertProvisioningDelay Duration `json:"certProvisioningDelay"`
	// ClusterOperationDuration is how long GKE operations stay RUNNING.
	ClusterOperationDuration Duration `json:"clusterOperationDuration"`
	// AcceptUnissuedFingerprints lets a write through when its fingerprint
	// is one the server never issued for the object (a stale one it did
	// issue still fails with 412). Only for replaying recordings, whose
	// fingerprints are normalised to a fixed text.
	AcceptUnissuedFingerprints bool `json:"acceptUnissuedFingerprints,omitempty"`
	// AcceptNormalisedAddresses lets a request name an internal IP outside
	// the subnetwork it must lie in. Only for replaying recordings, whose
	// addresses are normalised (to 8.8.8.8) in requests as in answers.
	AcceptNormalisedAddresses bool `json:"acceptNormalisedAddresses,omitempty"`
	// Quotas overrides per-project quota limits by metric, e.g. {"BACKEND_SERVICES": 3}.
	Quotas map[string]float64 `json:"quotas,omitempty"`
	Faults Faults             `json:"faults"`
}

// Faults inject the errors Google's APIs produce under load or failure.
type Faults struct {
	// Rate is the fraction of API requests answered with Status instead of
	// being served. Which requests fail is a pure function of Seed and the
	// order of requests, so a run can be repeated.
	Rate float64 `json:"rate"`
	// Status is 429 (rateLimitExceeded) or 503 (backendError); 0 picks one of
	// the two per faulted request.
	Status int   `json:"status,omitempty"`
	Seed   int64 `json:"seed"`
	// Methods limits Rate to methods whose id starts with one of these
	// prefixes, e.g. "compute.backendServices."; empty means every method.
	Methods []string `json:"methods,omitempty"`
	// FailNext makes the next Count calls of a method (by Google's method id,
	// e.g. "compute.backendServices.insert") fail with Code.
	FailNext map[string]MethodFailure `json:"failNext,omitempty"`
	// FailOperations makes the next Count operations started by a method end
	// DONE with an error instead of applying their change.
	FailOperations map[string]OperationFailure `json:"failOperations,omitempty"`
}

// MethodFailure is a synchronous error injected into one method.
type MethodFailure = fakeapi.MethodFailure

// OperationFailure is an asynchronous failure: the operation is accepted,
// then ends DONE with error.errors[] set and nothing changed.
type OperationFailure struct {
	Count int `json:"count"`
	// Code is the operation error code, e.g. "RESOURCE_NOT_READY" (the default) or "QUOTA_EXCEEDED".
	Code       string `json:"code,omitempty"`
	Message    string `json:"message,omitempty"`
	HTTPStatus int    `json:"httpStatus,omitempty"` // httpErrorStatusCode; default 400
}

// DefaultKnobs are the knobs a server starts with when Options.Knobs is nil:
// quick enough for interactive use, slow enough that clients must really wait.
func DefaultKnobs() Knobs {
	immediate := map[string]Duration{}
	for _, m := range []string{
		"compute.urlMaps.insert", "compute.urlMaps.update", "compute.urlMaps.patch", "compute.urlMaps.delete",
		"compute.globalAddresses.setLabels", "compute.globalForwardingRules.setLabels", "compute.securityPolicies.setLabels",
		"compute.forwardingRules.setLabels",
		// Not recorded; taken to behave as the global address's.
		"compute.addresses.setLabels",
	} {
		immediate[m] = 0
	}
	return Knobs{
		OperationDurations:       immediate,
		OperationDuration:        Duration(500 * time.Millisecond),
		OperationWaitCap:         Duration(2 * time.Minute),
		CertProvisioningDelay:    Duration(30 * time.Second),
		ClusterOperationDuration: Duration(2 * time.Second),
	}
}

// Knobs returns a copy of the current knobs.
func (s *Server) Knobs() Knobs {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyKnobs(s.knobs)
}

// SetKnobs replaces the knobs.
func (s *Server) SetKnobs(k Knobs) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.knobs = copyKnobs(k)
}

// UpdateKnobs changes the knobs in place, e.g.
// s.UpdateKnobs(func(k *Knobs) { k.Latency = Duration(time.Millisecond) }).
func (s *Server) UpdateKnobs(fn func(*Knobs)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.knobs)
}

func copyKnobs(k Knobs) Knobs {
	out := k
	out.Quotas = copyMap(k.Quotas)
	out.OperationDurations = copyMap(k.OperationDurations)
	out.Faults.Methods = append([]string(nil), k.Faults.Methods...)
	out.Faults.FailNext = copyMap(k.Faults.FailNext)
	out.Faults.FailOperations = copyMap(k.Faults.FailOperations)
	return out
}

func copyMap[V any](m map[string]V) map[string]V {
	if m == nil {
		return nil
	}
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// injectedFault decides, before a request is served, whether fault injection
// answers it instead. Called with s.mu held.
func (s *Server) injectedFault(method, userAgent string) *APIError {
	f := &s.knobs.Faults
	if mf, ok := fakeapi.TakeFailure(f.FailNext, method, userAgent); ok {
		return errForStatus(mf.Code, mf.Reason, mf.Message)
	}
	if f.Rate <= 0 || !matchesAnyPrefix(method, f.Methods) {
		return nil
	}
	s.faultSeq++
	draw := splitmix64(uint64(f.Seed) ^ s.faultSeq*0x9e3779b97f4a7c15)
	if float64(draw>>11)/float64(1<<53) >= f.Rate {
		return nil
	}
	status := f.Status
	if status == 0 {
		status = 429
		if draw&1 == 1 {
			status = 503
		}
	}
	return errForStatus(status, "", "")
}

// takeOperationFailure reports whether the operation a method is about to
// start must fail, consuming one count. Called with s.mu held.
func (s *Server) takeOperationFailure(method string) *OperationFailure {
	f := &s.knobs.Faults
	of, ok := f.FailOperations[method]
	if !ok || of.Count <= 0 {
		return nil
	}
	of.Count--
	if of.Count == 0 {
		delete(f.FailOperations, method)
	} else {
		f.FailOperations[method] = of
	}
	if of.Code == "" {
		of.Code = "RESOURCE_NOT_READY"
	}
	if of.Message == "" {
		of.Message = "The operation failed (injected by meshsim)."
	}
	if of.HTTPStatus == 0 {
		of.HTTPStatus = 400
	}
	return &of
}

func matchesAnyPrefix(s string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// splitmix64 is a small, well-mixed hash: it turns (seed, request number)
// into the same pseudo-random draw on every run.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
