package gkegateway

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/meshctl/meshctl/sim/fakeapi"
)

// Duration is a time.Duration that reads and writes JSON as text ("2s").
type Duration = fakeapi.Duration

// Knobs are the controller's simulated delays. GKE's own figures (reference
// gke-gateway.md §3, medium confidence): Accepted about 17-20 s after a
// Gateway is created, Programmed with an IP about 1 min 50 s after (up to
// 10 minutes), policies resynced about every 90 s. meshsim's defaults are
// seconds, so tests and demos stay quick; set GKE's figures to rehearse
// real waiting.
type Knobs struct {
	// AcceptDelay is how long after its creation a Gateway is first
	// translated: until then it keeps the API server's "Waiting for
	// controller" status and no Compute resource is made.
	AcceptDelay Duration `json:"acceptDelay"`
	// ProgramDelay is the earliest time after its creation a Gateway is
	// Programmed, however fast its Compute resources were made.
	ProgramDelay Duration `json:"programDelay"`
	// Resync is how often every Gateway is reconciled without a change,
	// which repairs drift (a resource deleted behind the controller's back).
	Resync Duration `json:"resync"`
	// RetryDelay is how soon a pass that could not finish (a resource
	// still in use, a stale fingerprint, NEGs not there yet) is retried.
	RetryDelay Duration `json:"retryDelay"`
	// Paused stops the controller (as if its Deployment were scaled to
	// zero) until it is unset: tests use it to change the load balancer
	// behind its back and watch what follows.
	Paused bool `json:"paused,omitempty"`
}

// DefaultKnobs are meshsim's delays: a few seconds in all.
func DefaultKnobs() Knobs {
	return Knobs{
		AcceptDelay:  Duration(2 * time.Second),
		ProgramDelay: Duration(5 * time.Second),
		Resync:       Duration(30 * time.Second),
		RetryDelay:   Duration(2 * time.Second),
	}
}

// GKEKnobs are GKE's observed figures.
func GKEKnobs() Knobs {
	return Knobs{
		AcceptDelay:  Duration(20 * time.Second),
		ProgramDelay: Duration(2 * time.Minute),
		Resync:       Duration(90 * time.Second),
		RetryDelay:   Duration(10 * time.Second),
	}
}

// KnobsEnv, when set in the daemon's environment, holds the starting knobs
// as JSON (fields left out keep their default), e.g. {"acceptDelay":"20s"}.
const KnobsEnv = "MESHSIM_GATEWAY_KNOBS"

// ParseKnobs merges a JSON object into the defaults.
func ParseKnobs(text string) (Knobs, error) {
	k := DefaultKnobs()
	if text == "" {
		return k, nil
	}
	err := json.Unmarshal([]byte(text), &k)
	return k, err
}

// KnobsHolder holds the knobs a running controller reads; it serves them
// over HTTP so tests can change them at run time.
type KnobsHolder struct {
	mu    sync.Mutex
	knobs Knobs
	// changed is poked when the knobs change, so the controller
	// recomputes its timers.
	changed chan struct{}
}

// NewKnobsHolder starts with k.
func NewKnobsHolder(k Knobs) *KnobsHolder {
	return &KnobsHolder{knobs: k, changed: make(chan struct{}, 1)}
}

// Get returns the current knobs.
func (h *KnobsHolder) Get() Knobs {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.knobs
}

// Set replaces the knobs.
func (h *KnobsHolder) Set(k Knobs) {
	h.mu.Lock()
	h.knobs = k
	h.mu.Unlock()
	select {
	case h.changed <- struct{}{}:
	default:
	}
}

// KnobsPath is where Handler answers.
const KnobsPath = "/meshsim/gateway/knobs"

// ServeHTTP answers GET (the knobs) and POST (a JSON object merged into
// them) on KnobsPath.
func (h *KnobsHolder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost, http.MethodPut:
		k := h.Get()
		if err := json.NewDecoder(r.Body).Decode(&k); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "gateway knobs: " + err.Error()})
			return
		}
		h.Set(k)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	_ = json.NewEncoder(w).Encode(h.Get())
}
